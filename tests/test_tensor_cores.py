"""The tensor-core kernels (cuda_kernels/conv2d_tc.cu, dense_tc.cu) and the emulator's nvcuda::wmma.

Every entry point (conv forward, data and filter gradients (also split-K), fused dense forward; TF32,
BF16, FP16) against a NumPy reference computed from inputs rounded as the GPU rounds them (TF32: round to
nearest, ties away; BF16 / FP16: round to nearest even), with float accumulation (float64 here) and
the 16-bit outputs rounded once: at odd shapes (channels and filters not multiples of the vector
width, rows not multiples of the tile), with the vectorised paths too, under the shuffled schedule,
and with the out-of-bounds checker. The TF32 results must also be further from the unrounded
float32 product than the tolerance (the rounding really happens). A wmma kernel that assumes one
fragment layout fails on the emulator (its layout is randomised per launch), and a wmma call from a
diverged warp is an error.

Runs on the emulator (CI) and on a GPU with sm_80+ when CuPy finds one (``pytest -m gpu``).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from gpuflow.backend import kernels
from gpuflow.backend.tensor_cores import TensorCoreKernels
from gpuflow.device import _probe_cuda, _probe_emulator

pytestmark = pytest.mark.gpu
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- rounding as the GPU does it ------------------------------------------------------------------
def tf32(a):
    """float32 -> TF32 kept in float32: cvt.rna.tf32.f32 (round to nearest, ties away from zero)."""
    u = np.asarray(a, np.float32).view(np.uint32)
    r = (u + np.uint32(0x1000)) & np.uint32(0xFFFFE000)
    return np.where((u & 0x7F800000) == 0x7F800000, u, r).view(np.float32)


def to_bf16_bits(a):
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even."""
    u = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


PRECISIONS = {  # name: (to device dtype, back to float32)
    "tf32": (lambda a: a.astype(np.float32), lambda a: np.asarray(a, np.float32)),
    "bf16": (to_bf16_bits, from_bf16_bits),
    "f16": (lambda a: a.astype(np.float16), lambda a: np.asarray(a, np.float32)),
}


def operand(p, a):
    """What the tensor core multiplies, as float64: TF32-rounded float32, or the 16-bit value."""
    to_dev, back = PRECISIONS[p]
    return (tf32(a) if p == "tf32" else back(to_dev(a))).astype(np.float64)


def output(p, ref64):
    """The reference as the kernel stores it: float32, or rounded once to the 16-bit type."""
    to_dev, back = PRECISIONS[p]
    return back(to_dev(ref64.astype(np.float32)))


# ---- NumPy references (float64 on the rounded operands) --------------------------------------------
def conv_ref(x, w, strides, dilations, pads, oh, ow):
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    xp = np.pad(x, ((0, 0), (pads[0], max(pads[1], 0) + h), (pads[2], max(pads[3], 0) + wd), (0, 0)))
    y = np.zeros((n, oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            hs, ws = i * dilations[0], j * dilations[1]
            patch = xp[:, hs:hs + strides[0] * oh:strides[0], ws:ws + strides[1] * ow:strides[1], :]
            y += patch[:, :oh, :ow, :] @ w[i, j]
    return y


def conv_bwd_refs(x, w, dy, strides, dilations, pads):
    """(dx, dw) by the adjoint of conv_ref: scatter dy back through every tap."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, oh, ow, _ = dy.shape
    big = (pads[0] + h + strides[0] * oh + dilations[0] * kh, pads[2] + wd + strides[1] * ow + dilations[1] * kw)
    dxp = np.zeros((n,) + big + (c,))
    xp = np.zeros_like(dxp)
    xp[:, pads[0]:pads[0] + h, pads[2]:pads[2] + wd] = x
    dw = np.zeros(w.shape)
    for i in range(kh):
        for j in range(kw):
            hs, ws = i * dilations[0], j * dilations[1]
            sl = (slice(None), slice(hs, hs + strides[0] * oh, strides[0]), slice(ws, ws + strides[1] * ow, strides[1]))
            dxp[sl] += dy @ w[i, j].T
            dw[i, j] = np.einsum("nhwc,nhwf->cf", xp[sl], dy)
    return dxp[:, pads[0]:pads[0] + h, pads[2]:pads[2] + wd], dw


def check(p, got, ref64, unrounded64, k, what):
    """got (device dtype) against ref64 (float64 of the rounded operands), with what float
    accumulation and the output rounding allow; for TF32 also: further from the unrounded product."""
    g = PRECISIONS[p][1](got).astype(np.float64)
    want = output(p, ref64).astype(np.float64)
    scale = max(1.0, float(np.abs(ref64).max()))
    # one ulp of the output type at most (a float sum next to a rounding boundary may round either way)
    out_ulp = {"tf32": 2.0**-23, "bf16": 2.0**-7, "f16": 2.0**-10}[p]
    tol = (k + 4) * 2.0**-24 * scale + out_ulp * np.abs(want)
    bad = ~(np.abs(g - want) <= tol)  # NaN (a poisoned, never written or uncopied element) is bad too
    assert not bad.any(), f"{what}: {bad.sum()} of {bad.size} off, worst {np.abs(g - want).max():.3g}"
    if p == "tf32":
        assert (np.abs(g - unrounded64) > tol).any(), f"{what}: matches the unrounded float32 product"


# ---- backends ------------------------------------------------------------------------------------------
def _backends():
    ok, why = _probe_emulator()
    skip = () if ok else pytest.mark.skip(reason=f"emulator: {why}")
    params = [pytest.param("emulator", marks=skip), pytest.param("emulator-bounds", marks=skip)]
    ok, why = _probe_cuda()
    params.append(pytest.param("gpu", marks=() if ok else pytest.mark.skip(reason=f"no CUDA device: {why}")))
    return params


_TC = {}


@pytest.fixture(params=_backends())
def tc(request, monkeypatch):
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "shuffle")
    if request.param == "emulator-bounds":
        monkeypatch.setenv("GPUFLOW_EMU_BOUNDS", "1")
    kind = "gpu" if request.param == "gpu" else "emulator"
    if kind not in _TC:
        if kind == "gpu":
            import cupy
            try:
                _TC[kind] = TensorCoreKernels(xp=cupy)
            except RuntimeError as e:  # older than sm_80
                pytest.skip(str(e))
        else:
            _TC[kind] = TensorCoreKernels(loader=kernels.emulator_loader)
    return _TC[kind]


def run(tc, fn, *args, **kw):
    out = fn(*(tc.xp.asarray(a) for a in args), **kw)
    return out.get() if hasattr(out, "get") else out


# (N, H, W, C, F, KH, KW, strides, dilations, pads)
CONV_CASES = [
    # odd C and F: scalar loads; M = 90 (fwd, data) rows: 2 row tiles; filter gradient K = 90: 3 slices
    (3, 5, 6, 3, 5, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),
    # C, F multiples of 8: 128-bit loads; stride 2, dilation 2, asymmetric padding; M = 84 / 192 rows
    (2, 12, 8, 8, 16, 3, 2, (2, 1), (1, 2), (1, 0, 0, 1)),
]


@pytest.mark.parametrize("p", sorted(PRECISIONS))
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_all_directions(tc, p, case):
    n, h, wd, c, f, kh, kw, strides, dil, pads = CONV_CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal((n, h, wd, c), dtype=np.float32)
    w = rng.standard_normal((kh, kw, c, f), dtype=np.float32)
    oh, ow = TensorCoreKernels.output_hw(x.shape, (kh, kw), strides, dil, pads)
    dy = rng.standard_normal((n, oh, ow, f), dtype=np.float32)
    geo = dict(strides=strides, dilations=dil, pads=pads)
    to_dev = PRECISIONS[p][0]

    y = run(tc, tc.conv2d_fwd, to_dev(x), to_dev(w), **geo)
    check(p, y, conv_ref(operand(p, x), operand(p, w), strides, dil, pads, oh, ow),
          conv_ref(x.astype(np.float64), w.astype(np.float64), strides, dil, pads, oh, ow), kh * kw * c, "forward")

    dx_ref, dw_ref = conv_bwd_refs(operand(p, x), operand(p, w), operand(p, dy), strides, dil, pads)
    dx_raw, dw_raw = conv_bwd_refs(x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64), strides, dil,
                                   pads)
    dx = run(tc, lambda a, b: tc.conv2d_bwd_data(a, b, x.shape, **geo), to_dev(dy), to_dev(w))
    check(p, dx, dx_ref, dx_raw, kh * kw * f, "backward data")
    dw = run(tc, lambda a, b: tc.conv2d_bwd_filter(a, b, (kh, kw), **geo), to_dev(x), to_dev(dy))
    check(p, dw, dw_ref, dw_raw, n * oh * ow, "backward filter")
    dw = run(tc, lambda a, b: tc.conv2d_bwd_filter(a, b, (kh, kw), splits=2, **geo), to_dev(x), to_dev(dy))
    check(p, dw, dw_ref, dw_raw, n * oh * ow, "backward filter, split-K")


@pytest.mark.parametrize("p", sorted(PRECISIONS))
@pytest.mark.parametrize("shape,relu", [((70, 37, 21), True), ((5, 64, 24), False)])
def test_dense_bias_relu(tc, p, shape, relu):
    m, k, nn = shape
    rng = np.random.default_rng(m)
    x, w = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, nn), dtype=np.float32)
    b = rng.standard_normal(nn, dtype=np.float32)
    to_dev, back = PRECISIONS[p]
    y = run(tc, lambda *a: tc.dense_fwd(*a, relu=relu), to_dev(x), to_dev(w), to_dev(b))
    ref = operand(p, x) @ operand(p, w) + back(to_dev(b))  # the bias is added in float: TF32 does not round it
    raw = x.astype(np.float64) @ w + b
    if relu:
        ref, raw = np.maximum(ref, 0), np.maximum(raw, 0)
    check(p, y, ref, raw, k + 1, "dense")


def test_dense_without_bias_and_grid_of_one_block(tc):
    if tc.xp is not np:
        pytest.skip("grid cap: emulator only")
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((130, 9), dtype=np.float32), rng.standard_normal((9, 70), dtype=np.float32)
    tc.grid_cap = (1, 1, 1)
    try:
        y = tc.dense_fwd(x, w)
    finally:
        tc.grid_cap = None
    check("tf32", y, operand("tf32", x) @ operand("tf32", w), x.astype(np.float64) @ w, 9, "dense (one block)")


def test_empty_reduction_writes_zeros_or_the_bias(tc):
    y = run(tc, tc.conv2d_fwd, np.ones((1, 3, 3, 0), np.float32), np.ones((2, 2, 0, 5), np.float32))
    np.testing.assert_array_equal(y, np.zeros((1, 2, 2, 5), np.float32))
    b = np.arange(3, dtype=np.float16) - 1
    y = run(tc, lambda *a: tc.dense_fwd(*a, relu=True), np.ones((4, 0), np.float16), np.ones((0, 3), np.float16), b)
    np.testing.assert_array_equal(y, np.tile(np.maximum(b, 0), (4, 1)))


def test_conv_on_a_grid_of_one_block(tc):
    if tc.xp is not np:
        pytest.skip("grid cap: emulator only")
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((3, 6, 6, 4), dtype=np.float32), rng.standard_normal((3, 3, 4, 70), dtype=np.float32)
    geo = dict(strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1))
    tc.grid_cap = (1, 1, 1)  # 2 x 2 tiles of the forward, 2 x 1 of the data gradient, on one block
    try:
        y = tc.conv2d_fwd(x, w, **geo)
        dx = tc.conv2d_bwd_data(y, w, x.shape, **geo)
    finally:
        tc.grid_cap = None
    ref = conv_ref(operand("tf32", x), operand("tf32", w), (1, 1), (1, 1), geo["pads"], 6, 6)
    check("tf32", y, ref, conv_ref(x.astype(np.float64), w.astype(np.float64), (1, 1), (1, 1), geo["pads"], 6, 6),
          36, "forward (one block)")
    dx_ref = conv_bwd_refs(operand("tf32", x), operand("tf32", w), operand("tf32", y), (1, 1), (1, 1), geo["pads"])[0]
    dx_raw = conv_bwd_refs(x.astype(np.float64), w.astype(np.float64), y.astype(np.float64), (1, 1), (1, 1),
                           geo["pads"])[0]
    check("tf32", dx, dx_ref, dx_raw, 9 * 70, "backward data (one block)")


def test_mixed_dtypes_are_refused():
    tc = TensorCoreKernels(loader=kernels.emulator_loader)
    with pytest.raises(TypeError, match=r"x, w of one dtype. Received: x.dtype=float32, w.dtype=float16"):
        tc.dense_fwd(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float16))
    with pytest.raises(TypeError, match=r"Received: x.dtype=float64"):
        tc.conv2d_fwd(np.zeros((1, 2, 2, 1)), np.zeros((1, 1, 1, 1)))


# ---- the emulator's wmma: layout randomisation and warp-collective checks ---------------------------
@pytest.fixture(scope="module")
def wmma_module():
    ok, why = _probe_emulator()
    if not ok:
        pytest.skip(f"emulator: {why}")
    from gpuflow.backend.emulator import RawModule
    return RawModule(path=os.path.join(HERE, "emulator_kernels", "wmma_mutants.cu"), options=("-std=c++17",))


def _ab(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((16, 8), dtype=np.float32), rng.standard_normal((8, 16), dtype=np.float32)


def test_wmma_through_shared_memory_is_layout_independent(wmma_module):
    a, b = _ab()
    want = operand("tf32", a) @ operand("tf32", b)
    for seed in range(3):  # three launches: three fragment layouts
        c = np.zeros((16, 16), np.float32)
        wmma_module.get_function("mma_16x16x8")(1, 32, (a, b, c), seed=seed, schedule="shuffle")
        np.testing.assert_allclose(c, want, rtol=0, atol=1e-5)


def test_wmma_layout_assuming_kernel_fails(wmma_module):
    a, b = _ab()
    want = operand("tf32", a) @ operand("tf32", b)
    for seed in range(3):
        c = np.zeros((16, 16), np.float32)
        wmma_module.get_function("mma_assumes_layout")(1, 32, (a, b, c), seed=seed)
        assert not np.allclose(c, want, atol=1e-3), f"seed {seed}: the assumed layout happened to hold"


def test_wmma_from_a_diverged_warp_is_an_error(wmma_module):
    from gpuflow.backend.emulator import LaunchError
    a, _ = _ab()
    c = np.zeros(32, np.float32)
    with pytest.raises(LaunchError, match=r"load_matrix_sync \(wmma_mutants.cu:\d+\).*warp-collective"):
        wmma_module.get_function("load_in_diverged_warp")(1, 32, (a, c))


def test_wmma_misaligned_pointer_is_an_error(wmma_module):
    from gpuflow.backend.emulator import LaunchError
    a, b = _ab()
    c = np.zeros((16, 16), np.float32)
    with pytest.raises(LaunchError, match=r"must be 256-bit \(32-byte\) aligned"):
        wmma_module.get_function("load_misaligned")(1, 32, (a, b, c))


# ---- the CUDA backend's use of them: TF32 for float32 while tf.config allows it --------------------
def test_cupy_backend_runs_float32_in_tf32_unless_turned_off(monkeypatch):
    ok, why = _probe_emulator()
    if not ok:
        pytest.skip(f"emulator: {why}")
    import gpuflow
    from gpuflow.backend.cupy_backend import CupyBackend
    from gpuflow.backend.geometry import ConvGeometry
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "shuffle")
    be = CupyBackend(xp=np, loader=kernels.emulator_loader, name="emulator", tensor_cores=True)
    assert CupyBackend(xp=np, loader=kernels.emulator_loader, name="emulator").tensor_cores is None  # default
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 6, 5, 8), dtype=np.float32), rng.standard_normal((3, 3, 8, 12), dtype=np.float32)
    b = rng.standard_normal(12, dtype=np.float32)
    g = ConvGeometry.of(x.shape, (3, 3), padding="same")
    tf32_ref = conv_ref(operand("tf32", x), operand("tf32", w), (1, 1), (1, 1), g.pads, 6, 5) + b
    f32_ref = conv_ref(x.astype(np.float64), w.astype(np.float64), (1, 1), (1, 1), g.pads, 6, 5) + b
    assert gpuflow.config.experimental.tensor_float_32_execution_enabled()
    y, _ = be.conv2d_fwd(x, w, g, b=b)
    check("tf32", y, tf32_ref, f32_ref, 72, "conv2d_fwd in TF32")
    pooled, _ = be.conv2d_maxpool_fwd(x, w, g, (2, 2), b=b, relu=True)  # composed on the tensor cores
    z = np.maximum(y, 0)[:, :6, :4].reshape(2, 3, 2, 2, 2, 12).max(axis=(2, 4))
    np.testing.assert_array_equal(pooled, z)
    xd, wd = x.reshape(12, 40)[:, :24], w.reshape(72, 12)[:24]
    check("tf32", be.dense_fwd(np.ascontiguousarray(xd), np.ascontiguousarray(wd), b=b),
          operand("tf32", xd) @ operand("tf32", wd) + b, xd.astype(np.float64) @ wd + b, 25, "dense_fwd in TF32")
    monkeypatch.setattr(gpuflow.config, "_tensor_float_32", True)  # restored after the test
    gpuflow.config.experimental.enable_tensor_float_32_execution(False)
    y, _ = be.conv2d_fwd(x, w, g, b=b)  # the FP32 SIMT kernel
    np.testing.assert_allclose(y, f32_ref, rtol=1e-5, atol=1e-4)


# ---- the CUDA backend's 16-bit primitives: FP16 / BF16 tensor cores, float32 accumulation --------------
@pytest.mark.parametrize("p", ["f16", "bf16"])
def test_cupy_backend_runs_16bit_on_the_tensor_cores(p, monkeypatch):
    ok, why = _probe_emulator()
    if not ok:
        pytest.skip(f"emulator: {why}")
    import gpuflow
    from gpuflow.backend.cupy_backend import CupyBackend
    from gpuflow.backend.geometry import ConvGeometry
    from gpuflow.backend.reference import ReferenceBackend
    dtype = np.float16 if p == "f16" else pytest.importorskip("ml_dtypes").bfloat16
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "shuffle")
    monkeypatch.setattr(gpuflow.config, "_tensor_float_32", True)  # restored after the test
    gpuflow.config.experimental.enable_tensor_float_32_execution(False)  # governs TF32 only, as in TensorFlow
    be, ref = CupyBackend(xp=np, loader=kernels.emulator_loader, name="emulator", tensor_cores=True), ReferenceBackend()
    assert {"conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter", "dense_fwd"} <= CupyBackend.native_16bit
    rng = np.random.default_rng(11)

    def low(*shape):
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype)

    def bits(a):  # what check() reads back: float16 itself, bfloat16 as its bit pattern
        assert a.dtype == dtype, a.dtype
        return a.view(np.uint16) if p == "bf16" else a

    def f64(a):  # the 16-bit values exactly: the reference accumulates them in float64
        return a.astype(np.float64)

    x, w, dy = low(2, 7, 5, 6), low(3, 3, 6, 10), low(2, 4, 3, 10)
    g = ConvGeometry.of(x.shape, (3, 3), strides=(2, 2), padding="same")
    assert g.output_hw == (4, 3)
    calls = []
    monkeypatch.setattr(be.tensor_cores.kernels, "launch",
                        (lambda launch: lambda f, e, *a: calls.append(e) or launch(f, e, *a))(be.tensor_cores.kernels.launch))
    y, _ = be.conv2d_fwd(x, w, g)
    check(p, bits(y), ref.conv2d_fwd(f64(x), f64(w), g)[0], None, 54, "conv2d_fwd")
    check(p, bits(be.conv2d_bwd_data(dy, w, g)), ref.conv2d_bwd_data(f64(dy), f64(w), g), None, 90, "conv2d_bwd_data")
    check(p, bits(be.conv2d_bwd_filter(x, dy, g)), ref.conv2d_bwd_filter(f64(x), f64(dy), g), None, 24,
          "conv2d_bwd_filter")
    xd, wd, b = low(9, 20), low(20, 13), low(13)
    check(p, bits(be.dense_fwd(xd, wd, b=b, relu=True)), ref.dense_fwd(f64(xd), f64(wd), b=f64(b), relu=True),
          None, 21, "dense_fwd")
    assert calls == [f"conv2d_fwd_{p}", f"conv2d_bwd_data_{p}", f"conv2d_bwd_filter_{p}", f"dense_bias_relu_fwd_{p}"]
    # without tensor cores the same primitives compute in float32 and round once (upcast_16bit's path)
    simt = CupyBackend(xp=np, loader=kernels.emulator_loader, name="emulator")
    y32, _ = simt.conv2d_fwd(x.astype(np.float32), w.astype(np.float32), g)
    np.testing.assert_array_equal(simt.conv2d_fwd(x, w, g)[0], y32.astype(dtype))
