"""``keras.utils.timeseries_dataset_from_array``: sliding windows over a time series as a Dataset."""
from __future__ import annotations

import numpy as np

__all__ = ["timeseries_dataset_from_array"]


def _check_int(value, arg, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{arg}` must be {'higher than 0' if minimum == 1 else f'>= {minimum}'}. "
                         f"Received: {arg}={value}")
    return int(value)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None,
                                  format="tf"):
    """Batches of windows of ``data`` (``keras.utils.timeseries_dataset_from_array``, Keras 3's rules).

    Window ``i`` starts at ``start_index + p_i`` with ``p_i = i * sequence_stride`` and holds
    ``sequence_length`` steps ``sampling_rate`` apart: ``data[s], data[s + r], ...``; its target is
    ``targets[s]`` (so to predict the step after a window, pass ``targets=data[sequence_length:]``). Only data in
    ``[start_index, end_index)`` is used; there are ``end_index - start_index - (sequence_length - 1) *
    sampling_rate`` candidate starts (at most ``len(targets)``), every ``sequence_stride``-th is used.

    Args:
        data: array-like (steps, ...) of the time series.
        targets: array-like with one target per step, or None (then the dataset yields windows only).
        sequence_length, sequence_stride, sampling_rate: ints >= 1.
        batch_size: windows per batch, or None for unbatched windows.
        shuffle: shuffle the windows (with ``seed``; each epoch reshuffles within a buffer of 8 batches, as
            Keras's ``Dataset.shuffle``).
        start_index, end_index: the part of ``data`` to use (default all; as Keras, an ``end_index`` must be below
            ``len(data)``).
        format: "tf" (Keras's "grain" is not available).

    Returns:
        A :class:`gpuflow.data.Dataset` of ``(windows, targets)`` batches, windows (batch, sequence_length, ...)
        of ``data``'s dtype (the windows are materialized in memory).

    Raises:
        ValueError: an argument out of range (Keras's messages), or targets of another length than data.
    """
    from ...data.dataset import Dataset
    data = np.asarray(data)
    sequence_length = _check_int(sequence_length, "sequence_length", 1)
    sequence_stride = _check_int(sequence_stride, "sequence_stride", 1)
    sampling_rate = _check_int(sampling_rate, "sampling_rate", 1)
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", 1)
    if targets is not None:
        targets = np.asarray(targets)
        if len(targets) != len(data):
            raise ValueError(f"Expected data and targets to have the same number of time steps (axis 0) but got "
                             f"data.shape={data.shape}, targets.shape={targets.shape}")
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= n:
            raise ValueError(f"`start_index` must be lower than the length of the data. Received: "
                             f"start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: start_index={start_index}, "
                             f"and end_index={end_index} ")
        if end_index >= n:
            raise ValueError(f"`end_index` must be lower than the length of the data. Received: end_index={end_index}"
                             f", for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    for arg, v in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if v >= n:
            raise ValueError(f"`{arg}` must be lower than the length of the data. Received: {arg}={v}, for data of "
                             f"length {n}")
    if format != "tf":
        raise ValueError(f'`format` should be either "tf" or "grain" (gpuflow has "tf" only). '
                         f"Received: format={format}")
    start_index = start_index or 0
    end_index = end_index or n
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    starts = start_index + np.arange(0, max(num_seqs, 0), sequence_stride)
    if shuffle:
        np.random.RandomState(np.random.randint(1e6) if seed is None else seed).shuffle(starts)
    windows = data[starts[:, None] + np.arange(sequence_length) * sampling_rate] if len(starts) else \
        np.zeros((0, sequence_length) + data.shape[1:], data.dtype)
    ds = Dataset.from_tensor_slices(windows if targets is None else (windows, targets[starts]))
    if shuffle:
        ds = ds.shuffle(batch_size * 8 if batch_size is not None else 1024, seed=seed)
    return ds.batch(batch_size) if batch_size is not None else ds
