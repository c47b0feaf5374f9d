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


def _out_size(size, k, s, d):
    return (size - (k - 1) * d - 1) // s + 1


def _pad(x, pads, value=0.0):
    """x (N, H, W, C) as float64, padded by pads = (top, bottom, left, right) with ``value``."""
    top, bottom, left, right = pads
    return np.pad(x.astype(np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _crop(xp_, x_shape, pads):
    return xp_[:, pads[0]: pads[0] + x_shape[1], pads[2]: pads[2] + x_shape[2], :]


def _tap(xp_, i, j, out_hw, strides, dilations):
    """The (N, OH, OW, C) view of padded xp_ that kernel offset (i, j) meets: element (n, r, c) is
    ``xp_[n, r * sh + i * dh, c * sw + j * dw]``."""
    (oh, ow), (sh, sw), (dh, dw) = out_hw, strides, dilations
    return xp_[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]


def _taps(kh, kw):
    """The kernel (or window) offsets (i, j) in row-major order."""
    return [(i, j) for i in range(kh) for j in range(kw)]


def _windows(xp_, pool_size, strides, out_hw):
    """(N, OH, OW, ph*pw, C): the pooling windows of padded xp_, offsets in row-major order."""
    return np.stack([_tap(xp_, i, j, out_hw, strides, (1, 1)) for i, j in _taps(*pool_size)], axis=3)


def _pool_out_hw(x_shape, pool_size, strides, pads):
    return (_out_size(x_shape[1] + pads[0] + pads[1], pool_size[0], strides[0], 1),
            _out_size(x_shape[2] + pads[2] + pads[3], pool_size[1], strides[1], 1))


def _pool_counts(x_shape, pool_size, strides, pads, out_hw):
    """(1, OH, OW, 1): how many input (non-padding) elements each window covers."""
    inside = _pad(np.ones((1, x_shape[1], x_shape[2], 1)), pads)
    return _windows(inside, pool_size, strides, out_hw).sum(axis=3)


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
    def conv2d_fwd(self, x, w, strides, dilations, pads, b=None, relu=False):
        kh, kw, _, f = w.shape
        xp_ = _pad(x, pads)
        out_hw = (_out_size(xp_.shape[1], kh, strides[0], dilations[0]),
                  _out_size(xp_.shape[2], kw, strides[1], dilations[1]))
        z = np.zeros((x.shape[0],) + out_hw + (f,))
        for i, j in _taps(kh, kw):
            z += np.tensordot(_tap(xp_, i, j, out_hw, strides, dilations), w[i, j].astype(np.float64), axes=1)
        return _bias_relu(z, b, relu).astype(np.result_type(x, w)), None

    def conv2d_bwd(self, dy, x, w, y, relu, need_dx, need_dw, need_db, strides, dilations, pads, saved=None,
                   x_shape=None):
        dz, db = self.bias_act_bwd(dy, y, relu, need_db)
        x_shape = tuple(x.shape) if x is not None else tuple(x_shape)
        dx = self.conv2d_bwd_data(dz, w, x_shape, strides, dilations, pads) if need_dx else None
        dw = self.conv2d_bwd_filter(x, dz, w.shape, strides, dilations, pads) if need_dw else None
        return dx, dw, db

    def conv2d_bwd_data(self, dy, w, x_shape, strides, dilations, pads, saved=None):
        kh, kw = w.shape[:2]
        n, h, wd, c = x_shape
        dxp = np.zeros((n, h + pads[0] + pads[1], wd + pads[2] + pads[3], c))
        g = dy.astype(np.float64)
        for i, j in _taps(kh, kw):  # each output pixel sends dy @ w[i, j]^T back to the input pixel it read
            _tap(dxp, i, j, dy.shape[1:3], strides, dilations)[...] += np.tensordot(
                g, w[i, j].astype(np.float64), axes=([3], [1]))
        return _crop(dxp, x_shape, pads).astype(np.result_type(dy, w))

    def conv2d_bwd_filter(self, x, dy, w_shape, strides, dilations, pads, saved=None):
        kh, kw = w_shape[:2]
        xp_ = _pad(x, pads)
        g = dy.astype(np.float64)
        dw = np.zeros(tuple(w_shape))
        for i, j in _taps(kh, kw):  # dw[i, j] = sum over (n, r, c) of outer(x at the pixel read, dy)
            dw[i, j] = np.tensordot(_tap(xp_, i, j, dy.shape[1:3], strides, dilations), g,
                                    axes=([0, 1, 2], [0, 1, 2]))
        return dw.astype(np.result_type(x, dy))

    # -- convolution + bias/ReLU + max pooling: the unfused primitives composed ------
    def conv2d_maxpool_fwd(self, x, w, b, relu, strides, dilations, pads, pool):
        z, _ = self.conv2d_fwd(x, w, strides, dilations, pads, b, relu)
        y, arg = self.max_pool2d_fwd(z, pool, pool, (0, 0, 0, 0))
        return y, (arg, tuple(z.shape))

    def conv2d_maxpool_bwd(self, dy, x, w, y, saved, relu, need_dx, need_dw, need_db, strides, dilations, pads,
                           pool):
        arg, z_shape = saved
        dz = self.max_pool2d_bwd(_relu_mask(dy, y, relu), z_shape, pool, pool, (0, 0, 0, 0), arg)
        return self.conv2d_bwd(dz, x, w, None, False, need_dx, need_dw, need_db, strides, dilations, pads)

    # -- pooling -------------------------------------------------------------------
    def max_pool2d_fwd(self, x, pool_size, strides, pads):
        out_hw = _pool_out_hw(x.shape, pool_size, strides, pads)
        win = _windows(_pad(x, pads, -np.inf), pool_size, strides, out_hw)
        arg = win.argmax(axis=3)  # the first maximum in row-major order; -inf padding never wins
        return win.max(axis=3).astype(x.dtype), arg

    def max_pool2d_bwd(self, dy, x_shape, pool_size, strides, pads, saved):
        n, h, wd, c = x_shape
        dxp = np.zeros((n, h + pads[0] + pads[1], wd + pads[2] + pads[3], c))
        for k, (i, j) in enumerate(_taps(*pool_size)):  # each window's gradient goes to its winner
            _tap(dxp, i, j, dy.shape[1:3], strides, (1, 1))[...] += np.where(saved == k, dy, 0.0)
        return _crop(dxp, x_shape, pads).astype(dy.dtype)

    def avg_pool2d_fwd(self, x, pool_size, strides, pads):
        out_hw = _pool_out_hw(x.shape, pool_size, strides, pads)
        total = _windows(_pad(x, pads), pool_size, strides, out_hw).sum(axis=3)
        return (total / _pool_counts(x.shape, pool_size, strides, pads, out_hw)).astype(x.dtype)

    def avg_pool2d_bwd(self, dy, x_shape, pool_size, strides, pads):
        n, h, wd, c = x_shape
        g = dy.astype(np.float64) / _pool_counts(x_shape, pool_size, strides, pads, dy.shape[1:3])
        dxp = np.zeros((n, h + pads[0] + pads[1], wd + pads[2] + pads[3], c))
        for i, j in _taps(*pool_size):
            _tap(dxp, i, j, dy.shape[1:3], strides, (1, 1))[...] += g
        return _crop(dxp, x_shape, pads).astype(dy.dtype)

    # -- dense and the bias/ReLU epilogue ------------------------------------------------
    def dense_fwd(self, x, w, b, relu):
        z = x.astype(np.float64) @ w.astype(np.float64)
        return _bias_relu(z, b, relu).astype(np.result_type(x, w))

    def dense_bwd(self, dy, x, w, y, relu, need_dx):
        dz, db = self.bias_act_bwd(dy, y, relu, True)
        g = dz.astype(np.float64)
        dw = (x.astype(np.float64).T @ g).astype(np.result_type(x, dz))
        dx = (g @ w.astype(np.float64).T).astype(np.result_type(dz, w)) if need_dx else None
        return dx, dw, db

    def bias_act_fwd(self, y, b, relu):
        y[...] = _bias_relu(y.astype(np.float64), b, relu)  # in place, as the contract says
        return y

    def bias_act_bwd(self, dy, y, relu, need_db):
        dz = _relu_mask(dy, y, relu)
        db = dz.astype(np.float64).reshape(-1, dz.shape[-1]).sum(axis=0).astype(dz.dtype) if need_db else None
        return dz, db
