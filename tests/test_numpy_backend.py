"""The NumPy backend's primitives against the reference backend (gpuflow/backend/reference.py).

The reference is the plain float64 definition of every primitive (TensorFlow's: cross-correlation in NHWC
with (kh, kw, in, out) filters; max pooling whose ties go to the first maximum of the window in row-major
order and whose padding never wins; average pooling that leaves padding out of the count), rounded once to
float32. The NumPy backend is threaded, blocked, fused and crops all-zero gradient rows: every primitive is
compared with the reference in float32, at odd shapes, strides, dilations and paddings, within the rounding
that sums of that length allow (:func:`primitive_checks.assert_sums_match`), so no assertion depends on the BLAS
kernel a CPU gets. Bit-for-bit comparisons are kept where the arithmetic is exact or the same by construction
(maxima, copies, small integers, element-wise work), each saying why.
"""
import os

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.backend.numpy_backend import NumpyBackend
from gpuflow.backend.geometry import ConvGeometry
from gpuflow.ops.nn_ops import conv_output_size
from primitive_checks import REF, abs64, assert_conv_bwd_matches, assert_conv_fwd_matches, assert_sums_match

B = NumpyBackend()


def _geometry(xs, k, strides, dil, pads):
    """The ConvGeometry of a window k over an input of shape xs, pads (top, bottom, left, right) or "SAME"."""
    if pads == "SAME":
        return ConvGeometry.of(xs, k, strides, dil, "same")
    return ConvGeometry(xs, k, strides, dil, pads)


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- convolution --------------------------------------------------------------------
CONV = [  # x shape, w shape, strides, dilations, pads
    ((1, 5, 5, 3), (3, 3, 3, 2), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((2, 6, 7, 3), (3, 3, 3, 5), (2, 2), (1, 1), (0, 0, 0, 0)),
    ((2, 6, 7, 3), (3, 3, 3, 5), (2, 2), (1, 1), "SAME"),
    ((1, 7, 7, 2), (3, 3, 2, 3), (1, 1), (2, 2), (0, 0, 0, 0)),
    ((1, 7, 6, 2), (3, 3, 2, 3), (1, 1), (2, 2), "SAME"),
    ((1, 4, 5, 3), (1, 1, 3, 5), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((1, 5, 5, 3), (1, 1, 3, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
    ((1, 5, 5, 3), (1, 1, 3, 2), (1, 1), (1, 1), (1, 0, 0, 2)),  # 1x1 kernel with padding
    ((1, 6, 7, 5), (2, 5, 5, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((1, 6, 7, 5), (2, 5, 5, 3), (2, 1), (1, 1), "SAME"),
    ((2, 5, 8, 1), (2, 3, 1, 1), (1, 3), (2, 1), "SAME"),
    ((1, 5, 4, 2), (2, 2, 2, 3), (1, 1), (1, 1), (1, 2, 0, 1)),  # explicit, asymmetric
    ((1, 5, 4, 2), (3, 2, 2, 2), (2, 2), (1, 2), (2, 0, 1, 1)),
    ((1, 3, 3, 2), (3, 3, 2, 1), (1, 1), (1, 1), (0, 0, 0, 0)),  # one output pixel
    ((3, 2, 2, 1), (2, 2, 1, 4), (3, 3), (1, 1), (3, 3, 3, 3)),  # pads larger than the input
]


def _conv_case(xs, ws, strides, dil, pads, dtype=np.float32, seed=0):
    rng = _rng(seed)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    return x, w, _geometry(xs, ws[:2], strides, dil, pads)


@pytest.mark.parametrize("xs,ws,strides,dil,pads", CONV, ids=[str(c) for c in CONV])
def test_conv2d_primitives_match_reference(xs, ws, strides, dil, pads):
    x, w, g = _conv_case(xs, ws, strides, dil, pads)
    y, saved = B.conv2d_fwd(x, w, g)
    assert y.dtype == np.float32 and y.shape == g.output_shape(ws[3])
    assert_conv_fwd_matches(y, x, w, g)
    dy = _rng(1).standard_normal(y.shape).astype(np.float32)
    for s in (saved, None):  # with the forward's saved data, and recomputing it
        dx = B.conv2d_bwd_data(dy, w, g, saved=s)
        dw = B.conv2d_bwd_filter(x, dy, g, saved=s)
        assert_conv_bwd_matches((dx, dw, None), dy, x, w, g)


@pytest.mark.parametrize("block", [None, 1, 2])
@pytest.mark.parametrize("xs,ws,strides,dil,pads", CONV, ids=[str(c) for c in CONV])
def test_fused_conv2d_forward_and_backward_match_reference(monkeypatch, xs, ws, strides, dil, pads, block):
    """conv2d_fwd with its bias/ReLU epilogue and conv2d_bwd (mask, db, dW, dx in one sweep), also when the
    batch is walked in blocks of 1 or 2 samples (the cache blocking of big batches)."""
    import gpuflow.backend.numpy_backend as nb
    if block is not None:
        monkeypatch.setattr(nb, "_block", lambda sample_bytes: block)
    x, w, g = _conv_case(xs, ws, strides, dil, pads)
    b = _rng(2).standard_normal(ws[3]).astype(np.float32)
    y, saved = B.conv2d_fwd(x, w, g, b=b, relu=True)
    assert_conv_fwd_matches(y, x, w, g, b, True)
    dy = _rng(1).standard_normal(y.shape).astype(np.float32)
    dz = dy * (y > 0)  # the mask of the y handed to the backward pass
    assert_conv_bwd_matches(B.conv2d_bwd(dy, w, g, x=x, y=y, saved=saved, relu=True, need_db=True), dz, x, w, g)
    only_dw = B.conv2d_bwd(dy, w, g, x=x, y=y, saved=saved, relu=True, need_dx=False)
    assert only_dw[0] is None and only_dw[2] is None
    assert_conv_bwd_matches(only_dw, dz, x, w, g)
    only_dx = B.conv2d_bwd(dy, w, g, y=y, saved=saved, relu=True, need_dw=False)  # no x: not needed
    assert only_dx[1] is None and only_dx[2] is None
    assert_conv_bwd_matches(only_dx, dz, x, w, g)


@pytest.mark.parametrize("block", [None, 1, 3])
@pytest.mark.parametrize("relu,bias", [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("xs,ws,strides,dil,pads,pool", [
    ((3, 8, 8, 2), (3, 3, 2, 4), (1, 1), (1, 1), (0, 0, 0, 0), (2, 2)),
    ((2, 13, 13, 3), (3, 3, 3, 5), (1, 1), (1, 1), (0, 0, 0, 0), (2, 2)),  # 11x11 -> 5x5: the last row is left out
    ((2, 9, 10, 1), (3, 2, 1, 3), (2, 1), (1, 2), "SAME", (2, 3)),
    ((1, 6, 6, 2), (1, 1, 2, 2), (1, 1), (1, 1), (0, 0, 0, 0), (3, 3)),
])
def test_conv2d_maxpool_matches_reference(monkeypatch, xs, ws, strides, dil, pads, pool, relu, bias, block):
    """The fused primitives against the reference's (conv2d then max_pool2d) on small integers: every
    forward sum is exact, so the pooled values and which element wins each window (ties, zeros after the
    ReLU) are the same bit for bit, and the gradients are sums of the same routed values."""
    import gpuflow.backend.numpy_backend as nb
    if block is not None:
        monkeypatch.setattr(nb, "_block", lambda sample_bytes: block)
    rng = _rng(8)
    x = rng.integers(-2, 3, xs).astype(np.float32)
    w = rng.integers(-1, 2, ws).astype(np.float32)
    b = rng.integers(-1, 2, ws[3]).astype(np.float32) if bias else None
    g = _geometry(xs, ws[:2], strides, dil, pads)
    want_y, want_saved = REF.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=relu)
    y, saved = B.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=relu)
    np.testing.assert_array_equal(y, want_y)  # exact: small integers, so every sum is exact in float32
    for backend in (B, REF):  # inference (no backward to follow): the same y without the winners
        inferred, nothing = backend.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=relu, need_saved=False)
        assert nothing is None and inferred.tobytes() == want_y.tobytes(), type(backend).__name__
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = B.conv2d_maxpool_bwd(dy, w, g, pool, saved=saved, x=x, y=y, relu=relu, need_db=bias)
    # the conv output gradient: dy routed to each window's winner (the same as the reference's, see above)
    arg, pooling = want_saved
    dz = REF.max_pool2d_bwd(dy * (want_y > 0) if relu else dy, pooling, saved=arg)
    assert_conv_bwd_matches(got, dz, x, w, g, "conv2d_maxpool_bwd")
    assert (got[2] is None) == (not bias)


@pytest.mark.parametrize("xs,ws,pads,pool", [
    ((3, 8, 8, 1), (3, 3, 1, 4), (0, 0, 0, 0), (2, 2)),  # a first layer on images
    ((2, 13, 13, 3), (3, 3, 3, 5), (0, 0, 0, 0), (2, 2)),  # 11x11 -> 5x5
    ((2, 9, 10, 5), (3, 2, 5, 3), "SAME", (3, 3)),
])
def test_conv2d_maxpool_filter_gradient_alone_matches_reference(xs, ws, pads, pool):
    """Without the data gradient (a first layer) the fused backward orders its GEMM rows pooling offset first, as
    its forward does: the filter and bias gradients still match the reference's."""
    rng = _rng(9)
    x = rng.integers(-2, 3, xs).astype(np.float32)
    w = rng.integers(-1, 2, ws).astype(np.float32)
    b = rng.integers(-1, 2, ws[3]).astype(np.float32)
    g = _geometry(xs, ws[:2], (1, 1), (1, 1), pads)
    want_y, (want_arg, pooling) = REF.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=True)
    y, saved = B.conv2d_maxpool_fwd(x, w, g, pool, b=b, relu=True)
    np.testing.assert_array_equal(y, want_y)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = B.conv2d_maxpool_bwd(dy, w, g, pool, saved=saved, x=x, y=y, relu=True, need_dx=False, need_db=True)
    assert got[0] is None
    dz = REF.max_pool2d_bwd(dy * (want_y > 0), pooling, saved=want_arg)
    dz = np.pad(dz, ((0, 0), (0, g.output_hw[0] - dz.shape[1]), (0, g.output_hw[1] - dz.shape[2]), (0, 0)))
    assert_conv_bwd_matches(got, dz, x, w, g, "conv2d_maxpool_bwd (no dx)")


@pytest.mark.parametrize("zero_rows,zero_cols", [(1, 0), (0, 2), (2, 1), (99, 99)])
def test_conv2d_backward_with_trailing_zero_gradient_rows_matches_reference(zero_rows, zero_cols):
    """What a floor-mode pooling leaves: the last rows/columns of dy are zero and are cropped before the GEMMs."""
    x, w, g = _conv_case((3, 9, 8, 4), (3, 2, 4, 5), (2, 1), (1, 2), "SAME")
    y, _ = B.conv2d_fwd(x, w, g)
    dy = _rng(4).standard_normal(y.shape).astype(np.float32)
    dy[:, y.shape[1] - min(zero_rows, y.shape[1] - 1):] = 0
    dy[:, :, y.shape[2] - min(zero_cols, y.shape[2] - 1):] = 0
    assert_conv_bwd_matches(B.conv2d_bwd(dy, w, g, x=x, y=y, need_db=True), dy, x, w, g)


def test_conv2d_primitives_keep_float64():
    x, w, g = _conv_case((2, 6, 7, 3), (3, 3, 3, 5), (2, 2), (1, 1), "SAME", dtype=np.float64)
    y, saved = B.conv2d_fwd(x, w, g)
    np.testing.assert_allclose(y, REF.conv2d_fwd(x, w, g)[0], rtol=1e-12, atol=1e-12)
    dy = np.ones(y.shape)
    assert B.conv2d_bwd_data(dy, w, g, saved=saved).dtype == np.float64
    assert B.conv2d_bwd_filter(x, dy, g, saved=saved).dtype == np.float64


def test_conv2d_forward_does_not_write_to_its_input():
    x, w, g = _conv_case((1, 4, 4, 2), (1, 1, 2, 3), (1, 1), (1, 1), (0, 0, 0, 0))
    x0 = x.copy()
    y, saved = B.conv2d_fwd(x, w, g)
    B.conv2d_bwd_filter(x, np.ones_like(y), g, saved=saved)
    np.testing.assert_array_equal(x, x0)  # untouched: no arithmetic


@pytest.mark.parametrize("padding", [
    "VALID", "SAME", [[0, 0], [1, 2], [0, 1], [0, 0]], [[2, 0], [1, 1]], ((0, 0), (0, 0), (3, 1), (0, 0))])
@pytest.mark.parametrize("strides", [1, 2, [1, 2, 1, 1]])
def test_nn_conv2d_padding_forms_match_reference(padding, strides):
    x, w, _ = _conv_case((2, 5, 6, 3), (2, 3, 3, 2), (1, 1), (1, 1), (0, 0, 0, 0))
    s = (strides, strides) if isinstance(strides, int) else (strides[1], strides[2])
    if isinstance(padding, str):
        pads = (0, 0, 0, 0) if padding == "VALID" else ConvGeometry.of(x.shape, (2, 3), s, (1, 1), "same").pads
    else:
        p = [tuple(r) for r in padding]
        p = p[1:3] if len(p) == 4 else p
        pads = (p[0][0], p[0][1], p[1][0], p[1][1])
    y = tf.nn.conv2d(tf.constant(x), tf.constant(w), strides=strides, padding=padding)
    assert_conv_fwd_matches(y.numpy(), x, w, ConvGeometry(x.shape, (2, 3), s, (1, 1), pads))


@pytest.mark.parametrize("size,k,s,d,out,pads", [
    (5, 3, 1, 1, 5, (1, 1)), (6, 3, 2, 1, 3, (0, 1)), (7, 3, 2, 1, 4, (1, 1)), (5, 2, 1, 1, 5, (0, 1)),
    (7, 3, 1, 2, 7, (2, 2)), (4, 1, 3, 1, 2, (0, 0)), (8, 2, 3, 1, 3, (0, 0)), (7, 2, 3, 1, 3, (0, 1)),
    (1, 3, 1, 1, 1, (1, 1)), (2, 5, 1, 1, 2, (2, 2))])
def test_same_padding_follows_tensorflow(size, k, s, d, out, pads):
    # out = ceil(size / s); total = max((out - 1) * s + (k - 1) * d + 1 - size, 0); total // 2 before
    assert conv_output_size(size, k, s, d, "SAME") == (out, pads)


def _views(x):
    """Non-contiguous views of x's values: reversed rows, a transposed copy's view, Fortran order."""
    return [np.ascontiguousarray(x[:, ::-1])[:, ::-1],
            np.ascontiguousarray(x.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3),
            np.asfortranarray(x), np.repeat(x, 2, axis=3)[..., ::2]]


@pytest.mark.parametrize("k,s,pads", [((3, 3), (1, 1), (0, 0, 0, 0)), ((1, 1), (1, 1), (0, 0, 0, 0)),
                                      ((1, 1), (2, 2), (1, 0, 0, 1)), ((3, 2), (2, 2), (1, 1, 0, 1))])
def test_primitives_accept_non_contiguous_inputs(k, s, pads):
    x = _rng(4).standard_normal((2, 6, 5, 3)).astype(np.float32)
    w = _rng(5).standard_normal(k + (3, 4)).astype(np.float32)
    g = ConvGeometry(x.shape, k, s, (1, 1), pads)  # the kernel's, and a pooling window's of the same size
    y, _ = REF.conv2d_fwd(x, w, g)
    dy = _rng(6).standard_normal(y.shape).astype(np.float32)
    for xv in _views(x):
        assert not xv.flags.c_contiguous
        yv, saved = B.conv2d_fwd(xv, w, g)
        assert_conv_fwd_matches(yv, x, w, g)
        dy_reversed_view = np.ascontiguousarray(dy[:, ::-1])[:, ::-1]
        dw = B.conv2d_bwd_filter(xv, dy_reversed_view, g, saved=saved)
        dx = B.conv2d_bwd_data(np.asfortranarray(dy), w, g, saved=saved)
        assert_conv_bwd_matches((dx, dw, None), dy, x, w, g)
        if max(pads[:2]) < k[0] and max(pads[2:]) < k[1]:  # pooling pads (SAME) never fill a whole window
            # maxima are exact: bit-for-bit
            np.testing.assert_array_equal(B.max_pool2d_fwd(xv, g)[0], REF.max_pool2d_fwd(x, g)[0])
            assert_sums_match(B.avg_pool2d_fwd(xv, g), REF.avg_pool2d_fwd(x, g), REF.avg_pool2d_fwd(abs64(x), g),
                              k[0] * k[1] + 1, "avg_pool2d_fwd")


# -- pooling ----------------------------------------------------------------------
POOL = [  # x shape, pool, strides, pads (or SAME)
    ((1, 4, 4, 2), (2, 2), (2, 2), (0, 0, 0, 0)),
    ((2, 5, 5, 3), (2, 2), (2, 2), (0, 0, 0, 0)),
    ((2, 5, 5, 3), (2, 2), (2, 2), "SAME"),
    ((1, 5, 6, 2), (3, 3), (1, 1), "SAME"),
    ((1, 7, 7, 2), (3, 3), (2, 2), (0, 0, 0, 0)),
    ((1, 7, 7, 2), (3, 3), (2, 2), "SAME"),
    ((1, 8, 7, 1), (2, 2), (3, 3), "SAME"),
    ((1, 7, 8, 2), (3, 3), (3, 3), "SAME"),
    ((1, 6, 5, 2), (2, 3), (1, 2), "SAME"),
    ((1, 4, 4, 1), (2, 2), (1, 1), (1, 1, 1, 1)),
    ((2, 3, 3, 1), (3, 3), (1, 1), (0, 0, 0, 0)),
]


def _pool_case(xs, k, s, pads, seed=0, dtype=np.float32):
    return _rng(seed).standard_normal(xs).astype(dtype), _geometry(xs, k, s, (1, 1), pads)


def _overlap(k, s):
    """The most pooling windows one input element lies in: the terms of its gradient's sum."""
    return -(-k[0] // s[0]) * -(-k[1] // s[1])


@pytest.mark.parametrize("xs,k,s,pads", POOL, ids=[str(c) for c in POOL])
def test_max_pool_primitives_match_reference(xs, k, s, pads):
    x, g = _pool_case(xs, k, s, pads)
    y, saved = B.max_pool2d_fwd(x, g)
    want, want_saved = REF.max_pool2d_fwd(x, g)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, want)  # maxima are exact
    for backend in (B, REF):  # inference (no backward to follow): the same y without the winners
        inferred, nothing = backend.max_pool2d_fwd(x, g, need_saved=False)
        assert nothing is None and inferred.tobytes() == y.tobytes(), type(backend).__name__
    dy = _rng(1).standard_normal(y.shape).astype(np.float32)
    assert_sums_match(B.max_pool2d_bwd(dy, g, saved=saved), REF.max_pool2d_bwd(dy, g, saved=want_saved),
                      REF.max_pool2d_bwd(abs64(dy), g, saved=want_saved), _overlap(k, s), "max_pool2d_bwd")


@pytest.mark.parametrize("xs,k,s,pads", POOL, ids=[str(c) for c in POOL])
def test_avg_pool_primitives_match_reference(xs, k, s, pads):
    """Sums of the window (ph*pw terms) or of the windows over an element, each plus a division by a count."""
    x, g = _pool_case(xs, k, s, pads)
    y = B.avg_pool2d_fwd(x, g)
    assert y.dtype == np.float32
    assert_sums_match(y, REF.avg_pool2d_fwd(x, g), REF.avg_pool2d_fwd(abs64(x), g), k[0] * k[1] + 1, "avg_pool2d_fwd")
    dy = _rng(1).standard_normal(y.shape).astype(np.float32)
    assert_sums_match(B.avg_pool2d_bwd(dy, g), REF.avg_pool2d_bwd(dy, g), REF.avg_pool2d_bwd(abs64(dy), g),
                      _overlap(k, s) + 1, "avg_pool2d_bwd")


def test_pool_primitives_keep_float64():
    x, g = _pool_case((1, 5, 6, 2), (3, 3), (1, 1), "SAME", dtype=np.float64)
    y, saved = B.max_pool2d_fwd(x, g)
    assert y.dtype == np.float64 and B.max_pool2d_bwd(np.ones_like(y), g, saved=saved).dtype == np.float64
    a = B.avg_pool2d_fwd(x, g)
    assert a.dtype == np.float64 and B.avg_pool2d_bwd(np.ones_like(a), g).dtype == np.float64
    np.testing.assert_allclose(a, REF.avg_pool2d_fwd(x, g), rtol=1e-12)


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order():
    # A window [[a, b], [c, d]] is scanned a, b, c, d; the first of the equal maxima wins.
    windows = {
        (5.0, 5.0, 5.0, 5.0): 0, (1.0, 5.0, 5.0, 5.0): 1, (1.0, 2.0, 5.0, 5.0): 2, (5.0, 2.0, 5.0, 1.0): 0,
        (0.0, 3.0, 1.0, 3.0): 1, (-1.0, -2.0, -1.0, -1.0): 0,
    }
    for vals, first in windows.items():
        x = np.array(vals).reshape(1, 2, 2, 1)
        g = ConvGeometry(x.shape, (2, 2), (2, 2))
        y, saved = B.max_pool2d_fwd(x, g)
        dx = B.max_pool2d_bwd(np.ones_like(y), g, saved=saved)
        expected = np.zeros(4)
        expected[first] = 1
        np.testing.assert_array_equal(dx.reshape(4), expected, err_msg=str(vals))  # routing: copies of dy


@pytest.mark.parametrize("xs,pads", [((3, 6, 6, 4), (0, 0, 0, 0)), ((2, 7, 9, 3), (0, 0, 0, 0)),
                                     ((2, 7, 9, 3), "SAME"), ((1, 2, 3, 70), (0, 0, 0, 0))])
def test_max_pool_2x2_path_routes_ties_like_the_reference(xs, pads):
    # Small integers: most windows hold tied maxima, across rows, columns and diagonals.
    x = _rng(5).integers(-2, 3, xs).astype(np.float32)
    g = _geometry(xs, (2, 2), (2, 2), (1, 1), pads)
    y, saved = B.max_pool2d_fwd(x, g)
    want, want_saved = REF.max_pool2d_fwd(x, g)
    np.testing.assert_array_equal(y, want)  # maxima are exact
    dy = _rng(6).standard_normal(y.shape).astype(np.float32)
    routed = B.max_pool2d_bwd(dy, g, saved=saved)
    np.testing.assert_array_equal(routed, REF.max_pool2d_bwd(dy, g, saved=want_saved))  # routing: copies of dy


def test_max_pool_overlapping_ties_accumulate_on_one_element():
    x = np.zeros((1, 3, 3, 1))  # all equal: every 2x2 stride-1 window picks its top-left element
    g = ConvGeometry(x.shape, (2, 2))
    y, saved = B.max_pool2d_fwd(x, g)
    dx = B.max_pool2d_bwd(np.ones_like(y), g, saved=saved)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])  # sums of ones: exact


def test_max_pool_padding_never_wins():
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1) - 100  # all negative, so a zero pad would win
    g = ConvGeometry.of(x.shape, (2, 2), (2, 2), padding="same")
    y, saved = B.max_pool2d_fwd(x, g)
    np.testing.assert_array_equal(y, REF.max_pool2d_fwd(x, g)[0])  # maxima are exact
    assert np.all(y < -100)


def test_max_pool_large_window_uses_wide_argmax():
    # 16x16 = 256 window positions: more than a uint8 argmax can index
    x = _rng(3).standard_normal((1, 16, 16, 2))
    g = ConvGeometry(x.shape, (16, 16), (16, 16))
    y, saved = B.max_pool2d_fwd(x, g)
    np.testing.assert_array_equal(y, x.max(axis=(1, 2), keepdims=True))  # maxima are exact
    dx = B.max_pool2d_bwd(np.ones_like(y), g, saved=saved)
    np.testing.assert_array_equal(dx, (x == x.max(axis=(1, 2), keepdims=True)).astype(float))  # routing: copies of dy


def test_avg_pool_same_padding_is_left_out_of_the_count():
    x = np.ones((1, 3, 3, 1))
    g = ConvGeometry.of(x.shape, (3, 3), padding="same")
    assert g.pads == (1, 1, 1, 1)
    np.testing.assert_array_equal(B.avg_pool2d_fwd(x, g), x)  # not 4/9 at the corners
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = B.avg_pool2d_fwd(x, g)
    assert y[0, 0, 0, 0] == np.mean([0, 1, 3, 4])
    dx = B.avg_pool2d_bwd(np.ones((1, 3, 3, 1)), g)
    assert dx[0, 0, 0, 0] == pytest.approx(1 / 4 + 1 / 6 + 1 / 6 + 1 / 9)


# -- dense ------------------------------------------------------------------------
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 5, 4), (7, 2, 3)])
def test_dense_primitives_match_reference(m, k, n, bias, relu):
    rng = _rng(m * 100 + k * 10 + n)
    x, w = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    y = B.dense_fwd(x, w, b=b, relu=relu)
    assert_sums_match(y, REF.dense_fwd(x, w, b=b, relu=relu), REF.dense_fwd(abs64(x), abs64(w), b=abs64(b)), k + 1,
                      "dense_fwd")
    dy = rng.standard_normal((m, n)).astype(np.float32)
    got = B.dense_bwd(dy, x, w, y=y, relu=relu)
    want = REF.dense_bwd(dy, x, w, y=y, relu=relu)
    ag = abs64(dy * (y > 0) if relu else dy)  # |gradient| after the ReLU mask of the same y
    bounds = {"dx": (ag @ abs64(w).T, n), "dw": (abs64(x).T @ ag, m), "db": (ag.sum(axis=0), m)}
    for name, g, e in zip(("dx", "dw", "db"), got, want):
        assert g.dtype == np.float32, name
        assert_sums_match(g, e, *bounds[name], f"dense_bwd {name}")
    dx, dw2, _ = B.dense_bwd(dy, x, w, y=y, relu=relu, need_dx=False)
    assert dx is None
    np.testing.assert_array_equal(dw2, got[1])  # the same GEMM


def test_dense_keeps_float32():
    x, w = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    y = B.dense_fwd(x, w, b=np.ones(4, np.float32), relu=True)
    assert y.dtype == np.float32
    assert all(a.dtype == np.float32 for a in B.dense_bwd(np.ones_like(y), x, w, y=y, relu=True))


# -- arrays and random ----------------------------------------------------------
def test_asarray_and_to_numpy():
    a = B.asarray([1, 2], dtype=np.float32)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    assert isinstance(B.to_numpy(a), np.ndarray)
    B.synchronize()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_draws_are_reproducible_and_typed(dtype):
    b = NumpyBackend()
    b.seed(5)
    a1, u1 = b.random_normal((3, 4), dtype, 1.0, 2.0), b.random_uniform((1000,), dtype, -2.0, 3.0)
    b.seed(5)
    a2, u2 = b.random_normal((3, 4), dtype, 1.0, 2.0), b.random_uniform((1000,), dtype, -2.0, 3.0)
    np.testing.assert_array_equal(a1, a2)  # the same seed and generator
    np.testing.assert_array_equal(u1, u2)
    assert a1.dtype == dtype and a1.shape == (3, 4) and u1.dtype == dtype
    assert u1.min() >= -2.0 and u1.max() < 3.0
    i = b.random_uniform((500,), np.int32, 0, 4)
    assert i.dtype == np.int32 and set(np.unique(i)) == {0, 1, 2, 3}


def test_batch_chunks_match_the_whole_batch(monkeypatch):
    """Splitting the batch into chunks (im2col + GEMM, col2im, pooling, epilogues per chunk) gives the results of
    the whole batch at once.

    Element-wise work and pooling (bias, ReLU, masks, window maxima, averages and their gradients) does the
    same arithmetic however the batch is split: bit-identical. The GEMMs' sums may be added in another order
    (BLAS picks its kernel by the matrix sizes, so a chunk's GEMM need not round as the whole batch's), and
    batch reductions (filter and bias gradients) add one partial per chunk: those agree within the float32
    rounding of their sums. Every primitive gets fixed inputs (not the previous one's output), so a last-bit
    difference cannot flip a ReLU mask downstream.
    """
    import gpuflow.backend.numpy_backend as nb
    rng = np.random.default_rng(7)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    x, w, b = f32(37, 15, 13, 6), f32(3, 3, 6, 5), f32(5)
    y0, g = f32(37, 15, 13, 5), f32(37, 15, 13, 5)  # a conv output (pre-ReLU) and its gradient
    xd, wd, bd, yd0, gd = f32(37, 20), f32(20, 7), f32(7), f32(37, 7), f32(37, 7)
    be = nb.NumpyBackend()
    conv = ConvGeometry(x.shape, (3, 3), pads=(1, 1, 1, 1))
    pools = [ConvGeometry(x.shape, (2, 2), (2, 2)),  # disjoint windows
             ConvGeometry(x.shape, (3, 3), pads=(1, 1, 1, 1))]  # overlapping, with padding

    def run():
        exact = {"bias_relu": be.bias_act_fwd(y0.copy(), b=b, relu=True),
                 "relu_mask": be.bias_act_bwd(g, y=y0, relu=True)[0]}
        for i, p in enumerate(pools):
            m, arg = be.max_pool2d_fwd(x, p)
            a = be.avg_pool2d_fwd(x, p)
            exact.update({f"max{i}": m, f"dmax{i}": be.max_pool2d_bwd(m, p, saved=arg),
                          f"avg{i}": a, f"davg{i}": be.avg_pool2d_bwd(a, p)})
        dx, dw, db = be.conv2d_bwd(g, w, conv, x=x, y=y0, relu=True, need_db=True)
        dxd, dwd, dbd = be.dense_bwd(gd, xd, wd, y=yd0, relu=True)
        sums = {"conv": be.conv2d_fwd(x, w, conv, b=b, relu=True)[0], "conv_dx": dx, "conv_dw": dw, "conv_db": db,
                "bias_db": be.bias_act_bwd(g, need_db=True)[1],
                "dense": be.dense_fwd(xd, wd, b=bd, relu=True), "dense_dx": dxd, "dense_dw": dwd, "dense_db": dbd}
        return exact, sums

    def a(v):
        return np.abs(v).astype(np.float64)
    gm, gdm = a(g * (y0 > 0)), a(gd * (yd0 > 0))  # |gradient| after the ReLU mask
    rows = 37 * 15 * 13  # conv output pixels summed over by the filter and bias gradients
    bounds = {  # name: (sum of |terms| per element, terms per sum k)
        "conv": (REF.conv2d_fwd(a(x), a(w), conv, b=a(b))[0], 3 * 3 * 6 + 1),
        "conv_dx": (REF.conv2d_bwd_data(gm, a(w), conv), 3 * 3 * 5),
        "conv_dw": (REF.conv2d_bwd_filter(a(x), gm, conv), rows),
        "conv_db": (gm.sum((0, 1, 2)), rows), "bias_db": (a(g).sum((0, 1, 2)), rows),
        "dense": (a(xd) @ a(wd) + a(bd), 20 + 1), "dense_dx": (gdm @ a(wd).T, 7),
        "dense_dw": (a(xd).T @ gdm, 37), "dense_db": (gdm.sum(0), 37),
    }
    monkeypatch.setattr(nb, "_THREADS", 3)
    monkeypatch.setattr(nb, "_CHUNK_WORK", 64)  # every primitive splits: up to one chunk per sample
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 5)  # convolutions: chunks of 5 samples (37 = 8 chunks)
    chunked = run()
    monkeypatch.setattr(nb, "_CHUNK_WORK", 1 << 62)
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 1 << 62)
    whole = run()
    for name, value in chunked[0].items():
        np.testing.assert_array_equal(value, whole[0][name], err_msg=name)
    for name, value in chunked[1].items():
        assert value.dtype == np.float32, name
        assert_sums_match(value, whole[1][name], *bounds[name])


def test_chunks_do_not_depend_on_the_thread_count(monkeypatch):
    """The chunks of range(n) are fixed by n and the work; threads only run them, results come in chunk order."""
    import gpuflow.backend.numpy_backend as nb
    monkeypatch.setattr(nb, "_CHUNK_WORK", 10)
    for threads in (1, 2, 3, 8):
        monkeypatch.setattr(nb, "_THREADS", threads)
        assert nb._batch_parallel(lambda a, b: (a, b), 10, per_chunk=3) == [(0, 2), (2, 5), (5, 7), (7, 10)]
        assert nb._batch_parallel(lambda a, b: (a, b), 12, 45) == [(0, 3), (3, 6), (6, 9), (9, 12)]
        assert nb._batch_parallel(lambda a, b: (a, b), 7, 35) == [(0, 3), (3, 7)]  # 3 -> 2: a power of two
        assert nb._batch_parallel(lambda a, b: (a, b), 7, 9) == [(0, 7)]  # too little work to split
        assert nb._batch_parallel(lambda a, b: (a, b), 3, 10 ** 6) == [(0, 1), (1, 2), (2, 3)]  # at most n


def test_pipelined_runs_every_chunk_in_order_with_any_thread_count(monkeypatch):
    """``_pipelined``: with two threads a software pipeline (the GEMM stage on a helper thread), otherwise whole
    chunks on ``_batch_parallel``; the same chunks and results either way."""
    import threading

    import gpuflow.backend.numpy_backend as nb
    gemm_threads = set()

    def gemm(a):
        gemm_threads.add(threading.current_thread().name)
        return a * 10
    for threads, way in ((1, None), (2, 0), (2, 1), (3, None)):
        monkeypatch.setattr(nb, "_THREADS", threads)
        monkeypatch.setattr(nb._ways, "choose", lambda key: way)
        gemm_threads.clear()
        got = nb._pipelined("test", 10, 3, 0, lambda c0, c1: np.arange(c0, c1), gemm,
                            lambda c0, c1, a, r: (c0, c1, r.tolist()))
        assert got == [(0, 2, [0, 10]), (2, 5, [20, 30, 40]), (5, 7, [50, 60]), (7, 10, [70, 80, 90])]
        assert (gemm_threads == {"gpuflow-gemm"}) == (way == 1), gemm_threads


def test_the_faster_of_two_ways_is_chosen_and_the_other_probed():
    import gpuflow.backend.numpy_backend as nb
    ways = nb._FasterOf(probe_every=4, alpha=0.5)
    assert ways.choose("k") == 1  # each way is tried once first
    ways.record("k", 1, 2.0)
    assert ways.choose("k") == 0
    ways.record("k", 0, 1.0)
    assert [ways.choose("k") for _ in range(6)] == [0, 1, 0, 0, 0, 1]  # calls 3-8: every 4th tries the other
    for _ in range(3):  # way 0 slows down (the machine changed): its average passes way 1's
        ways.record("k", 0, 4.0)
    assert ways._stats["k"][0] > 2.0
    assert [ways.choose("k") for _ in range(4)] == [1, 1, 1, 0]  # calls 9-12
    assert ways.choose("other") == 1  # per key


def test_faster_of_settles_after_a_switch_before_it_times():
    """With ``settle``, a switch of way runs that many more calls in a row and counts none of their times (a
    helper process that idled is slow at first)."""
    import gpuflow.backend.numpy_backend as nb
    ways = nb._FasterOf(probe_every=8, alpha=1.0, settle=2)

    def run(way_times):
        ways_taken = []
        for _ in range(len(way_times)):
            way = ways.choose("k")
            ways_taken.append(way)
            ways.record("k", way, way_times[len(ways_taken) - 1][way])
        return ways_taken
    # way 1 first: two calls settle (100 s, not counted), the third counts 3 s; then way 0 likewise, 2 s
    assert run([(9, 100), (9, 100), (9, 3), (100, 9), (100, 9), (2, 9)]) == [1, 1, 1, 0, 0, 0]
    assert ways._stats["k"][:2] == [2, 3]
    assert run([(2, 9)]) == [0]  # call 7: the faster
    assert run([(2, 100), (2, 100), (2, 1)]) == [1, 1, 1]  # call 8 probes way 1, which settles: 1 s counted
    assert ways._stats["k"][1] == 1
    assert run([(5, 1)]) == [1]  # now the faster


def test_faster_of_keeps_its_choice_until_the_other_is_faster_by_the_margin():
    import gpuflow.backend.numpy_backend as nb
    ways = nb._FasterOf(probe_every=1000, alpha=1.0, margin=0.1)
    for way, t in ((1, 1.0), (0, 1.05)):
        assert ways.choose("k") == way
        ways.record("k", way, t)
    assert ways.choose("k") == 1
    ways.record("k", 1, 1.1)  # way 0 is faster now, by under 10%: stay
    assert ways.choose("k") == 1
    ways.record("k", 1, 1.2)  # by 12.5%: switch
    assert ways.choose("k") == 0


@pytest.mark.parametrize("stage", ["prologue", "gemm", "epilogue"])
def test_pipelined_raises_a_stage_error_after_the_gemm_in_flight(monkeypatch, stage):
    import time

    import gpuflow.backend.numpy_backend as nb
    monkeypatch.setattr(nb, "_THREADS", 2)
    monkeypatch.setattr(nb._ways, "choose", lambda key: 1)  # the pipeline
    finished = []

    def gemm(a):
        if stage == "gemm" and a == 2:
            raise ValueError("bad gemm")
        time.sleep(0.01)
        finished.append(a)
        return a

    def prologue(c0, c1):
        if stage == "prologue" and c0 == 4:
            raise ValueError("bad prologue")
        return c0

    def epilogue(c0, c1, a, r):
        if stage == "epilogue" and c0 == 2:
            raise ValueError("bad epilogue")
        return r
    with pytest.raises(ValueError, match=f"bad {stage}"):
        nb._pipelined("test", 8, 2, 0, prologue, gemm, epilogue)
    # no GEMM is left running on buffers the caller has dropped: every one submitted has returned
    # (chunk i's GEMM is submitted before chunk i-1's epilogue runs)
    submitted = {"prologue": [0, 2], "gemm": [0, 4], "epilogue": [0, 2, 4]}[stage]
    assert finished == submitted
    assert nb._pipelined("test", 4, 2, 0, lambda c0, c1: c0, lambda a: a + 1, lambda c0, c1, a, r: r) == [1, 3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_forked_child_runs_chunks_on_threads_of_its_own(monkeypatch):
    """A child forked after the helper threads and the GEMM thread started has none of them: it starts its own
    (before, handing them a chunk waited forever), and BLAS's thread count is restored there."""
    import multiprocessing

    import gpuflow.backend.numpy_backend as nb
    monkeypatch.setattr(nb, "_THREADS", 2)

    def both_ways():
        whole = nb._batch_parallel(lambda a, b: b - a, 8, per_chunk=2)
        nb._ways.choose = lambda key: 1  # the pipeline (the child's own copy of _ways)
        piped = nb._pipelined("fork", 6, 2, 0, lambda c0, c1: c0, lambda a: a + 1, lambda c0, c1, a, r: r)
        return whole, piped
    monkeypatch.setattr(nb._ways, "choose", lambda key: 1)
    assert both_ways() == ([2, 2, 2, 2], [1, 3, 5])  # the parent's threads are running now

    def child(q):
        q.put(both_ways())
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    p.join(timeout=60)
    if p.is_alive():
        p.kill()
        pytest.fail("the forked child's chunks never ran")
    assert p.exitcode == 0 and q.get(timeout=5) == ([2, 2, 2, 2], [1, 3, 5])
