"""``gpuflow.image``: the image operations of ``tf.image`` (TensorFlow 2.21, ``tensorflow/python/ops/image_ops_impl.py``
and the kernels under ``tensorflow/core/kernels/image/``) on gpuflow Tensors.

Images are NHWC: one image (height, width, channels) or a batch (batch, height, width, channels). Every operation
is built from gpuflow ops, so it runs on every backend and differentiates through the tape wherever TensorFlow's
does (resizing, crops, pads, flips, rotations, colour adjustments, standardisation, PSNR, SSIM, ...).

Resizing follows TensorFlow 2's kernels number for number (to float32 rounding): ``bilinear`` and ``bicubic``
with half-pixel centres (``ResizeBilinear``/``ResizeBicubic``: Keys' cubic with a = -0.5 from its 1024-entry
table, taps outside the image dropped and the rest renormalised), ``nearest`` (``floor((i + 0.5) * in / out)``),
``area`` (``ResizeArea``: the overlap of each output cell with the input pixels) and the ``ScaleAndTranslate``
kernels (``lanczos3``, ``lanczos5``, ``gaussian``, ``mitchellcubic``, and ``bilinear``/``bicubic`` with
``antialias=True``). Each axis is one (out, in) weight matrix, applied with ``tensordot``.

Random operations take ``seed`` as :mod:`gpuflow.random` does (an op seed makes one call reproducible; the global
seed of ``gpuflow.random.set_seed`` makes the sequence reproducible); the ``stateless_random_*`` forms take a pair
of ints that alone fixes the draw. Their draws are not TensorFlow's bits.
"""
from __future__ import annotations

import functools
import math as _math

import numpy as np

from . import dtypes as _dtypes
from . import random as _random
from ._unsupported import module_getattr
from .errors import InvalidArgumentError
from .keras.layers.reshaping import resize_bilinear
from .keras.ops import image as _keras_image
from .ops import array_ops as A
from .ops import linalg_ops as L
from .ops import math_ops as M
from .ops.core import convert_to_tensor
from .tensor import Tensor

__all__ = [
    "ResizeMethod", "resize", "resize_with_pad", "resize_with_crop_or_pad", "flip_left_right", "flip_up_down",
    "random_flip_left_right", "random_flip_up_down", "rot90", "transpose", "central_crop", "crop_to_bounding_box",
    "pad_to_bounding_box", "random_crop", "extract_patches", "convert_image_dtype", "per_image_standardization",
    "adjust_brightness", "adjust_contrast", "adjust_gamma", "adjust_saturation", "adjust_hue", "random_brightness",
    "random_contrast", "random_saturation", "random_hue", "rgb_to_grayscale", "grayscale_to_rgb", "rgb_to_hsv",
    "hsv_to_rgb", "rgb_to_yuv", "yuv_to_rgb", "rgb_to_yiq", "yiq_to_rgb", "stateless_random_flip_left_right",
    "stateless_random_flip_up_down", "stateless_random_crop", "stateless_random_brightness",
    "stateless_random_contrast", "stateless_random_saturation", "stateless_random_hue", "image_gradients",
    "total_variation", "psnr", "ssim", "sobel_edges",
]


# -- argument checks ----------------------------------------------------------------------------------------------
def _tensor(x, arg):
    if isinstance(x, Tensor):
        return x
    try:
        return convert_to_tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"Expected a tensor, NumPy array or nested list of numbers. Received: {arg}={x!r}") from e


def _image(image, arg="image"):
    """``image`` as a Tensor of rank 3 or 4.

    Raises:
        ValueError: another rank (TensorFlow's message, with the shape received).
    """
    x = _tensor(image, arg)
    if x.ndim not in (3, 4):
        raise ValueError(f"'{arg}' must have either 3 or 4 dimensions: (height, width, channels) or (batch, height, "
                         f"width, channels). Received: {arg}.shape={tuple(x.shape)}")
    return x


def _batched(x):
    """(a batch, a function that undoes the batching)."""
    if x.ndim == 4:
        return x, lambda y: y
    return A.expand_dims(x, 0), lambda y: A.squeeze(y, 0)


def _int(value, arg):
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0 or float(value) != int(value):
        raise TypeError(f"Expected `{arg}` to be an integer. Received: {arg}={value!r}")
    return int(value)


def _positive(value, arg):
    value = _int(value, arg)
    if value <= 0:
        raise ValueError(f"{arg} must be > 0. Received: {arg}={value}")
    return value


def _float(value):
    return float(value.numpy()) if isinstance(value, Tensor) else float(value)


# -- resizing -----------------------------------------------------------------------------------------------------
class ResizeMethod:
    """The ``method`` names of :func:`resize` (``tf.image.ResizeMethod``)."""
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


_F = np.float32


def _nearest_rows(in_size, out_size):
    """``ResizeNearestNeighbor`` (half-pixel centres): ``min(floor((i + 0.5f) * (in / out)), in - 1)`` in float32."""
    src = (np.arange(out_size, dtype=_F) + _F(0.5)) * (_F(in_size) / _F(out_size))
    return np.minimum(np.floor(src).astype(np.int64), in_size - 1)


def _keys_table():
    """``ResizeBicubic``'s coefficient table (``InitCoeffsTable(-0.5)``): Keys' cubic at i / 1024 and 1 + i / 1024."""
    a = -0.5
    x = (np.arange(1025) / 1024.0).astype(_F).astype(np.float64)
    near = (((a + 2) * x - (a + 3)) * x * x + 1).astype(_F)
    x = (x.astype(_F) + _F(1)).astype(np.float64)
    far = ((((a * x - 5 * a) * x + 8 * a) * x) - 4 * a).astype(_F)
    return near, far


@functools.lru_cache(maxsize=64)  # a data pipeline resizes the same sizes again and again
def _bicubic_matrix(in_size, out_size):
    """``ResizeBicubic`` with half-pixel centres along one axis, as an (out, in) matrix: taps at floor(p) - 1 ..
    floor(p) + 2 weighted from the Keys table at ``rint(1024 * frac(p))``, taps outside the image dropped and the
    remaining weights renormalised (``GetWeightsAndIndices<HalfPixelScaler, true>``)."""
    near, far = _keys_table()
    p = (np.arange(out_size, dtype=_F) + _F(0.5)) * (_F(in_size) / _F(out_size)) - _F(0.5)
    base = np.floor(p)
    offset = np.rint((p - base) * _F(1024)).astype(np.int64)
    base = base.astype(np.int64)
    taps = base[:, None] + np.arange(-1, 3)
    w = np.stack([far[offset], near[offset], near[1024 - offset], far[1024 - offset]], axis=1)
    inside = (taps >= 0) & (taps < in_size)
    w = np.where(inside, w, _F(0))
    total = w.sum(axis=1, dtype=_F, keepdims=True)
    w = np.where(np.abs(total) >= 1000 * np.finfo(_F).tiny, w * (_F(1) / np.where(total == 0, 1, total)), w)
    return _scatter_matrix(np.clip(taps, 0, in_size - 1), w, in_size)


@functools.lru_cache(maxsize=64)
def _area_matrix(in_size, out_size):
    """``ResizeArea`` along one axis: output cell i covers [i * s, (i + 1) * s) of the input (s = in / out in
    float32); each input pixel weighs its overlap with that interval, the sum divided by s."""
    s = _F(in_size) / _F(out_size)
    out = np.zeros((out_size, in_size), np.float64)
    for i in range(out_size):
        lo, hi = _F(i) * s, _F(i + 1) * s
        for j in range(int(np.floor(lo)), int(np.ceil(hi))):
            if j < lo:
                share = s if j + 1 > hi else _F(j + 1) - lo
            else:
                share = hi - _F(j) if j + 1 > hi else _F(1)
            out[i, min(max(j, 0), in_size - 1)] += share
    return _frozen((out / s).astype(_F))


def _lanczos(radius):
    def kernel(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            v = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius) / (np.pi * np.pi * x * x)
        return np.where(x > radius, 0.0, np.where(x <= 1e-3, 1.0, v))
    return kernel, float(radius)


def _cubic(b3, b2, b1, b0, c3, c2, c0):
    """A piecewise cubic of radius 2: ``((b3 x + b2) x + b1) x + b0`` on [1, 2), ``(c3 x + c2) x^2 + c0`` on [0, 1)."""
    def kernel(x):
        return np.where(x >= 2, 0.0, np.where(x >= 1, ((b3 * x + b2) * x + b1) * x + b0, (c3 * x + c2) * x * x + c0))
    return kernel, 2.0


# ScaleAndTranslate's kernels (tensorflow/core/kernels/image/sampling_kernels.h), functions of |x|.
_KERNELS = {
    "lanczos3": _lanczos(3),
    "lanczos5": _lanczos(5),
    "gaussian": (lambda x: np.where(x >= 1.5, 0.0, np.exp(-x * x / (2.0 * 0.5 * 0.5))), 1.5),
    "triangle": (lambda x: np.where(x < 1.0, 1.0 - x, 0.0), 1.0),
    "keyscubic": _cubic(-0.5, 2.5, -4.0, 2.0, 1.5, -2.5, 1.0),
    "mitchellcubic": _cubic(-7.0 / 18.0, 2.0, -10.0 / 3.0, 16.0 / 9.0, 7.0 / 6.0, -2.0, 8.0 / 9.0),
}


@functools.lru_cache(maxsize=64)
def _scale_translate_matrix(kernel_name, in_size, out_size, antialias):
    """``ScaleAndTranslate`` (no translation) along one axis (``ComputeSpansCore``): output pixel i samples the
    input at p = (i + 0.5) / scale; input pixel j weighs ``kernel((j + 0.5 - p) / ks)`` for j within the kernel's
    radius * ks of p (ks = max(1 / scale, 1) with ``antialias``, else 1), the weights normalised to sum to 1."""
    kernel, radius = _KERNELS[kernel_name]
    inv_scale = _F(1.0 / (_F(out_size) / _F(in_size)))
    ks = max(inv_scale, _F(1)) if antialias else _F(1)
    p = (np.arange(out_size, dtype=_F) + _F(0.5)) * inv_scale
    reach = _F(radius) * ks
    start = np.clip(np.ceil(p - reach - _F(0.5)), 0, in_size - 1).astype(np.int64)
    end = np.clip(np.floor(p + reach - _F(0.5)), 0, in_size - 1).astype(np.int64) + 1
    span = int((end - start).max())
    taps = start[:, None] + np.arange(span)
    valid = taps < end[:, None]
    w = kernel(np.abs((taps.astype(_F) + _F(0.5) - p[:, None]) * (_F(1) / ks)).astype(np.float64)).astype(_F)
    w = np.where(valid, w, _F(0))
    total = w.sum(axis=1, dtype=_F, keepdims=True)
    w = np.where(np.abs(total) >= 1000 * np.finfo(_F).tiny, w * (_F(1) / np.where(total == 0, 1, total)), _F(0))
    return _scatter_matrix(np.minimum(taps, in_size - 1), w, in_size)


def _scatter_matrix(taps, weights, in_size):
    out = np.zeros((taps.shape[0], in_size), np.float64)
    np.add.at(out, (np.repeat(np.arange(taps.shape[0]), taps.shape[1]), taps.ravel()), weights.ravel())
    return _frozen(out.astype(_F))


def _frozen(matrix):
    """A read-only weight matrix: the builders are cached, so their results are shared."""
    matrix.setflags(write=False)
    return matrix


def _apply_axis(x, matrix, axis):
    """``x`` (N, H, W, C) with ``axis`` (1 or 2) mapped through the (out, in) ``matrix``: a tensordot, so the
    gradient is the transposed matrix."""
    y = L.tensordot(x, convert_to_tensor(np.ascontiguousarray(matrix.T).astype(x.dtype.as_numpy_dtype)),
                    axes=[[axis], [0]])
    return A.transpose(y, (0, 3, 1, 2) if axis == 1 else (0, 1, 3, 2))


_METHODS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")


def _resize4(x, oh, ow, method, antialias):
    """A batch resized by ``method`` (a :class:`ResizeMethod` name), as TensorFlow 2's ``resize_fn``."""
    h, w = x.shape[1], x.shape[2]
    if method == "nearest":  # the images' dtype, as ResizeNearestNeighbor
        return A.gather(A.gather(x, convert_to_tensor(_nearest_rows(h, oh)), axis=1),
                        convert_to_tensor(_nearest_rows(w, ow)), axis=2)
    x = x if x.dtype == _dtypes.float32 else M.cast(x, "float32")  # every other kernel outputs float32
    if method == "bilinear" and not antialias:
        return resize_bilinear(x, (oh, ow))
    if method == "bicubic" and not antialias:
        rows, cols = _bicubic_matrix(h, oh), _bicubic_matrix(w, ow)
    elif method == "area":
        rows, cols = _area_matrix(h, oh), _area_matrix(w, ow)
    else:
        kernel = {"bilinear": "triangle", "bicubic": "keyscubic"}.get(method, method)
        rows = _scale_translate_matrix(kernel, h, oh, antialias)
        cols = _scale_translate_matrix(kernel, w, ow, antialias)
    return _apply_axis(_apply_axis(x, cols, 2), rows, 1)


def _size_pair(size):
    if isinstance(size, Tensor):
        size = size.numpy()
    try:
        pair = [int(v) for v in np.asarray(size).reshape(-1)]
        ok = len(pair) == 2 and all(float(a) == b for a, b in zip(np.asarray(size).reshape(-1), pair))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"'size' must be a 1-D Tensor of 2 integers: new_height, new_width. Received: size={size!r}")
    return pair


def resize(images, size, method=ResizeMethod.BILINEAR, preserve_aspect_ratio=False, antialias=False, name=None):
    """``tf.image.resize``: images resized to ``size`` = (new_height, new_width).

    Args:
        images: (height, width, channels) or (batch, height, width, channels), any real dtype.
        size: two positive ints (a list, tuple, array or Tensor).
        method: a :class:`ResizeMethod` name: ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"``,
            ``"lanczos3"``, ``"lanczos5"``, ``"gaussian"`` or ``"mitchellcubic"``.
        preserve_aspect_ratio: fit inside ``size`` keeping the aspect ratio (the scale is the smaller of the two
            ratios; each side is rounded half to even, as TensorFlow).
        antialias: for downsampling with ``bilinear``, ``bicubic`` and the ScaleAndTranslate kernels, widen the
            kernel by the downscale factor (ignored by ``nearest`` and ``area``, as TensorFlow).

    Returns:
        The resized images: float32, except ``nearest``, which keeps the images' dtype. Differentiable for
        floating images.

    Raises:
        ValueError: a rank other than 3 or 4, a ``size`` that is not two integers, an unknown ``method``.
        InvalidArgumentError: a size entry that is not positive.
    """
    x = _image(images, "images")
    oh, ow = _size_pair(size)
    method = getattr(method, "value", method)
    if method not in _METHODS:
        raise ValueError(f"Resize method is not implemented. Expected one of {_METHODS}. Received: "
                         f"method={method!r}")
    h, w = x.shape[-3], x.shape[-2]
    if preserve_aspect_ratio:
        factor = min(_F(oh) / _F(h), _F(ow) / _F(w))
        oh, ow = int(np.round(factor * _F(h))), int(np.round(factor * _F(w)))
    if oh <= 0 or ow <= 0:
        raise InvalidArgumentError(None, None, f"resize: output dimensions must be positive. Received: "
                                               f"size={[oh, ow]}")
    x, undo = _batched(x)
    return undo(_resize4(x, oh, ow, method, bool(antialias)))


def resize_with_pad(image, target_height, target_width, method=ResizeMethod.BILINEAR, antialias=False):
    """``tf.image.resize_with_pad``: the image resized to fit (target_height, target_width) with its aspect ratio
    kept (each side floored), then zero-padded evenly (the odd pixel at the bottom/right) to that size. Float32
    (the dtype of :func:`resize`).

    Raises:
        ValueError: a rank other than 3 or 4, or a target that is not positive.
    """
    x = _image(image)
    th, tw = _positive(target_height, "target_height"), _positive(target_width, "target_width")
    h, w = _F(x.shape[-3]), _F(x.shape[-2])
    ratio = max(w / _F(tw), h / _F(th))
    rh, rw = h / ratio, w / ratio
    resized = resize(x, [int(np.floor(rh)), int(np.floor(rw))], method, antialias=antialias)
    pad_h = max(0, int(np.floor((_F(th) - rh) / _F(2))))
    pad_w = max(0, int(np.floor((_F(tw) - rw) / _F(2))))
    return pad_to_bounding_box(resized, pad_h, pad_w, th, tw)


def resize_with_crop_or_pad(image, target_height, target_width):
    """``tf.image.resize_with_crop_or_pad``: the image centre-cropped and/or zero-padded (centred; an odd pixel
    goes to the bottom/right when padding, to the top/left when cropping) to (target_height, target_width), in
    its dtype; differentiable.

    Raises:
        ValueError: a rank other than 3 or 4, or a target that is not positive.
    """
    x = _image(image)
    th, tw = _positive(target_height, "target_height"), _positive(target_width, "target_width")
    h, w = x.shape[-3], x.shape[-2]
    cropped = crop_to_bounding_box(x, max((h - th) // 2, 0), max((w - tw) // 2, 0), min(th, h), min(tw, w))
    return pad_to_bounding_box(cropped, max((th - h) // 2, 0), max((tw - w) // 2, 0), th, tw)


# -- geometry -----------------------------------------------------------------------------------------------------
def _spatial_axis(x, which):
    """The height (0) or width (1) axis of an image or a batch."""
    return x.ndim - 3 + which


def flip_left_right(image):
    """``tf.image.flip_left_right``: the columns of an image or of each image of a batch reversed; differentiable.

    Raises:
        ValueError: a rank other than 3 or 4.
    """
    x = _image(image)
    return A.reverse(x, [_spatial_axis(x, 1)])


def flip_up_down(image):
    """``tf.image.flip_up_down``: the rows reversed; differentiable.

    Raises:
        ValueError: a rank other than 3 or 4.
    """
    x = _image(image)
    return A.reverse(x, [_spatial_axis(x, 0)])


# -- random draws: stateful (gpuflow.random) or keyed by a seed pair (the stateless_ forms) -------------------------
class _PairSeed:
    """The ``seed`` of a ``stateless_random_*`` op: a pair of ints that alone fixes the draw (the same pair gives
    the same draw, whatever the global seed; not TensorFlow's bits)."""

    def __init__(self, seed):
        pair = np.asarray(seed.numpy() if isinstance(seed, Tensor) else seed).reshape(-1)
        if pair.shape != (2,) or pair.dtype.kind not in "iu":
            raise ValueError(f"seed must be a shape [2] Tensor (or pair) of integers. Received: seed={seed!r}")
        self.key = [int(v) % 2 ** 64 for v in pair]


def _uniform(shape, low, high, seed):
    """Float64 NumPy draws in [low, high): from :mod:`gpuflow.random` (``seed`` None or an op seed), or from a
    generator keyed by a :class:`_PairSeed`."""
    if isinstance(seed, _PairSeed):
        return np.random.default_rng(seed.key).uniform(low, high, shape)
    return _random.uniform(shape, low, high, dtype="float64", seed=seed).numpy()


def _random_flip(image, which, seed):
    x = _image(image)
    flipped = A.reverse(x, [_spatial_axis(x, which)])
    if x.ndim == 3:  # one draw: flip when it is below 0.5
        return flipped if float(_uniform([], 0.0, 1.0, seed)) < 0.5 else x
    flips = np.round(_uniform([x.shape[0]], 0.0, 1.0, seed)) > 0  # one draw per image, as TensorFlow
    mask = convert_to_tensor(np.broadcast_to(flips.reshape(-1, 1, 1, 1), tuple(x.shape)))
    return M.where(mask, flipped, x)


def random_flip_left_right(image, seed=None):
    """``tf.image.random_flip_left_right``: with probability 1/2 the image flipped left-right (each image of a
    batch decided on its own); ``seed`` as :mod:`gpuflow.random`. Differentiable.

    Raises:
        ValueError: a rank other than 3 or 4.
    """
    return _random_flip(image, 1, seed)


def random_flip_up_down(image, seed=None):
    """``tf.image.random_flip_up_down``: with probability 1/2 the image flipped upside down (each image of a batch
    decided on its own). Differentiable.

    Raises:
        ValueError: a rank other than 3 or 4.
    """
    return _random_flip(image, 0, seed)


def stateless_random_flip_left_right(image, seed):
    """``tf.image.stateless_random_flip_left_right``: :func:`random_flip_left_right` with the draws fixed by
    ``seed``, a pair of ints.

    Raises:
        ValueError: a rank other than 3 or 4, or a ``seed`` that is not two integers.
    """
    return _random_flip(image, 1, _PairSeed(seed))


def stateless_random_flip_up_down(image, seed):
    """``tf.image.stateless_random_flip_up_down``: :func:`random_flip_up_down` with the draws fixed by ``seed``, a
    pair of ints.

    Raises:
        ValueError: a rank other than 3 or 4, or a ``seed`` that is not two integers.
    """
    return _random_flip(image, 0, _PairSeed(seed))


def rot90(image, k=1, name=None):
    """``tf.image.rot90``: the image (or each image of a batch) rotated ``k`` quarter turns counter-clockwise
    (negative ``k`` turns clockwise); (h, w) becomes (w, h) for odd ``k``. Differentiable.

    Raises:
        ValueError: a rank other than 3 or 4. TypeError: ``k`` not an integer.
    """
    x = _image(image)
    k = _int(k, "k") % 4
    hw = (x.ndim - 3, x.ndim - 2)
    perm = list(range(x.ndim))
    perm[hw[0]], perm[hw[1]] = hw[1], hw[0]
    if k == 1:
        return A.transpose(A.reverse(x, [hw[1]]), perm)
    if k == 2:
        return A.reverse(x, list(hw))
    if k == 3:
        return A.reverse(A.transpose(x, perm), [hw[1]])
    return A.identity(x)


def transpose(image, name=None):
    """``tf.image.transpose``: height and width swapped; differentiable.

    Raises:
        ValueError: a rank other than 3 or 4.
    """
    x = _image(image)
    return A.transpose(x, (1, 0, 2) if x.ndim == 3 else (0, 2, 1, 3))


def _window(x, top, left, height, width):
    return A.getitem(x, (Ellipsis, slice(top, top + height), slice(left, left + width), slice(None)))


def central_crop(image, central_fraction):
    """``tf.image.central_crop``: the centred region of ``central_fraction`` (in (0, 1]) of each side: offsets
    ``int((side - side * fraction) / 2)`` on both ends. Differentiable.

    Raises:
        ValueError: a fraction outside (0, 1] (TensorFlow's message), a rank other than 3 or 4.
    """
    x = _image(image)
    fraction = _float(central_fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"central_fraction must be within (0, 1]. Received: central_fraction={central_fraction}")
    if fraction == 1.0:
        return x
    h, w = x.shape[-3], x.shape[-2]
    top, left = int((h - h * fraction) / 2), int((w - w * fraction) / 2)
    return _window(x, top, left, h - 2 * top, w - 2 * left)


def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """``tf.image.crop_to_bounding_box``: the (target_height, target_width) window whose top-left corner is at
    (offset_height, offset_width); differentiable.

    Raises:
        ValueError: a rank other than 3 or 4, a negative offset, a target that is not positive, or a box that
            does not fit in the image (TensorFlow's checks, with the values received).
    """
    x = _image(image)
    top, left = _int(offset_height, "offset_height"), _int(offset_width, "offset_width")
    th, tw = _int(target_height, "target_height"), _int(target_width, "target_width")
    h, w = x.shape[-3], x.shape[-2]
    for cond, message in ((left >= 0, f"offset_width must be >= 0. Received: offset_width={left}"),
                          (top >= 0, f"offset_height must be >= 0. Received: offset_height={top}"),
                          (tw > 0, f"target_width must be > 0. Received: target_width={tw}"),
                          (th > 0, f"target_height must be > 0. Received: target_height={th}"),
                          (w >= tw + left, f"width must be >= target + offset. Received: width={w}, "
                                           f"target_width={tw}, offset_width={left}"),
                          (h >= th + top, f"height must be >= target + offset. Received: height={h}, "
                                          f"target_height={th}, offset_height={top}")):
        if not cond:
            raise ValueError(message)
    return _window(x, top, left, th, tw)


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """``tf.image.pad_to_bounding_box``: the image placed at (offset_height, offset_width) in a zero image of
    (target_height, target_width); its dtype; differentiable.

    Raises:
        ValueError: a rank other than 3 or 4, a negative offset, or an image that does not fit (TensorFlow's
            checks, with the values received).
    """
    x = _image(image)
    top, left = _int(offset_height, "offset_height"), _int(offset_width, "offset_width")
    th, tw = _int(target_height, "target_height"), _int(target_width, "target_width")
    h, w = x.shape[-3], x.shape[-2]
    after_h, after_w = th - top - h, tw - left - w
    for cond, message in ((top >= 0, f"offset_height must be >= 0. Received: offset_height={top}"),
                          (left >= 0, f"offset_width must be >= 0. Received: offset_width={left}"),
                          (after_w >= 0, f"width must be <= target - offset. Received: width={w}, "
                                         f"target_width={tw}, offset_width={left}"),
                          (after_h >= 0, f"height must be <= target - offset. Received: height={h}, "
                                         f"target_height={th}, offset_height={top}")):
        if not cond:
            raise ValueError(message)
    return A.pad(x, [[0, 0]] * (x.ndim - 3) + [[top, after_h], [left, after_w], [0, 0]])


def random_crop(value, size, seed=None, name=None):
    """``tf.image.random_crop`` (TensorFlow's ``random_crop_ops``): a ``size`` block of ``value`` (any rank, one
    size per axis; pass a full axis to leave it uncropped) at an offset drawn uniformly per axis. Differentiable.

    Raises:
        ValueError: ``size`` not one integer per axis of ``value``.
        InvalidArgumentError: a size larger than ``value`` ("Need value.shape >= size", as TensorFlow).
    """
    x = _tensor(value, "value")
    sizes = [int(v) for v in np.asarray(size.numpy() if isinstance(size, Tensor) else size).reshape(-1)]
    if len(sizes) != x.ndim:
        raise ValueError(f"random_crop: `size` needs one entry per axis of `value`. Received: size={sizes} for "
                         f"value.shape={tuple(x.shape)}")
    if any(s > d or s < 0 for s, d in zip(sizes, x.shape)):
        raise InvalidArgumentError(None, None, f"Need value.shape >= size, got value.shape={tuple(x.shape)}, "
                                               f"size={sizes}")
    limit = np.asarray(x.shape, np.int64) - np.asarray(sizes, np.int64) + 1
    offset = np.minimum(np.floor(_uniform([x.ndim], 0.0, 1.0, seed) * limit).astype(np.int64), limit - 1)
    return A.getitem(x, tuple(slice(int(o), int(o) + s) for o, s in zip(offset, sizes)))


def stateless_random_crop(value, size, seed, name=None):
    """``tf.image.stateless_random_crop``: :func:`random_crop` with the offsets fixed by ``seed``, a pair of ints.

    Raises:
        ValueError: ``size`` not one integer per axis of ``value``, or a ``seed`` that is not two integers.
        InvalidArgumentError: a size larger than ``value``.
    """
    return random_crop(value, size, _PairSeed(seed))


def extract_patches(images, sizes, strides, rates, padding, name=None):
    """``tf.image.extract_patches``: the (sizes[1], sizes[2]) patches of a batch every (strides[1], strides[2])
    pixels, with dilation (rates[1], rates[2]), each flattened in (row, column, channel) order: (batch, out_h,
    out_w, sizes[1] * sizes[2] * channels), ``padding`` "VALID" or "SAME"; the images' dtype; differentiable for
    floating images (:func:`gpuflow.keras.ops.image.extract_patches`).

    Raises:
        ValueError: images not of rank 4, ``sizes``/``strides``/``rates`` not of the form [1, rows, cols, 1], or an
            unknown ``padding``.
    """
    x = _tensor(images, "images")
    if x.ndim != 4:
        raise ValueError(f"extract_patches: `images` must be of rank 4 (batch, height, width, channels). Received: "
                         f"images.shape={tuple(x.shape)}")
    pairs = []
    for arg, v in (("sizes", sizes), ("strides", strides), ("rates", rates)):
        v = [int(e) for e in v]
        if len(v) != 4 or v[0] != 1 or v[3] != 1:
            raise ValueError(f"extract_patches: `{arg}` must be of the form [1, rows, cols, 1]. Received: {arg}={v}")
        pairs.append((v[1], v[2]))
    if str(padding).upper() not in ("VALID", "SAME"):
        raise ValueError(f"extract_patches: `padding` must be 'VALID' or 'SAME'. Received: padding={padding!r}")
    xf = x if x.dtype.is_floating else M.cast(x, "float32")
    out = _keras_image.extract_patches(xf, pairs[0], strides=pairs[1], dilation_rate=pairs[2],
                                       padding=str(padding).lower(), data_format="channels_last")
    return out if out.dtype == x.dtype else M.cast(M.round(out), x.dtype)


# -- dtypes and colour ---------------------------------------------------------------------------------------------
def _limits(dtype):
    info = np.iinfo(dtype.as_numpy_dtype)
    return info.min, info.max


def _saturate_cast(x, dtype):
    """``x`` clamped to ``dtype``'s range (for floats, to the nearest values of x's dtype inside it, so that
    int32's max is float32's 2147483520, as TensorFlow's ``saturate_cast``), then cast."""
    lo, hi = _limits(dtype)
    if x.dtype.is_integer:
        in_lo, in_hi = _limits(x.dtype)
        lo, hi = max(lo, in_lo), min(hi, in_hi)
    else:
        ft = x.dtype.as_numpy_dtype
        lo, hi = ft(lo), ft(hi)
        hi = np.nextafter(hi, ft(0)) if float(hi) > _limits(dtype)[1] else hi
    return M.cast(M.clip_by_value(x, lo, hi), dtype)


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """``tf.image.convert_image_dtype``: pixel values rescaled between dtypes, TensorFlow's rules: floats are in
    [0, 1), integers in [0, MAX]. int -> int shifts by the ratio of the (max + 1)s (floor division down, a
    multiplication up); int -> float multiplies by ``1 / MAX``; float -> int multiplies by ``MAX + 0.5`` and casts
    (truncating; values outside [0, 1] give undefined results unless ``saturate`` clamps them first, as in
    TensorFlow); float -> float casts. The same dtype returns the image unchanged.

    Raises:
        AttributeError: a dtype that is neither floating nor integer (TensorFlow's error).
    """
    x = _tensor(image, "image")
    dtype = _dtypes.as_dtype(dtype)
    if not (dtype.is_floating or dtype.is_integer):
        raise AttributeError(f"dtype must be either floating point or integer. Received: dtype={dtype.name}")
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise AttributeError(f"image dtype must be either floating point or integer. Received: "
                             f"image.dtype={x.dtype.name}")
    if dtype == x.dtype:
        return A.identity(x)
    if x.dtype.is_integer and dtype.is_integer:
        scale_in, scale_out = _limits(x.dtype)[1], _limits(dtype)[1]
        if scale_in > scale_out:
            scaled = M.floordiv(x, convert_to_tensor(np.asarray((scale_in + 1) // (scale_out + 1),
                                                                x.dtype.as_numpy_dtype)))
            return _saturate_cast(scaled, dtype) if saturate else M.cast(scaled, dtype)
        cast = _saturate_cast(x, dtype) if saturate else M.cast(x, dtype)
        return cast * convert_to_tensor(np.asarray((scale_out + 1) // (scale_in + 1), dtype.as_numpy_dtype))
    if x.dtype.is_floating and dtype.is_floating:
        return M.cast(x, dtype)
    if x.dtype.is_integer:
        return M.cast(x, dtype) * convert_to_tensor(np.asarray(1.0 / _limits(x.dtype)[1], dtype.as_numpy_dtype))
    scaled = x * convert_to_tensor(np.asarray(_limits(dtype)[1] + 0.5, x.dtype.as_numpy_dtype))
    return _saturate_cast(scaled, dtype) if saturate else M.cast(scaled, dtype)


def _as_float(x):
    """TensorFlow's ``flt_image``: float16/float32 images as they are, others converted to float32."""
    return x if x.dtype in (_dtypes.float16, _dtypes.float32) else convert_image_dtype(x, "float32")


def per_image_standardization(image):
    """``tf.image.per_image_standardization``: each image (the last three axes) minus its mean, over
    ``max(stddev, 1 / sqrt(pixels))``; float32; differentiable.

    Raises:
        ValueError: a rank below 3.
    """
    x = _tensor(image, "image")
    if x.ndim < 3:
        raise ValueError(f"'image' (shape {tuple(x.shape)}) must be at least three-dimensional. Received: "
                         f"image.shape={tuple(x.shape)}")
    x = M.cast(x, "float32")
    axes = [-1, -2, -3]
    mean = M.reduce_mean(x, axis=axes, keepdims=True)
    std = M.reduce_std(x, axis=axes, keepdims=True)
    floor = _F(1.0 / _math.sqrt(x.shape[-1] * x.shape[-2] * x.shape[-3]))
    return (x - mean) / M.maximum(std, M.ones_like_(std) * floor)


def _back(adjusted, dtype, saturate):
    return convert_image_dtype(adjusted, dtype, saturate=saturate)


def adjust_brightness(image, delta):
    """``tf.image.adjust_brightness``: ``delta`` added to every pixel (integer images are converted to float
    first, then back with saturation). Differentiable for floating images."""
    x = _tensor(image, "image")
    flt = _as_float(x)
    return _back(flt + M.cast(convert_to_tensor(delta), flt.dtype), x.dtype, True)


def adjust_contrast(images, contrast_factor):
    """``tf.image.adjust_contrast``: each channel of each image moved away from its mean over height and width:
    ``(x - mean) * contrast_factor + mean`` (TensorFlow's ``AdjustContrastv2``); integer images through float32,
    saturated back. Differentiable for floating images.

    Raises:
        ValueError: a rank below 3.
    """
    x = _tensor(images, "images")
    if x.ndim < 3:
        raise ValueError(f"'images' must be at least three-dimensional. Received: images.shape={tuple(x.shape)}")
    flt = _as_float(x)
    mean = M.reduce_mean(flt, axis=[-3, -2], keepdims=True)
    return _back((flt - mean) * M.cast(convert_to_tensor(contrast_factor), flt.dtype) + mean, x.dtype, True)


def adjust_gamma(image, gamma=1, gain=1):
    """``tf.image.adjust_gamma``: ``gain * image ** gamma`` (integer images through float32, saturated back).

    Raises:
        ValueError: a negative ``gamma`` (TensorFlow's message).
    """
    x = _tensor(image, "image")
    if _float(gamma) < 0:
        raise ValueError(f"Gamma should be a non-negative real number. Received: gamma={gamma}")
    flt = _as_float(x)
    return _back(M.pow(flt, M.cast(convert_to_tensor(gamma), flt.dtype)) * _float(gain), x.dtype, True)


def _rgb(x, arg="image"):
    if x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"'{arg}' must be RGB images of rank 3 or 4 with 3 channels last. Received: "
                         f"{arg}.shape={tuple(x.shape)}")
    return x


def _hsv_adjust(image, change):
    x = _rgb(_tensor(image, "image"))
    flt = _as_float(x)
    hsv = rgb_to_hsv(flt)
    h, s, v = (A.getitem(hsv, (Ellipsis, i)) for i in range(3))
    return _back(hsv_to_rgb(A.stack(list(change(h, s, v)), axis=-1)), x.dtype, False)


def adjust_saturation(image, saturation_factor, name=None):
    """``tf.image.adjust_saturation``: in HSV, the saturation multiplied by ``saturation_factor`` and clipped to
    [0, 1]; RGB images (last axis 3), integer ones through float32. Differentiable for floating images.

    Raises:
        ValueError: a last axis other than 3, or a rank other than 3 or 4.
    """
    factor = _float(saturation_factor)
    return _hsv_adjust(image, lambda h, s, v: (h, M.clip_by_value(s * factor, 0.0, 1.0), v))


def adjust_hue(image, delta, name=None):
    """``tf.image.adjust_hue``: in HSV, ``delta`` (in [-1, 1]) added to the hue, which wraps around [0, 1); RGB
    images (last axis 3), integer ones through float32. Differentiable for floating images.

    Raises:
        ValueError: ``delta`` outside [-1, 1] (TensorFlow's message), a last axis other than 3.
    """
    delta = _float(delta)
    if not -1.0 <= delta <= 1.0:
        raise ValueError(f"delta must be in the interval [-1, 1]. Received: delta={delta}")

    def shift(h, s, v):
        h = h + delta
        return h - M.floor(h), s, v
    return _hsv_adjust(image, shift)


def _check_range(lower, upper):
    if upper <= lower:
        raise ValueError(f"upper must be > lower. Received: lower={lower}, upper={upper}")
    if lower < 0:
        raise ValueError(f"lower must be non-negative. Received: lower={lower}")


def random_brightness(image, max_delta, seed=None):
    """``tf.image.random_brightness``: :func:`adjust_brightness` by a delta drawn from [-max_delta, max_delta).

    Raises:
        ValueError: a negative ``max_delta``.
    """
    if max_delta < 0:
        raise ValueError(f"max_delta must be non-negative. Received: max_delta={max_delta}")
    return adjust_brightness(image, float(_uniform([], -max_delta, max_delta, seed)))


def random_contrast(image, lower, upper, seed=None):
    """``tf.image.random_contrast``: :func:`adjust_contrast` by a factor drawn from [lower, upper).

    Raises:
        ValueError: ``upper <= lower`` or a negative ``lower``.
    """
    _check_range(lower, upper)
    return adjust_contrast(image, float(_uniform([], lower, upper, seed)))


def random_saturation(image, lower, upper, seed=None):
    """``tf.image.random_saturation``: :func:`adjust_saturation` by a factor drawn from [lower, upper).

    Raises:
        ValueError: ``upper <= lower`` or a negative ``lower``.
    """
    _check_range(lower, upper)
    return adjust_saturation(image, float(_uniform([], lower, upper, seed)))


def random_hue(image, max_delta, seed=None):
    """``tf.image.random_hue``: :func:`adjust_hue` by a delta drawn from [-max_delta, max_delta).

    Raises:
        ValueError: ``max_delta`` outside [0, 0.5].
    """
    if max_delta > 0.5:
        raise ValueError(f"max_delta must be <= 0.5. Received: max_delta={max_delta}")
    if max_delta < 0:
        raise ValueError(f"max_delta must be non-negative. Received: max_delta={max_delta}")
    return adjust_hue(image, float(_uniform([], -max_delta, max_delta, seed)))


def stateless_random_brightness(image, max_delta, seed):
    """``tf.image.stateless_random_brightness``: :func:`random_brightness` with the delta fixed by ``seed``, a pair
    of ints."""
    return random_brightness(image, max_delta, _PairSeed(seed))


def stateless_random_contrast(image, lower, upper, seed):
    """``tf.image.stateless_random_contrast``: :func:`random_contrast` with the factor fixed by ``seed``, a pair of
    ints."""
    return random_contrast(image, lower, upper, _PairSeed(seed))


def stateless_random_saturation(image, lower, upper, seed=None):
    """``tf.image.stateless_random_saturation``: :func:`random_saturation` with the factor fixed by ``seed``, a
    pair of ints."""
    return random_saturation(image, lower, upper, _PairSeed(seed))


def stateless_random_hue(image, max_delta, seed):
    """``tf.image.stateless_random_hue``: :func:`random_hue` with the delta fixed by ``seed``, a pair of ints."""
    return random_hue(image, max_delta, _PairSeed(seed))


def _mix(images, kernel):
    """The last axis (the channels) of ``images`` through a (3, k) colour matrix."""
    x = _tensor(images, "images")
    return L.tensordot(x, convert_to_tensor(np.asarray(kernel, x.dtype.as_numpy_dtype)), axes=[[x.ndim - 1], [0]])


def rgb_to_grayscale(images, name=None):
    """``tf.image.rgb_to_grayscale``: luma ``0.2989 R + 0.5870 G + 0.1140 B`` with a last axis of 1, computed in
    float32 (:func:`convert_image_dtype`) and converted back to the images' dtype. Differentiable for floats.

    Raises:
        ValueError: a last axis other than 3.
    """
    x = _tensor(images, "images")
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"rgb_to_grayscale: the last axis must hold 3 channels (RGB). Received: "
                         f"images.shape={tuple(x.shape)}")
    gray = _mix(convert_image_dtype(x, "float32"), [[0.2989], [0.5870], [0.1140]])
    return convert_image_dtype(gray, x.dtype)


def grayscale_to_rgb(images, name=None):
    """``tf.image.grayscale_to_rgb``: the single channel repeated three times; differentiable.

    Raises:
        ValueError: a rank below 2 or a last axis other than 1 (TensorFlow's message).
    """
    x = _tensor(images, "images")
    if x.ndim < 2 or x.shape[-1] != 1:
        raise ValueError(f"Last dimension of a grayscale image should be size 1 (and the rank at least 2). "
                         f"Received: images.shape={tuple(x.shape)}")
    return A.tile(x, [1] * (x.ndim - 1) + [3])


def rgb_to_hsv(images, name=None):
    """``tf.image.rgb_to_hsv``: RGB floats in [0, 1] to (hue in [0, 1), saturation, value) on the last axis
    (:func:`gpuflow.keras.ops.image.rgb_to_hsv`); differentiable where the largest channel is unique.

    Raises:
        ValueError: a rank other than 3 or 4, a last axis other than 3, or a non-float dtype.
    """
    return _keras_image.rgb_to_hsv(_rgb(_tensor(images, "images"), "images"), data_format="channels_last")


def hsv_to_rgb(images, name=None):
    """``tf.image.hsv_to_rgb``: HSV floats (hue in [0, 1]) to RGB on the last axis
    (:func:`gpuflow.keras.ops.image.hsv_to_rgb`); differentiable almost everywhere.

    Raises:
        ValueError: a rank other than 3 or 4, a last axis other than 3, or a non-float dtype.
    """
    return _keras_image.hsv_to_rgb(_rgb(_tensor(images, "images"), "images"), data_format="channels_last")


_RGB_TO_YUV = [[0.299, -0.14714119, 0.61497538], [0.587, -0.28886916, -0.51496512], [0.114, 0.43601035, -0.10001026]]
_YUV_TO_RGB = [[1, 1, 1], [0, -0.394642334, 2.03206185], [1.13988303, -0.58062185, 0]]


_RGB_TO_YIQ = [[0.299, 0.59590059, 0.2115], [0.587, -0.27455667, -0.52273617], [0.114, -0.32134392, 0.31119955]]
_YIQ_TO_RGB = [[1, 1, 1], [0.95598634, -0.27201283, -1.10674021], [0.6208248, -0.64720424, 1.70423049]]


def rgb_to_yiq(images):
    """``tf.image.rgb_to_yiq``: RGB floats in [0, 1] to YIQ (TensorFlow's matrix) on the last axis;
    differentiable."""
    return _mix(images, _RGB_TO_YIQ)


def yiq_to_rgb(images):
    """``tf.image.yiq_to_rgb``: the inverse of :func:`rgb_to_yiq`; differentiable."""
    return _mix(images, _YIQ_TO_RGB)


def rgb_to_yuv(images):
    """``tf.image.rgb_to_yuv``: RGB floats in [0, 1] to YUV (TensorFlow's matrix) on the last axis;
    differentiable."""
    return _mix(images, _RGB_TO_YUV)


def yuv_to_rgb(images):
    """``tf.image.yuv_to_rgb``: the inverse of :func:`rgb_to_yuv`; differentiable."""
    return _mix(images, _YUV_TO_RGB)


# -- measures -----------------------------------------------------------------------------------------------------
def image_gradients(image):
    """``tf.image.image_gradients``: (dy, dx), each of the batch's shape: ``dy[i] = x[i + 1] - x[i]`` along the
    height, ``dx`` along the width, the last row/column zero. Differentiable.

    Raises:
        ValueError: images not of rank 4 (TensorFlow's message).
    """
    x = _tensor(image, "image")
    if x.ndim != 4:
        raise ValueError(f"image_gradients expects a 4D tensor [batch_size, h, w, d], not {tuple(x.shape)}. "
                         f"Received: image.shape={tuple(x.shape)}")
    dy = A.getitem(x, (slice(None), slice(1, None))) - A.getitem(x, (slice(None), slice(None, -1)))
    dx = A.getitem(x, (slice(None), slice(None), slice(1, None))) - \
        A.getitem(x, (slice(None), slice(None), slice(None, -1)))
    return A.pad(dy, [[0, 0], [0, 1], [0, 0], [0, 0]]), A.pad(dx, [[0, 0], [0, 0], [0, 1], [0, 0]])


def total_variation(images, name=None):
    """``tf.image.total_variation``: the sum of absolute differences of neighbouring pixels (vertical and
    horizontal): a scalar for one image, one value per image of a batch; the images' dtype; differentiable.

    Raises:
        ValueError: a rank other than 3 or 4.
    """
    x = _image(images, "images")
    lead = (slice(None),) * (x.ndim - 3)
    dh = A.getitem(x, lead + (slice(1, None),)) - A.getitem(x, lead + (slice(None, -1),))
    dw = A.getitem(x, lead + (slice(None), slice(1, None))) - A.getitem(x, lead + (slice(None), slice(None, -1)))
    axes = None if x.ndim == 3 else [1, 2, 3]
    return M.reduce_sum(M.abs(dh), axis=axes) + M.reduce_sum(M.abs(dw), axis=axes)


def _pair(a, b, max_val, fn):
    """Two images of the same last three axes and ``max_val``, converted to float32 as TensorFlow's PSNR/SSIM."""
    a, b = _tensor(a, "a"), _tensor(b, "b")
    if a.ndim < 3 or b.ndim < 3 or tuple(a.shape[-3:]) != tuple(b.shape[-3:]):
        raise ValueError(f"{fn}: both images need a rank of at least 3 and the same last three axes (height, width, "
                         f"channels). Received: shapes {tuple(a.shape)} and {tuple(b.shape)}")
    peak = convert_image_dtype(M.cast(convert_to_tensor(max_val), a.dtype), "float32")
    return convert_image_dtype(a, "float32"), convert_image_dtype(b, "float32"), peak


def psnr(a, b, max_val, name=None):
    """``tf.image.psnr``: the peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mse)`` per image (the mean
    over the last three axes), in float32 after :func:`convert_image_dtype` (so ``max_val`` is in the images'
    dtype: 255 for uint8). Differentiable.

    Raises:
        ValueError: images of different (height, width, channels) or of rank below 3.
    """
    a, b, peak = _pair(a, b, max_val, "psnr")
    mse = M.reduce_mean(M.squared_difference(a, b), axis=[-3, -2, -1])
    return 20.0 * M.log(peak) / _F(np.log(10.0)) - _F(10 / np.log(10)) * M.log(mse)


def ssim(img1, img2, max_val, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, return_index_map=False):
    """``tf.image.ssim``: the structural similarity of two images or batches (one value per image): Gaussian
    (``filter_size``, ``filter_sigma``) local statistics over valid windows, the SSIM map averaged over pixels and
    channels (:func:`gpuflow.keras.ops.image.ssim`); float32 after :func:`convert_image_dtype`. Differentiable.

    Raises:
        ValueError: images of different (height, width, channels) or of a rank other than 3 or 4.
        InvalidArgumentError: images smaller than ``filter_size``.
        NotImplementedError: ``return_index_map=True``.
    """
    if return_index_map:
        raise NotImplementedError("tf.image.ssim: return_index_map=True is not supported in gpuflow.")
    a, b, peak = _pair(img1, img2, max_val, "ssim")
    for arg, x in (("img1", a), ("img2", b)):
        _image(x, arg)
        if min(x.shape[-3], x.shape[-2]) < filter_size:
            raise InvalidArgumentError(None, None, f"ssim: images must be at least filter_size x filter_size. "
                                                   f"Received: {arg}.shape={tuple(x.shape)}, filter_size={filter_size}")
    return _keras_image.ssim(a, b, max_val=float(peak.numpy()), filter_size=filter_size, filter_sigma=filter_sigma,
                             k1=k1, k2=k2, data_format="channels_last")


def sobel_edges(image):
    """``tf.image.sobel_edges``: (batch, h, w, channels, 2), the vertical (dy) then horizontal (dx) Sobel
    responses of each channel, reflect-padded (:func:`gpuflow.keras.ops.image.sobel_edges`); differentiable.

    Raises:
        ValueError: images not of rank 4.
    """
    x = _tensor(image, "image")
    if x.ndim != 4:
        raise ValueError(f"sobel_edges expects a 4D tensor [batch_size, h, w, d]. Received: "
                         f"image.shape={tuple(x.shape)}")
    return _keras_image.sobel_edges(x, data_format="channels_last")


# The rest of tf.image (decoding, encoding, non-max suppression, ...): an AttributeError naming the op.
_TF_IMAGE = """adjust_jpeg_quality combined_non_max_suppression crop_and_resize decode_and_crop_jpeg decode_bmp
decode_gif decode_image decode_jpeg decode_jxl decode_png decode_webp draw_bounding_boxes encode_jpeg encode_png
extract_glimpse extract_jpeg_shape generate_bounding_box_proposals is_jpeg non_max_suppression
non_max_suppression_overlaps non_max_suppression_padded non_max_suppression_with_scores random_jpeg_quality
sample_distorted_bounding_box ssim_multiscale stateless_random_jpeg_quality stateless_sample_distorted_bounding_box"""
__getattr__ = module_getattr(__name__, "tf.image", _TF_IMAGE)
