"""The CUDA backend's device limits, int32 index check and out-of-memory errors, on the emulator."""
from __future__ import annotations

import numpy as np
import pytest

from gpuflow.backend import cupy_backend as cb
from gpuflow.backend.geometry import ConvGeometry
from gpuflow.backend.cupy_backend import CupyBackend, ResourceExhaustedError
from gpuflow.device import probe_emulator

needs_emulator = pytest.mark.skipif(not probe_emulator()[0], reason="no C++ compiler for the emulator")


@pytest.fixture(scope="module")
def be():
    from gpuflow.backend.kernels import emulator_loader
    return CupyBackend(xp=np, loader=emulator_loader, name="emulator")


def test_emulator_reports_documented_limits_and_split_k_follows_the_sm_count(be):
    assert (be.sm_count, be.shared_memory_per_block) == (cb.EMULATOR_SM_COUNT, cb.EMULATOR_SHARED_MEMORY_PER_BLOCK)
    m, f, k = 288, 64, 100_000  # 5 x 1 tiles, a long reduction
    assert be.splitk_splits(m, f, k) == -(-cb.SPLITK_BLOCKS_PER_SM * 132 // 5)
    small = CupyBackend.__new__(CupyBackend)
    small.sm_count = 4
    assert small.splitk_splits(m, f, k) == -(-cb.SPLITK_BLOCKS_PER_SM * 4 // 5)


@pytest.mark.parametrize("op, name, shape", [
    ("conv2d", "y", (64, 256, 256, 512)),                 # N*OH*OW*F = 2^31
    ("dense", "x", (2**20, 2**11)),                         # M*K = 2^31
    ("conv2d backward (filter)", "workspace", (40, 2**20, 64)),
])
def test_index_check_names_op_tensor_shape_and_limit(op, name, shape):
    with pytest.raises(ValueError) as e:
        CupyBackend.check_index_range(op, {"ok": (2**31 - 1,), name: shape})
    msg = str(e.value)
    assert op in msg and f"{name}.shape={shape}" in msg and str(2**31) in msg
    CupyBackend.check_index_range(op, {name: (2**31 - 1,)})  # one less: accepted


@needs_emulator
@pytest.mark.parametrize("call, name", [
    (lambda be, x, w: be.conv2d_fwd(x, w, ConvGeometry(x.shape, (3, 3))), "x"),
    (lambda be, x, w: be.conv2d_bwd_data(be.asarray(np.ones((2, 4, 4, 3), np.float32)), w,
                                         ConvGeometry(x.shape, (3, 3))), "dx"),
    (lambda be, x, w: be.conv2d_bwd_filter(x, be.asarray(np.ones((2, 4, 4, 3), np.float32)),
                                           ConvGeometry(x.shape, (3, 3))), "x"),
    (lambda be, x, w: be.max_pool2d_fwd(x, ConvGeometry(x.shape, (2, 2), (2, 2))), "x"),
    (lambda be, x, w: be.avg_pool2d_bwd(be.asarray(np.ones((2, 3, 3, 2), np.float32)),
                                        ConvGeometry(x.shape, (2, 2), (2, 2))), "dx"),
    (lambda be, x, w: be.dense_fwd(x.reshape(2, -1), be.asarray(np.ones((72, 3), np.float32))), "x"),
    (lambda be, x, w: be.bias_act_bwd(x, y=x, relu=True, need_db=True), "dy"),
])
def test_every_launch_path_checks_its_tensors(be, monkeypatch, call, name):
    """With the limit lowered to 100 elements, each wrapper refuses its 144-element tensor before launching."""
    monkeypatch.setattr(cb, "INDEX_LIMIT", 100)
    x = be.asarray(np.ones((2, 6, 6, 2), np.float32))
    w = be.asarray(np.ones((3, 3, 2, 3), np.float32))
    with pytest.raises(ValueError, match=rf"{name}\.shape="):
        call(be, x, w)


@needs_emulator
def test_out_of_memory_outside_empty_is_the_clear_error(be, monkeypatch):
    """dense_bwd's weight gradient (xp.matmul, not _empty) running out of memory names the op."""
    class OutOfMemoryError(Exception):  # the class name of cupy.cuda.memory.OutOfMemoryError
        pass

    class XP:  # the emulator's array module, with a matmul that cannot allocate
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def matmul(a, b):
            raise OutOfMemoryError("Out of memory allocating 1,048,576 bytes (allocated so far: 0 bytes).")

    monkeypatch.setattr(be, "xp", XP())
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ResourceExhaustedError) as e:
        be.dense_bwd(a, a, np.ones((3, 3), np.float32), y=a, relu=True)
    msg = str(e.value)
    assert msg.startswith("dense_bwd:") and "1,048,576 bytes" in msg and "batch_size" in msg
    assert isinstance(e.value.__cause__, OutOfMemoryError)
    monkeypatch.setattr(be, "xp", np)
    with pytest.raises(ValueError):  # other errors pass through unchanged
        be.dense_bwd(a, a, np.ones((5, 5), np.float32), y=a, relu=True)
