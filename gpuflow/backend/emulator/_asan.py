"""Out-of-bounds checking (GPUFLOW_EMU_BOUNDS=1): launches run in a worker process under AddressSanitizer.

An ASan-instrumented library cannot be loaded into an uninstrumented Python (the ASan runtime must
come first in the process), and ASan ends the process on the first error. So bounds-checked launches
go to a long-lived worker — ``python _asan.py`` with ``LD_PRELOAD=<the compiler's libasan.so>`` —
which loads the ASan build of the module and runs each launch on exact-size heap copies of the array
arguments (see gfemu_launch in cuda_emu_runtime.cpp). The parent sends the arrays with pickle and
copies the writable ones back. When ASan stops the worker, the parent reads its report from the
worker's stderr, names the kernel, the parameter and the source line, and starts a new worker on the
next launch.

This file is also the worker's main program, so it imports nothing from gpuflow.
"""
from __future__ import annotations

import os
import pickle
import re
import struct
import subprocess
import sys
import tempfile
import threading

ASAN_OPTIONS = ("detect_leaks=0:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0:"
                "detect_odr_violation=0:allocator_may_return_null=1:symbolize=1:print_summary=1:"
                "handle_segv=1:exitcode=86")


def _send(f, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<Q", len(data)))
    f.write(data)
    f.flush()


def _recv(f):
    head = f.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    data = f.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)


class WorkerDied(Exception):
    def __init__(self, log, returncode):
        super().__init__(log)
        self.log, self.returncode = log, returncode


class Worker:
    """One bounds-checking worker process (started on demand, restarted after a crash)."""

    def __init__(self, libasan):
        self.libasan = libasan
        self.proc = None
        self.lock = threading.Lock()

    def _start(self):
        r_req, w_req = os.pipe()
        r_rep, w_rep = os.pipe()
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ)
        env["LD_PRELOAD"] = self.libasan + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
        env["ASAN_OPTIONS"] = ASAN_OPTIONS + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(r_req), str(w_rep)],
                                     pass_fds=(r_req, w_rep), stdin=subprocess.DEVNULL, stderr=self.log, env=env)
        os.close(r_req)
        os.close(w_rep)
        self.w = os.fdopen(w_req, "wb")
        self.r = os.fdopen(r_rep, "rb")

    def _stop(self):
        for f in (getattr(self, "w", None), getattr(self, "r", None)):
            try:
                f.close()
            except Exception:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        """Ends the worker (it exits when its request pipe closes)."""
        with self.lock:
            self._stop()

    def request(self, req):
        """Sends one launch; returns the worker's reply. Raises WorkerDied with the stderr log."""
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._stop()
                self._start()
            fd = self.log.fileno()
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            try:
                _send(self.w, req)
                reply = _recv(self.r)
            except (BrokenPipeError, OSError):
                reply = None
            if reply is None:
                self.proc.wait()
                rc = self.proc.returncode
                os.lseek(fd, 0, os.SEEK_SET)
                log = b""
                while True:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    log += chunk
                self._stop()
                self.log.close()
                raise WorkerDied(log.decode(errors="replace"), rc)
            return reply


def describe(log, params, shared_mem):
    """A one-paragraph summary of an ASan report: kind, access, source line, and the argument hit."""
    m = re.search(r"ERROR: AddressSanitizer: ([\w-]+) on (?:unknown )?address (0x[0-9a-fA-F]+)", log)
    if not m:
        return None
    kind, addr = m.group(1), int(m.group(2), 16)
    acc = re.search(r"\b(READ|WRITE) of size (\d+)", log)
    access = f"{acc.group(1).lower()} of {acc.group(2)} bytes" if acc else "access"
    where = None
    for fm in re.finditer(r"#\d+ 0x[0-9a-fA-F]+ in (\S+) (\S+?):(\d+)", log):
        fn, path, line = fm.groups()
        if os.path.basename(path).startswith("cuda_emu"):
            continue
        where = f"{os.path.basename(path)}:{line} (in {fn})"
        break
    target = None
    args = [(int(a), int(p, 16), int(n)) for a, p, n in re.findall(r"gfemu-arg (\d+) (0x[0-9a-fA-F]+) (\d+)", log)]
    best = None
    for i, start, size in args:
        if addr >= start + size:
            dist, side = addr - (start + size), "after the end"
        elif addr < start:
            dist, side = start - addr, "before the start"
        else:
            dist, side = 0, "inside"
        if best is None or dist < best[0]:
            best = (dist, side, i, size)
    loc = re.search(r"is located (\d+) bytes (inside|after|before|to the right|to the left)[^\n]*", log)
    smem = re.search(r"gfemu-smem (0x[0-9a-fA-F]+) (\d+)", log)
    smem_at = int(smem.group(1), 16) if smem else None
    if smem_at is not None and smem_at <= addr < smem_at + 227 * 1024:
        target = (f"byte {addr - smem_at} of dynamic shared memory, which has shared_mem={shared_mem} bytes")
    elif loc and "global variable" in loc.group(0):
        gv = re.search(r"global variable '([^']+)'", loc.group(0))
        name = gv.group(1) if gv else "?"
        target = f"the __shared__ variable {name!r} ({loc.group(0).strip()})"
    elif best is not None and best[0] <= 4096 and best[1] != "inside":
        dist, side, i, size = best
        pname = params[i] if i < len(params) else f"arg{i}"
        how = ("just past the end" if dist == 0 and side == "after the end" else f"{dist} bytes {side}")
        target = f"{how} of parameter {i} {pname!r} (an array of {size} bytes)"
    msg = f"out-of-bounds {access} ({kind})"
    if where:
        msg += f" at {where}"
    if target:
        msg += f": {target}"
    return msg


def _main(fd_in, fd_out):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _native  # noqa: E402  (standalone import: the worker never imports gpuflow)

    libs = {}
    rin, wout = os.fdopen(fd_in, "rb"), os.fdopen(fd_out, "wb")
    while True:
        req = _recv(rin)
        if req is None:
            return
        lib = libs.get(req["lib"])
        if lib is None:
            lib = libs[req["lib"]] = _native.Library(req["lib"], req["meta"])
        items = req["items"]
        err = lib.launch(lib.thunk(req["kernel"]), req["grid"], req["block"], items, req["shared_mem"],
                         req["schedule"], req["seed"], req["copy_sizes"], req["copy_back"], req["kernel"])
        out = None
        if err is None:
            out = {i: items[i][1] for i, back in enumerate(req["copy_back"]) if back}
        _send(wout, (err, out))


if __name__ == "__main__":
    _main(int(sys.argv[1]), int(sys.argv[2]))
