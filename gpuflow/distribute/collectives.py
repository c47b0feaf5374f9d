"""The collectives interface every strategy talks to, the one-process implementation, and gradient bucketing.

A :class:`Collectives` object joins ``size`` ranks (one replica each) and offers the four collectives
data-parallel training needs: ``all_reduce`` (sum or mean), ``broadcast``, ``all_gather`` and ``barrier``.
Implementations: :class:`LocalCollectives` (one process, one replica: every collective is the identity),
:class:`gpuflow.distribute.mpi.MPICollectives` (host buffers over mpi4py) and
:class:`gpuflow.distribute.nccl.NCCLCollectives` (GPU buffers over CuPy's NCCL).

Arrays are backend arrays (``numpy.ndarray``; ``cupy.ndarray`` for NCCL, and for MPI, which copies them
through the host). Every rank must call the same collectives in the same order with arrays of the same
shape and dtype (``all_gather`` alone accepts a different first dimension per rank).
"""
from __future__ import annotations

import numpy as np

__all__ = ["Collectives", "LocalCollectives", "CollectiveTimeoutError", "plan_buckets", "DEFAULT_BUCKET_BYTES"]

# PyTorch DDP's default bucket (25 MiB): large enough that a ring all-reduce runs at bandwidth, small enough
# that the seed CNN's ~1 MB of gradients travel in one message.
DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024

_OPS = ("sum", "mean")


class CollectiveTimeoutError(RuntimeError):
    """A collective did not complete in time: a peer was lost (killed, crashed, disconnected) or hangs.

    Attributes:
        lost_ranks: the ranks that never reached the collective (empty when every rank reached it).
    """

    def __init__(self, message, lost_ranks=()):
        super().__init__(message)
        self.lost_ranks = tuple(lost_ranks)


def _check_op(op):
    if op not in _OPS:
        raise ValueError(f"Expected `op` to be one of {_OPS}. Received: op={op!r}")


class Collectives:
    """The interface: ``rank`` (0 .. size - 1) and ``size`` plus four collectives.

    Subclasses implement ``all_reduce``, ``broadcast``, ``all_gather`` and ``barrier``;
    ``all_reduce_many`` (bucketed) and ``broadcast_many`` are written once here on top of them.
    """

    rank = 0
    size = 1

    def all_reduce(self, array, op="sum"):
        """The element-wise sum (or mean) of ``array`` over every rank; same shape and dtype.

        Raises:
            ValueError: ``op`` not "sum" or "mean".
        """
        raise NotImplementedError

    def broadcast(self, array, root=0):
        """Rank ``root``'s ``array`` on every rank (same shape and dtype on each)."""
        raise NotImplementedError

    def all_gather(self, array):
        """Every rank's ``array``, a list in rank order; the first dimension may differ between ranks."""
        raise NotImplementedError

    def barrier(self):
        """Returns once every rank has called it."""
        raise NotImplementedError

    def broadcast_object(self, obj, root=0):
        """A picklable Python object from ``root`` on every rank."""
        raise NotImplementedError

    def all_reduce_many(self, arrays, op="sum", bucket_bytes=DEFAULT_BUCKET_BYTES):
        """``all_reduce`` of every array, packed into few large messages (buckets of at most ``bucket_bytes``,
        one dtype each, in order), as gradients are: one all-reduce per bucket, not one per variable.

        Returns:
            A list of arrays, each of its input's shape and dtype.
        """
        _check_op(op)
        return self._bucketed(arrays, bucket_bytes, lambda flat: self.all_reduce(flat, op))

    def broadcast_many(self, arrays, root=0, bucket_bytes=DEFAULT_BUCKET_BYTES):
        """``broadcast`` of every array, bucketed as :meth:`all_reduce_many`."""
        return self._bucketed(arrays, bucket_bytes, lambda flat: self.broadcast(flat, root))

    def _bucketed(self, arrays, bucket_bytes, collective):
        """``collective`` applied to each bucket of ``arrays`` flattened into one message, split back."""
        arrays = list(arrays)
        if self.size == 1:
            return arrays
        out = [None] * len(arrays)
        for bucket in plan_buckets([(a.size * a.dtype.itemsize, a.dtype) for a in arrays], bucket_bytes):
            parts = [arrays[i] for i in bucket]
            xp = _array_module(parts[0])
            flat = collective(xp.concatenate([p.reshape(-1) for p in parts]))
            start = 0
            for i, p in zip(bucket, parts):
                out[i] = flat[start:start + p.size].reshape(p.shape)
                start += p.size
        return out


def _array_module(a):
    if isinstance(a, np.ndarray):
        return np
    import cupy
    return cupy


def plan_buckets(items, bucket_bytes=DEFAULT_BUCKET_BYTES):
    """Groups arrays into buckets for :meth:`Collectives.all_reduce_many`.

    Args:
        items: ``(nbytes, dtype)`` per array, in order.
        bucket_bytes: the largest bucket, in bytes (an int >= 1); an array larger than that is a bucket
            on its own.

    Returns:
        A list of buckets, each a list of indices into ``items``, in order; the arrays of a bucket share
        one dtype and, unless one array alone exceeds it, fit in ``bucket_bytes``.

    Raises:
        ValueError: ``bucket_bytes`` not a positive int.
    """
    if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes < 1:
        raise ValueError(f"Expected `bucket_bytes` to be a positive int. Received: bucket_bytes={bucket_bytes!r}")
    buckets, open_by_dtype = [], {}  # dtype -> (bucket, bytes so far)
    for i, (nbytes, dtype) in enumerate(items):
        key = np.dtype(dtype).str
        bucket, used = open_by_dtype.get(key, (None, 0))
        if bucket is None or used + nbytes > bucket_bytes:
            bucket, used = [], 0
            buckets.append(bucket)
        bucket.append(i)
        open_by_dtype[key] = (bucket, used + nbytes)
    return buckets


class LocalCollectives(Collectives):
    """One process, one replica: every collective returns its input (``MirroredStrategy`` on one device)."""

    rank = 0
    size = 1

    def all_reduce(self, array, op="sum"):
        _check_op(op)
        return array

    def broadcast(self, array, root=0):
        return array

    def all_gather(self, array):
        return [array]

    def barrier(self):
        pass

    def broadcast_object(self, obj, root=0):
        return obj
