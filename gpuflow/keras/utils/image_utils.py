"""Images to and from NumPy arrays and files (``keras.utils.load_img``, ``img_to_array``, ``array_to_img``,
``save_img``; also under ``keras.preprocessing.image``), as Keras 3.15's ``keras/src/utils/image_utils.py``.

Images are Pillow ``Image`` objects (``pip install 'gpuflow[images]'``); arrays are (height, width, channels)
for ``data_format="channels_last"`` (the default, ``keras.config.image_data_format()``) or (channels, height,
width) for ``"channels_first"``, of dtype ``keras.config.floatx()`` unless ``dtype`` is given.
"""
from __future__ import annotations

import io
import pathlib
import warnings

import numpy as np

from .. import config

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]

# Pillow's resampling filters by Keras's names
_RESAMPLING = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC", "hamming": "HAMMING",
               "box": "BOX", "lanczos": "LANCZOS"}
_MODES = {"grayscale": ("L", "I;16", "I"), "rgb": ("RGB",), "rgba": ("RGBA",)}


def _pillow(what):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"Could not import PIL.Image. The use of `{what}` requires PIL "
                          "(pip install 'gpuflow[images]' or pip install Pillow).") from None
    return Image


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A Pillow image from a rank-3 array: mode "RGBA", "RGB" or "L" for 4, 3 or 1 channels ("I", 32-bit
    integer grayscale, when one channel exceeds 255 after scaling).

    Args:
        x: array-like, (H, W, C) or (C, H, W) per ``data_format``.
        data_format: "channels_last" or "channels_first"; None: ``keras.config.image_data_format()``.
        scale: shift and scale the values so that the minimum is 0 and the maximum 255.
        dtype: the dtype ``x`` is read as first; None: ``keras.config.floatx()``.

    Raises:
        ImportError: Pillow is not installed.
        ValueError: ``x`` is not rank 3, or has a channel count other than 1, 3 or 4.
    """
    data_format = config.standardize_data_format(data_format)
    image = _pillow("array_to_img")
    x = np.array(x, dtype=dtype or config.floatx())  # a copy: scaled in place below
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def img_to_array(img, data_format=None, dtype=None):
    """A rank-3 array from a Pillow image (or anything ``np.asarray`` reads as (H, W) or (H, W, C)).

    Returns:
        (H, W, C) for "channels_last", (C, H, W) for "channels_first"; a grayscale image gets C = 1. dtype
        ``dtype`` or ``keras.config.floatx()``.

    Raises:
        ValueError: the image reads as neither rank 2 nor rank 3.
    """
    data_format = config.standardize_data_format(data_format)
    x = np.asarray(img, dtype=dtype or config.floatx())
    if x.ndim == 2:
        x = x[None] if data_format == "channels_first" else x[:, :, None]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Writes the array ``x`` (see :func:`array_to_img`) as an image file.

    Args:
        path: a path or a writable binary file object.
        file_format: "png", "jpeg"... (Pillow's format names; "jpg" is read as "jpeg"); None: from the path's
            suffix (required for a file object).
        kwargs: passed to Pillow's ``Image.save``.

    Warns:
        UserWarning: an RGBA image saved as JPEG is converted to RGB first (JPEG has no alpha), as Keras.
    """
    data_format = config.standardize_data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.")
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Reads an image file into a Pillow image.

    Args:
        path: a path (str, bytes or ``pathlib.Path``) or an ``io.BytesIO``.
        color_mode: "grayscale" (8-bit "L", kept as is for 16/32-bit grayscale), "rgb" or "rgba".
        target_size: None (the file's size) or ``(height, width)``.
        interpolation: Pillow's resampling filter for ``target_size``: "nearest", "bilinear", "bicubic",
            "hamming", "box" or "lanczos".
        keep_aspect_ratio: crop the centre to the target's aspect ratio before resizing, instead of stretching.

    Raises:
        ImportError: Pillow is not installed.
        TypeError: ``path`` of another type.
        ValueError: an unknown ``color_mode`` or ``interpolation``.
    """
    image = _pillow("load_img")
    if isinstance(path, io.BytesIO):
        img = image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        with open(path, "rb") as f:  # read whole: the file is closed before Pillow decodes lazily
            img = image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    if color_mode not in _MODES:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if img.mode not in _MODES[color_mode]:
        img = img.convert(_MODES[color_mode][0])
    if target_size is None:
        return img
    size = (int(target_size[1]), int(target_size[0]))  # Pillow's (width, height)
    if img.size == size:
        return img
    if interpolation not in _RESAMPLING:
        raise ValueError(f"Invalid interpolation method {interpolation} specified. Supported methods are "
                         f"{', '.join(_RESAMPLING)}")
    resample = getattr(image.Resampling, _RESAMPLING[interpolation])
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_h = min(height, width * size[1] // size[0])
    crop_w = min(width, height * size[0] // size[1])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return img.resize(size, resample, box=(left, top, left + crop_w, top + crop_h))
