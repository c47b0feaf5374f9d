"""The reference backend: naive, obviously correct primitives, the test oracle of every other backend.

Each primitive is written from its definition in the plainest NumPy that runs at test sizes: a
convolution is a sum over the kernel offsets of ``tensordot`` products of the shifted input, its
gradients scatter the same terms back, pooling gathers the ``ph * pw`` window offsets into one axis
and reduces it. Everything is computed in float64 and rounded once to the input dtype at the end.
No threads, no blocking, no cropping of zero gradients, no fusion: the fused primitives
(``conv2d_maxpool_*``, the bias/ReLU epilogues) are compositions of the unfused ones.

It is slow. Select it as the device ``"reference"`` (``gpuflow.device("reference")``,
``GPUFLOW_DEVICE=reference``) to debug a result of the fast backends or as the oracle in tests;
``auto`` never picks it. Arrays are NumPy arrays, random draws those of the NumPy backend (the same
generator, so a seed gives the same initial weights on ``cpu`` and ``reference``).

Definitions followed (TensorFlow's): cross-correlation in NHWC with (kh, kw, in, out) kernels; max
pooling whose padding never wins and whose ties go to the first maximum of the window in row-major
order (``tf.raw_ops.MaxPoolGrad``); average pooling that leaves padding out of the count
(``tf.nn.avg_pool2d``).
"""
from __future__ import annotations

import numpy as np

from .base import Backend, NumpyArrays
from .geometry import ConvGeometry


def _pad(x, g, value=0.0):
    """x (N, H, W, C) as float64, padded by g.pads = (top, bottom, left, right) with ``value``."""
    top, bottom, left, right = g.pads
    return np.pad(x.astype(np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _zeros_padded(g):
    """A float64 (N, H + top + bottom, W + left + right, C) zero array: a gradient before cropping."""
    return np.zeros(g.input_shape[:1] + g.padded_hw + g.input_shape[3:])


def _crop(xp_, g):
    (top, _, left, _), (h, w) = g.pads, g.input_shape[1:3]
    return xp_[:, top: top + h, left: left + w, :]


def _tap(xp_, i, j, g):
    """The (N, OH, OW, C) view of padded xp_ that window offset (i, j) meets: element (n, r, c) is
    ``xp_[n, r * sh + i * dh, c * sw + j * dw]``."""
    (oh, ow), (sh, sw), (dh, dw) = g.output_hw, g.strides, g.dilations
    return xp_[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]


def _taps(g):
    """The window offsets (i, j) in row-major order."""
    kh, kw = g.kernel_hw
    return [(i, j) for i in range(kh) for j in range(kw)]


def _windows(xp_, g):
    """(N, OH, OW, kh*kw, C): the windows of padded xp_, offsets in row-major order."""
    return np.stack([_tap(xp_, i, j, g) for i, j in _taps(g)], axis=3)


def _pool_counts(g):
    """(1, OH, OW, 1): how many input (non-padding) elements each window covers."""
    inside = _pad(np.ones((1,) + g.input_shape[1:3] + (1,)), g)
    return _windows(inside, g).sum(axis=3)


def _bias_relu(z, b, relu):
    """relu?(z + b) in float64 (b: (F,) or None, over the last axis)."""
    z = z if b is None else z + b.astype(np.float64)
    return np.maximum(z, 0.0) if relu else z


def _relu_mask(dy, y, relu):
    return dy * (y > 0) if relu else dy


class ReferenceBackend(NumpyArrays, Backend):
    """Naive float64 primitives on NumPy arrays (see the module docstring). Slow; for tests and debugging."""

    name = "reference"
    xp = np

    def __init__(self):
        self._rng = np.random.default_rng()

    # -- convolution -------------------------------------------------------------
    def conv2d_fwd(self, x, w, geometry, *, b=None, relu=False):
        xp_ = _pad(x, geometry)
        z = np.zeros(geometry.output_shape(w.shape[3]))
        for i, j in _taps(geometry):
            z += np.tensordot(_tap(xp_, i, j, geometry), w[i, j].astype(np.float64), axes=1)
        return _bias_relu(z, b, relu).astype(np.result_type(x, w)), None

    def conv2d_bwd(self, dy, w, geometry, *, x=None, y=None, saved=None, relu=False, need_dx=True, need_dw=True,
                   need_db=False):
        dz, db = self.bias_act_bwd(dy, y=y, relu=relu, need_db=need_db)
        dx = self.conv2d_bwd_data(dz, w, geometry) if need_dx else None
        dw = self.conv2d_bwd_filter(x, dz, geometry) if need_dw else None
        return dx, dw, db

    def conv2d_bwd_data(self, dy, w, geometry, *, saved=None):
        dxp = _zeros_padded(geometry)
        g = dy.astype(np.float64)
        for i, j in _taps(geometry):  # each output pixel sends dy @ w[i, j]^T back to the input pixel it read
            _tap(dxp, i, j, geometry)[...] += np.tensordot(g, w[i, j].astype(np.float64), axes=([3], [1]))
        return _crop(dxp, geometry).astype(np.result_type(dy, w))

    def conv2d_bwd_filter(self, x, dy, geometry, *, saved=None):
        xp_ = _pad(x, geometry)
        g = dy.astype(np.float64)
        dw = np.zeros(geometry.kernel_hw + (x.shape[3], dy.shape[3]))
        for i, j in _taps(geometry):  # dw[i, j] = sum over (n, r, c) of outer(x at the pixel read, dy)
            dw[i, j] = np.tensordot(_tap(xp_, i, j, geometry), g, axes=([0, 1, 2], [0, 1, 2]))
        return dw.astype(np.result_type(x, dy))

    # -- convolution + bias/ReLU + max pooling: the unfused primitives composed ------
    def conv2d_maxpool_fwd(self, x, w, geometry, pool_size, *, b=None, relu=False, need_saved=True):
        z, _ = self.conv2d_fwd(x, w, geometry, b=b, relu=relu)
        pooling = ConvGeometry(z.shape, pool_size, pool_size)  # VALID, stride = window
        y, arg = self.max_pool2d_fwd(z, pooling, need_saved=need_saved)
        return y, ((arg, pooling) if need_saved else None)

    def conv2d_maxpool_bwd(self, dy, w, geometry, pool_size, *, saved, x=None, y=None, relu=False, need_dx=True,
                           need_dw=True, need_db=False):
        arg, pooling = saved
        dz = self.max_pool2d_bwd(_relu_mask(dy, y, relu), pooling, saved=arg)
        return self.conv2d_bwd(dz, w, geometry, x=x, need_dx=need_dx, need_dw=need_dw, need_db=need_db)

    # -- pooling -------------------------------------------------------------------
    def max_pool2d_fwd(self, x, geometry, *, need_saved=True):
        win = _windows(_pad(x, geometry, -np.inf), geometry)
        arg = win.argmax(axis=3) if need_saved else None  # the first maximum in row-major order; -inf never wins
        return win.max(axis=3).astype(x.dtype), arg

    def max_pool2d_bwd(self, dy, geometry, *, saved):
        dxp = _zeros_padded(geometry)
        for k, (i, j) in enumerate(_taps(geometry)):  # each window's gradient goes to its winner
            _tap(dxp, i, j, geometry)[...] += np.where(saved == k, dy, 0.0)
        return _crop(dxp, geometry).astype(dy.dtype)

    def avg_pool2d_fwd(self, x, geometry):
        total = _windows(_pad(x, geometry), geometry).sum(axis=3)
        return (total / _pool_counts(geometry)).astype(x.dtype)

    def avg_pool2d_bwd(self, dy, geometry):
        g = dy.astype(np.float64) / _pool_counts(geometry)
        dxp = _zeros_padded(geometry)
        for i, j in _taps(geometry):
            _tap(dxp, i, j, geometry)[...] += g
        return _crop(dxp, geometry).astype(dy.dtype)

    # -- dense and the bias/ReLU epilogue ------------------------------------------------
    def dense_fwd(self, x, w, *, b=None, relu=False):
        z = x.astype(np.float64) @ w.astype(np.float64)
        return _bias_relu(z, b, relu).astype(np.result_type(x, w))

    def dense_bwd(self, dy, x, w, *, y=None, relu=False, need_dx=True):
        dz, db = self.bias_act_bwd(dy, y=y, relu=relu, need_db=True)
        g = dz.astype(np.float64)
        dw = (x.astype(np.float64).T @ g).astype(np.result_type(x, dz))
        dx = (g @ w.astype(np.float64).T).astype(np.result_type(dz, w)) if need_dx else None
        return dx, dw, db

    def bias_act_fwd(self, y, *, b=None, relu=False):
        y[...] = _bias_relu(y.astype(np.float64), b, relu)  # in place, as the contract says
        return y

    def bias_act_bwd(self, dy, *, y=None, relu=False, need_db=False):
        dz = _relu_mask(dy, y, relu)
        db = dz.astype(np.float64).reshape(-1, dz.shape[-1]).sum(axis=0).astype(dz.dtype) if need_db else None
        return dz, db
