"""The `gpuflow` command: info, train on a small real subset, and argparse-style errors (exit 2)."""
import os
import re
import subprocess
import sys

import pytest

from gpuflow import cli
from gpuflow.keras.datasets import fashion_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gpuflow(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "gpuflow.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def test_info_reports_backend_and_reason():
    r = gpuflow("info")
    assert r.returncode == 0, r.stderr
    assert "Backend: numpy" in r.stdout or "Backend: cupy" in r.stdout
    assert "Why:" in r.stdout and "NumPy" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["train", "--epochs", "0"], "positive integer"),
    (["train", "--batch-size", "abc"], "positive integer"),
    (["train", "--device", "tpu"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_line_error(args, needle):
    r = gpuflow(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def _have_data():
    try:
        fashion_mnist.load_data()
        return True
    except (FileNotFoundError, OSError):
        return False


@pytest.mark.skipif(not _have_data(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_train_on_a_subset_and_save(tmp_path):
    pytest.importorskip("h5py")
    out = tmp_path / "seed.weights.h5"
    r = gpuflow("train", "--subset", "1024", "--epochs", "1", "--batch-size", "128", "--verbose", "2",
                "--seed", "0", "--save", str(out))
    assert r.returncode == 0, r.stderr
    assert "Epoch" not in r.stdout or "1/1" not in r.stdout  # one epoch: Keras prints no "Epoch 1/1"
    assert "8/8 - " in r.stdout  # Keras's verbose=2 epoch line: 1024 / 128 = 8 steps
    assert "Test accuracy:" in r.stdout
    assert out.exists() and out.stat().st_size > 225034 * 4


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert re.fullmatch(r"gpuflow \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_version_falls_back_to_the_package_attribute_in_a_source_tree(monkeypatch):
    import gpuflow
    from importlib import metadata

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "version", not_installed)
    assert cli._version() == gpuflow.__version__
