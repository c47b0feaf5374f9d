"""``keras.utils.image_dataset_from_directory``: a labelled image Dataset from a folder of class sub-folders.

Images are decoded with Pillow (the optional extra ``pip install 'gpuflow[images]'``) and resized with
TensorFlow's ``tf.image.resize`` rules (half-pixel centres, no antialiasing), written here in NumPy, so the
pixels equal Keras's for "bilinear" and "nearest".
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["image_dataset_from_directory", "load_image", "resize", "smart_resize"]

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("image_dataset_from_directory needs Pillow to decode images: "
                          "pip install 'gpuflow[images]' (or pip install Pillow).") from None
    return Image


def _resize_axis(size_in, size_out):
    """TF's half-pixel source coordinates of ``size_out`` samples: lower index, upper index, weight."""
    pos = np.clip((np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5, 0, None)
    lo = np.minimum(np.floor(pos).astype(int), size_in - 1)
    return lo, np.minimum(lo + 1, size_in - 1), (pos - lo)[:, None]


def resize(image, size, interpolation="bilinear"):
    """``tf.image.resize(image, size, method)`` for an (h, w, c) array: float32 (h', w', c).

    Raises:
        NotImplementedError: an interpolation other than "bilinear" or "nearest".
    """
    image = np.asarray(image, np.float32)
    h, w = size
    if interpolation == "nearest":  # half-pixel centres: floor((o + 0.5) * scale)
        rows = np.minimum(np.floor((np.arange(h) + 0.5) * image.shape[0] / h).astype(int), image.shape[0] - 1)
        cols = np.minimum(np.floor((np.arange(w) + 0.5) * image.shape[1] / w).astype(int), image.shape[1] - 1)
        return image[rows][:, cols]
    if interpolation != "bilinear":
        raise NotImplementedError(f"image resizing: only interpolation='bilinear' or 'nearest' is supported in "
                                  f"gpuflow. Received: interpolation={interpolation!r}")
    r0, r1, rw = _resize_axis(image.shape[0], h)
    c0, c1, cw = _resize_axis(image.shape[1], w)
    top = image[r0] * (1 - rw[:, :, None]) + image[r1] * rw[:, :, None]
    return (top[:, c0] * (1 - cw) + top[:, c1] * cw).astype(np.float32)


def smart_resize(image, size, interpolation="bilinear"):
    """Keras's ``smart_resize`` of an (h, w, c) array: the largest centred crop of the target aspect ratio,
    resized to ``size`` (float32)."""
    height, width = image.shape[:2]
    crop_h = min(height, int(width * size[0] / size[1]))
    crop_w = min(width, int(height * size[1] / size[0]))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return resize(image[top:top + crop_h, left:left + crop_w], size, interpolation)


def load_image(path, image_size, color_mode="rgb", interpolation="bilinear", crop_to_aspect_ratio=False):
    """One image file as a float32 (height, width, channels) array of 0-255 values, as Keras loads it (with
    ``crop_to_aspect_ratio``, through :func:`smart_resize`)."""
    mode, _ = _CHANNELS[color_mode]
    with _pillow().open(path) as img:
        arr = np.asarray(img.convert(mode), np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return (smart_resize if crop_to_aspect_ratio else resize)(arr, image_size, interpolation)


def _index_directory(directory, labels, class_names, follow_links):
    """Keras's ``index_directory``: (file paths, int labels or None, class names), sub-folders and files sorted."""
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(f"The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
    paths, found = [], []
    for index, sub in enumerate(subdirs):
        root_dir = os.path.join(directory, sub)
        for root, _, files in sorted(os.walk(root_dir, followlinks=follow_links), key=lambda t: t[0]):
            for name in sorted(files):
                if name.lower().endswith(ALLOWLIST_FORMATS):
                    paths.append(os.path.join(root, name))
                    found.append(index)
    if labels == "inferred":
        return paths, np.array(found, "int32"), subdirs
    if labels is None:
        return paths, None, None
    if len(labels) != len(paths):
        raise ValueError(f"Expected the lengths of `labels` to match the number of files in the target directory. "
                         f"len(labels) is {len(labels)} while we found {len(paths)} files in directory {directory}.")
    return paths, np.asarray(labels, "int32"), [str(label) for label in sorted(set(labels))]


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb",
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None, validation_split=None,
                                 subset=None, interpolation="bilinear", follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf", verbose=True):
    """Images in ``directory/<class name>/...`` as a Dataset of ``(images, labels)`` batches
    (``keras.utils.image_dataset_from_directory``, Keras 3's rules).

    Class names are the sorted sub-folder names (or ``class_names``, in its order); files are .bmp, .gif,
    .jpeg, .jpg and .png, indexed in sorted order, shuffled once with ``seed`` before any validation split, and
    the training dataset is reshuffled every epoch. Images are loaded lazily, one file at a time.

    Args:
        directory: the folder.
        labels: "inferred" (from the sub-folders), None, or a list of int labels, one per file in sorted order.
        label_mode: "int" (int32 (batch,)), "categorical" (float32 one-hot), "binary" (float32 (batch, 1), two
            classes) or None (images only).
        color_mode: "grayscale", "rgb" or "rgba" (1, 3 or 4 channels).
        batch_size: images per batch, or None for single images.
        image_size: (height, width) every image is resized to.
        shuffle, seed: shuffling; ``seed`` is required with ``validation_split`` (no overlap between subsets).
        validation_split, subset: a float in (0, 1) and "training", "validation" or "both" (a list of the two).
        interpolation: "bilinear" or "nearest".
        crop_to_aspect_ratio: centre-crop to the target aspect ratio before resizing.

    Returns:
        A :class:`gpuflow.data.Dataset` of float32 (batch, height, width, channels) images (0-255 values) and
        labels, with ``class_names`` and ``file_paths`` attributes; a list of two for ``subset="both"``.

    Raises:
        ValueError: invalid arguments or no images found (Keras's messages).
        ImportError: Pillow is not installed, saying how to install it.
        NotImplementedError: ``pad_to_aspect_ratio``, channels_first, other interpolations.
    """
    from ...data.dataset import Dataset
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(f"`labels` argument should be a list/tuple of integer labels, of the same size as the number "
                         f"of image files in the target directory. If you wish to infer the labels from the "
                         f"subdirectory names in the target directory, pass `labels=\"inferred\"`. If you wish to "
                         f"get a dataset that only contains images (no labels), pass `labels=None`. "
                         f"Received: labels={labels}")
    if class_names is not None and labels != "inferred":
        raise ValueError(f'You can only pass `class_names` if `labels="inferred"`. Received: labels={labels}, and '
                         f"class_names={class_names}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f'`label_mode` argument must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in _CHANNELS:
        raise ValueError(f'`color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. '
                         f"Received: color_mode={color_mode}")
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2 or \
            not all(isinstance(v, int) and v > 0 for v in image_size):
        raise ValueError(f"Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    for arg, v in (("pad_to_aspect_ratio", pad_to_aspect_ratio), ("format", format != "tf"),
                   ("data_format", data_format not in (None, "channels_last"))):
        if v:
            raise NotImplementedError(f"image_dataset_from_directory: `{arg}` is not supported in gpuflow.")
    if interpolation not in ("bilinear", "nearest"):
        raise NotImplementedError(f"image_dataset_from_directory: only interpolation='bilinear' or 'nearest' is "
                                  f"supported in gpuflow. Received: interpolation={interpolation!r}")
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if bool(validation_split) != bool(subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` argument, to "
                         "make sure that there is no overlap between the training and validation subset.")

    paths, label_ids, names = _index_directory(directory, labels, class_names, follow_links)
    if verbose:
        print(f"Found {len(paths)} files." if label_ids is None else
              f"Found {len(paths)} files belonging to {len(names)} classes.")
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={names}")
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(paths)
        if label_ids is not None:
            np.random.RandomState(seed).shuffle(label_ids)

    def subset_of(which):
        if not validation_split:
            return paths, label_ids
        n_val = int(validation_split * len(paths))
        if which == "training":
            print(f"Using {len(paths) - n_val} files for training.")
            return paths[:-n_val], None if label_ids is None else label_ids[:-n_val]
        print(f"Using {n_val} files for validation.")
        return paths[-n_val:], None if label_ids is None else label_ids[-n_val:]

    def encode(label):
        if label_mode == "categorical":
            return np.eye(len(names), dtype="float32")[label]
        if label_mode == "binary":
            return np.float32([label])
        return np.int32(label)

    def dataset(which):
        files, ids = subset_of(which)
        if not files:
            raise ValueError(f"No {'' if which is None else which + ' '}images found in directory {directory}. "
                             f"Allowed formats: {ALLOWLIST_FORMATS}")

        def make():
            for k, path in enumerate(files):
                image = load_image(path, tuple(image_size), color_mode, interpolation, crop_to_aspect_ratio)
                yield image if ids is None else (image, encode(ids[k]))
        ds = Dataset(make, len(files))
        if shuffle and which != "validation":
            ds = ds.shuffle(buffer_size=(batch_size or 1) * 8, seed=seed)
        if batch_size is not None:
            ds = ds.batch(batch_size)
        ds.class_names, ds.file_paths = names, list(files)
        return ds

    if subset == "both":
        return [dataset("training"), dataset("validation")]
    return dataset(subset)
