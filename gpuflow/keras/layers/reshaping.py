"""Reshaping layers (``keras.layers``): Reshape, Permute, RepeatVector, UpSampling2D, ZeroPadding2D, Cropping2D.

channels_last throughout. Every layer is written with gpuflow ops (reshape, transpose,
broadcast_to, gather, pad, slicing), so it runs and differentiates on every backend.
"""
from __future__ import annotations

import math

import numpy as np

from ...ops import array_ops as _a
from ...ops.core import convert_to_tensor
from .base import Layer, InputSpec
from .base_conv import normalize_tuple, normalize_data_format


def _resolve_target_shape(input_shape, target_shape, layer_name):
    """Keras 3's ``compute_reshape_output_shape``: resolves one -1, checks the element count.

    Raises:
        ValueError: sizes that differ, or a -1 that cannot be resolved (Keras's messages).
    """
    if None in input_shape:
        return tuple(None if d == -1 else d for d in target_shape)
    size = math.prod(input_shape)
    if -1 not in target_shape:
        if size != math.prod(target_shape):
            raise ValueError(f"The total size of the tensor must be unchanged. Received: "
                             f"input_shape={tuple(input_shape)}, target_shape={target_shape} (layer '{layer_name}')")
        return tuple(target_shape)
    known = math.prod(d for d in target_shape if d != -1)
    if known == 0 or size % known != 0:
        raise ValueError(f"The total size of the tensor must be unchanged, however, the input size cannot by divided "
                         f"by the specified dimensions in target_shape. Received: input_shape={tuple(input_shape)}, "
                         f"target_shape={target_shape} (layer '{layer_name}')")
    return tuple(size // known if d == -1 else d for d in target_shape)


class Reshape(Layer):
    """Reshapes the non-batch axes to ``target_shape`` (``keras.layers.Reshape``); one entry may be -1.

    Input (batch, *any) -> (batch, *target_shape).

    Raises:
        ValueError: a ``target_shape`` entry below -1 or two -1 entries (at construction), or a
            target whose size differs from the input's (at call), showing both shapes.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)):
            target_shape = (target_shape,)
        target_shape = tuple(int(d) for d in target_shape)
        if any(d < -1 for d in target_shape) or target_shape.count(-1) > 1:
            raise ValueError(f"Each dimension in `target_shape` must be a non-negative integer, or `-1` for a single "
                             f"unknown dimension. Received: target_shape={target_shape}.")
        self.target_shape = target_shape

    def call(self, inputs):
        shape = _resolve_target_shape(tuple(inputs.shape[1:]), self.target_shape, self.name)
        return _a.reshape(inputs, (inputs.shape[0],) + shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + _resolve_target_shape(tuple(input_shape[1:]), self.target_shape, self.name)

    def get_config(self):
        c = super().get_config()
        c["target_shape"] = self.target_shape
        return c


class Permute(Layer):
    """Permutes the non-batch axes (``keras.layers.Permute``); ``dims`` is 1-indexed, e.g. ``(2, 1)``.

    Raises:
        ValueError: ``dims`` that is not a permutation of 1..n (Keras's message), or an input of
            another rank than ``len(dims) + 1``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` "
                             f"must be consecutive and start from 1. Received dims={tuple(dims)}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return _a.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        c = super().get_config()
        c["dims"] = self.dims
        return c


class RepeatVector(Layer):
    """Repeats a (batch, features) input ``n`` times: (batch, n, features) (``keras.layers.RepeatVector``)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        x = _a.expand_dims(inputs, 1)
        return _a.broadcast_to(x, (inputs.shape[0], self.n, inputs.shape[1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        c = super().get_config()
        c["n"] = self.n
        return c


# -- resizing ----------------------------------------------------------------------
def _repeat_nearest(x, sh, sw):
    """(N, H, W, C) -> (N, H*sh, W*sw, C), each pixel repeated (Keras's ``ops.repeat`` on axes 1 and 2)."""
    n, h, w, c = x.shape
    y = _a.reshape(x, (n, h, 1, w, 1, c))
    y = _a.broadcast_to(y, (n, h, sh, w, sw, c))
    return _a.reshape(y, (n, h * sh, w * sw, c))


def _bilinear_weights(in_size, out_size):
    """Source rows and weights of TensorFlow's half-pixel-centers bilinear resize along one axis.

    As ``tf.image.resize(..., "bilinear")`` (``ResizeBilinear`` with ``half_pixel_centers=True``,
    TensorFlow's ``compute_interpolation_weights`` with ``HalfPixelScaler``): output pixel ``i``
    samples ``in = (i + 0.5) * in_size / out_size - 0.5``, between rows ``max(floor(in), 0)`` and
    ``min(ceil(in), in_size - 1)`` with weight ``in - floor(in)`` on the upper one.
    """
    scale = in_size / out_size
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5
    fl = np.floor(src)
    lower = np.maximum(fl, 0).astype(np.int64)
    upper = np.minimum(np.ceil(src), in_size - 1).astype(np.int64)
    return lower, upper, (src - fl)


def resize_bilinear(images, size):
    """Bilinear resize of (N, H, W, C) images to ``size`` = (out_h, out_w), TensorFlow 2's rule.

    Matches ``tf.image.resize(images, size, method="bilinear")`` (half-pixel centers, no
    antialiasing; Keras 3's ``UpSampling2D(interpolation="bilinear")`` calls exactly this). Written
    as two separable passes with ``gather`` (width, then height, as TensorFlow's kernel blends
    ``top + (bottom - top) * y_lerp`` of ``left + (right - left) * x_lerp``), so it differentiates
    on every backend; the gradient scatters each output pixel back to its four sources.
    """
    x = images
    n, h, w, c = x.shape
    oh, ow = size
    dtype = x.dtype.as_numpy_dtype
    lo, hi, lerp = _bilinear_weights(w, ow)
    left, right = _a.gather(x, convert_to_tensor(lo), axis=2), _a.gather(x, convert_to_tensor(hi), axis=2)
    t = convert_to_tensor(lerp.astype(dtype).reshape(1, 1, ow, 1))
    x = left + (right - left) * t
    lo, hi, lerp = _bilinear_weights(h, oh)
    top, bottom = _a.gather(x, convert_to_tensor(lo), axis=1), _a.gather(x, convert_to_tensor(hi), axis=1)
    t = convert_to_tensor(lerp.astype(dtype).reshape(1, oh, 1, 1))
    return top + (bottom - top) * t


class UpSampling2D(Layer):
    """Upsamples rows and columns by ``size`` (``keras.layers.UpSampling2D``).

    Input (batch, h, w, c) -> (batch, h * size[0], w * size[1], c). ``interpolation="nearest"``
    repeats each pixel; ``"bilinear"`` follows ``tf.image.resize(..., "bilinear")`` with
    half-pixel centers (see :func:`resize_bilinear`), as Keras 3 does.

    Raises:
        ValueError: an unknown interpolation, or an input that is not rank 4.
        NotImplementedError: Keras's other interpolations (bicubic, area, lanczos3/5).
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"UpSampling2D '{self.name}'")
        self.size = normalize_tuple(size, 2, "size")
        self.interpolation = str(interpolation).lower()
        if self.interpolation in ("bicubic", "area", "lanczos3", "lanczos5"):
            raise NotImplementedError(f"UpSampling2D: interpolation={interpolation!r} is not supported yet; "
                                      f"use 'nearest' or 'bilinear'.")
        if self.interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"`interpolation` argument should be one of: 'nearest', 'bilinear', 'bicubic', 'area', "
                             f"'lanczos3', 'lanczos5'. Received: interpolation={interpolation!r}")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        sh, sw = self.size
        if self.interpolation == "nearest":
            return _repeat_nearest(inputs, sh, sw)
        return resize_bilinear(inputs, (inputs.shape[1] * sh, inputs.shape[2] * sw))

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None else h * self.size[0], None if w is None else w * self.size[1],
                input_shape[3])

    def get_config(self):
        c = super().get_config()
        c.update({"size": self.size, "data_format": self.data_format, "interpolation": self.interpolation})
        return c


# -- padding and cropping -----------------------------------------------------------
def _pairs_2d(value, arg):
    """An int, a pair of ints, or a pair of pairs -> ((top, bottom), (left, right)), as Keras."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{arg}` cannot be negative. Received: {arg}={value}.")
        return ((int(value),) * 2,) * 2
    if hasattr(value, "__len__"):
        if len(value) != 2:
            raise ValueError(f"`{arg}` should have two elements. Received: {arg}={value}.")
        return (normalize_tuple(value[0], 2, f"1st entry of {arg}", allow_zero=True),
                normalize_tuple(value[1], 2, f"2nd entry of {arg}", allow_zero=True))
    raise ValueError(f"`{arg}` should be either an int, a tuple of 2 ints (symmetric_height_{arg}, "
                     f"symmetric_width_{arg}), or a tuple of 2 tuples of 2 ints ((top, bottom), (left, right)). "
                     f"Received: {arg}={value}.")


class ZeroPadding2D(Layer):
    """Pads rows and columns with zeros (``keras.layers.ZeroPadding2D``).

    ``padding``: an int (all sides), ``(symmetric_height, symmetric_width)``, or
    ``((top, bottom), (left, right))``. Input (batch, h, w, c) -> (batch, h + top + bottom,
    w + left + right, c).
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"ZeroPadding2D '{self.name}'")
        self.padding = _pairs_2d(padding, "padding")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return _a.pad(inputs, [[0, 0], list(self.padding[0]), list(self.padding[1]), [0, 0]])

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for i in range(2):
            if out[i + 1] is not None:
                out[i + 1] += sum(self.padding[i])
        return tuple(out)

    def get_config(self):
        c = super().get_config()
        c.update({"padding": self.padding, "data_format": self.data_format})
        return c


class Cropping2D(Layer):
    """Crops rows and columns (``keras.layers.Cropping2D``); ``cropping`` as ZeroPadding2D's ``padding``.

    Raises:
        ValueError: crops that leave nothing of a spatial axis (Keras's message).
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"Cropping2D '{self.name}'")
        self.cropping = _pairs_2d(cropping, "cropping")
        self.input_spec = InputSpec(ndim=4)

    def _check(self, shape, what):
        if (shape[1] is not None and sum(self.cropping[0]) >= shape[1]) or \
                (shape[2] is not None and sum(self.cropping[1]) >= shape[2]):
            raise ValueError(f"Values in `cropping` argument should be smaller than the corresponding spatial "
                             f"dimension of the input. Received: {what}={tuple(shape)}, cropping={self.cropping}")

    def call(self, inputs):
        self._check(inputs.shape, "inputs.shape")
        (t, b), (l, r) = self.cropping
        h, w = inputs.shape[1], inputs.shape[2]
        return inputs[:, t:h - b, l:w - r, :]

    def compute_output_shape(self, input_shape):
        self._check(input_shape, "input_shape")
        (t, b), (l, r) = self.cropping
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None else h - t - b, None if w is None else w - l - r, input_shape[3])

    def get_config(self):
        c = super().get_config()
        c.update({"cropping": self.cropping, "data_format": self.data_format})
        return c
