"""``keras.ops.image``: the simple image operations of Keras 3.15 (``keras/src/ops/image.py``) on gpuflow:
``resize`` (nearest and bilinear, TensorFlow's half-pixel centers), ``rgb_to_grayscale``, ``crop_images``,
``pad_images``, ``extract_patches`` (2-D), ``rgb_to_hsv``/``hsv_to_rgb``, ``gaussian_blur``, ``sobel_edges`` and
``ssim``, ``map_coordinates``, ``affine_transform`` and ``perspective_transform``, all differentiable. The others
(3-D patches, elastic transform, scale_and_translate) are not supported and raise AttributeError naming the op.
"""
from __future__ import annotations

import itertools

import numpy as np

from ...ops import array_ops as A
from ...ops import linalg_ops as L
from ...ops import math_ops as M
from ..config import standardize_data_format
from ..layers.reshaping import resize_bilinear
from ..._unsupported import module_getattr
from . import _names
from ._symbolic import wrap_module
from ._common import promote, tensor
from . import core as _core
from . import nn as _nn

def _rank_check(images):
    if images.ndim not in (3, 4):
        raise ValueError(f"Invalid images rank: expected rank 3 (single image) or rank 4 (batch of images). "
                         f"Received input with shape: images.shape={tuple(images.shape)}")


def _as_nhwc(images, data_format):
    """(batched NHWC images, undo function)."""
    fmt = standardize_data_format(data_format)
    x = images
    single = x.ndim == 3
    if single:
        x = A.expand_dims(x, 0)
    if fmt == "channels_first":
        x = A.transpose(x, (0, 2, 3, 1))

    def undo(y):
        if fmt == "channels_first":
            y = A.transpose(y, (0, 3, 1, 2))
        return A.reshape(y, tuple(y.shape[1:])) if single else y
    return x, undo


def _nearest_index(in_size, out_size):
    """TensorFlow 2's nearest-neighbour source rows (half-pixel centers): ``floor((i + 0.5) * in / out)``."""
    return np.minimum(np.floor((np.arange(out_size) + 0.5) * (in_size / out_size)).astype(np.int64), in_size - 1)


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Images (rank 3 or 4) resized to ``size`` = (height, width) by ``"nearest"`` or ``"bilinear"``
    interpolation, as ``tf.image.resize`` (half-pixel centers, no antialiasing), in the images' dtype (integer
    images are interpolated in float32 and rounded, as Keras on TensorFlow). Differentiable for floating images.

    Raises:
        ValueError: a bad rank or ``size``.
        NotImplementedError: another interpolation, ``antialias``, or the aspect-ratio crop/pad options.
    """
    x = tensor(images, arg="images")
    _rank_check(x)
    if len(tuple(size)) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    if interpolation not in ("nearest", "bilinear"):
        raise NotImplementedError(f"keras.ops.image.resize: gpuflow supports interpolation 'nearest' and "
                                  f"'bilinear'. Received: interpolation={interpolation!r}")
    if antialias or crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise NotImplementedError("keras.ops.image.resize: antialias, crop_to_aspect_ratio and "
                                  "pad_to_aspect_ratio are not supported in gpuflow.")
    x, undo = _as_nhwc(x, data_format)
    oh, ow = (int(s) for s in size)
    if interpolation == "nearest":
        y = A.gather(A.gather(x, tensor(_nearest_index(x.shape[1], oh)), axis=1),
                     tensor(_nearest_index(x.shape[2], ow)), axis=2)
    elif x.dtype.is_floating:
        y = resize_bilinear(x, (oh, ow))
    else:  # Keras on TensorFlow: computed in float32, rounded and cast back
        y = M.cast(M.round(resize_bilinear(M.cast(x, "float32"), (oh, ow))), x.dtype)
    return undo(y)


def rgb_to_grayscale(images, data_format=None):
    """Luma ``0.2989 R + 0.5870 G + 0.1140 B`` with a channel axis of 1, in the images' dtype (single-channel
    images are returned as they are), as Keras's TensorFlow backend.

    Raises:
        ValueError: a bad rank or a channel count other than 1 or 3 (Keras's messages).
    """
    x = tensor(images, arg="images")
    _rank_check(x)
    axis = -1 if standardize_data_format(data_format) == "channels_last" else -3
    if x.shape[axis] not in (1, 3):
        raise ValueError(f"Invalid channel size: expected 3 (RGB) or 1 (Grayscale). Received input with shape: "
                         f"images.shape={tuple(x.shape)}")
    if x.shape[axis] == 1:
        return A.identity(x)
    orig = x.dtype
    xf, w = promote(x, np.asarray([0.2989, 0.5870, 0.1140]), extra=(float,))
    w = M.cast(w, xf.dtype)
    shape = [1] * x.ndim
    shape[axis] = 3
    gray = M.reduce_sum(xf * A.reshape(w, shape), axis=axis, keepdims=True)
    return M.cast(gray, orig)


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """The ``size`` = (patch_h, patch_w) patches of images (rank 3 or 4) every ``strides`` (default: ``size``), each
    flattened in (row, column, channel) order on the channel axis: (N, out_h, out_w, patch_h * patch_w * C) in
    channels_last. As Keras 3: a convolution with an identity kernel (so ``padding`` and ``dilation_rate`` are the
    convolution's); differentiable.

    Raises:
        TypeError: ``size`` not an int or a pair (Keras's message).
        NotImplementedError: 3-D patches (``size`` of length 3).
    """
    if isinstance(size, int):
        ph = pw = size
    elif len(size) == 2:
        ph, pw = size
    elif len(size) == 3:
        raise NotImplementedError("keras.ops.image.extract_patches: 3-D patches are not supported in gpuflow.")
    else:
        raise TypeError(f"Invalid `size` argument. Expected an int or a tuple of length 2. Received: size={size}")
    x = tensor(images, arg="images")
    single = x.ndim == 3
    if single:
        x = A.expand_dims(x, 0)
    fmt = standardize_data_format(data_format)
    channels = x.shape[-1] if fmt == "channels_last" else x.shape[1]
    out_dim = ph * pw * channels
    kernel = np.eye(out_dim, dtype=x.dtype.as_numpy_dtype if x.dtype.is_floating else np.float32)
    patches = _nn.conv(x, kernel.reshape(ph, pw, channels, out_dim), strides=strides or (ph, pw), padding=padding,
                       data_format=fmt, dilation_rate=dilation_rate)
    return A.reshape(patches, tuple(patches.shape[1:])) if single else patches


def _float_images(images):
    x = tensor(images, arg="images")
    _rank_check(x)
    if not x.dtype.is_floating:
        raise ValueError(f"Invalid images dtype: expected float dtype. Received: images.dtype={x.dtype.name}")
    return x


def _channels(x, data_format):
    """The three channel planes of float images (channels last or first)."""
    axis = -1 if standardize_data_format(data_format) == "channels_last" else -3
    return [A.getitem(x, (Ellipsis, i) if axis == -1 else (Ellipsis, i, slice(None), slice(None)))
            for i in range(3)], axis


def rgb_to_hsv(images, data_format=None):
    """RGB images (floats in [0, 1]) to HSV, ``tf.image.rgb_to_hsv``'s formula: V the largest channel, S the range
    over V, H the hue in [0, 1) (0 for greys); differentiable where the largest channel is unique.

    Raises:
        ValueError: a bad rank or a non-float dtype (Keras's messages).
    """
    x = _float_images(images)
    (r, g, b), axis = _channels(x, data_format)
    value = M.maximum(M.maximum(r, g), b)
    rng = value - M.minimum(M.minimum(r, g), b)
    zero, one = M.zeros_like_(value), M.ones_like_(value)
    sat = M.where(M.greater(value, zero), rng / M.where(M.greater(value, zero), value, one), zero)
    norm = 1.0 / (6.0 * M.where(M.greater(rng, zero), rng, one))
    hue = M.where(M.equal(r, value), norm * (g - b),
                  M.where(M.equal(g, value), norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0))
    hue = M.where(M.greater(rng, zero), hue, zero)
    hue = M.where(M.less(hue, zero), hue + one, hue)
    return A.stack([hue, sat, value], axis=axis)


def hsv_to_rgb(images, data_format=None):
    """HSV images (floats, hue in [0, 1]) to RGB, ``tf.image.hsv_to_rgb``'s formula (TensorFlow's ``HSVToRGB``
    kernel: ``(1 - S + S * d) * V`` with each channel's ``d`` a clipped tent of ``6 H``, so a hue of exactly 1 is
    red, as 0); differentiable almost everywhere.

    Raises:
        ValueError: a bad rank or a non-float dtype (Keras's messages).
    """
    x = _float_images(images)
    (h, s_, v), axis = _channels(x, data_format)
    dh = h * 6.0
    zero, one = M.zeros_like_(dh), M.ones_like_(dh)

    def clip01(t):
        return M.minimum(M.maximum(t, zero), one)
    tents = [clip01(M.abs(dh - 3.0) - 1.0), clip01(2.0 - M.abs(dh - 2.0)), clip01(2.0 - M.abs(dh - 4.0))]
    return A.stack([(1.0 - s_ + s_ * d) * v for d in tents], axis=axis)


def _depthwise_same(x, kernel, data_format, mode="constant"):
    """Each channel of (batched or single) images convolved with the 2-D ``kernel`` (a NumPy array), output the
    input's size: zero padding as TensorFlow's SAME (``mode="constant"``), or reflect padding."""
    x, undo = _as_nhwc(x, data_format)
    kh, kw = kernel.shape
    c = x.shape[-1]
    w = tensor(np.broadcast_to(kernel[:, :, None, None], (kh, kw, c, 1)).astype(x.dtype.as_numpy_dtype))
    if mode == "reflect":
        x = A.getitem(x, (slice(None), x._backend.asarray(np.pad(np.arange(x.shape[1]), (kh // 2, (kh - 1) // 2),
                                                                 mode="reflect"))))
        x = A.getitem(x, (slice(None), slice(None), x._backend.asarray(
            np.pad(np.arange(x.shape[2]), (kw // 2, (kw - 1) // 2), mode="reflect"))))
        y = _nn.depthwise_conv(x, w, padding="valid")
    else:
        y = _nn.depthwise_conv(x, w, padding="same")
    return undo(y)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Images blurred channel by channel with a normalised Gaussian kernel of ``kernel_size`` and ``sigma``
    (zero "same" padding), as Keras 3 on TensorFlow (its kernel is the outer product of the 1-D kernels of
    ``(kernel_size[1], sigma[1])`` and ``(kernel_size[0], sigma[0])``, laid out as ``kernel_size``); differentiable.

    Raises:
        ValueError: a bad rank (Keras's message).
    """
    x = tensor(images, arg="images")
    _rank_check(x)
    size = [int(v) for v in (kernel_size if not isinstance(kernel_size, int) else (kernel_size, kernel_size))]
    sig = [float(v) for v in (sigma if not isinstance(sigma, (int, float)) else (sigma, sigma))]

    def kernel1d(n, s):
        t = np.arange(n) - (n - 1) / 2
        k = np.exp(-0.5 * (t / s) ** 2)
        return k / k.sum()
    kernel = np.multiply.outer(kernel1d(size[1], sig[1]), kernel1d(size[0], sig[0])).reshape(size)
    if not x.dtype.is_floating:
        x = M.cast(x, "float32")
    return _depthwise_same(x, kernel, standardize_data_format(data_format))


def sobel_edges(images, data_format=None):
    """The Sobel gradients of each channel, ``tf.image.sobel_edges``: reflect-padded, (N, H, W, C, 2) with the
    vertical (dy) then horizontal (dx) response last (channels_first: (N, C, H, W, 2)); differentiable."""
    x = tensor(images, arg="images")
    if not x.dtype.is_floating:
        x = M.cast(x, "float32")
    fmt = standardize_data_format(data_format)
    dy = np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])
    return A.stack([_depthwise_same(x, k, fmt, mode="reflect") for k in (dy, dy.T)], axis=-1)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """The structural similarity of two images (or batches: one value per image), Keras 3.15's backend-agnostic
    ``_ssim``: Gaussian-weighted local means, variances and covariance over ``filter_size`` windows (valid), the
    SSIM map averaged over pixels and channels; in the first image's dtype; differentiable.

    Raises:
        ValueError: an image of rank other than 3 or 4 (Keras's message).
    """
    a, b = tensor(image1, arg="image1"), tensor(image2, arg="image2")
    for name, img in (("image1", a), ("image2", b)):
        if img.ndim not in (3, 4):
            raise ValueError(f"Invalid {name} rank: expected rank 3 (single image) or rank 4 (batch of images). "
                             f"Received input with shape: {name}.shape={tuple(img.shape)}")
    original = a.dtype
    a, b = promote(a, b, extra=(float,))
    unbatched = a.ndim == 3
    if unbatched:
        a, b = A.expand_dims(a, 0), A.expand_dims(b, 0)
    if standardize_data_format(data_format) == "channels_first":
        a, b = A.transpose(a, (0, 2, 3, 1)), A.transpose(b, (0, 2, 3, 1))
    n, h, w, c = a.shape
    t = np.arange(filter_size) - (filter_size - 1) / 2.0
    g = np.exp(-(t ** 2) / (2.0 * filter_sigma ** 2))
    g = g / g.sum()
    kernel = tensor(np.outer(g, g).reshape(filter_size, filter_size, 1, 1).astype(a.dtype.as_numpy_dtype))

    def planes(x):  # one single-channel image per (image, channel)
        return A.reshape(A.transpose(x, (0, 3, 1, 2)), (-1, h, w, 1))

    def blur(x):
        return _nn.conv(x, kernel, padding="valid")
    a, b = planes(a), planes(b)
    mu1, mu2 = blur(a), blur(b)
    s11, s22, s12 = blur(a * a) - mu1 * mu1, blur(b * b) - mu2 * mu2, blur(a * b) - mu1 * mu2
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    ssim_map = (2.0 * mu1 * mu2 + c1) * (2.0 * s12 + c2) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))
    per_image = M.reduce_mean(A.reshape(M.reduce_mean(ssim_map, axis=(1, 2, 3)), (n, c)), axis=-1)
    return M.cast(A.reshape(per_image, ()) if unbatched else per_image, original)


_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _fit_index(xp, index, size, fill_mode):
    """(index inside [0, size), valid) for integer ``index`` under ``fill_mode``, Keras's TensorFlow rules."""
    if fill_mode == "constant":
        return xp.clip(index, 0, size - 1), (index >= 0) & (index < size)
    if fill_mode == "nearest":
        return xp.clip(index, 0, size - 1), None
    if fill_mode == "wrap":
        return xp.mod(index, size), None
    def mirror(i, n):  # d c b | a b c d | c b a
        return xp.abs((i + n - 1) % (2 * (n - 1)) - (n - 1)) if n > 1 else xp.zeros_like(i)
    if fill_mode == "mirror":
        return mirror(index, size), None
    return (mirror(2 * index + 1, 2 * size + 1) - 1) // 2, None  # reflect: d c b a | a b c d | d c b a


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """``inputs`` sampled at ``coordinates`` (shape (inputs.ndim, ...): one coordinate array per axis), SciPy's
    ``map_coordinates`` as Keras 3 on TensorFlow: ``order`` 0 (nearest) or 1 (linear); outside points by
    ``fill_mode`` ("constant" with ``fill_value``, "nearest", "wrap", "mirror", "reflect": SciPy's and Keras's
    documented meanings; Keras's TensorFlow code fails on "mirror" and mirrors negative coordinates for "reflect");
    integer inputs rounded.
    Differentiable in ``inputs`` and (order 1) in ``coordinates``.

    Raises:
        ValueError: coordinates whose first dimension is not the rank of ``inputs``, of rank below 2, or an unknown
            fill mode (Keras's messages).
        NotImplementedError: ``order`` above 1.
    """
    x = tensor(inputs, arg="inputs")
    coords = tensor(coordinates, arg="coordinates")
    if coords.shape[0] != x.ndim:
        raise ValueError(f"First dim of `coordinates` must be the same as the rank of `inputs`. Received inputs with "
                         f"shape: {tuple(x.shape)} and coordinate leading dim of {coords.shape[0]}")
    if coords.ndim < 2:
        raise ValueError(f"Invalid coordinates rank: expected at least rank 2. Received input with shape: "
                         f"{tuple(coords.shape)}")
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected one of {set(_FILL_MODES)}. Received: "
                         f"fill_mode={fill_mode}")
    if order not in (0, 1):
        raise NotImplementedError("map_coordinates currently requires order<=1")
    if not coords.dtype.is_floating:
        coords = M.cast(coords, "float32")
    xp = x._backend.xp
    axes = []
    for d, size in enumerate(x.shape):
        c = A.getitem(coords, d)
        if order == 0:
            nodes = [(xp.round(c._data).astype(np.int64), None)]
        else:
            lower = M.floor(c)
            upper_w = c - lower
            base = lower._data.astype(np.int64)
            nodes = [(base, M.ones_like_(upper_w) - upper_w), (base + 1, upper_w)]
        axes.append([(*_fit_index(xp, index, size, fill_mode), weight) for index, weight in nodes])
    fill = tensor(fill_value, coords.dtype)
    result = None
    for corner in itertools.product(*axes):
        gathered = M.cast(A.getitem(x, tuple(index for index, _, _ in corner)), coords.dtype)
        if fill_mode == "constant":
            valid = np.logical_and.reduce([v for _, v, _ in corner]) if xp is np else \
                xp.logical_and.reduce(xp.stack([v for _, v, _ in corner]))
            gathered = M.where(tensor(valid), gathered, A.broadcast_to(fill, tuple(gathered.shape)))
        for _, _, weight in corner:
            if weight is not None:
                gathered = gathered * weight
        result = gathered if result is None else result + gathered
    if not x.dtype.is_floating:
        result = M.round(result)
    return M.cast(result, x.dtype)


def _trunc(x):
    return M.cast(M.cast(x, "int64"), x.dtype)  # toward zero, as C++'s static_cast<DenseIndex>


def _projective_fill(c, length, fill_mode):
    """TensorFlow's ``MapCoordinate`` (ImageProjectiveTransformV3) of continuous input coordinates ``c`` along an
    axis of ``length``: reflect (d c b a | a b c d | d c b a), wrap, nearest (clamped) or constant (unchanged)."""
    if fill_mode == "constant":
        return c
    top = float(length - 1)
    if length <= 1 and fill_mode in ("reflect", "wrap"):
        return M.zeros_like_(c)
    zero = M.zeros_like_(c)
    if fill_mode == "reflect":
        sz2 = 2.0 * length
        low = c + sz2 * _trunc(-c / sz2)
        low = M.where(M.less(low, zero - length), low + sz2, -low - 1.0)
        high = c - sz2 * _trunc(c / sz2)
        high = M.where(M.greater_equal(high, zero + length), sz2 - high - 1.0, high)
        c = M.where(M.less(c, zero), low, M.where(M.greater(c, zero + top), high, c))
    elif fill_mode == "wrap":
        low = c + length * (_trunc(-c / top) + 1.0)
        high = c - length * _trunc(c / top)
        c = M.where(M.less(c, zero), low, M.where(M.greater(c, zero + top), high, c))
    return M.clip_by_value(c, zero, zero + top)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Images (rank 3 or 4) resampled by projective transforms ``[a0, a1, a2, b0, b1, b2, c0, c1]`` (one, or one
    per image): output pixel (x, y) reads the input at ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
    ``k = c0 x + c1 y + 1``, by ``"nearest"`` or ``"bilinear"`` interpolation, points outside by ``fill_mode``
    ("constant" with ``fill_value``, "nearest", "wrap", "reflect"), as Keras 3 on TensorFlow
    (``ImageProjectiveTransformV3``; coordinates in float32, or float64 for float64 images). Differentiable in the
    images and the transforms.

    Raises:
        ValueError: an unknown interpolation or fill mode, or images/transforms of a bad rank (Keras's messages).
    """
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one ('nearest', 'bilinear'). "
                         f"Received: interpolation={interpolation}")
    if fill_mode not in ("constant", "nearest", "wrap", "reflect"):
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected of one ('constant', 'nearest', 'wrap', "
                         f"'reflect'). Received: fill_mode={fill_mode}")
    x = tensor(images, arg="images")
    _rank_check(x)
    coord_dtype = "float64" if x.dtype.name == "float64" else "float32"  # TensorFlow's float32, float64 kept exact
    t = tensor(transform, coord_dtype, "transform")
    if t.ndim not in (1, 2):
        raise ValueError(f"Invalid transform rank: expected rank 1 (single transform) or rank 2 (batch of "
                         f"transforms). Received input with shape: transform.shape={tuple(t.shape)}")
    x, undo = _as_nhwc(x, standardize_data_format(data_format))
    n, h, w, c = x.shape
    t = A.reshape(t, (-1, 8))
    ox = tensor(np.arange(w).reshape(1, 1, w), coord_dtype)
    oy = tensor(np.arange(h).reshape(1, h, 1), coord_dtype)
    coef = [A.reshape(A.getitem(t, (slice(None), k)), (-1, 1, 1)) for k in range(8)]
    proj = coef[6] * ox + coef[7] * oy + 1.0
    safe = M.where(M.equal(proj, M.zeros_like_(proj)), M.ones_like_(proj), proj)
    in_x = _projective_fill((coef[0] * ox + coef[1] * oy + coef[2]) / safe, w, fill_mode)
    in_y = _projective_fill((coef[3] * ox + coef[4] * oy + coef[5]) / safe, h, fill_mode)
    in_x, in_y = A.broadcast_to(in_x, (n, h, w)), A.broadcast_to(in_y, (n, h, w))
    src = x if x.dtype.is_floating else M.cast(x, "float32")
    fill = tensor(fill_value, src.dtype)
    xp = x._backend.xp
    batch = xp.broadcast_to(xp.arange(n).reshape(n, 1, 1), (n, h, w))

    def read(yy, xx):  # integer-valued float coordinates; outside the image: fill_value
        yi, xi = yy._data.astype(np.int64), xx._data.astype(np.int64)
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        got = A.getitem(src, (batch, xp.clip(yi, 0, h - 1), xp.clip(xi, 0, w - 1)))
        return M.where(tensor(xp.broadcast_to(inside[..., None], got.shape)), got,
                       A.broadcast_to(M.cast(fill, got.dtype), tuple(got.shape)))

    if interpolation == "nearest":  # std::round: halves away from zero
        rnd = lambda v: M.sign(v) * M.floor(M.abs(v) + 0.5)  # noqa: E731
        out = read(rnd(in_y), rnd(in_x))
    else:
        y0, x0 = M.floor(in_y), M.floor(in_x)
        wy, wx = A.expand_dims(M.cast(in_y - y0, src.dtype), -1), A.expand_dims(M.cast(in_x - x0, src.dtype), -1)
        top = read(y0, x0) * (1.0 - wx) + read(y0, x0 + 1.0) * wx
        bottom = read(y0 + 1.0, x0) * (1.0 - wx) + read(y0 + 1.0, x0 + 1.0) * wx
        out = top * (1.0 - wy) + bottom * wy
    zero_proj = A.expand_dims(A.broadcast_to(M.equal(proj, M.zeros_like_(proj)), (n, h, w)), -1)
    out = M.where(A.broadcast_to(zero_proj, tuple(out.shape)), A.broadcast_to(M.cast(fill, out.dtype),
                                                                             tuple(out.shape)), out)
    return undo(M.cast(out, x.dtype))


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Images warped so that the four ``start_points`` (x, y) land on the ``end_points`` ((4, 2), or (N, 4, 2) per
    image): Keras 3's homography (the 8 coefficients solved from the four correspondences, as its
    ``compute_homography_matrix``), applied by :func:`affine_transform` with constant fill; differentiable in the
    images and the points.

    Raises:
        ValueError: an unknown interpolation, a bad rank, or points not of shape (4, 2) / (N, 4, 2) or of different
            shapes (Keras's messages).
    """
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one ('nearest', 'bilinear'). "
                         f"Received: interpolation={interpolation}")
    x = tensor(images, arg="images")
    _rank_check(x)
    dt = "float64" if x.dtype.name == "float64" else "float32"
    start, end = tensor(start_points, dt, "start_points"), tensor(end_points, dt, "end_points")
    for name, pts in (("start_points", start), ("end_points", end)):
        if pts.ndim not in (2, 3) or tuple(pts.shape[-2:]) != (4, 2):
            raise ValueError(f"Invalid {name} shape: expected (4,2) for a single image or (N,4,2) for a batch. "
                             f"Received shape: {tuple(pts.shape)}")
    if tuple(start.shape) != tuple(end.shape):
        raise ValueError(f"start_points and end_points must have the same shape. Received "
                         f"start_points.shape={tuple(start.shape)}, end_points.shape={tuple(end.shape)}")
    start, end = A.reshape(start, (-1, 4, 2)), A.reshape(end, (-1, 4, 2))
    rows, target = [], []
    for k in range(4):
        sx, sy = A.getitem(start, (slice(None), k, 0)), A.getitem(start, (slice(None), k, 1))
        ex, ey = A.getitem(end, (slice(None), k, 0)), A.getitem(end, (slice(None), k, 1))
        one, zero = M.ones_like_(ex), M.zeros_like_(ex)
        rows += [A.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1),
                 A.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)]
        target += [sx, sy]
    transform = L.solve(A.stack(rows, axis=1), A.expand_dims(A.stack(target, axis=-1), -1))
    return affine_transform(x, A.reshape(transform, (-1, 8)), interpolation, "constant", fill_value, data_format)


def _crop_or_pad_geometry(x, fmt, first, second, target_h, target_w, sign, names):
    h_axis, w_axis = (x.ndim - 3, x.ndim - 2) if fmt == "channels_last" else (x.ndim - 2, x.ndim - 1)
    h, w = x.shape[h_axis], x.shape[w_axis]
    (top, left), (bottom, right) = first, second
    if sum(v is not None for v in (top, bottom, target_h)) != 2 or \
            sum(v is not None for v in (left, right, target_w)) != 2:
        raise ValueError(f"Exactly two of {names[0]}, {names[2]} and target_height, and two of {names[1]}, "
                         f"{names[3]} and target_width must be set. Received: {names[0]}={top}, {names[2]}={bottom}, "
                         f"target_height={target_h}, {names[1]}={left}, {names[3]}={right}, target_width={target_w}")
    if top is None:
        top = sign * (h - target_h) - bottom
    if bottom is None:
        bottom = sign * (h - target_h) - top
    if left is None:
        left = sign * (w - target_w) - right
    if right is None:
        right = sign * (w - target_w) - left
    for name, v in zip(names, (top, left, bottom, right)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={v}")
    return h_axis, w_axis, top, left, bottom, right


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Images (rank 3 or 4) cropped by the given margins or to the target size (two of each triple set)."""
    x = tensor(images, arg="images")
    _rank_check(x)
    fmt = standardize_data_format(data_format)
    ha, wa, top, left, bottom, right = _crop_or_pad_geometry(
        x, fmt, (top_cropping, left_cropping), (bottom_cropping, right_cropping), target_height, target_width, 1,
        ("top_cropping", "left_cropping", "bottom_cropping", "right_cropping"))
    starts = [0] * x.ndim
    shape = list(x.shape)
    starts[ha], starts[wa] = top, left
    shape[ha], shape[wa] = x.shape[ha] - top - bottom, x.shape[wa] - left - right
    return _core.slice(x, starts, shape)


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Images (rank 3 or 4) padded with zeros by the given margins or to the target size (two of each triple
    set)."""
    x = tensor(images, arg="images")
    _rank_check(x)
    fmt = standardize_data_format(data_format)
    ha, wa, top, left, bottom, right = _crop_or_pad_geometry(
        x, fmt, (top_padding, left_padding), (bottom_padding, right_padding), target_height, target_width, -1,
        ("top_padding", "left_padding", "bottom_padding", "right_padding"))
    widths = [[0, 0] for _ in range(x.ndim)]
    widths[ha], widths[wa] = [top, bottom], [left, right]
    return A.pad(x, widths)


__all__ = [n for n in _names.IMAGE.split() if n in globals()]
wrap_module(globals(), __all__)  # a call on symbolic tensors is a functional-model node
__getattr__ = module_getattr(__name__, "tf.keras.ops.image", _names.IMAGE)  # a Keras op gpuflow lacks
