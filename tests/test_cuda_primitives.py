"""Every CUDA primitive against the NumPy reference, on fresh random inputs at many shapes.

One test body runs on each CUDA backend present: the CPU emulator (always, where a C++ compiler
exists: CI) and a real GPU (when CuPy finds one: `pytest -m gpu` on a GPU machine). On the
emulator the threads between barriers run in shuffled order (a missing __syncthreads shows up as
a mismatch), a subset runs with the out-of-bounds checker on, and every test runs again with the
grid of each grid-stride kernel capped at one block (``grid_cap = (1, 1, 1)``): a grid smaller than
the work, so the grid-stride loops and what they reuse between iterations are exercised.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from gpuflow.backend.numpy_backend import NumpyBackend
from gpuflow.backend.base import PRIMITIVES
from gpuflow.device import _probe_cuda, _probe_emulator
from gpuflow.ops.nn_ops import conv_output_size

pytestmark = pytest.mark.gpu

REF = NumpyBackend()


def _backends():
    params = []
    ok, why = _probe_emulator()
    skip = () if ok else pytest.mark.skip(reason=f"emulator: {why}")
    params.append(pytest.param("emulator", marks=skip))
    params.append(pytest.param("emulator-bounds", marks=skip))  # AddressSanitizer on every launch
    params.append(pytest.param("emulator-grid1", marks=skip))  # every grid-stride kernel on one block
    ok, why = _probe_cuda()
    params.append(pytest.param("gpu", marks=() if ok else pytest.mark.skip(reason=f"no CUDA device: {why}")))
    return params


_CACHE = {}


def make_backend(kind):
    if kind not in _CACHE:
        from gpuflow.backend.cupy_backend import CupyBackend
        if kind.startswith("emulator"):
            from gpuflow.backend.kernels import emulator_loader
            _CACHE[kind] = CupyBackend(xp=np, loader=emulator_loader, name="emulator")
            if kind == "emulator-grid1":
                _CACHE[kind].grid_cap = (1, 1, 1)
        else:
            _CACHE[kind] = CupyBackend(0)
    return _CACHE[kind]


@pytest.fixture(params=_backends())
def be(request, monkeypatch):
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "shuffle")
    if request.param == "emulator-bounds":
        monkeypatch.setenv("GPUFLOW_EMU_BOUNDS", "1")
        return make_backend("emulator")
    return make_backend(request.param)


def host(be, a):
    return be.to_numpy(a)


def dev(be, a):
    return be.asarray(a)


def close(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale, err_msg=what)


# (N, H, W, C, F, kh, kw, stride, dilation, padding)
CONV_CASES = [
    (1, 7, 9, 3, 5, 3, 3, 1, 1, "VALID"),
    (2, 8, 8, 4, 8, 3, 3, 2, 1, "SAME"),
    (2, 9, 7, 5, 6, 3, 3, 1, 2, "SAME"),
    (1, 6, 6, 1, 32, 3, 3, 1, 1, "VALID"),
    (3, 5, 5, 7, 3, 1, 1, 1, 1, "VALID"),
    (2, 10, 11, 6, 65, 2, 5, 2, 1, "VALID"),
    (2, 7, 7, 3, 4, 3, 3, 2, 1, "VALID"),
    (1, 13, 13, 32, 64, 3, 3, 1, 1, "VALID"),
    (4, 18, 18, 3, 5, 3, 3, 1, 1, "VALID"),  # K = N*OH*OW = 1024: the split-K filter gradient
]


def _pads(h, w, kh, kw, s, d, padding):
    oh, (pt, pb) = conv_output_size(h, kh, s, d, padding)
    ow, (pl, pr) = conv_output_size(w, kw, s, d, padding)
    return (pt, pb, pl, pr)


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7]}d{c[8]}{c[9]}")
def test_conv2d_primitives(be, case):
    n, h, w, c, f, kh, kw, s, d, padding = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    k = rng.standard_normal((kh, kw, c, f)).astype(np.float32)
    pads = _pads(h, w, kh, kw, s, d, padding)
    args = ((s, s), (d, d), pads)
    want_y, saved = REF.conv2d_fwd(x, k, *args)
    got_y, _ = be.conv2d_fwd(dev(be, x), dev(be, k), *args)
    close(host(be, got_y), want_y, "conv2d_fwd")
    dy = rng.standard_normal(want_y.shape).astype(np.float32)
    close(host(be, be.conv2d_bwd_data(dev(be, dy), dev(be, k), x.shape, *args)),
          REF.conv2d_bwd_data(dy, k, x.shape, *args, saved), "conv2d_bwd_data")
    close(host(be, be.conv2d_bwd_filter(dev(be, x), dev(be, dy), k.shape, *args)),
          REF.conv2d_bwd_filter(x, dy, k.shape, *args, saved), "conv2d_bwd_filter")
    b = rng.standard_normal(f).astype(np.float32)
    want_y, _ = REF.conv2d_fwd(x, k, *args, b, True)
    got_y, _ = be.conv2d_fwd(dev(be, x), dev(be, k), *args, dev(be, b), True)
    close(host(be, got_y), want_y, "conv2d_fwd (bias, relu)")
    want = REF.conv2d_bwd(dy, x, k, want_y, True, True, True, True, *args)
    got = be.conv2d_bwd(dev(be, dy), dev(be, x), dev(be, k), got_y, True, True, True, True, *args)
    for name, g, w_ in zip(("dx", "dw", "db"), got, want):
        close(host(be, g), w_, f"conv2d_bwd {name}")
    if min(want_y.shape[1:3]) >= 2:  # Conv2D + MaxPooling2D(2), fused
        want_p, want_saved = REF.conv2d_maxpool_fwd(x, k, b, True, *args, (2, 2))
        got_p, got_saved = be.conv2d_maxpool_fwd(dev(be, x), dev(be, k), dev(be, b), True, *args, (2, 2))
        close(host(be, got_p), want_p, "conv2d_maxpool_fwd")
        dp = rng.standard_normal(want_p.shape).astype(np.float32)
        want = REF.conv2d_maxpool_bwd(dp, x, k, want_p, want_saved, True, True, True, True, *args, (2, 2))
        got = be.conv2d_maxpool_bwd(dev(be, dp), dev(be, x), dev(be, k), got_p, got_saved, True, True, True, True,
                                    *args, (2, 2))
        for name, g, w_ in zip(("dx", "dw", "db"), got, want):
            close(host(be, g), w_, f"conv2d_maxpool_bwd {name}")


# (N, H, W, C, pool, stride, padding)
POOL_CASES = [
    (2, 7, 9, 3, 2, 2, "VALID"),
    (2, 7, 9, 3, 2, 2, "SAME"),
    (1, 8, 8, 5, 3, 2, "SAME"),
    (2, 6, 5, 2, 2, 1, "VALID"),
    (1, 9, 9, 4, 3, 3, "VALID"),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "x".join(map(str, c[:4])) + f"-p{c[4]}s{c[5]}{c[6]}")
def test_pool2d_primitives(be, case):
    n, h, w, c, p, s, padding = case
    rng = np.random.default_rng(sum(map(hash, map(str, case))) % 2**32)
    # Small integers: plenty of ties, so the first-maximum rule is exercised.
    x = rng.integers(-3, 4, (n, h, w, c)).astype(np.float32)
    pads = _pads(h, w, p, p, s, 1, padding)
    args = ((p, p), (s, s), pads)
    want_y, want_arg = REF.max_pool2d_fwd(x, *args)
    got_y, got_arg = be.max_pool2d_fwd(dev(be, x), *args)
    close(host(be, got_y), want_y, "max_pool2d_fwd")
    np.testing.assert_array_equal(host(be, got_arg).astype(np.int64), want_arg.astype(np.int64))
    dy = rng.standard_normal(want_y.shape).astype(np.float32)
    close(host(be, be.max_pool2d_bwd(dev(be, dy), x.shape, *args, got_arg)),
          REF.max_pool2d_bwd(dy, x.shape, *args, want_arg), "max_pool2d_bwd")
    close(host(be, be.avg_pool2d_fwd(dev(be, x), *args)), REF.avg_pool2d_fwd(x, *args), "avg_pool2d_fwd")
    close(host(be, be.avg_pool2d_bwd(dev(be, dy), x.shape, *args)), REF.avg_pool2d_bwd(dy, x.shape, *args),
          "avg_pool2d_bwd")


@pytest.mark.parametrize("m, k, n", [(5, 7, 3), (33, 65, 17), (64, 64, 64), (1, 100, 70)])
@pytest.mark.parametrize("bias, relu", [(True, True), (True, False), (False, True), (False, False)])
def test_dense_primitives(be, m, k, n, bias, relu):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    want = REF.dense_fwd(x, w, b, relu)
    got = be.dense_fwd(dev(be, x), dev(be, w), None if b is None else dev(be, b), relu)
    close(host(be, got), want, "dense_fwd")
    dy = rng.standard_normal(want.shape).astype(np.float32)
    want_g = REF.dense_bwd(dy, x, w, want, relu, True)
    got_g = be.dense_bwd(dev(be, dy), dev(be, x), dev(be, w), got, relu, True)
    for name, g, wg in zip(("dx", "dw", "db"), got_g, want_g):
        close(host(be, g), wg, f"dense_bwd {name}")


def test_float64_is_refused_with_a_clear_error(be):
    x = dev(be, np.zeros((1, 4, 4, 1)))
    with pytest.raises(TypeError, match="float32"):
        be.conv2d_fwd(x, dev(be, np.zeros((3, 3, 1, 1))), (1, 1), (1, 1), (0, 0, 0, 0))


def test_every_primitive_is_implemented(be):
    for name in PRIMITIVES:
        assert callable(getattr(be, name)), name


def test_cuda_out_of_memory_names_the_op_bytes_and_remedy():
    """CuPy's OutOfMemoryError from an allocation is re-raised naming the op, the bytes and free memory."""
    from gpuflow.backend.cupy_backend import CupyBackend, ResourceExhaustedError

    class OutOfMemoryError(Exception):  # CuPy's class name; no GPU needed for the check
        pass

    class FakeXP:
        float32 = np.float32

        class cuda:
            class runtime:
                @staticmethod
                def memGetInfo():
                    return 3 * 2**20, 80 * 2**30

        @staticmethod
        def empty(shape, dtype):
            raise OutOfMemoryError("out of memory to allocate")

    be = CupyBackend.__new__(CupyBackend)
    be.xp = FakeXP
    with pytest.raises(ResourceExhaustedError) as e:
        be._empty((128, 26, 26, 32), np.float32, "conv2d")
    msg = str(e.value)
    assert "conv2d" in msg and str(128 * 26 * 26 * 32 * 4) in msg and "3 MiB free" in msg and "batch_size" in msg


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 4, 4, 65)])
@pytest.mark.parametrize("bias, relu", [(True, True), (False, True), (True, False)])
def test_bias_act_primitives(be, shape, bias, relu):
    rng = np.random.default_rng(len(shape) * 7 + shape[-1])
    y = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[-1]).astype(np.float32) if bias else None
    want = REF.bias_act_fwd(y.copy(), b, relu)
    got = be.bias_act_fwd(dev(be, y.copy()), None if b is None else dev(be, b), relu)
    close(host(be, got), want, "bias_act_fwd")
    dy = rng.standard_normal(shape).astype(np.float32)
    wz, wb = REF.bias_act_bwd(dy, want, relu, bias)
    gz, gb = be.bias_act_bwd(dev(be, dy), got, relu, bias)
    close(host(be, gz), wz, "bias_act_bwd dz")
    if bias:
        close(host(be, gb), wb, "bias_act_bwd db")
    else:
        assert gb is None


def test_grid_cap_reaches_every_grid_stride_kernel(monkeypatch):
    """The "emulator-grid1" runs above really launch each grid-stride kernel on one block, with more work
    than one block's worth (several tiles / column blocks / elements per thread)."""
    if not _probe_emulator()[0]:
        pytest.skip("no emulator")
    be = make_backend("emulator-grid1")
    grids = {}
    launch = be.kernels.launch
    monkeypatch.setattr(be.kernels, "launch",
                        lambda f, entry, grid, *a: (grids.setdefault(entry, set()).add(tuple(grid)), launch(f, entry, grid, *a))[1])
    test_conv2d_primitives(be, (1, 13, 13, 32, 65, 3, 3, 1, 1, "VALID"))  # 2 x 2 output tiles
    test_conv2d_primitives(be, CONV_CASES[-1])  # split-K
    test_pool2d_primitives(be, (2, 7, 9, 3, 2, 1, "VALID"))  # 288 outputs > 256 threads
    test_dense_primitives(be, 70, 5, 70, True, True)  # 2 x 2 tiles, 3 column blocks
    grid_stride = {"conv2d_fwd_f32", "conv2d_bwd_data_f32", "splitk_reduce_f32", "max_pool2d_fwd_f32",
                   "max_pool2d_bwd_f32", "avg_pool2d_fwd_f32", "avg_pool2d_bwd_f32", "dense_bias_relu_fwd_f32",
                   "dense_bias_relu_bwd_f32"}
    assert grid_stride <= set(grids)
    for entry in grid_stride:
        assert grids[entry] == {(1, 1, 1)}, entry
    assert any(g != (1, 1, 1) for g in grids["conv2d_bwd_filter_f32"])  # not grid-stride: full grid
