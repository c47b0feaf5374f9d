"""The `gpuflow` command: info, train on a small real subset, and argparse-style errors (exit 2)."""
import os
import re
import subprocess
import sys

import pytest

from gpuflow import cli
from gpuflow.device import probe_cuda
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


def test_info_names_a_bad_gpuflow_num_threads_as_the_backend_problem():
    env = dict(os.environ, GPUFLOW_NUM_THREADS="abc", GPUFLOW_DEVICE="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "gpuflow.cli", "info"], capture_output=True, text=True, env=env,
                       timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "Default device: cpu\n" in r.stdout and "Default device: unavailable" not in r.stdout
    assert "Backend: unavailable (Expected GPUFLOW_NUM_THREADS to be a positive integer" in r.stdout


def test_requirements_split_into_base_and_optional_with_their_extras():
    requires = ['numpy>=1.23', 'h5py>=3.8', 'cupy-cuda12x>=13; extra == "cuda12"', 'h5py>=3.8; extra == "h5"',
                'tensorboardX>=2.6; extra == "tensorboard"', "tensorboardX>=2.6; extra == 'test'",
                'cuda-bindings>=12.8; (python_version >= "3") and extra == "test"',
                'nvidia-cuda-nvrtc; extra == "test"']
    base, optional = cli._split_requirements(requires)
    assert base == ["numpy", "h5py"]
    assert optional == {"cupy-cuda12x": ["cuda12"], "tensorboardX": ["tensorboard", "test"],
                        "cuda-bindings": ["test"], "nvidia-cuda-nvrtc": ["test"]}


def test_requirements_whose_markers_exclude_this_python_are_left_out():
    pytest.importorskip("packaging.requirements", reason="markers are evaluated only with 'packaging'")
    requires = ['numpy>=1.23', 'tomli>=2; python_version < "3" and extra == "test"',
                'oldlib; python_version < "3"', 'pytest>=7; extra == "test"']
    base, optional = cli._split_requirements(requires)
    assert base == ["numpy"]
    assert optional == {"pytest": ["test"]}


def test_info_lists_optional_packages_with_versions_and_extras(capsys):
    from importlib import metadata
    try:
        metadata.requires("gpuflow")
    except metadata.PackageNotFoundError:
        pytest.skip("gpuflow's package metadata is not installed")
    rc, out, _ = run_cli(capsys, "info")
    assert rc == 0
    assert re.search(rf"^Required packages: numpy {re.escape(metadata.version('numpy'))}\b", out, re.M), out
    assert "Optional packages (pip install 'gpuflow[EXTRA]'):" in out
    # pytest (running this test) is in the [test] extra
    assert re.search(rf"^  pytest +{re.escape(pytest.__version__)} +in .*gpuflow\[test\]", out, re.M), out


def test_info_lists_a_missing_optional_package_as_not_installed(capsys, monkeypatch):
    from importlib import metadata
    monkeypatch.setattr(metadata, "requires", lambda name: ["numpy", 'no-such-package-xyz; extra == "demo"'])
    rc, out, _ = run_cli(capsys, "info")
    assert rc == 0
    assert re.search(r"^  no-such-package-xyz +not installed +in gpuflow\[demo\]$", out, re.M), out


def run_cli(capsys, *args):
    """Runs ``gpuflow ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        rc = cli.main(list(args))
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_usage_error(capsys, args, *needles):
    """``gpuflow ARGS`` exits 2 with one line on stderr holding every needle."""
    rc, out, err = run_cli(capsys, *args)
    assert rc == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("gpuflow"), err
    for needle in needles:
        assert needle in err
    return err


@pytest.mark.parametrize("args, needle", [
    (["train", "--epochs", "0"], "positive integer"),
    (["train", "--batch-size", "abc"], "positive integer"),
    (["train", "--device", "tpu"], "Unknown device"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_line_error(capsys, args, needle):
    assert_usage_error(capsys, args, needle)


@pytest.mark.parametrize("given, parsed", [("gpu:3", "gpu:3"), ("/GPU:1", "gpu:1"), ("GPU", "gpu:0"),
                                           ("emulator", "emulator"), ("auto", "auto"), ("cpu", "cpu")])
def test_train_device_takes_what_gpuflow_device_takes(given, parsed):
    assert cli.make_parser().parse_args(["train", "--device", given]).device == parsed


@pytest.mark.parametrize("args, parsed", [(["bench", "ops", "--device", "gpu:0"], "gpu"),
                                          (["bench", "model", "--device", "EMULATOR"], "emulator"),
                                          (["parity", "--device", "/GPU:0"], "gpu")])
def test_bench_and_parity_share_the_device_parser(args, parsed):
    assert cli.make_parser().parse_args(args).device == parsed


@pytest.mark.parametrize("args, needle", [
    (["bench", "ops", "--device", "gpu:1"], "CUDA_VISIBLE_DEVICES=1"),
    (["bench", "model", "--device", "auto"], "expected one of cpu, gpu, emulator"),
    (["parity", "--device", "cpu"], "expected one of auto, gpu, emulator"),
    (["parity", "--device", "tpu"], "--device='tpu'"),
])
def test_bench_and_parity_refuse_devices_they_cannot_run(capsys, args, needle):
    assert_usage_error(capsys, args, needle)


@pytest.mark.skipif(probe_cuda()[0], reason="this machine has a working CUDA device")
@pytest.mark.parametrize("args", [["train", "--device", "gpu:1"], ["bench", "ops", "--device", "gpu"]])
def test_a_gpu_asked_for_with_dash_dash_device_is_refused_without_mentioning_the_variable(capsys, args):
    err = assert_usage_error(capsys, args, f"--device {args[-1]} asks for a GPU")
    assert "GPUFLOW_DEVICE" not in err


def _have_data():
    try:
        fashion_mnist.load_data()
        return True
    except (FileNotFoundError, OSError):
        return False


needs_data = pytest.mark.skipif(not _have_data(),
                                reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


@needs_data
def test_train_on_a_subset_and_save(capsys, tmp_path):
    out = tmp_path / "seed.weights.h5"
    rc, stdout, err = run_cli(capsys, "train", "--subset", "256", "--epochs", "1", "--batch-size", "128",
                              "--verbose", "2", "--seed", "0", "--save", str(out))
    assert rc == 0, err
    assert "Epoch" not in stdout or "1/1" not in stdout  # one epoch: Keras prints no "Epoch 1/1"
    assert "2/2 - " in stdout  # Keras's verbose=2 epoch line: 256 / 128 = 2 steps
    assert "Test accuracy:" in stdout and f"Saved weights to {out}" in stdout
    assert out.exists() and out.stat().st_size > 225034 * 4  # float32 weights (and Adam's two slots)


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


# -- gpuflow train: bad arguments exit 2 with one line, before any training -------------------------------
@pytest.mark.parametrize("args, needle", [
    (["--learning-rate", "-1"], "argument --learning-rate: expected a finite positive number, got -1"),
    (["--learning-rate", "0"], "argument --learning-rate: expected a finite positive number, got 0"),
    (["--learning-rate", "nan"], "argument --learning-rate: expected a finite positive number, got nan"),
    (["--learning-rate", "inf"], "argument --learning-rate: expected a finite positive number, got inf"),
    (["--learning-rate", "fast"], "argument --learning-rate: expected a finite positive number, got 'fast'"),
    (["--seed", "-1"], "argument --seed: expected an integer from 0 to 4294967295, got -1"),
    (["--seed", str(2**32)], "argument --seed: expected an integer from 0 to 4294967295, got 4294967296"),
    (["--epochs", "0"], "argument --epochs: expected a positive integer, got 0"),
    (["--epochs", "2.5"], "argument --epochs: expected a positive integer, got '2.5'"),
    (["--batch-size", "-3"], "argument --batch-size: expected a positive integer, got -3"),
    (["--subset", "0"], "argument --subset: expected a positive integer, got 0"),
    (["--save", "model.pt"], "argument --save: expected a path ending in .weights.h5"),
    (["--save", "model.weights"], "argument --save: expected a path ending in .weights.h5"),
    (["--save", ""], "argument --save: expected a path ending in .weights.h5"),  # not "no --save"
])
def test_train_bad_values_exit_2_with_one_line(capsys, args, needle):
    assert_usage_error(capsys, ["train", *args], needle)


@pytest.mark.parametrize("value", ["abc", "-4", "0", "2.0"])
@pytest.mark.parametrize("command", [["train"], ["parity", "--device", "emulator"]])
def test_a_bad_gpuflow_num_threads_exits_2_with_one_line(capsys, monkeypatch, value, command):
    monkeypatch.setenv("GPUFLOW_NUM_THREADS", value)
    monkeypatch.setattr(fashion_mnist, "load_data", lambda: pytest.fail("loaded the data before the check"))
    assert_usage_error(capsys, command, "Expected GPUFLOW_NUM_THREADS to be a positive integer",
                       f"Received: GPUFLOW_NUM_THREADS={value!r}")


def test_a_bad_gpuflow_cpu_processes_exits_2_with_one_line(capsys, monkeypatch):
    monkeypatch.setenv("GPUFLOW_CPU_PROCESSES", "many")
    monkeypatch.setattr(fashion_mnist, "load_data", lambda: pytest.fail("loaded the data before the check"))
    assert_usage_error(capsys, ["train"], "Expected GPUFLOW_CPU_PROCESSES to be a non-negative integer",
                       "Received: GPUFLOW_CPU_PROCESSES='many'")


def test_train_save_into_a_missing_folder_is_refused_before_training(capsys, tmp_path):
    target = tmp_path / "no" / "such" / "m.weights.h5"
    assert_usage_error(capsys, ["train", "--save", str(target)], f"no such folder {target.parent}")
    assert not (tmp_path / "no").exists()


def test_train_save_through_a_symlink_checks_the_folder_of_its_target(capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    link = tmp_path / "m.keras"
    try:
        os.symlink(tmp_path / "afile" / "m.keras", link)  # the save would write there: under a file, not a folder
    except OSError as e:
        pytest.skip(f"cannot create a symbolic link here ({e})")
    assert_usage_error(capsys, ["train", "--save", str(link)],
                       f"no such folder {os.path.realpath(tmp_path / 'afile')}")


def test_train_a_save_that_fails_after_training_is_one_line_and_exit_1(capsys, tmp_path, monkeypatch):
    import errno
    import numpy as np
    from gpuflow.keras.saving import atomic
    images = np.zeros((8, 28, 28, 1), "float32"), np.zeros(8, "uint8")
    monkeypatch.setattr(cli, "_load_fashion_mnist", lambda parser, subset: (images, images))

    def disk_full(path):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(atomic, "fsync", disk_full)
    out = tmp_path / "seed.keras"
    rc, stdout, err = run_cli(capsys, "train", "--epochs", "1", "--verbose", "0", "--save", str(out))
    assert rc == 1 and "Test accuracy" in stdout
    assert err == f"gpuflow train: error: could not save to {out}: [Errno 28] No space left on device\n"
    assert list(tmp_path.iterdir()) == []


def test_train_save_onto_a_folder_is_refused(capsys, tmp_path):
    (tmp_path / "m.keras").mkdir()
    assert_usage_error(capsys, ["train", "--save", str(tmp_path / "m.keras")], "is a folder")


def test_train_save_into_an_unwritable_folder_is_refused_before_training(capsys, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user (root) can write in a read-only folder")
        assert_usage_error(capsys, ["train", "--save", str(folder / "m.keras")], f"cannot write in {folder}")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


@needs_data
def test_train_subset_larger_than_the_training_set_names_its_size(capsys):
    assert_usage_error(capsys, ["train", "--subset", "1000000000"],
                       "argument --subset: expected at most 60000, the size of the Fashion-MNIST training set. "
                       "Received: --subset 1000000000")


@needs_data
def test_train_saves_a_whole_keras_model(capsys, tmp_path):
    from gpuflow import keras
    out = tmp_path / "seed.keras"
    rc, stdout, err = run_cli(capsys, "train", "--subset", "64", "--epochs", "1", "--batch-size", "32",
                              "--verbose", "0", "--seed", "0", "--save", str(out))
    assert rc == 0, err
    assert f"Saved the model to {out}" in stdout
    model = keras.models.load_model(out)
    assert len(model.layers) == 7 and model.layers[-1].units == 10  # the seed CNN (Input is no layer)


@needs_data
def test_train_stops_at_the_first_nan_loss_exits_1_and_saves_nothing(capsys, tmp_path):
    out = tmp_path / "seed.weights.h5"
    rc, stdout, err = run_cli(capsys, "train", "--subset", "64", "--epochs", "3", "--batch-size", "16",
                              "--learning-rate", "1e30", "--verbose", "0", "--save", str(out))
    assert rc == 1
    m = re.fullmatch(r"gpuflow train: error: the loss became (nan|inf|-inf) at epoch 1, step (\d+); training "
                     r"stopped there and nothing was saved \(a lower --learning-rate may help\)\n", err)
    assert m, err
    assert f"Batch {int(m.group(2)) - 1}: Invalid loss, terminating training" in stdout  # TerminateOnNaN's line
    assert "Test accuracy" not in stdout
    assert list(tmp_path.iterdir()) == []
