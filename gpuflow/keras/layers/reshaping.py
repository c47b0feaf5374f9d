"""Reshaping layers (``keras.layers``): Reshape, Permute, RepeatVector, UpSampling1D/2D/3D, ZeroPadding1D/2D/3D,
Cropping1D/2D/3D.

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
def _repeat_nearest(x, sizes):
    """(N, *spatial, C) -> (N, *(d * s for d, s in zip(spatial, sizes)), C): each element repeated ``s`` times
    along its spatial axis (Keras's ``ops.repeat`` on axes 1..rank), as one reshape/broadcast/reshape."""
    n, *spatial, c = x.shape
    split = [n] + [v for d in spatial for v in (d, 1)] + [c]
    tiled = [n] + [v for d, s in zip(spatial, sizes) for v in (d, s)] + [c]
    y = _a.broadcast_to(_a.reshape(x, split), tuple(tiled))
    return _a.reshape(y, (n, *(d * s for d, s in zip(spatial, sizes)), c))


def _scaled_shape(input_shape, sizes):
    return (input_shape[0], *(None if d is None else d * s for d, s in zip(input_shape[1:-1], sizes)),
            input_shape[-1])


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
            return _repeat_nearest(inputs, self.size)
        return resize_bilinear(inputs, (inputs.shape[1] * sh, inputs.shape[2] * sw))

    def compute_output_shape(self, input_shape):
        return _scaled_shape(input_shape, self.size)

    def get_config(self):
        c = super().get_config()
        c.update({"size": self.size, "data_format": self.data_format, "interpolation": self.interpolation})
        return c


class UpSampling1D(Layer):
    """Repeats each step ``size`` times (``keras.layers.UpSampling1D(size=2)``): (batch, steps, features) ->
    (batch, steps * size, features).

    Raises:
        TypeError: a ``size`` that is not an int; ValueError: ``size`` <= 0, or an input that is not rank 3
            (Keras's messages).
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"Expected an integer value for `size`, got {type(size)}.")
        if size <= 0:
            raise ValueError(f"Argument `size` should be a positive integer. Received: size={size}")
        self.size = size
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return _repeat_nearest(inputs, (self.size,))

    def compute_output_shape(self, input_shape):
        return _scaled_shape(input_shape, (self.size,))

    def get_config(self):
        c = super().get_config()
        c["size"] = self.size
        return c


class UpSampling3D(Layer):
    """Repeats each voxel ``size`` = (d1, d2, d3) times along the three spatial axes
    (``keras.layers.UpSampling3D(size=(2, 2, 2), data_format=None)``): (batch, a, b, c, channels) ->
    (batch, a * d1, b * d2, c * d3, channels).

    Raises:
        ValueError: a bad ``size``, or an input that is not rank 5.
        NotImplementedError: ``data_format="channels_first"``.
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"UpSampling3D '{self.name}'")
        self.size = normalize_tuple(size, 3, "size")
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        return _repeat_nearest(inputs, self.size)

    def compute_output_shape(self, input_shape):
        return _scaled_shape(input_shape, self.size)

    def get_config(self):
        c = super().get_config()
        c.update({"size": self.size, "data_format": self.data_format})
        return c


# -- padding and cropping -----------------------------------------------------------
_ORDINALS = ("1st", "2nd", "3rd")


def _pairs(value, arg, rank):
    """An int, ``rank`` ints, or ``rank`` pairs of ints -> ``rank`` (before, after) pairs, as Keras's
    ZeroPadding2D/3D and Cropping2D/3D read ``padding``/``cropping``.

    Raises:
        ValueError: a negative int, a sequence of another length, or entries that are not ints >= 0
            (Keras's messages).
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{arg}` cannot be negative. Received: {arg}={value}.")
        return ((int(value),) * 2,) * rank
    if hasattr(value, "__len__"):
        if len(value) != rank:
            raise ValueError(f"`{arg}` should have {'two' if rank == 2 else rank} elements. Received: {arg}={value}.")
        return tuple(normalize_tuple(v, 2, f"{_ORDINALS[i]} entry of {arg}", allow_zero=True)
                     for i, v in enumerate(value))
    raise ValueError(f"`{arg}` should be either an int, a tuple of {rank} ints, or a tuple of {rank} tuples of 2 "
                     f"ints ((before, after) for each spatial axis). Received: {arg}={value}.")


class _ZeroPadding(Layer):
    """Zero padding of the ``rank`` spatial axes of (batch, *spatial, channels); ``self.padding`` holds one
    (before, after) pair per spatial axis."""

    rank = 2

    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.padding = _pairs(padding, "padding", self.rank)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _pad_pairs(self):
        return self.padding if self.rank > 1 else (self.padding,)

    def call(self, inputs):
        return _a.pad(inputs, [[0, 0]] + [list(p) for p in self._pad_pairs()] + [[0, 0]])

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for i, p in enumerate(self._pad_pairs()):
            if out[i + 1] is not None:
                out[i + 1] += sum(p)
        return tuple(out)

    def get_config(self):
        c = super().get_config()
        c.update({"padding": self.padding, "data_format": self.data_format})
        return c


class ZeroPadding1D(_ZeroPadding):
    """Pads the steps axis with zeros (``keras.layers.ZeroPadding1D(padding=1, data_format=None)``).

    ``padding``: an int (both ends) or (before, after). (batch, steps, features) -> (batch, steps + before +
    after, features).

    Raises:
        ValueError: a bad ``padding`` or an input that is not rank 3.
    """

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        Layer.__init__(self, **kwargs)
        self.data_format = normalize_data_format(data_format, f"ZeroPadding1D '{self.name}'")
        self.padding = normalize_tuple(padding, 2, "padding", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)


class ZeroPadding2D(_ZeroPadding):
    """Pads rows and columns with zeros (``keras.layers.ZeroPadding2D``).

    ``padding``: an int (all sides), ``(symmetric_height, symmetric_width)``, or
    ``((top, bottom), (left, right))``. Input (batch, h, w, c) -> (batch, h + top + bottom,
    w + left + right, c).
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Pads the three spatial axes with zeros (``keras.layers.ZeroPadding3D``).

    ``padding``: an int (all sides), 3 ints (symmetric per axis), or 3 (before, after) pairs. Input
    (batch, d1, d2, d3, c) -> each spatial size grown by its pair's sum.
    """

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(Layer):
    """Cropping of the ``rank`` spatial axes of (batch, *spatial, channels); ``self.cropping`` holds one
    (before, after) pair per spatial axis."""

    rank = 2

    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.cropping = _pairs(cropping, "cropping", self.rank)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _crop_pairs(self):
        return self.cropping if self.rank > 1 else (self.cropping,)

    def _check(self, shape, what):
        if any(d is not None and sum(p) >= d for d, p in zip(shape[1:-1], self._crop_pairs())):
            raise ValueError(f"Values in `cropping` argument should be smaller than the corresponding spatial "
                             f"dimension of the input. Received: {what}={tuple(shape)}, cropping={self.cropping}")

    def call(self, inputs):
        self._check(inputs.shape, "inputs.shape")
        crops = tuple(slice(b, d - a) for d, (b, a) in zip(inputs.shape[1:-1], self._crop_pairs()))
        return inputs[(slice(None),) + crops + (slice(None),)]

    def compute_output_shape(self, input_shape):
        self._check(input_shape, "input_shape")
        return (input_shape[0], *(None if d is None else d - sum(p)
                                  for d, p in zip(input_shape[1:-1], self._crop_pairs())), input_shape[-1])

    def get_config(self):
        c = super().get_config()
        c.update({"cropping": self.cropping, "data_format": self.data_format})
        return c


class Cropping1D(_Cropping):
    """Crops the steps axis (``keras.layers.Cropping1D(cropping=(1, 1))``): an int (both ends) or (before, after).

    Raises:
        ValueError: crops that leave no step (Keras's message), or an input that is not rank 3.
    """

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        Layer.__init__(self, **kwargs)
        self.cropping = normalize_tuple(cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def _check(self, shape, what):
        if shape[1] is not None and sum(self.cropping) >= shape[1]:
            raise ValueError(f"`cropping` parameter of `Cropping1D` layer must be smaller than the input length. "
                             f"Received: {what}={tuple(shape)}, cropping={self.cropping}")

    def get_config(self):
        c = Layer.get_config(self)
        c["cropping"] = self.cropping
        return c


class Cropping2D(_Cropping):
    """Crops rows and columns (``keras.layers.Cropping2D``); ``cropping`` as ZeroPadding2D's ``padding``.

    Raises:
        ValueError: crops that leave nothing of a spatial axis (Keras's message).
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crops the three spatial axes (``keras.layers.Cropping3D``); ``cropping`` as ZeroPadding3D's ``padding``.

    Raises:
        ValueError: crops that leave nothing of a spatial axis (Keras's message), or an input that is not rank 5.
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)
