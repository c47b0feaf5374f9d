"""Runs each script in examples/ with --quick as a user would, in a subprocess started in an empty folder,
and checks its exit status, one meaningful reported number, and that it wrote nothing in that folder."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def run_example(name, tmp_path, *args):
    """Runs ``examples/<name> --quick ARGS`` with an empty working folder and $TMPDIR under ``tmp_path``;
    returns its output. Fails if it exits non-zero or leaves anything in the working folder."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("GPUFLOW_HOME", str(tmp_path / "gpuflow_home"))  # never write to the user's cache
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}:\n{out[-4000:]}"
    assert list(cwd.iterdir()) == [], f"{name} wrote into the working folder: {list(cwd.iterdir())}"
    return out


def number_after(pattern, text):
    m = re.search(pattern + r"\s*([0-9.]+)", text)
    assert m, f"no match for {pattern!r} in output:\n{text[-3000:]}"
    return float(m.group(1))


def test_every_example_is_tested_here():
    tested = set(re.findall(r'run_example\("(\w+\.py)"', Path(__file__).read_text()))
    assert tested == {p.name for p in EXAMPLES.glob("*.py")}


def test_fashion_mnist_cnn(tmp_path):
    from gpuflow.keras.datasets import fashion_mnist
    try:
        fashion_mnist.load_data()
    except (FileNotFoundError, OSError):
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    out = run_example("fashion_mnist_cnn.py", tmp_path)
    assert "Total params: 225,034" in out
    assert number_after(r"Test accuracy:", out) > 0.3  # chance: 0.1


def test_lstm_sine(tmp_path):
    out = run_example("lstm_sine.py", tmp_path)
    naive = number_after(r"naive \(last value\) test MSE:", out)
    mses = {name: number_after(rf"{name}\s+test MSE:", out) for name in ("SimpleRNN", "LSTM", "GRU")}
    assert "Best model:" in out
    assert min(mses.values()) < naive, (mses, naive)  # a recurrent model beats "repeat the last value"


def test_segmentation_deeplab(tmp_path):
    out = run_example("segmentation_deeplab.py", tmp_path)
    assert "backbone weights unchanged by training (frozen)" in out
    assert "Non-trainable params:" in out
    acc = number_after(r"Test pixel accuracy:", out)
    baseline = number_after(r"all-background baseline:", out)
    assert acc > baseline + 0.05, (acc, baseline)


def test_transfer_learning(tmp_path):
    """MobileNetV2 (alpha 0.35, no top) from a local weights file Keras wrote (tests/fixtures/make_applications.py),
    frozen under a new head, then its top fine-tuned with the BatchNormalization layers kept frozen."""
    import h5py
    weights = REPO / "tests" / "fixtures" / "mobilenet_v2_035_no_top.h5"
    out = run_example("transfer_learning.py", tmp_path, "--weights", str(weights))
    with h5py.File(weights, "r") as f:
        conv1 = float(np.sum(f["Conv1/Conv1/kernel"][()]))
    assert number_after(r"sum of Conv1's kernel:", out) == pytest.approx(conv1, abs=1e-5)  # the file's weights
    assert "[head only] trainable params: 12,810  non-trainable params: 410,208" in out  # Dense(10) on 1280
    assert "[fine-tuning] trainable params: 337,466  non-trainable params: 85,552" in out
    assert "changed Conv_1's kernel: True; BatchNormalization weights and moving statistics unchanged: True" in out
    assert 0 <= number_after(r"Test accuracy after fine-tuning:", out) <= 1


def test_custom_training_loop(tmp_path):
    out = run_example("custom_training_loop.py", tmp_path)
    assert number_after(r"Custom loop validation accuracy:", out) > 0.8  # chance: 1/3
    assert number_after(r"Subclassed train_step validation accuracy:", out) > 0.8


@pytest.mark.parametrize("given", [True, False], ids=["output-dir", "default-temporary-folder"])
def test_callbacks_checkpoint(tmp_path, given):
    args = ["--output-dir", str(tmp_path / "out")] if given else []
    out = run_example("callbacks_checkpoint.py", tmp_path, *args)
    outdir = Path(re.search(r"checkpoint and logs go to (\S+)", out).group(1))
    if given:
        assert outdir == tmp_path / "out"
    else:
        assert outdir.parent == tmp_path / "tmp"  # tempfile's folder, which follows $TMPDIR
    assert (outdir / "best_model.keras").is_file()
    assert (outdir / "training_log.csv").is_file()
    assert "CSVLogger wrote" in out
    if "early stopping" in out:
        assert "Restoring model weights" in out
    assert number_after(r"Resumed model: val_loss [0-9.]+, val_accuracy", out) > 0.35  # chance: 0.25


def test_fashion_mnist_cnn_rejects_a_stray_argument(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "fashion_mnist_cnn.py"), "--epochs", "two"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 2 and "argument --epochs: invalid int value: 'two'" in proc.stderr


def test_denoising_autoencoder(tmp_path):
    out = run_example("denoising_autoencoder.py", tmp_path)
    noisy = number_after(r"Test MSE of the noisy inputs:", out)
    assert number_after(r"Test MSE of the denoised outputs:", out) < 0.7 * noisy


def test_vae(tmp_path):
    out = run_example("vae.py", tmp_path)
    first = number_after(r"First epoch: total loss", out)
    assert number_after(r"Last epoch: total loss", out) < 0.75 * first
    assert number_after(r"Last epoch: total loss [0-9.]+, reconstruction [0-9.]+, KL", out) > 0.1
    assert "First generated image:" in out


def test_rbm(tmp_path):
    out = run_example("rbm.py", tmp_path)
    before = number_after(r"Before training: reconstruction error", out)
    assert number_after(r"After training: reconstruction error", out) < 0.2 * before
    assert number_after(r"Free energy of random images minus that of the data:", out) > 1.0
    assert number_after(r"Valid patterns among 30 dreams:", out) > 0.5  # random 4x4 images: 30/65536


def test_char_lstm(tmp_path):
    out = run_example("char_lstm.py", tmp_path)
    unigram = number_after(r"Unigram baseline perplexity:", out)
    assert number_after(r"Training-text perplexity per character:", out) < unigram / 2
    assert number_after(r"Held-out perplexity per character:", out) < unigram
    assert re.search(r"Generated \(70 characters\): alice was .{60}", out)


def test_transformer_classifier(tmp_path):
    out = run_example("transformer_classifier.py", tmp_path)
    majority = number_after(r"\(majority class:", out)
    assert number_after(r"Test accuracy:", out) > majority + 0.2
    assert number_after(r"after changing the padding embedding:", out) < 1e-5
