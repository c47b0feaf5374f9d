"""``keras.utils.split_dataset`` and the ``(x, y, sample_weight)`` helpers, as Keras 3.15's
``keras/src/utils/dataset_utils.py`` and ``keras/src/trainers/data_adapters/data_adapter_utils.py``."""
from __future__ import annotations

import random

import numpy as np

__all__ = ["split_dataset", "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


def _samples(dataset):
    """The dataset as a list of samples (a sample: an array row, or a tuple of rows) and a function rebuilding a
    ``gpuflow.data.Dataset`` from such a list."""
    from ...data import Dataset
    from ...tensor import Tensor
    if isinstance(dataset, Dataset):
        items = [tuple(np.asarray(v.numpy() if isinstance(v, Tensor) else v) for v in s) if isinstance(s, tuple)
                 else np.asarray(s.numpy() if isinstance(s, Tensor) else s) for s in dataset]
    elif isinstance(dataset, (list, tuple)):
        arrays = [np.asarray(a.numpy() if isinstance(a, Tensor) else a) for a in dataset]
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"split_dataset: the arrays of `dataset` must have the same length. Received lengths "
                             f"{[len(a) for a in arrays]}")
        items = list(zip(*arrays))
    elif isinstance(dataset, (np.ndarray, Tensor)):
        items = list(np.asarray(dataset.numpy() if isinstance(dataset, Tensor) else dataset))
    else:
        raise TypeError("The `dataset` argument must be either a `gpuflow.data.Dataset` object, or a list/tuple of "
                        f"arrays. Received: dataset={dataset} of type {type(dataset)}")

    def rebuild(part):
        if part and isinstance(part[0], tuple):
            return Dataset.from_tensor_slices(tuple(np.stack(col) for col in zip(*part)))
        return Dataset.from_tensor_slices(np.stack(part))
    return items, rebuild


def _split_sizes(left_size, right_size, total):
    """Keras's ``_rescale_dataset_split_sizes``: int counts or float fractions (rounded), None the complement."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, Received: "
                            f"type({name})={type(size)}.")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split sizes must be "
                         "non-zero.")
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if (type(size) is int and not 0 < size < total) or (type(size) is float and not 0 < size < 1):
            raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float within "
                             f"the range `[0, 1]`. Received: {name}={size}")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal "
                         "to 1.")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the {total}. Received: "
                         f"left_size + right_size = {left + right}and total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and `right_size`={right}."
                             f"Resulting {side} side dataset split will be empty. Adjust any of the aforementioned "
                             "parameters")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Splits a dataset into a left part and a right part (``keras.utils.split_dataset``).

    Args:
        dataset: a ``gpuflow.data.Dataset`` of samples (not batched), a NumPy array (split along its first
            axis), or a list/tuple of arrays of one length (split together).
        left_size, right_size: an int (samples) or a float in (0, 1) (a fraction of the samples, rounded); None:
            the rest. At least one must be given. The left part is the first samples, the right the last.
        shuffle: shuffle the samples first, with Python's ``random.Random(seed)`` (the same order as Keras's
            ``random.seed(seed); random.shuffle(...)`` for the same seed).
        seed: the shuffle's seed; None: a random one.
        preferred_backend: accepted for Keras code; gpuflow always returns its own Datasets.

    Returns:
        ``(left, right)``: two ``gpuflow.data.Dataset`` of samples, in the structure of ``dataset``'s samples
        (a tuple of arrays for a tuple/list).

    Raises:
        TypeError: ``dataset`` of another type, or sizes neither int, float nor None.
        ValueError: both sizes None, sizes out of range or summing over the total, or an empty part (Keras's
            messages).
    """
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    items, rebuild = _samples(dataset)
    if shuffle:
        random.Random(random.randint(0, int(1e6)) if seed is None else seed).shuffle(items)
    left, right = _split_sizes(left_size, right_size, len(items))
    return rebuild(items[:left]), rebuild(items[len(items) - right:])


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """``x`` alone (a 1-tuple if ``x`` is itself a tuple), ``(x, y)`` or ``(x, y, sample_weight)``: the structure
    ``fit`` reads from a dataset's elements (``keras.utils.pack_x_y_sample_weight``)."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a dataset element (``keras.utils.unpack_x_y_sample_weight``), None for the
    missing parts.

    Raises:
        ValueError: a tuple/list of more than 3 items (Keras's message).
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, found: "
                     f"{data}")
