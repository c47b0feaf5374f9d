"""Collectives over NCCL (CuPy's ``cupy.cuda.nccl``): GPU buffers, one rank per GPU.

NCCL needs every rank to hold the same unique id before the communicator exists; rank 0 draws it
(``nccl.get_unique_id()``) and a bootstrap (any object with ``rank``, ``size`` and
``broadcast_object``: the :class:`~gpuflow.distribute.mpi.MPICollectives` of the job) carries it to the
others. Barriers and object broadcasts go through the bootstrap. Each collective is enqueued on the
current stream, which is then waited for with a deadline (``timeout_seconds``); past it the
communicator is aborted (``ncclCommAbort``) and :class:`CollectiveTimeoutError` raised.

This module has never run on a GPU: its bootstrap, dtype mapping and call sequence are unit-tested
with a fake ``nccl`` module (tests/test_distribute.py).
"""
from __future__ import annotations

import time

import numpy as np

from .collectives import Collectives, CollectiveTimeoutError, _check_op

__all__ = ["NCCLCollectives", "nccl_dtype"]

_DTYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32", "uint32": "NCCL_UINT32",
           "int64": "NCCL_INT64", "uint64": "NCCL_UINT64", "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
           "float64": "NCCL_FLOAT64"}


def nccl_dtype(nccl, dtype):
    """NCCL's data-type constant for a NumPy/CuPy dtype.

    Raises:
        TypeError: a dtype NCCL has no type for (bool, complex, ...).
    """
    name = np.dtype(dtype).name
    if name not in _DTYPES:
        raise TypeError(f"NCCL has no data type for {name}. Expected one of {sorted(_DTYPES)}. "
                        f"Received: dtype={name}")
    return getattr(nccl, _DTYPES[name])


def _import_nccl():
    try:
        from cupy.cuda import nccl
    except ImportError as e:
        raise ImportError("The NCCL collectives need CuPy with NCCL: pip install 'gpuflow[cuda12]' "
                          f"(or cuda13). ({e})") from e
    return nccl


class NCCLCollectives(Collectives):
    """:class:`~gpuflow.distribute.collectives.Collectives` over NCCL, for ``cupy.ndarray`` buffers.

    Args:
        bootstrap: carries the unique id and runs barriers: ``rank``, ``size``, ``broadcast_object``,
            ``barrier`` (an :class:`~gpuflow.distribute.mpi.MPICollectives`).
        timeout_seconds: the longest wait for one collective (None: the bootstrap's, else 300 s).
        nccl: the ``cupy.cuda.nccl`` module (a fake in tests).
        cupy: the ``cupy`` module (a fake in tests).

    Raises:
        ImportError: CuPy or its NCCL is missing.
    """

    def __init__(self, bootstrap, timeout_seconds=None, nccl=None, cupy=None):
        self._nccl = nccl if nccl is not None else _import_nccl()
        if cupy is None:
            import cupy
        self._cupy = cupy
        self._bootstrap = bootstrap
        self.rank, self.size = bootstrap.rank, bootstrap.size
        self.timeout_seconds = timeout_seconds or getattr(bootstrap, "timeout_seconds", None) or 300.0
        uid = self._nccl.get_unique_id() if self.rank == 0 else None
        uid = bootstrap.broadcast_object(uid, root=0)
        self._comm = self._nccl.NcclCommunicator(self.size, uid, self.rank)
        self._count = 0

    def _stream(self):
        return self._cupy.cuda.get_current_stream()

    def _wait(self, stream, what):
        self._count += 1
        start = time.monotonic()
        while not stream.done:
            if time.monotonic() - start > self.timeout_seconds:
                self._comm.abort()
                raise CollectiveTimeoutError(
                    f"NCCL {what} (#{self._count}) on rank {self.rank} of {self.size} did not complete within "
                    f"{self.timeout_seconds:.1f} s: a peer was lost or hangs (NCCL cannot say which); the "
                    "communicator was aborted.")
            time.sleep(1e-4)

    def all_reduce(self, array, op="sum"):
        _check_op(op)
        send = self._cupy.ascontiguousarray(array)
        recv = self._cupy.empty_like(send)
        stream = self._stream()
        self._comm.allReduce(send.data.ptr, recv.data.ptr, send.size, nccl_dtype(self._nccl, send.dtype),
                             self._nccl.NCCL_SUM, stream.ptr)
        self._wait(stream, "all_reduce")
        if op == "mean":
            recv /= self.size
        return recv

    def broadcast(self, array, root=0):
        buf = self._cupy.ascontiguousarray(array).copy()
        stream = self._stream()
        self._comm.bcast(buf.data.ptr, buf.size, nccl_dtype(self._nccl, buf.dtype), root, stream.ptr)
        self._wait(stream, "broadcast")
        return buf

    def all_gather(self, array):
        send = self._cupy.ascontiguousarray(array)
        rows = [int(r) for r in np.asarray(self._bootstrap.all_gather(np.array([send.shape[0]]))).reshape(-1)]
        most = max(rows)
        padded = self._cupy.zeros((most,) + send.shape[1:], dtype=send.dtype)
        padded[:send.shape[0]] = send
        recv = self._cupy.empty((self.size * most,) + send.shape[1:], dtype=send.dtype)
        stream = self._stream()
        self._comm.allGather(padded.data.ptr, recv.data.ptr, padded.size, nccl_dtype(self._nccl, send.dtype),
                             stream.ptr)
        self._wait(stream, "all_gather")
        return [recv[r * most:r * most + n] for r, n in enumerate(rows)]

    def barrier(self):
        self._stream().synchronize()
        self._bootstrap.barrier()

    def broadcast_object(self, obj, root=0):
        return self._bootstrap.broadcast_object(obj, root)
