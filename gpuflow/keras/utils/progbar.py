"""``keras.utils.Progbar``: the progress bar ``fit``/``evaluate``/``predict`` print.

Written to produce byte-for-byte the output of Keras 3's
``keras.utils.Progbar`` (checked against Keras 3.15.1 in
``tests/test_progbar.py``).  What it prints, per mode:

verbose=1, dynamic display (the usual case, see below): every update that is
at least ``interval`` seconds after the previous one, or that finalizes,
writes ``"\\b" * previous_width + "\\r"`` then the line, padded with spaces
when shorter than the previous one; a finalizing update ends with ``"\\n"``::

    \\r\\x1b[1m 3/16\\x1b[0m \\x1b[32m━━━\\x1b[0m\\x1b[37m━━━━━━━━━━━━━━━━━\\x1b[0m \\x1b[1m0s\\x1b[0m 39ms/step - accuracy: 0.1855 - loss: 2.0689

(i.e. on screen ``" 3/16 ━━━━━━━━━━━━━━━━━━━━ 0s 39ms/step - accuracy: 0.1855 - loss: 2.0689"``,
step count bold, done part of the bar green, rest grey; the time field is the
ETA while running and the elapsed seconds once finalized.)

verbose=1 without dynamic display: the same lines, each preceded by ``"\\n"``
instead of backspaces and ``"\\r"``.

verbose=2: nothing until the finalizing update, then one plain line::

    16/16 - 2s - 54ms/step - accuracy: 0.4619 - loss: 1.7661

"Dynamic display" follows Keras: stdout is a terminal, or IPython's kernel is
loaded, or the ``posix`` module is loaded, or ``PYCHARM_HOSTED`` is set.  The
``posix`` module is loaded in every CPython on Linux and macOS, so there Keras
(and this class) redraws the bar with ``\\b``/``\\r`` even when stdout is a
file or a pipe; only on Windows does a non-terminal get one line per update.

Metric values: a metric listed in ``stateful_metrics`` is shown as given;
others are averaged over the steps seen (weighted by steps since the previous
update).  Values print as ``f"{v:.4f}"``, or ``f"{v:.4e}"`` when
``|v| <= 1e-3`` (verbose=2 compares ``v`` itself, not ``|v|``, so negative
values print in exponent form there, as in Keras).
"""

import math
import os
import sys
import time

import numpy as np

from .. import config
from .io_utils import print_msg

__all__ = ["Progbar"]

_BAR_CHAR = "━"


def _write(stream, message):
    """Writes and flushes; falls back to "=" for the bar on non-UTF-8 streams
    (as Keras's ``io_utils.print_msg`` does). With interactive logging disabled
    (``keras.config.disable_interactive_logging``) the message goes to Python's ``logging`` instead, as Keras."""
    if not config.is_interactive_logging_enabled():
        return print_msg(message, line_break=False)
    try:
        stream.write(message)
    except UnicodeEncodeError:
        message = message.replace(_BAR_CHAR, "=")
        encoding = getattr(stream, "encoding", None) or "utf-8"
        stream.write(message.encode(encoding, errors="ignore").decode(encoding))
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()


def _has_dynamic_display(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if isatty is not None else False
    except ValueError:
        tty = False
    return (
        tty
        or "ipykernel" in sys.modules
        or "posix" in sys.modules
        or "PYCHARM_HOSTED" in os.environ
    )


def _format_value(avg, signed):
    small = abs(avg) <= 1e-3 if signed else avg <= 1e-3
    return f" {avg:.4e}" if small else f" {avg:.4f}"


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, ``None`` if unknown.
        width: width of the bar in characters.
        verbose: 0 (silent), 1 (progress bar), 2 (one line when finished).
        interval: minimum seconds between two redraws (verbose=1).
        stateful_metrics: names of metrics shown as given rather than
            averaged.  Mutually exclusive with ``stateless_metrics``.
        stateless_metrics: names of metrics that are averaged; all others are
            then shown as given (``ProgbarLogger`` passes an empty set here, so
            ``fit`` shows its logs unchanged).
        unit_name: ``"step"`` or ``"sample"``, for the ``ms/step`` field.
        stream: where to write; default ``sys.stdout`` at each write.  Not a
            Keras argument.
        time_fn: clock returning seconds (``time.time`` by default); for
            tests.  Not a Keras argument.

    Raises:
        ValueError: if both ``stateful_metrics`` and ``stateless_metrics``
            are given.
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
        *,
        stream=None,
        time_fn=None,
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be "
                "provided. Received: "
                f"stateful_metrics={stateful_metrics}, "
                f"stateless_metrics={stateless_metrics}"
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None
        self._stream = stream
        self._time = time_fn or time.time
        self._dynamic_display = _has_dynamic_display(self.stream)
        # name -> [weighted sum, weight]; insertion order is display order
        self._values = {}
        self._seen_so_far = 0
        self._start = self._time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def _is_averaged(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def update(self, current, values=None, finalize=None):
        """Updates the progress bar.

        Args:
            current: index of the current step (1-based count of steps done).
            values: list of ``(name, value)`` pairs for the last step.
            finalize: whether this is the last update; defaults to
                ``current >= target`` (``False`` when ``target`` is None).
        """
        if finalize is None:
            finalize = False if self.target is None else current >= self.target

        for name, value in values or []:
            if self._is_averaged(name) and not finalize:
                weight = max(current - self._seen_so_far, 1)
                if name in self._values:
                    self._values[name][0] += value * weight
                    self._values[name][1] += weight
                else:
                    self._values[name] = [value * weight, weight]
            else:
                # shown as given (a finalizing update also resets averages)
                self._values[name] = [value, 1]
        self._seen_so_far = current

        now = self._time()
        time_per_unit = self._step_duration(current, now)

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._print_bar(current, now, time_per_unit, finalize)
        elif self.verbose == 2:
            if finalize and self.target is not None and self.target > 0:
                digits = int(math.log10(self.target)) + 1
                line = f"%{digits}d/%d" % (current, self.target)
                line += f" - {now - self._start:.0f}s"
                line += " -" + self._format_time(time_per_unit)
                line += self._format_metrics(signed=False) + "\n"
                _write(self.stream, line)
        self._last_update = now

    def add(self, n, values=None):
        """Advances the bar by ``n`` steps (``update(seen + n, values)``)."""
        self.update(self._seen_so_far + n, values)

    # -- pieces of the line ------------------------------------------------

    def _print_bar(self, current, now, time_per_unit, finalize):
        if self._dynamic_display:
            message = "\b" * self._prev_total_width + "\r"
        else:
            message = "\n"

        known = self.target is not None and self.target > 0
        if known:
            digits = int(math.log10(self.target)) + 1
            count = f"%{digits}d/%d" % (current, self.target)
            done = int(self.width * (float(current) / self.target))
            # bold count, green done part (omitted when empty), grey rest
            bar = f"\x1b[1m{count}\x1b[0m "
            if done > 0:
                bar += f"\x1b[32m{_BAR_CHAR * done}\x1b[0m"
            bar += f"\x1b[37m{_BAR_CHAR * (self.width - done)}\x1b[0m"
            visible = len(count) + 1 + max(done, 0) + max(self.width - done, 0)
        else:
            bar = "%7d/Unknown" % current
            visible = len(bar)

        if known and not finalize:
            eta = time_per_unit * (self.target - current)
            if eta > 3600:
                eta_text = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
            elif eta > 60:
                eta_text = "%d:%02d" % (eta // 60, eta % 60)
            else:
                eta_text = "%ds" % eta
        else:
            eta_text = f"{now - self._start:.0f}s"
        info = f" \x1b[1m{eta_text}\x1b[0m"
        visible += 1 + len(eta_text)
        tail = self._format_time(time_per_unit) + self._format_metrics(signed=True)
        info += tail
        visible += len(tail)

        message += bar + info
        if self._prev_total_width > visible:
            message += " " * (self._prev_total_width - visible)
        if finalize:
            message += "\n"
        _write(self.stream, message)
        self._prev_total_width = visible

    def _format_metrics(self, signed):
        text = ""
        for name, (total, count) in self._values.items():
            if not isinstance(total, float):
                total = np.mean(total)
            text += f" - {name}:" + _format_value(total / max(1, count), signed)
        return text

    def _format_time(self, time_per_unit):
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{self.unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1000.0:.0f}ms/{self.unit_name}"
        return f" {time_per_unit * 1000000.0:.0f}us/{self.unit_name}"

    def _step_duration(self, current, now):
        """Seconds per step.  The first step (graph tracing, warm-up) is left
        out of the estimate once later steps exist; 0 before any step."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit
