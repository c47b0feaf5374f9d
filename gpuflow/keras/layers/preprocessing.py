"""Preprocessing and augmentation layers that run inside the model (``keras.layers``): Rescaling, Normalization
(with ``adapt``), Resizing, CenterCrop, and the random augmentations RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomContrast, RandomBrightness and RandomCrop (RandomCrop crops the whole batch at one
place, as Keras).

Images are channels_last, (batch, height, width, channels) or one (height, width, channels) image. The random
layers transform only in training (``training=True``, which is also their default when called directly, as in
Keras 3; ``fit`` trains, ``predict``/``evaluate`` do not) and are the identity otherwise; each draws from its own
NumPy generator seeded by ``seed``, one draw per image. Their arithmetic runs in NumPy on the host and their
output carries no gradient (they sit at the input, as preprocessing does); the geometric ones sample with
TensorFlow's ``ImageProjectiveTransform`` rules (output pixel -> input coordinate, then the fill mode and the
interpolation), which Keras 3 uses.
"""
from __future__ import annotations

import numpy as np

from ...ops import math_ops as _m
from ...ops.core import convert_to_tensor
from ..utils.image_dataset import resize as _resize, smart_resize as _smart_resize
from .base import Layer


def _plain(value):
    """A config value as Keras writes it: floats stay floats, arrays become (nested) lists."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if hasattr(value, "numpy"):
        return value.numpy().tolist()
    return value


class Rescaling(Layer):
    """``inputs * scale + offset`` (``keras.layers.Rescaling``), e.g. ``Rescaling(1./255)`` for images.

    ``scale`` and ``offset`` are numbers or per-channel sequences broadcast against the last
    axis. Integer inputs (uint8 images) are cast to the layer dtype first, as Keras does.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _plain(scale)
        self.offset = _plain(offset)

    def call(self, inputs):
        x = inputs if inputs.dtype.name == self.dtype else _m.cast(inputs, self.dtype)
        scale = convert_to_tensor(np.asarray(self.scale, dtype=self.dtype))
        offset = convert_to_tensor(np.asarray(self.offset, dtype=self.dtype))
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"scale": self.scale, "offset": self.offset})
        return c


def _images(inputs, dtype="float32"):
    """The input as a float NumPy batch (b, h, w, c), and whether it was one unbatched image.

    Raises:
        ValueError: an input that is not rank 3 or 4.
    """
    x = np.asarray(inputs.numpy() if hasattr(inputs, "numpy") else inputs, dtype=dtype)
    if x.ndim not in (3, 4):
        raise ValueError(f"Expected an image (height, width, channels) or a batch of them (rank 4). "
                         f"Received: inputs.shape={x.shape}")
    return (x[None], True) if x.ndim == 3 else (x, False)


def _out(batch, single):
    return convert_to_tensor(batch[0] if single else batch)


def _check_size(value, arg):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    return int(value)


def adapt_batches(data, steps=None):
    """The batches of an ``adapt`` call's ``data``, as NumPy arrays: an array or Tensor is one batch; a
    ``gpuflow.data.Dataset`` or another iterable yields them (the first element of a tuple), at most ``steps``."""
    from ...data import Dataset
    if isinstance(data, Dataset) or not hasattr(data, "shape"):
        batches = (b[0] if isinstance(b, tuple) else b
                   for b in (data.as_numpy_iterator() if isinstance(data, Dataset) else data))
    else:
        batches = [data]
    for i, batch in enumerate(batches):
        if steps is not None and i >= steps:
            return
        yield np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch)


class Normalization(Layer):
    """Standardizes features: ``(inputs - mean) / sqrt(variance)`` (``keras.layers.Normalization``).

    ``mean`` and ``variance`` are given, or learned by :meth:`adapt` from data (then they are the non-trainable
    weights ``mean``, ``variance`` and ``count``, Keras's). The statistics are per index of the kept ``axis``
    (default -1: per feature), over every other axis; the divisor is at least 1e-7.

    Args:
        axis: int, tuple of ints, or None (one scalar mean and variance).
        mean, variance: optional values, scalars or broadcastable to the kept axes.
        invert: compute ``mean + inputs * sqrt(variance)`` instead (undo the normalization).

    Raises:
        ValueError: only one of mean/variance; an axis out of range or of unknown size (Keras's messages);
            calling before ``adapt`` or ``build`` without mean and variance.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(f"When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)
        self.mean = self.variance = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with ndim={ndim}, "
                             f"while axis={self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                                 f"inputs.shape={tuple(input_shape)}, with unknown axis at index {d}")
        self._build_input_shape = tuple(input_shape)
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1 for d in range(ndim)]
        shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=shape, initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=shape, initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int32", initializer="zeros", trainable=False)
        self.built = True
        self._finalize()

    def _finalize(self):
        if self.input_mean is None:
            mean, variance = self.adapt_mean.numpy(), self.adapt_variance.numpy()
        else:
            mean, variance = np.asarray(self.input_mean, self.dtype), np.asarray(self.input_variance, self.dtype)
        self.mean = np.broadcast_to(np.reshape(mean, self._broadcast_shape) if mean.ndim else mean,
                                    self._broadcast_shape).astype(self.dtype)
        self.variance = np.broadcast_to(np.reshape(variance, self._broadcast_shape) if variance.ndim else variance,
                                        self._broadcast_shape).astype(self.dtype)

    def adapt(self, data, batch_size=None, steps=None):
        """Learns ``mean`` and ``variance`` from ``data``: an array or Tensor, or a Dataset / iterable of batches
        (merged batch by batch with Keras's running formulas).

        Raises:
            ValueError: data whose kept axes differ from the layer's (Keras's message).
        """
        batches = adapt_batches(data)
        total_mean = total_var = None
        total_count = 0
        for batch in batches:
            batch = np.asarray(batch, np.float64)
            if not self.built:
                self.build((None,) + batch.shape[1:] if batch.ndim else batch.shape)
            for d in self._keep_axis:
                if batch.shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() "
                                     f"is being called with data with an incompatible shape, data.shape={batch.shape}")
            mean, var = batch.mean(axis=self._reduce_axis), batch.var(axis=self._reduce_axis)
            count = int(np.prod([batch.shape[d] for d in self._reduce_axis]))
            if total_mean is None:
                total_mean, total_var, total_count = mean, var, count
                continue
            total_count += count
            w = count / total_count
            new_mean = total_mean * (1 - w) + mean * w
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w) + (var + (mean - new_mean) ** 2) * w
            total_mean = new_mean
        self.adapt_mean.assign(np.asarray(total_mean, self.dtype))
        self.adapt_variance.assign(np.asarray(total_var, self.dtype))
        self._finalize()

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._finalize()

    def call(self, inputs):
        if self.mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        x = inputs if inputs.dtype.name == self.dtype else _m.cast(inputs, self.dtype)
        scale = convert_to_tensor(np.maximum(np.sqrt(self.variance), 1e-7))
        mean = convert_to_tensor(self.mean)
        return mean + x * scale if self.invert else (x - mean) / scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"axis": self.axis, "invert": self.invert, "mean": np.array(self.input_mean).tolist(),
                  "variance": np.array(self.input_variance).tolist()})
        return c


class Resizing(Layer):
    """Resizes images to (height, width) (``keras.layers.Resizing``), with ``tf.image.resize``'s rules.

    Args:
        height, width: the output size.
        interpolation: "bilinear" or "nearest".
        crop_to_aspect_ratio: centre-crop to the target aspect ratio first (no distortion).

    Raises:
        ValueError: a non-positive size. NotImplementedError: ``pad_to_aspect_ratio``, ``antialias``, other
            interpolations.
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode="constant", fill_value=0.0, antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = _check_size(height, "height"), _check_size(width, "width")
        if interpolation not in ("bilinear", "nearest"):
            raise NotImplementedError(f"Resizing: only interpolation='bilinear' or 'nearest' is supported in gpuflow. "
                                      f"Received: interpolation={interpolation!r}")
        for arg, v in (("pad_to_aspect_ratio", pad_to_aspect_ratio), ("antialias", antialias),
                       ("data_format", data_format not in (None, "channels_last"))):
            if v:
                raise NotImplementedError(f"Resizing: `{arg}` is not supported in gpuflow.")
        self.interpolation, self.crop_to_aspect_ratio = interpolation, bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio, self.fill_mode, self.fill_value = False, fill_mode, fill_value
        self.antialias, self.data_format = False, "channels_last"

    def call(self, inputs):
        x, single = _images(inputs, self.dtype)
        fn = _smart_resize if self.crop_to_aspect_ratio else _resize
        return _out(np.stack([fn(im, (self.height, self.width), self.interpolation) for im in x]), single)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-3]) + (self.height, self.width, input_shape[-1])

    def get_config(self):
        c = super().get_config()
        c.update({"height": self.height, "width": self.width, "interpolation": self.interpolation,
                  "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": False,
                  "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": False,
                  "data_format": self.data_format})
        return c


class _Crop:
    """What CenterCrop and RandomCrop share: a (height, width) output, saved with the data format."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-3]) + (self.height, self.width, input_shape[-1])

    def get_config(self):
        c = super().get_config()
        c.update({"height": self.height, "width": self.width, "data_format": self.data_format})
        return c


class CenterCrop(_Crop, Layer):
    """The centred (height, width) crop of images (``keras.layers.CenterCrop``); an image smaller than that is
    resized up instead (Keras's ``smart_resize``: the centred crop of the target aspect ratio, bilinear)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = _check_size(height, "height"), _check_size(width, "width")
        self.data_format = "channels_last"

    def call(self, inputs):
        h, w = inputs.shape[-3], inputs.shape[-2]
        if h >= self.height and w >= self.width:  # a slice: differentiable
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return inputs[..., top:top + self.height, left:left + self.width, :]
        x, single = _images(inputs, self.dtype)
        return _out(np.stack([_smart_resize(im, (self.height, self.width)) for im in x]), single)


# -- random augmentation ---------------------------------------------------------------------------------------
_FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _factor_range(factor, arg, lower_bound=-1.0):
    """Keras 3.15's ``_set_factor``: a number f in [lower_bound, 1] gives (max(-|f|, lower_bound), |f|), a pair is
    sorted.

    Raises:
        ValueError: a number out of [lower_bound, 1], a pair that is not two numbers or lies outside that range
            (Keras's message).
    """
    message = (f"The `{arg}` argument should be a number (or a list of two numbers) in the range "
               f"[{lower_bound}, 1.0]. Received: {arg}={factor}")
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2 or factor[0] > 1 or factor[1] < lower_bound:
            raise ValueError(message)
        lo, hi = sorted(factor)
    elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
        if not lower_bound <= factor <= 1:
            raise ValueError(message)
        lo, hi = max(-abs(factor), lower_bound), abs(factor)
    else:
        raise ValueError(message)
    return float(lo), float(hi)


def _map_coordinate(c, size, mode):
    """TF's ``map_coordinate`` for the fill modes: a continuous coordinate outside [0, size - 1] mapped inside
    (reflect: half-sample symmetric; wrap: periodic); "constant" and "nearest" leave it (handled at sampling)."""
    if mode == "reflect":
        if size <= 1:
            return np.zeros_like(c)
        period = 2 * size
        c = np.mod(c + 0.5, period) - 0.5
        return np.clip(np.where(c > size - 0.5, period - 1 - c, c), 0, size - 1)
    if mode == "wrap":  # TF's formula, divisions by size - 1 included
        if size <= 1:
            return np.zeros_like(c)
        period = size - 1
        wrapped = np.where(c < 0, c + size * (np.trunc(-c / period) + 1),
                           np.where(c > size - 1, c - size * np.trunc(c / period), c))
        return np.clip(wrapped, 0, size - 1)
    return c


def _affine(image, matrix, interpolation, fill_mode, fill_value):
    """Samples (h, w, c) ``image`` at ``(x_in, y_in) = (a0 x + a1 y + a2, b0 x + b1 y + b2)`` for every output
    pixel (x, y), as TF's ImageProjectiveTransformV3 (``matrix`` = [a0, a1, a2, b0, b1, b2])."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    a0, a1, a2, b0, b1, b2 = matrix
    x_in = _map_coordinate(a0 * xs + a1 * ys + a2, w, fill_mode)
    y_in = _map_coordinate(b0 * xs + b1 * ys + b2, h, fill_mode)

    def read(yi, xi):
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        vals = image[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return vals if fill_mode == "nearest" else np.where(inside[..., None], vals, fill_value)
    if interpolation == "nearest":
        def nearest(c):  # std::round: halves away from zero
            return (np.sign(c) * np.floor(np.abs(c) + 0.5)).astype(int)
        return read(nearest(y_in), nearest(x_in))
    y0, x0 = np.floor(y_in).astype(int), np.floor(x_in).astype(int)
    wy, wx = (y_in - y0)[..., None], (x_in - x0)[..., None]
    top = read(y0, x0) * (1 - wx) + read(y0, x0 + 1) * wx
    bottom = read(y0 + 1, x0) * (1 - wx) + read(y0 + 1, x0 + 1) * wx
    return (top * (1 - wy) + bottom * wy).astype(image.dtype)


class _RandomLayer(Layer):
    """A random augmentation: per-image parameters from a NumPy generator seeded by ``seed``, applied in training
    only (``training=None`` counts as training, Keras 3's default for these layers)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def call(self, inputs, training=True):
        if training is False:
            return inputs
        x, single = _images(inputs, self.dtype)
        return _out(np.stack([self._augment(im) for im in x]), single)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c["seed"] = self.seed
        return c


class _AffineLayer(_RandomLayer):
    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        if fill_mode not in _FILL_MODES:
            raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one {_FILL_MODES}.")
        if interpolation not in ("bilinear", "nearest"):
            raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of one "
                                      "('bilinear', 'nearest').")
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)
        self.data_format = "channels_last"

    def _augment(self, image):
        return _affine(image, self._matrix(*image.shape[:2]), self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        c = super().get_config()
        c.update({"fill_mode": self.fill_mode, "interpolation": self.interpolation, "fill_value": self.fill_value,
                  "data_format": self.data_format})
        return c


class RandomFlip(_RandomLayer):
    """Flips each image left-right and/or up-down with probability 1/2 each (``keras.layers.RandomFlip``).

    Args:
        mode: "horizontal", "vertical" or "horizontal_and_vertical".

    Raises:
        ValueError: another mode (Keras's message).
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip layer {self.name} received an unknown mode argument {mode}")
        self.mode, self.data_format = mode, "channels_last"

    def _augment(self, image):
        if self.mode != "vertical" and self._rng.random() < 0.5:
            image = image[:, ::-1]
        if self.mode != "horizontal" and self._rng.random() < 0.5:
            image = image[::-1]
        return image

    def get_config(self):
        c = super().get_config()
        c.update({"mode": self.mode, "data_format": self.data_format})
        return c


class RandomRotation(_AffineLayer):
    """Rotates each image by a random angle (``keras.layers.RandomRotation``).

    Args:
        factor: a fraction of a full turn: f draws from [-f, f] * 2 pi, (lo, hi) from [lo, hi] * 2 pi
            (counter-clockwise for positive values).
        fill_mode: "reflect", "wrap", "constant" (``fill_value``) or "nearest" for pixels from outside.
        interpolation: "bilinear" or "nearest".
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._range = _factor_range(factor, "factor")
        self.factor, self.value_range = self._range, value_range  # Keras keeps the range as `factor`

    def _matrix(self, h, w):
        angle = self._rng.uniform(*self._range) * 2.0 * np.pi
        cos, sin = np.cos(angle), np.sin(angle)
        x_offset = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
        y_offset = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
        return cos, -sin, x_offset, sin, cos, y_offset

    def get_config(self):
        c = super().get_config()
        c["factor"] = self.factor
        return c


class RandomZoom(_AffineLayer):
    """Zooms each image in or out by a random amount (``keras.layers.RandomZoom``).

    Args:
        height_factor: f draws from [-f, f], (lo, hi) from [lo, hi]; a positive value zooms out (the image gets
            smaller by that fraction), a negative one zooms in.
        width_factor: the same for the width, or None to keep the aspect ratio (the height's zoom).
        fill_mode, interpolation, fill_value: as RandomRotation.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h_range = _factor_range(height_factor, "height_factor")
        self._w_range = None if width_factor is None else _factor_range(width_factor, "width_factor")

    def _matrix(self, h, w):
        zoom_h = 1.0 + self._rng.uniform(*self._h_range)
        zoom_w = zoom_h if self._w_range is None else 1.0 + self._rng.uniform(*self._w_range)
        return zoom_w, 0.0, (w - 1.0) / 2.0 * (1.0 - zoom_w), 0.0, zoom_h, (h - 1.0) / 2.0 * (1.0 - zoom_h)

    def get_config(self):
        c = super().get_config()
        c.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return c


class RandomTranslation(_AffineLayer):
    """Shifts each image by a random fraction of its size (``keras.layers.RandomTranslation``).

    Args:
        height_factor, width_factor: f draws from [-f, f], (lo, hi) from [lo, hi], times the height (width);
            positive values shift down (right).
        fill_mode, interpolation, fill_value: as RandomRotation.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h_range = _factor_range(height_factor, "height_factor")
        self._w_range = _factor_range(width_factor, "width_factor")

    def _matrix(self, h, w):
        dy = self._rng.uniform(*self._h_range) * h
        dx = self._rng.uniform(*self._w_range) * w
        return 1.0, 0.0, -dx, 0.0, 1.0, -dy

    def get_config(self):
        c = super().get_config()
        c.update({"height_factor": self.height_factor, "width_factor": self.width_factor})
        return c


class RandomContrast(_RandomLayer):
    """Scales each image's contrast by a random factor (``keras.layers.RandomContrast``):
    ``(x - mean) * c + mean`` with the per-channel mean over height and width, clipped to ``value_range``.

    Args:
        factor: a pair (lo, hi) in [0, 1] draws c from [1 - lo, 1 + hi]. A number f is the pair (0, f), so c is
            in [1, 1 + f]: that is what Keras 3.15 computes (its ``_set_factor`` clips -f at the lower bound 0),
            although its documentation says [1 - f, 1 + f]; pass (f, f) for that.
        value_range: the (min, max) of the pixel values.

    Raises:
        ValueError: a factor out of [0, 1] (Keras's message).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        lo, hi = _factor_range(factor, "factor", lower_bound=0.0)
        self.factor, self._range, self.value_range = (lo, hi), (1.0 - lo, 1.0 + hi), tuple(value_range)
        self.data_format = "channels_last"

    def _augment(self, image):
        c = self._rng.uniform(*self._range)
        mean = image.mean(axis=(0, 1), keepdims=True)
        return np.clip((image - mean) * c + mean, *self.value_range).astype(image.dtype)

    def get_config(self):
        c = super().get_config()
        c.update({"factor": self.factor, "value_range": self.value_range, "data_format": self.data_format})
        return c


class RandomBrightness(_RandomLayer):
    """Shifts each image's brightness by a random amount (``keras.layers.RandomBrightness``): adds
    ``delta * (value_range[1] - value_range[0])``, one ``delta`` drawn from the ``factor`` range per image (the same
    for all its pixels and channels), then clips to ``value_range``.

    Args:
        factor: a number f in [-1, 1] draws from [-|f|, |f|]; a pair (lo, hi) from [lo, hi].
        value_range: the (min, max) of the pixel values, (0, 255) by default; kept sorted, as a list.

    Raises:
        ValueError: a factor out of [-1, 1] or a ``value_range`` that is not two numbers (Keras's messages).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_range(factor, "factor")
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"The `value_range` argument should be a list of two numbers. "
                             f"Received: value_range={value_range}")
        self.value_range = sorted(value_range)
        self.data_format = "channels_last"

    def _augment(self, image):
        delta = self._rng.uniform(*self.factor) * (self.value_range[1] - self.value_range[0])
        return np.clip(image + np.asarray(delta, image.dtype), *self.value_range).astype(image.dtype)

    def get_config(self):
        c = super().get_config()
        c.update({"data_format": self.data_format, "factor": self.factor, "value_range": self.value_range})
        return c


class RandomCrop(_Crop, _RandomLayer):
    """Crops images to (height, width) at a random place in training (``keras.layers.RandomCrop``); the input is
    returned unchanged otherwise (Keras 3.15's behaviour; ``compute_output_shape`` still says (height, width)).

    In training, as Keras 3.15: for an input larger than the target on both axes, one random top-left corner for
    the whole batch (uniform over the valid ones); otherwise the slice at the centred offsets of the target
    aspect ratio, resized (bilinear) to (height, width) when it is smaller. A batch (b, h, w, c) or one image
    (h, w, c); the output in the layer's dtype. The slice is differentiable; the resize runs on the host.

    Its config's ``seed`` is a random int when none is given, as Keras's ``make_default_seed``.

    Raises:
        ValueError: a non-positive ``height``/``width``, or an input that is not rank 3 or 4.
    """

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(seed=seed, name=name, **kwargs)
        self.height, self.width = _check_size(height, "height"), _check_size(width, "width")
        if seed is None:
            self.seed = int(np.random.default_rng().integers(0, 2 ** 30))
        self.data_format = "channels_last"

    def call(self, inputs, training=True):
        if training is False:
            return inputs
        if inputs.ndim not in (3, 4):
            raise ValueError(f"Expected an image (height, width, channels) or a batch of them (rank 4). "
                             f"Received: inputs.shape={tuple(inputs.shape)}")
        h, w = inputs.shape[-3], inputs.shape[-2]
        if h > self.height and w > self.width:
            top = int(self._rng.uniform(0, h - self.height + 1))
            left = int(self._rng.uniform(0, w - self.width + 1))
        else:
            crop_h = max(min(h, int(w * self.height / self.width)), 1)
            crop_w = max(min(w, int(h * self.width / self.height)), 1)
            top, left = int((h - crop_h) / 2), int((w - crop_w) / 2)
        x = inputs if inputs.dtype.name == self.compute_dtype else _m.cast(inputs, self.compute_dtype)
        x = x[..., top:top + self.height, left:left + self.width, :]
        if tuple(x.shape[-3:-1]) == (self.height, self.width):
            return x
        batch, single = _images(x, self.compute_dtype)
        return _out(np.stack([_resize(im, (self.height, self.width)) for im in batch]), single)

