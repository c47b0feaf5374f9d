"""``keras.utils.PyDataset``: a Python class that serves batches by index, for ``fit``/``evaluate``/``predict``."""
from __future__ import annotations

import numpy as np

__all__ = ["PyDataset"]


class PyDataset:
    """Base class of datasets written in Python (``keras.utils.PyDataset``, Keras 3).

    Subclass it, call ``super().__init__(**kwargs)``, and implement ``__len__`` (the number of batches) and
    ``__getitem__(index)`` (batch ``index``: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, arrays with the
    batch axis first); optionally ``on_epoch_begin()`` / ``on_epoch_end()``, called around each epoch. Passed
    to ``fit``, the batch order is shuffled each epoch when ``shuffle=True`` (as Keras 3), never the samples
    within a batch.

    Args:
        workers, use_multiprocessing, max_queue_size: Keras's parallel-loading options; accepted and checked,
            but batches are loaded in the training thread, one at a time (gpuflow runs no loader workers).

    Raises:
        ValueError: ``workers`` below 1 or ``max_queue_size`` below 1.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        for arg, v in (("workers", workers), ("max_queue_size", max_queue_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"`{arg}` must be an integer >= 1. Received: {arg}={v!r}")
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    workers = property(lambda self: self.__dict__.get("_workers", 1))
    use_multiprocessing = property(lambda self: self.__dict__.get("_use_multiprocessing", False))
    max_queue_size = property(lambda self: self.__dict__.get("_max_queue_size", 10))

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), returning batch index.")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__, the number of batches.")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``)."""
        return len(self)

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""

    def as_dataset(self, shuffle=False):
        """The batches as a :class:`gpuflow.data.Dataset` read once per epoch, ``on_epoch_begin`` before the first
        batch and ``on_epoch_end`` after the last; with ``shuffle`` the batch order is permuted every epoch."""
        from ...data.dataset import Dataset

        def make():
            self.on_epoch_begin()
            order = np.random.permutation(len(self)) if shuffle else range(len(self))
            for i in order:
                yield self[int(i)]
            self.on_epoch_end()
        return Dataset(make, len(self))
