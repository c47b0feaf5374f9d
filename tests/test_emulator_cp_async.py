"""cp.async on the emulator (__pipeline_memcpy_async / __pipeline_commit / __pipeline_wait_prior from
cuda_pipeline_primitives.h): a two-stage pipeline gives the right sums, with zero-fill past the end;
a missing wait, a wait that leaves the group pending, or a missing __syncthreads after the wait reads
the destination's poison (NaN). The same source compiles with NVRTC for sm_80 where it is installed.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from gpuflow.device import _probe_emulator

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "emulator_kernels", "cp_async.cu")


@pytest.fixture(scope="module")
def kernel():
    ok, why = _probe_emulator()
    if not ok:
        pytest.skip(f"emulator: {why}")
    from gpuflow.backend.emulator import RawModule
    return RawModule(path=SRC).get_function("pipelined_sum")


def _run(kernel, mode, n=701, **kw):  # 701: the last copy of the last block is 1 float + 12 zero bytes
    x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    blocks = -(-n // 256)
    out = np.zeros(blocks, np.float32)
    kernel(blocks, 32, (x, out, np.int32(n), np.int32(mode)), **kw)
    want = np.add.reduceat(np.pad(x, (0, blocks * 256 - n)).astype(np.float64), np.arange(0, blocks * 256, 256))
    return out, want


@pytest.mark.parametrize("schedule", ("forward", "shuffle"))
def test_pipelined_copies_land_after_the_wait(kernel, schedule):
    out, want = _run(kernel, 0, schedule=schedule)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)


def test_bounds_checked_with_zero_fill(kernel):
    out, want = _run(kernel, 0, bounds=True)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", (1, 2, 3))
def test_too_little_waiting_reads_poison(kernel, mode):
    out, _ = _run(kernel, mode, schedule="forward")  # mode 3: thread 0 reads before the others issued theirs
    assert np.isnan(out).all(), out


def test_compiles_with_nvrtc_for_sm80():
    from gpuflow.backend import kernels, nvrtc_check, tensor_cores
    try:
        nvrtc_check.nvrtc_version()
        headers = tensor_cores.cuda_headers().path
    except (nvrtc_check.NvrtcUnavailableError, FileNotFoundError) as e:
        pytest.skip(str(e))
    nvrtc_check.compile_source(SRC, "sm_80", include_dirs=[kernels.kernel_dir(), headers])
