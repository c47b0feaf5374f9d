"""ctypes glue: loads an emulated module's library and runs one launch.

Imported by the package and, on its own, by the bounds-checking worker process (so it must not
import anything from gpuflow).
"""
from __future__ import annotations

import ctypes

import numpy as np

SCHEDULES = {"forward": 0, "reverse": 1, "shuffle": 2}
_SLOT = 16  # bytes per argument slot (a pointer or a scalar of up to 16 bytes)


class Library:
    """A loaded module library: its entry-point thunks, signatures and static shared variables."""

    def __init__(self, path, meta):
        self.path = path
        self.lib = ctypes.CDLL(path, mode=getattr(ctypes, "RTLD_LOCAL", 0))
        f = self.lib.gfemu_launch
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                      ctypes.c_ulonglong, ctypes.c_int, ctypes.c_ulonglong, ctypes.c_void_p, ctypes.c_int,
                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        self._launch = f
        regions = []
        if meta.get("anchor") is not None and meta.get("mode") != "asan":
            base = ctypes.cast(f, ctypes.c_void_p).value - meta["anchor"]
            for _name, off, size in meta.get("shared", ()):
                regions += [base + off, size]
        self._regions = np.array(regions, dtype=np.uint64)

    def thunk(self, name):
        return ctypes.cast(getattr(self.lib, "gfemu_thunk_" + name), ctypes.c_void_p).value

    def signature(self, name):
        fn = getattr(self.lib, "gfemu_sig_" + name)
        fn.restype = ctypes.c_char_p
        return fn().decode()

    def launch(self, thunk, grid, block, items, shared_mem, schedule, seed, copy_sizes=None, copy_back=None,
               name=""):
        """Runs one grid. items: per parameter ("a", C-contiguous ndarray) or ("s", scalar bytes).

        With copy_sizes (bounds checking) the runtime works on exact-size copies of the arrays and
        writes back those whose copy_back flag is set. Returns None, or the error message.
        """
        n = len(items)
        slots = np.zeros(max(1, n) * _SLOT // 8, dtype=np.uint64)
        ptrs = np.zeros(max(1, n), dtype=np.uint64)
        base = slots.ctypes.data
        for i, (kind, v) in enumerate(items):
            if kind == "a":
                slots[i * _SLOT // 8] = v.ctypes.data
            else:
                ctypes.memmove(base + i * _SLOT, v, len(v))
            ptrs[i] = base + i * _SLOT
        g = np.array(grid, dtype=np.uint32)
        b = np.array(block, dtype=np.uint32)
        sizes = np.array(copy_sizes, dtype=np.int64) if copy_sizes is not None else None
        back = np.array(copy_back, dtype=np.int32) if copy_back is not None else None
        err = ctypes.create_string_buffer(8192)
        rc = self._launch(thunk, ptrs.ctypes.data, n, g.ctypes.data, b.ctypes.data, int(shared_mem),
                          SCHEDULES[schedule], int(seed) & (2**64 - 1),
                          self._regions.ctypes.data if len(self._regions) else None, len(self._regions) // 2,
                          sizes.ctypes.data if sizes is not None else None,
                          back.ctypes.data if back is not None else None, name.encode(), err, len(err))
        # Keep the arrays alive across the call (they are referenced by items until here).
        del items
        return None if rc == 0 else err.value.decode(errors="replace")
