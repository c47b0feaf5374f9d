"""A live progress line on stderr: ``[ 3/30 12s] conv2d_fwd 128x28x28x32->64 3x3 same · torch``.

On a terminal the line is redrawn in place (and a ticker thread keeps the elapsed time moving
while a long measurement or a subprocess runs); elsewhere (CI logs, pipes) each step is one
plain line, so a log shows how far a run got. ``enabled=False`` prints nothing.
"""
from __future__ import annotations

import sys
import threading
import time

__all__ = ["Progress"]


class Progress:
    def __init__(self, total, stream=None, enabled=True, title=""):
        self.total = max(int(total), 1)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.title = title
        self.i = 0
        self.label = ""
        self.detail = ""
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._width = 0
        self._ticker = None
        if self.tty:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _line(self):
        w = len(str(self.total))
        el = time.perf_counter() - self.t0
        text = f"[{self.i:>{w}}/{self.total} {el:4.0f}s] {self.title}{self.label}"
        return text + (f" · {self.detail}" if self.detail else "")

    def _draw(self):
        if not self.enabled:
            return
        with self._lock:
            line = self._line()
            if self.tty:
                cols = 120
                line = line[:cols - 1]
                pad = max(self._width - len(line), 0)
                self.stream.write("\r" + line + " " * pad)
                self._width = len(line)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _tick(self):
        while not self._stop.wait(0.5):
            if self.label:
                self._draw()

    def step(self, label):
        """Starts the next step (counts it and redraws)."""
        self.i = min(self.i + 1, self.total)
        self.label, self.detail = label, ""
        self._draw()

    def note(self, detail):
        """Updates the detail of the current step (redrawn on a terminal only, to keep logs short)."""
        self.detail = detail
        if self.tty:
            self._draw()

    def close(self):
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=1)
        if self.tty and self.enabled:
            with self._lock:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
