"""Runs each script in examples/ in quick mode (GPUFLOW_EXAMPLE_QUICK=1) as a user would, in a subprocess,
and checks its exit status and one meaningful reported number."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def run_example(name, tmp_path, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["GPUFLOW_EXAMPLE_QUICK"] = "1"
    env["GPUFLOW_EXAMPLE_OUTDIR"] = str(tmp_path)
    env.setdefault("GPUFLOW_HOME", str(tmp_path / "gpuflow_home"))  # never write to the user's cache
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}:\n{out[-4000:]}"
    return out


def number_after(pattern, text):
    m = re.search(pattern + r"\s*([0-9.]+)", text)
    assert m, f"no match for {pattern!r} in output:\n{text[-3000:]}"
    return float(m.group(1))


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
    out = run_example("transfer_learning.py", tmp_path)
    assert re.search(r"\[task B, base frozen\] trainable params: 325 ", out), out[-3000:]
    assert number_after(r"Task A \(classes 0-4\) test accuracy:", out) > 0.4  # chance: 0.2
    assert number_after(r"test accuracy after fine-tuning:", out) > 0.4


def test_custom_training_loop(tmp_path):
    out = run_example("custom_training_loop.py", tmp_path)
    assert number_after(r"Custom loop validation accuracy:", out) > 0.8  # chance: 1/3
    assert number_after(r"Subclassed train_step validation accuracy:", out) > 0.8


def test_callbacks_checkpoint(tmp_path):
    out = run_example("callbacks_checkpoint.py", tmp_path)
    assert (tmp_path / "best_model.keras").is_file()
    assert (tmp_path / "training_log.csv").is_file()
    assert "CSVLogger wrote" in out
    if "early stopping" in out:
        assert "Restoring model weights" in out
    assert number_after(r"Resumed model: val_loss [0-9.]+, val_accuracy", out) > 0.35  # chance: 0.25
