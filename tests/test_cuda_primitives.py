"""Every CUDA primitive against the reference backend, on fresh random inputs at many shapes, within
the float32 rounding of sums of each reduction's length (tests/primitive_checks.py).

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

from gpuflow.backend.base import PRIMITIVES
from gpuflow.backend.geometry import ConvGeometry
from gpuflow.device import probe_cuda, probe_emulator
from primitive_checks import REF, abs64, assert_conv_bwd_matches, assert_conv_fwd_matches, assert_sums_match

pytestmark = pytest.mark.gpu


def _backends():
    params = []
    ok, why = probe_emulator()
    skip = () if ok else pytest.mark.skip(reason=f"emulator: {why}")
    params.append(pytest.param("emulator", marks=skip))
    params.append(pytest.param("emulator-bounds", marks=skip))  # AddressSanitizer on every launch
    params.append(pytest.param("emulator-grid1", marks=skip))  # every grid-stride kernel on one block
    ok, why = probe_cuda()
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
    (1, 6, 5, 3, 4, 3, 2, 2, 1, ((2, 0), (1, 2))),  # explicit, asymmetric padding
    (4, 18, 18, 3, 5, 3, 3, 1, 1, "VALID"),  # K = N*OH*OW = 1024: the split-K filter gradient (keep it last)
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7]}d{c[8]}{c[9]}")
def test_conv2d_primitives(be, case):
    n, h, w, c, f, kh, kw, s, d, padding = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    k = rng.standard_normal((kh, kw, c, f)).astype(np.float32)
    g = ConvGeometry.of(x.shape, (kh, kw), (s, s), (d, d), padding)
    got_y, _ = be.conv2d_fwd(dev(be, x), dev(be, k), g)
    assert_conv_fwd_matches(host(be, got_y), x, k, g)
    dy = rng.standard_normal(got_y.shape).astype(np.float32)
    assert_conv_bwd_matches((host(be, be.conv2d_bwd_data(dev(be, dy), dev(be, k), g)),
                             host(be, be.conv2d_bwd_filter(dev(be, x), dev(be, dy), g)), None), dy, x, k, g)
    b = rng.standard_normal(f).astype(np.float32)
    got_y, _ = be.conv2d_fwd(dev(be, x), dev(be, k), g, b=dev(be, b), relu=True)
    y = host(be, got_y)
    assert_conv_fwd_matches(y, x, k, g, b, True, what="conv2d_fwd (bias, relu)")
    got = be.conv2d_bwd(dev(be, dy), dev(be, k), g, x=dev(be, x), y=got_y, relu=True, need_db=True)
    assert_conv_bwd_matches([host(be, a) for a in got], dy * (y > 0), x, k, g)
    if min(y.shape[1:3]) >= 2:  # Conv2D + MaxPooling2D(2), fused
        got_p, got_saved = be.conv2d_maxpool_fwd(dev(be, x), dev(be, k), g, (2, 2), b=dev(be, b), relu=True)
        p = host(be, got_p)
        want_p, (want_arg, pooling) = REF.conv2d_maxpool_fwd(x, k, g, (2, 2), b=b, relu=True)
        # the maxima of conv outputs that each agree within their sum's rounding (kh*kw*C products + bias)
        abs_sum = REF.conv2d_fwd(abs64(x), abs64(k), g, b=abs64(b))[0]
        assert_sums_match(p, want_p, REF.max_pool2d_fwd(abs_sum, pooling)[0], k.size // f + 1, "conv2d_maxpool_fwd")
        dp = rng.standard_normal(p.shape).astype(np.float32)
        got = be.conv2d_maxpool_bwd(dev(be, dp), dev(be, k), g, (2, 2), saved=got_saved, x=dev(be, x), y=got_p,
                                    relu=True, need_db=True)
        # random data: no two conv outputs of a window are within rounding, so both route to the same winners
        dz = REF.max_pool2d_bwd(dp * (want_p > 0), pooling, saved=want_arg)
        assert_conv_bwd_matches([host(be, a) for a in got], dz, x, k, g, what="conv2d_maxpool_bwd")


# (N, H, W, C, F, pool): the fused Conv2D + MaxPooling2D kernel at window sizes other than 2 x 2 (whole windows per
# 64-row tile: 64, 7, 10, 32, 1), windows that leave conv rows/columns over, and a window over 64 conv outputs
# (composed from conv2d_fwd and max_pool2d_fwd instead)
CONV_POOL_CASES = [(2, 5, 6, 3, 5, (1, 1)), (2, 9, 10, 3, 7, (3, 3)), (1, 9, 8, 4, 66, (2, 3)),
                   (3, 6, 4, 2, 3, (2, 1)), (1, 11, 11, 2, 3, (9, 8))]


@pytest.mark.parametrize("case", CONV_POOL_CASES, ids=lambda c: "x".join(map(str, c[:5])) + f"-p{c[5][0]}{c[5][1]}")
def test_conv2d_maxpool_pool_sizes(be, case):
    n, h, w, c, f, pool = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    k = rng.standard_normal((3, 3, c, f)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    g = ConvGeometry.of(x.shape, (3, 3), (1, 1), (1, 1), "VALID")
    for relu in (False, True):
        got_p, got_saved = be.conv2d_maxpool_fwd(dev(be, x), dev(be, k), g, pool, b=dev(be, b), relu=relu)
        p = host(be, got_p)
        want_p, (want_arg, pooling) = REF.conv2d_maxpool_fwd(x, k, g, pool, b=b, relu=relu)
        abs_sum = REF.conv2d_fwd(abs64(x), abs64(k), g, b=abs64(b))[0]
        assert_sums_match(p, want_p, REF.max_pool2d_fwd(abs_sum, pooling)[0], k.size // f + 1, "conv2d_maxpool_fwd")
        dp = rng.standard_normal(p.shape).astype(np.float32)
        got = be.conv2d_maxpool_bwd(dev(be, dp), dev(be, k), g, pool, saved=got_saved, x=dev(be, x), y=got_p,
                                    relu=relu, need_db=True)
        dz = REF.max_pool2d_bwd(dp * (want_p > 0) if relu else dp, pooling, saved=want_arg)
        assert_conv_bwd_matches([host(be, a) for a in got], dz, x, k, g, what=f"conv2d_maxpool_bwd {pool}")


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
    g = ConvGeometry.of(x.shape, (p, p), (s, s), padding=padding)
    want_y, want_arg = REF.max_pool2d_fwd(x, g)
    got_y, got_arg = be.max_pool2d_fwd(dev(be, x), g)
    np.testing.assert_array_equal(host(be, got_y), want_y)  # maxima are exact
    np.testing.assert_array_equal(host(be, got_arg).astype(np.int64), want_arg.astype(np.int64))  # the first maximum
    dy = rng.standard_normal(want_y.shape).astype(np.float32)
    overlap = (-(-p // s)) ** 2  # the most windows an input element lies in: terms of its gradient's sum
    assert_sums_match(host(be, be.max_pool2d_bwd(dev(be, dy), g, saved=got_arg)),
                      REF.max_pool2d_bwd(dy, g, saved=want_arg),
                      REF.max_pool2d_bwd(abs64(dy), g, saved=want_arg), overlap, "max_pool2d_bwd")
    # sums of p*p terms (or of the windows over an element), then a division by the count: one more rounding
    assert_sums_match(host(be, be.avg_pool2d_fwd(dev(be, x), g)), REF.avg_pool2d_fwd(x, g),
                      REF.avg_pool2d_fwd(abs64(x), g), p * p + 1, "avg_pool2d_fwd")
    assert_sums_match(host(be, be.avg_pool2d_bwd(dev(be, dy), g)), REF.avg_pool2d_bwd(dy, g),
                      REF.avg_pool2d_bwd(abs64(dy), g), overlap + 1, "avg_pool2d_bwd")


@pytest.mark.parametrize("m, k, n", [(5, 7, 3), (33, 65, 17), (64, 64, 64), (1, 100, 70)])
@pytest.mark.parametrize("bias, relu", [(True, True), (True, False), (False, True), (False, False)])
def test_dense_primitives(be, m, k, n, bias, relu):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    got = be.dense_fwd(dev(be, x), dev(be, w), b=None if b is None else dev(be, b), relu=relu)
    y = host(be, got)
    assert_sums_match(y, REF.dense_fwd(x, w, b=b, relu=relu), REF.dense_fwd(abs64(x), abs64(w), b=abs64(b)), k + 1,
                      "dense_fwd")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    want_g = REF.dense_bwd(dy, x, w, y=y, relu=relu)
    got_g = be.dense_bwd(dev(be, dy), dev(be, x), dev(be, w), y=got, relu=relu)
    ag = abs64(dy * (y > 0) if relu else dy)  # |gradient| after the ReLU mask of the same y
    bounds = (ag @ abs64(w).T, n), (abs64(x).T @ ag, m), (ag.sum(axis=0), m)
    for name, g, wg, bound in zip(("dx", "dw", "db"), got_g, want_g, bounds):
        assert_sums_match(host(be, g), wg, *bound, f"dense_bwd {name}")


def test_float64_is_refused_with_a_clear_error(be):
    x = dev(be, np.zeros((1, 4, 4, 1)))
    with pytest.raises(TypeError, match="float32"):
        be.conv2d_fwd(x, dev(be, np.zeros((3, 3, 1, 1))), ConvGeometry(x.shape, (3, 3)))


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
    got = be.bias_act_fwd(dev(be, y.copy()), b=None if b is None else dev(be, b), relu=relu)
    # one float32 addition per element (exact when there is no bias), ReLU exact
    np.testing.assert_array_equal(host(be, got), REF.bias_act_fwd(y.copy(), b=b, relu=relu))
    dy = rng.standard_normal(shape).astype(np.float32)
    wz, wb = REF.bias_act_bwd(dy, y=host(be, got), relu=relu, need_db=bias)
    gz, gb = be.bias_act_bwd(dev(be, dy), y=got, relu=relu, need_db=bias)
    np.testing.assert_array_equal(host(be, gz), wz)  # dy or 0: copies
    if bias:
        m = dy.size // shape[-1]
        assert_sums_match(host(be, gb), wb, np.abs(wz.astype(np.float64)).reshape(-1, shape[-1]).sum(0), m, "db")
    else:
        assert gb is None


def test_grid_cap_reaches_every_grid_stride_kernel(monkeypatch):
    """The "emulator-grid1" runs above really launch each grid-stride kernel on one block, with more work
    than one block's worth (several tiles / column blocks / elements per thread)."""
    if not probe_emulator()[0]:
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
    grid_stride = {"conv2d_fwd_f32", "conv2d_maxpool_fwd_f32", "conv2d_bwd_data_f32", "splitk_reduce_f32",
                   "max_pool2d_fwd_f32", "max_pool2d_bwd_f32", "avg_pool2d_fwd_f32", "avg_pool2d_bwd_f32", "dense_bias_relu_fwd_f32",
                   "dense_bias_relu_bwd_f32"}
    assert grid_stride <= set(grids)
    for entry in grid_stride:
        assert grids[entry] == {(1, 1, 1)}, entry
    assert any(g != (1, 1, 1) for g in grids["conv2d_bwd_filter_f32"])  # not grid-stride: full grid
