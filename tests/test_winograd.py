"""The NumPy backend's Winograd F(2x2, 3x3) convolutions (3x3, stride 1, at least 32 input and output channels)
against the reference backend.

Winograd's sums are not the direct convolution's: its transforms add input pixels (and output-gradient pixels)
before the multiplies, so its rounding is bounded by the same sums evaluated on the absolute values of the
*transformed* operands, not of the plain ones. :func:`_wino_bounds` evaluates those bounds in float64, tile by
tile, from the paper's matrices (Lavin & Gray 2016, section 4.1), independently of the backend's code; each
result must then lie within ``2 gamma_k`` of them, k the roundings along the longest path (see
:func:`primitive_checks.assert_sums_match`). On small integers every sum is exact, so the fused
Conv2D + MaxPooling2D forward must equal the reference bit for bit (values and winning elements).
"""
import numpy as np
import pytest

import gpuflow.backend.numpy_backend as nb
from gpuflow.backend.geometry import ConvGeometry
from primitive_checks import REF, abs64, assert_sums_match

B = nb.NumpyBackend()
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def _padded(x, g, th, tw):
    """x padded by g.pads, and with zeros to at least (2th + 2, 2tw + 2) pixels, in float64."""
    t, _, l, _ = g.pads
    hp, wp = g.padded_hw
    xp = np.zeros((x.shape[0], max(hp, 2 * th + 2), max(wp, 2 * tw + 2), x.shape[3]))
    xp[:, t: t + x.shape[1], l: l + x.shape[2]] = x
    return xp


def _winograd64(x, w, dz, g, absolute):
    """Winograd's forward output, data and filter gradients (dz: the output gradient) in float64, tile by tile
    from the paper's matrices; with ``absolute``, on the absolute values of matrices and operands: the
    ``sum|term|`` bounds of the float32 algorithm's rounding."""
    cast = abs64 if absolute else (lambda a: a.astype(np.float64))
    bt, gg, at = (np.abs(m) if absolute else m for m in (B_T, G, A_T))
    n, oh, ow, f = dz.shape
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    xp = _padded(cast(x), g, th, tw)
    d = np.stack([np.stack([xp[:, 2 * p: 2 * p + 4, 2 * q: 2 * q + 4] for q in range(tw)], 1) for p in range(th)], 1)
    v = np.einsum("ip,ntqpsc,js->ntqijc", bt, d, bt)  # B^T d B per tile (t, q)
    u = np.einsum("ir,rscf,js->ijcf", gg, cast(w), gg)  # G g G^T
    y = np.einsum("ai,ntqijc,ijcf,bj->ntaqbf", at, v, u, at).reshape(n, 2 * th, 2 * tw, f)[:, :oh, :ow]
    dzp = np.zeros((n, 2 * th, 2 * tw, f))
    dzp[:, :oh, :ow] = cast(dz)
    m = np.einsum("ai,ntaqbf,bj->ntqijf", at, dzp.reshape(n, th, 2, tw, 2, f), at)  # A dY A^T
    dd = np.einsum("ip,ntqijc,js->ntqpsc", bt, np.einsum("ntqijf,ijcf->ntqijc", m, u), bt)  # B (M U^T) B^T
    dxp = np.zeros_like(xp)
    for p in range(th):
        for q in range(tw):
            dxp[:, 2 * p: 2 * p + 4, 2 * q: 2 * q + 4] += dd[:, p, q]
    t, _, l, _ = g.pads
    dx = dxp[:, t: t + x.shape[1], l: l + x.shape[2]]
    dw = np.einsum("ir,ijcf,js->rscf", gg, np.einsum("ntqijc,ntqijf->ijcf", v, m), gg)  # G^T (sum V^T M) G
    return y, dx, dw


def _case(xs, f, pads, ints=False, seed=0):
    rng = np.random.default_rng(seed)
    if ints:  # small integers: every sum, transformed or not, is exact in float32
        x, w = rng.integers(-2, 3, xs).astype(np.float32), rng.integers(-1, 2, (3, 3, xs[3], f)).astype(np.float32)
    else:
        x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal((3, 3, xs[3], f)).astype(np.float32)
    g = ConvGeometry.of(xs, (3, 3), padding="same") if pads == "SAME" else ConvGeometry(xs, (3, 3), pads=pads)
    return x, w, g


def _assert_bwd(got, dz, x, w, g, what):
    """(dx, dw, db) of Winograd against the reference for output gradient dz (after any mask): dx sums F products
    (+ 10 roundings in the transforms), dw N*th*tw tiles (+ 6), db N*OH*OW terms."""
    n, oh, ow, f = dz.shape
    want = REF.conv2d_bwd(dz, w, g, x=x, need_db=True)
    _, dx_bound, dw_bound = _winograd64(x, w, dz, g, absolute=True)
    tiles = n * ((oh + 1) // 2) * ((ow + 1) // 2)
    bounds = ((dx_bound, f + 10), (dw_bound, tiles + 6), (abs64(dz).sum((0, 1, 2)), 4 * tiles))
    for name, got_, e, (bound, k) in zip(("dx", "dw", "db"), got, want, bounds):
        if got_ is not None:
            assert got_.dtype == np.float32, f"{what} {name}"
            assert_sums_match(got_, e, bound, k, f"{what} {name}")


CASES = [  # x shape, output channels F, pads
    ((2, 8, 8, 32), 32, (0, 0, 0, 0)),  # 6x6 outputs: whole tiles
    ((3, 9, 7, 32), 33, (0, 0, 0, 0)),  # 7x5: the last tile row and column half outside
    ((1, 6, 7, 34), 32, "SAME"),
    ((2, 5, 6, 32), 40, (2, 0, 1, 1)),  # explicit, asymmetric
]


def test_the_test_algorithm_is_the_convolution():
    """The float64 Winograd of these tests (the paper's matrices) equals the reference convolution and gradients."""
    x, w, g = _case((2, 7, 6, 3), 4, "SAME")
    dz = np.random.default_rng(1).standard_normal(g.output_shape(4))
    y, dx, dw = _winograd64(x, w, dz, g, absolute=False)
    np.testing.assert_allclose(y, REF.conv2d_fwd(x.astype(np.float64), w.astype(np.float64), g)[0], atol=1e-12)
    want_dx, want_dw, _ = REF.conv2d_bwd(dz, w.astype(np.float64), g, x=x.astype(np.float64))
    np.testing.assert_allclose(dx, want_dx, atol=1e-12)
    np.testing.assert_allclose(dw, want_dw, atol=1e-12)


@pytest.mark.parametrize("shape,stride,dilation,channels,expected", [
    ((3, 3), 1, 1, (32, 32), True), ((3, 3), 1, 1, (31, 64), False), ((3, 3), 1, 1, (64, 31), False),
    ((3, 3), 2, 1, (32, 32), False), ((3, 3), 1, 2, (32, 32), False), ((5, 5), 1, 1, (32, 32), False),
    ((3, 1), 1, 1, (32, 32), False)])
def test_which_convolutions_run_on_winograd(shape, stride, dilation, channels, expected):
    g = ConvGeometry((1, 12, 12, channels[0]), shape, (stride, stride), (dilation, dilation))
    assert nb._winograd(np.empty(shape + channels, np.float32), g) is expected


@pytest.mark.parametrize("block", [None, 1])
@pytest.mark.parametrize("xs,f,pads", CASES, ids=[str(c) for c in CASES])
def test_winograd_conv2d_matches_reference(monkeypatch, xs, f, pads, block):
    """conv2d_fwd (with bias and ReLU) and conv2d_bwd on Winograd, also in blocks of one sample."""
    if block is not None:
        monkeypatch.setattr(nb, "_block", lambda sample_bytes: block)
    x, w, g = _case(xs, f, pads)
    assert nb._winograd(w, g)
    b = np.random.default_rng(2).standard_normal(f).astype(np.float32)
    y, _ = B.conv2d_fwd(x, w, g, b=b, relu=True)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y_bound, _, _ = _winograd64(x, w, dy, g, absolute=True)
    want, _ = REF.conv2d_fwd(x, w, g, b=b, relu=True)
    assert y.dtype == np.float32
    assert_sums_match(y, want, y_bound + np.abs(b), xs[3] + 9, "conv2d_fwd")  # C products + 8 roundings + bias
    dz = dy * (y > 0)
    _assert_bwd(B.conv2d_bwd(dy, w, g, x=x, y=y, relu=True, need_db=True), dz, x, w, g, "conv2d_bwd")
    only_dw = B.conv2d_bwd_filter(x, dy, g)
    only_dx = B.conv2d_bwd_data(dy, w, g)
    _assert_bwd((only_dx, only_dw, None), dy, x, w, g, "conv2d_bwd_filter/data")


@pytest.mark.parametrize("pool", [(2, 2), (3, 3)])
@pytest.mark.parametrize("xs,f,pads", CASES, ids=[str(c) for c in CASES])
def test_winograd_conv2d_maxpool_matches_reference(monkeypatch, xs, f, pads, pool):
    """The fused Conv2D + ReLU + MaxPooling2D on Winograd (2x2 windows: the output tiles themselves), on small
    integers: pooled values and winners bit for bit, gradients within Winograd's rounding."""
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 2)
    x, w, g = _case(xs, f, pads, ints=True)
    b = np.random.default_rng(3).integers(-1, 2, f).astype(np.float32)
    want_y, (want_arg, pooling) = REF.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=True)
    y, saved = B.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=True)
    np.testing.assert_array_equal(y, want_y)
    inferred, nothing = B.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=True, need_saved=False)
    assert nothing is None and inferred.tobytes() == y.tobytes()  # inference: no winners, no transformed input
    dy = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)
    got = B.conv2d_maxpool_bwd(dy, w, g, pool, saved=saved, x=x, y=y, relu=True, need_db=True)
    dz = REF.max_pool2d_bwd(dy * (want_y > 0), pooling, saved=want_arg)  # routed to the same winners
    dz = np.pad(dz, ((0, 0), (0, g.output_hw[0] - dz.shape[1]), (0, g.output_hw[1] - dz.shape[2]), (0, 0)))
    _assert_bwd(got, dz, x, w, g, f"conv2d_maxpool_bwd {pool}")


def test_winograd_results_do_not_depend_on_the_thread_count(monkeypatch):
    """The same blocks whatever the thread count (two threads pipeline them, see ``nb._pipelined``), their partials
    summed in block order: the same bits."""
    x, w, g = _case((7, 10, 10, 32), 32, (0, 0, 0, 0))
    b = np.ones(32, np.float32)
    dy = np.random.default_rng(5).standard_normal((7, 4, 4, 32)).astype(np.float32)
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 2)
    runs = []
    for threads, way in ((1, None), (2, 0), (2, 1), (3, None)):  # with 2: whole blocks, then pipelined
        monkeypatch.setattr(nb, "_THREADS", threads)
        monkeypatch.setattr(nb._ways, "choose", lambda key: way)
        y, saved = B.conv2d_maxpool_fwd(x, w, g, (2, 2), b=b, relu=True)
        runs.append((y, saved.arg) + B.conv2d_maxpool_bwd(dy, w, g, (2, 2), saved=saved, x=x, y=y, relu=True,
                                                          need_db=True))
    for run in runs[1:]:
        for one, other in zip(runs[0], run):
            np.testing.assert_array_equal(one, other)


def test_the_fused_forward_keeps_its_transformed_input_for_the_backward(monkeypatch):
    """The fused Winograd convolution + pooling keeps each block's V = B^T d B for its backward (which then reads
    it instead of redoing it, in the forward's blocks): the same gradients as redoing it, and not kept beyond
    ``_WINO_KEEP_BYTES``."""
    x, w, g = _case((7, 10, 10, 32), 32, (0, 0, 0, 0))
    dy = np.random.default_rng(6).standard_normal((7, 4, 4, 32)).astype(np.float32)
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 3)
    y, saved = B.conv2d_maxpool_fwd(x, w, g, (2, 2), relu=True)
    assert isinstance(saved, nb._WinogradSaved) and saved.per_chunk == 3  # 7 samples: 3 blocks (2, 2, 3)
    assert saved.v.shape == (7, 16 * 4 * 4 * 32)  # 4x4 tiles a sample
    assert nb._wino_v_block(saved.v, 2, 4, 32).shape == (16, 4 * 4 * 2, 32)  # the second block's
    kept = B.conv2d_maxpool_bwd(dy, w, g, (2, 2), saved=saved, x=None, y=y, relu=True, need_db=True)
    monkeypatch.setattr(nb, "_WINO_KEEP_BYTES", 0)
    y2, arg = B.conv2d_maxpool_fwd(x, w, g, (2, 2), relu=True)
    assert isinstance(arg, np.ndarray)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(arg, saved.arg)
    redone = B.conv2d_maxpool_bwd(dy, w, g, (2, 2), saved=arg, x=x, y=y, relu=True, need_db=True)
    for a, b in zip(kept, redone):  # the same blocks (_block is 3 for both), so the same bits
        np.testing.assert_array_equal(a, b)


def test_winograd_on_an_empty_batch():
    x, w, g = _case((0, 8, 8, 32), 32, (0, 0, 0, 0))
    y, arg = B.conv2d_maxpool_fwd(x, w, g, (2, 2), relu=True)
    dx, dw, db = B.conv2d_maxpool_bwd(y, w, g, (2, 2), saved=arg, x=x, y=y, relu=True, need_db=True)
    assert y.shape == (0, 3, 3, 32) and dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros(w.shape, np.float32))
    np.testing.assert_array_equal(db, np.zeros(32, np.float32))
    y, _ = B.conv2d_fwd(x, w, g)
    assert y.shape == (0, 6, 6, 32) and B.conv2d_bwd(y, w, g, x=x)[0].shape == x.shape
