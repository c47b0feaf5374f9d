"""Kernel-launch profiler: ``with gpuflow.profiler.profile() as prof: ...; print(prof.table())``.

Records every launch of a hand-written kernel (name, grid, block, calls, total
time) made through :mod:`gpuflow.backend.kernels`, like ``torch.profiler``'s
``key_averages().table()``. On a GPU the time comes from CUDA events around
each launch (synchronised when the profile closes); on the emulator it is wall
time of the emulated launch. Launches made by CuPy's own routines (cuBLAS
matmul, elementwise ufuncs) are not listed.

It also counts the CUDA backend's host contacts (:meth:`Profile.host_contacts`, the last rows of
:meth:`Profile.table`): device-to-host copies (``to_numpy``: ``Tensor.numpy()``, ``float(t)``,
``int(t)``, ``bool(t)``, printing), host-to-device copies (``asarray``: every host value made into a
tensor on the device) and explicit synchronizations (``synchronize``), each with its count and
bytes. A device-to-host copy waits for the device's queue to drain, so the goal inside a training
step is zero of them. :attr:`Profile.graph_launches` (the table's last row) counts the replays of a captured
training step (:mod:`gpuflow.backend.graph`); the kernels inside a replay are not listed one by one. The emulator counts the same calls as a GPU (its arrays live in host memory,
but the code path is the GPU's). Not counted: a conversion done directly on a raw CuPy array
(``float(cupy_array)``) rather than through the backend or a Tensor; gpuflow's own training loop
does none.
"""
from __future__ import annotations

import contextlib
import threading
import time

__all__ = ["profile", "Profile", "HOST_CONTACTS", "record_host_contact", "record_graph_launch"]

_local = threading.local()


class _Entry:
    __slots__ = ("name", "grid", "block", "calls", "total_s", "_pending")

    def __init__(self, name, grid, block):
        self.name, self.grid, self.block = name, grid, block
        self.calls, self.total_s, self._pending = 0, 0.0, []


#: The kinds of host contact :meth:`Profile.host_contacts` counts, with their labels in :meth:`Profile.table`.
HOST_CONTACTS = {"d2h": "Device-to-host copies", "h2d": "Host-to-device copies", "sync": "Synchronizations"}


class Profile:
    """The launches and host contacts recorded inside one ``profile()`` block."""

    def __init__(self):
        self._entries = {}
        self._host = {kind: [0, 0] for kind in HOST_CONTACTS}
        #: Replays of a captured step (CUDA graph launches; the emulator's recorded launch lists).
        self.graph_launches = 0

    def _record_host(self, kind, nbytes):
        counts = self._host[kind]
        counts[0] += 1
        counts[1] += int(nbytes)

    def host_contacts(self):
        """The CUDA backend's host contacts so far: ``{"d2h" | "h2d" | "sync": {"count": int, "bytes": int}}``
        (device-to-host copies, host-to-device copies, explicit synchronizations; a synchronization's bytes
        are 0)."""
        return {kind: {"count": c, "bytes": b} for kind, (c, b) in self._host.items()}

    def _record(self, name, grid, block, seconds=None, events=None):
        key = (name, tuple(grid), tuple(block))
        e = self._entries.get(key)
        if e is None:
            e = self._entries[key] = _Entry(name, tuple(grid), tuple(block))
        e.calls += 1
        if events is not None:
            e._pending.append(events)
        else:
            e.total_s += seconds

    def _finish(self):
        for e in self._entries.values():
            for start, stop in e._pending:
                stop.synchronize()
                e.total_s += _elapsed_ms(start, stop) / 1000.0
            e._pending.clear()

    def key_averages(self):
        """Entries sorted by total time: list of dicts (name, grid, block, calls, total_ms, avg_us)."""
        rows = [{"name": e.name, "grid": e.grid, "block": e.block, "calls": e.calls,
                 "total_ms": e.total_s * 1e3, "avg_us": e.total_s * 1e6 / max(e.calls, 1)}
                for e in self._entries.values()]
        return sorted(rows, key=lambda r: -r["total_ms"])

    def kernel_names(self):
        """The set of kernel names launched."""
        return {e.name for e in self._entries.values()}

    def table(self):
        """A text table of the launches, longest total time first."""
        rows = self.key_averages()
        head = f"{'Kernel':<28} {'Grid':<16} {'Block':<14} {'Calls':>6} {'Total ms':>10} {'Avg us':>10}"
        lines = [head, "-" * len(head)]
        for r in rows:
            lines.append(f"{r['name']:<28} {str(r['grid']):<16} {str(r['block']):<14} {r['calls']:>6} "
                         f"{r['total_ms']:>10.3f} {r['avg_us']:>10.1f}")
        lines += ["", f"{'Host contacts':<28} {'Count':>8} {'Bytes':>14}", "-" * 52]
        for kind, label in HOST_CONTACTS.items():
            count, nbytes = self._host[kind]
            lines.append(f"{label:<28} {count:>8} {nbytes:>14}")
        lines.append(f"{'Graph launches':<28} {self.graph_launches:>8}")
        return "\n".join(lines)


def _elapsed_ms(start, stop):
    import cupy
    return cupy.cuda.get_elapsed_time(start, stop)


def active():
    """The innermost active Profile, or None."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def profile():
    """Records kernel launches made inside the block; yields a :class:`Profile`."""
    prof = Profile()
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(prof)
    try:
        yield prof
    finally:
        stack.pop()
        prof._finish()


def record_host_contact(kind, nbytes=0):
    """Counts one host contact of ``kind`` ("d2h", "h2d" or "sync") of ``nbytes`` bytes in the innermost
    active profile, as launches are (the CUDA backend calls it from ``to_numpy``, ``asarray`` and
    ``synchronize``)."""
    prof = active()
    if prof is not None:
        prof._record_host(kind, nbytes)


def record_graph_launch():
    """Counts one replay of a captured step in the innermost active profile."""
    prof = active()
    if prof is not None:
        prof.graph_launches += 1


def timed_launch(fn, name, grid, block, args, shared_mem, use_events):
    """Launches ``fn(grid, block, args, shared_mem=...)``, recording it when a profile is active."""
    prof = active()
    if prof is None:
        return fn(grid, block, args, shared_mem=shared_mem)
    if use_events:
        import cupy
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        out = fn(grid, block, args, shared_mem=shared_mem)
        stop.record()
        prof._record(name, grid, block, events=(start, stop))
        return out
    t = time.perf_counter()
    out = fn(grid, block, args, shared_mem=shared_mem)
    prof._record(name, grid, block, seconds=time.perf_counter() - t)
    return out
