"""The reference backend, the oracle of every other backend's tests, checked against its definitions.

Its forward convolution against the per-pixel sum that defines it; every backward primitive by the adjoint
identity of a linear map, ``<dy, f(x)> = <f^T(dy), x>`` (max pooling is linear once its winners are chosen);
pooling semantics on hand-made windows. All in float64, where the reference is exact to ~1e-15.
"""
import numpy as np
import pytest

from gpuflow.backend.geometry import ConvGeometry
from gpuflow.backend.reference import ReferenceBackend

R = ReferenceBackend()
CASES = [  # x shape, w shape, strides, dilations, pads (top, bottom, left, right)
    ((2, 7, 6, 3), (3, 2, 3, 4), (2, 1), (1, 2), (1, 2, 0, 1)),
    ((1, 5, 5, 2), (1, 1, 2, 3), (2, 2), (1, 1), (0, 0, 0, 0)),
    ((3, 2, 2, 1), (2, 2, 1, 2), (3, 3), (1, 1), (3, 3, 3, 3)),  # pads larger than the input
]


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


@pytest.mark.parametrize("xs,ws,s,d,p", CASES)
def test_conv2d_fwd_is_the_per_pixel_sum(xs, ws, s, d, p):
    x, w = _rand(*xs), _rand(*ws, seed=1)
    y, _ = R.conv2d_fwd(x, w, ConvGeometry(xs, ws[:2], s, d, p))
    xp = np.pad(x, ((0, 0), p[:2], p[2:], (0, 0)))
    for b, i, j, o in np.ndindex(*y.shape):
        want = sum(xp[b, i * s[0] + r * d[0], j * s[1] + q * d[1], c] * w[r, q, c, o]
                   for r in range(ws[0]) for q in range(ws[1]) for c in range(ws[2]))
        assert y[b, i, j, o] == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert y.shape[1:3] == ((xs[1] + p[0] + p[1] - (ws[0] - 1) * d[0] - 1) // s[0] + 1,  # the definition, not
                            (xs[2] + p[2] + p[3] - (ws[1] - 1) * d[1] - 1) // s[1] + 1)  # ConvGeometry's


@pytest.mark.parametrize("xs,ws,s,d,p", CASES)
def test_conv2d_backward_is_the_adjoint_of_the_forward(xs, ws, s, d, p):
    x, w, g = _rand(*xs), _rand(*ws, seed=1), ConvGeometry(xs, ws[:2], s, d, p)
    y, _ = R.conv2d_fwd(x, w, g)
    dy = _rand(*y.shape, seed=2)
    dx, dw, db = R.conv2d_bwd(dy, w, g, x=x, need_db=True)
    np.testing.assert_allclose(np.vdot(dy, y), np.vdot(dx, x), rtol=1e-12)  # conv is linear in x ...
    np.testing.assert_allclose(np.vdot(dy, y), np.vdot(dw, w), rtol=1e-12)  # ... and in w
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("k,s,p", [((2, 2), (2, 2), (0, 1, 0, 1)), ((3, 3), (1, 1), (1, 1, 1, 1)),
                                   ((2, 3), (1, 2), (0, 0, 1, 1))])
def test_pool_backward_is_the_adjoint_of_the_forward(k, s, p):
    x = _rand(2, 5, 6, 3)
    g = ConvGeometry(x.shape, k, s, pads=p)
    y, saved = R.max_pool2d_fwd(x, g)
    dy = _rand(*y.shape, seed=3)
    np.testing.assert_allclose(np.vdot(dy, y), np.vdot(R.max_pool2d_bwd(dy, g, saved=saved), x), rtol=1e-12)
    y = R.avg_pool2d_fwd(x, g)
    np.testing.assert_allclose(np.vdot(dy, y), np.vdot(R.avg_pool2d_bwd(dy, g), x), rtol=1e-12)


def test_max_pool_first_maximum_wins_and_padding_never_does():
    x = np.array([[1.0, 5.0], [5.0, 2.0]]).reshape(1, 2, 2, 1) - 10  # negative: a zero pad would win
    g = ConvGeometry(x.shape, (2, 2), pads=(0, 1, 0, 1))
    y, saved = R.max_pool2d_fwd(x, g)
    assert y.ravel().tolist() == [-5.0, -5.0, -5.0, -8.0]
    dx = R.max_pool2d_bwd(np.ones_like(y), g, saved=saved)
    assert dx.ravel().tolist() == [0.0, 2.0, 1.0, 1.0]  # the top-right 5 wins windows 1 and 2 (row-major first)


def test_avg_pool_counts_only_the_input():
    y = R.avg_pool2d_fwd(np.arange(4.0).reshape(1, 2, 2, 1), ConvGeometry((1, 2, 2, 1), (2, 2), pads=(0, 1, 0, 1)))
    assert y.ravel().tolist() == [1.5, 2.0, 2.5, 3.0]


def test_dense_and_fused_epilogues():
    x, w, b = _rand(3, 4), _rand(4, 5, seed=1), _rand(5, seed=2)
    y = R.dense_fwd(x, w, b=b, relu=True)
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-12, atol=1e-15)
    dy = _rand(3, 5, seed=3)
    dx, dw, db = R.dense_bwd(dy, x, w, y=y, relu=True)
    g = dy * (y > 0)
    np.testing.assert_allclose(dx, g @ w.T, rtol=1e-12)
    np.testing.assert_allclose(dw, x.T @ g, rtol=1e-12)
    np.testing.assert_allclose(db, g.sum(0), rtol=1e-12)
    z = _rand(2, 3, 3, 5)
    out = z.copy()
    assert R.bias_act_fwd(out, b=b, relu=True) is out  # in place, as the contract says
    np.testing.assert_allclose(out, np.maximum(z + b, 0), rtol=1e-15)


def test_outputs_are_rounded_to_the_input_dtype():
    x, w = _rand(1, 4, 4, 2).astype(np.float32), _rand(2, 2, 2, 3).astype(np.float32)
    g = ConvGeometry(x.shape, (2, 2))
    y, _ = R.conv2d_fwd(x, w, g)
    exact = R.conv2d_fwd(x.astype(np.float64), w.astype(np.float64), g)[0]
    assert y.dtype == np.float32 and np.array_equal(y, exact.astype(np.float32))  # one rounding of the float64 sum
