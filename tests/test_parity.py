"""`gpuflow parity`: layer-by-layer comparison of a model on two backends.

Without the emulator, the "other" side is the NumPy backend with one primitive deliberately
perturbed (noise added to its result): parity must fail and name the layer that uses it. With
the emulator, the seed CNN must pass, and fail when a CUDA kernel's result is perturbed.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from gpuflow import cli, parity
from gpuflow.backend.numpy_backend import NumpyBackend
from gpuflow.device import probe_emulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def noisy(cls, name, scale=1e-2, index=None):
    """A replacement for ``cls.name`` that adds relative noise to its result (or to result[index])."""
    original = getattr(cls, name)
    rng = np.random.default_rng(123)

    def perturbed(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        target = out if index is None else out[index]
        target = target + scale * float(np.abs(target).max()) * rng.standard_normal(target.shape).astype(target.dtype)
        if index is None:
            return target
        out = list(out)
        out[index] = target
        return tuple(out)
    return perturbed


def perturbed_runner(monkeypatch, cls, name, index=None, device="cpu", scale=1e-2):
    """A runner whose backend primitive ``cls.name`` is perturbed only while it runs."""
    base = parity.device_runner(device)

    def run(build, weights, seed, batch_size):
        with monkeypatch.context() as m:
            m.setattr(cls, name, noisy(cls, name, scale=scale, index=index))
            return base(build, weights, seed, batch_size)
    run.device = f"{device} (perturbed {name})"
    return run


def layer_names(report, cls_name):
    return [c.layer for c in report.checks if c.cls == cls_name and c.tensor == "output"]


def test_identical_backends_pass_exactly():
    report = parity.run_parity(reference="cpu", other=parity.device_runner("cpu"), batch_size=2)
    assert report.passed
    assert len({c.layer for c in report.checks}) == 7  # conv, pool, conv, pool, flatten, dense, dense
    assert all(c.max_abs == 0 for c in report.checks)
    assert report.verdict().startswith("PASS")
    kinds = {c.tensor for c in report.checks}
    assert {"output", "d input", "d kernel", "d bias"} <= kinds


def test_perturbed_forward_kernel_fails_naming_its_layer(monkeypatch):
    other = perturbed_runner(monkeypatch, NumpyBackend, "max_pool2d_fwd", index=0)
    report = parity.run_parity(other=other, batch_size=2)
    assert not report.passed
    first_pool = layer_names(report, "MaxPooling2D")[0]
    assert report.culprit.layer == first_pool and report.culprit.phase == "forward"
    assert report.culprit.tensor == "output"
    # the layers before it agree
    conv = layer_names(report, "Conv2D")[0]
    assert next(c for c in report.checks if c.layer == conv and c.tensor == "output").ok
    assert f"FAIL: layer '{first_pool}' (MaxPooling2D)" in report.verdict()


def test_perturbed_backward_kernel_fails_naming_its_layer(monkeypatch):
    other = perturbed_runner(monkeypatch, NumpyBackend, "conv2d_bwd", index=1)  # dW only
    report = parity.run_parity(other=other, batch_size=2)
    assert not report.passed
    second_conv = layer_names(report, "Conv2D")[1]  # nearest the loss: the first one backward
    assert (report.culprit.layer, report.culprit.tensor, report.culprit.phase) == (second_conv, "d kernel", "backward")
    assert all(c.ok for c in report.checks if c.phase == "forward")


def test_perturbed_dense_backward(monkeypatch):
    other = perturbed_runner(monkeypatch, NumpyBackend, "dense_bwd", index=1)  # dW only
    report = parity.run_parity(other=other, batch_size=2)
    last_dense = layer_names(report, "Dense")[-1]
    assert (report.culprit.layer, report.culprit.tensor) == (last_dense, "d kernel")


def test_tolerance_is_respected(monkeypatch):
    other = perturbed_runner(monkeypatch, NumpyBackend, "max_pool2d_fwd", index=0, scale=1e-6)
    assert parity.run_parity(other=other, batch_size=2, rtol=1e-3).passed
    assert not parity.run_parity(other=other, batch_size=2, rtol=1e-8, atol=0).passed


def test_compare_reports_shape_and_nan_mismatches():
    ref = parity.Trace([parity.LayerCall("d", "Dense", [np.ones((2, 3))], [np.ones((2, 4))], [])], [], np.zeros(1))
    nan = parity.Trace([parity.LayerCall("d", "Dense", [np.array([[1, np.nan, 1], [1, 1, 1]])], [np.ones((2, 4))],
                                         [])], [], np.zeros(1))
    r = parity.compare(ref, nan)
    assert not r.passed and r.culprit.note.startswith("NaN")
    bad_shape = parity.Trace([parity.LayerCall("d", "Dense", [np.ones((3, 2))], [np.ones((2, 4))], [])], [],
                             np.zeros(1))
    r = parity.compare(ref, bad_shape)
    assert not r.passed and "shape" in r.culprit.note
    other_model = parity.Trace([parity.LayerCall("c", "Conv2D", [np.ones((2, 3))], [None], [])], [], np.zeros(1))
    with pytest.raises(ValueError, match="different layers"):
        parity.compare(ref, other_model)


def test_keras_model_file(tmp_path):
    path = os.path.join(ROOT, "tests", "fixtures", "seq_cnn.keras")
    try:
        build = parity.model_builder(path)
    except Exception as e:
        pytest.skip(f"gpuflow cannot load {path} yet: {e}")
    report = parity.run_parity(build, other=parity.device_runner("cpu"), batch_size=2)
    assert report.passed and report.checks


def test_cli_exit_codes_with_an_injected_backend(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(parity, "runner_for", lambda device: parity.device_runner("cpu"))
    assert cli.main(["parity", "--device", "emulator", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "d kernel" in out
    monkeypatch.setattr(parity, "runner_for",
                        lambda device: perturbed_runner(monkeypatch, NumpyBackend, "max_pool2d_fwd", index=0))
    out_json = tmp_path / "parity.json"
    assert cli.main(["parity", "--device", "emulator", "--batch-size", "2", "--json", str(out_json)]) == 1
    out = capsys.readouterr().out
    assert "FAIL: layer 'max_pooling2d" in out
    import json
    doc = json.loads(out_json.read_text())
    assert doc["passed"] is False and doc["culprit"].startswith("max_pooling2d")


# -- on the emulator (the CUDA kernels run on the CPU) ---------------------------------------------------
_EMU_OK, _EMU_WHY = probe_emulator()
needs_emulator = pytest.mark.skipif(not _EMU_OK, reason=f"emulator unavailable: {_EMU_WHY}")


@needs_emulator
def test_seed_cnn_parity_on_the_emulator():
    report = parity.run_parity(other="emulator", batch_size=2)
    assert report.passed, report.table() + "\n" + report.verdict()
    assert max(c.max_rel for c in report.checks) < 1e-4


@needs_emulator
def test_perturbed_cuda_kernel_fails_on_the_emulator(monkeypatch):
    from gpuflow.backend.cupy_backend import CupyBackend
    other = perturbed_runner(monkeypatch, CupyBackend, "conv2d_fwd", index=0, device="emulator")
    report = parity.run_parity(other=other, batch_size=2)
    assert not report.passed
    assert report.culprit.layer == layer_names(report, "Conv2D")[0] and report.culprit.phase == "forward"
