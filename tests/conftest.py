"""The ``device`` fixture: one test body on every backend.

A test that takes ``device`` runs once per device kind, and its id names the kind
(``test_conv2d[cpu-...]``, ``test_conv2d[emulator-...]``):

* ``cpu``: the NumPy backend;
* ``emulator``: the CUDA backend, its wrappers and the kernels of ``cuda_kernels/``, run on the CPU
  emulator, with the threads of a block in shuffled order between barriers (a missing
  ``__syncthreads`` shows as a mismatch);
* ``gpu``: the CUDA backend on a real device.

A kind that cannot run here (no C++ compiler, no CUDA device) is skipped with the reason
:mod:`gpuflow.device`'s probe gives. The whole test body runs inside ``with gpuflow.device(kind)``,
so every tensor, variable and layer weight it creates lives on that device; the value of the fixture
is the kind (a device spec string).

Values and gradients are compared with the plain reference backend by
``gradcheck.check_on_device`` (ops) and ``layer_test_utils.run_layer_test(..., device=device)``
(layers).

A known bug of one backend is marked on that backend's run only, so the others still run and the
marked one must keep failing (strict)::

    @pytest.mark.xfail_on("emulator", reason="...")
"""
import pytest

import gpuflow as tf
from gpuflow.device import probe_cuda, probe_emulator

DEVICE_KINDS = ("cpu", "emulator", "gpu")
_PROBES = {"emulator": probe_emulator, "gpu": probe_cuda}


def _device_params():
    params = []
    for kind in DEVICE_KINDS:
        ok, why = _PROBES[kind]() if kind in _PROBES else (True, "")
        marks = [pytest.mark.gpu] if kind == "gpu" else []  # so `pytest -m gpu` (benchmarks/gpu_check.sh) runs them
        if not ok:
            marks.append(pytest.mark.skip(reason=f"{kind}: {why}"))
        params.append(pytest.param(kind, id=kind, marks=marks))
    return params


@pytest.fixture(params=_device_params())
def device(request, monkeypatch):
    """The device kind the test body runs on, inside ``with gpuflow.device(kind)``."""
    kind = request.param
    for marker in request.node.iter_markers("xfail_on"):
        if marker.args[0] == kind:
            request.node.add_marker(pytest.mark.xfail(strict=True, reason=marker.kwargs["reason"]))
    if kind == "emulator":
        monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "shuffle")
    with tf.device(kind):
        yield kind
