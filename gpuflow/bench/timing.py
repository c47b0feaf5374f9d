"""Timing: warm-up, then the median and interquartile range of repeated samples.

The method of ``torch.utils.benchmark`` (``blocked_autorange``), written small:

1. **Warm-up.** ``warmup=N`` runs the function N times untimed. ``warmup=None`` (the default) is
   time-boxed: at least one call, then up to 3 while the warm-up has used less than a quarter
   of the time budget (a 4-second convolution on a 2-core CPU is warmed once, a 20-microsecond
   kernel three times).
2. **Block size.** Each sample times ``number`` back-to-back calls, with ``number`` chosen from
   the last warm-up call so a sample lasts at least ``min_sample_s`` (1 ms): short kernels are
   not lost in the clock's resolution and launch jitter. Figures are per call.
3. **Samples.** ``repeat=N`` takes exactly N samples. ``repeat=None`` (the default) is adaptive
   and time-boxed: at least ``min_repeat`` samples, then more until ``max_time`` seconds are
   spent or ``max_repeat`` samples are taken.
4. **Statistics.** The median per call, the first and third quartiles and their difference
   (IQR), the minimum, and the count. Quartiles are NumPy's linear interpolation.

Clocks: :class:`WallClock` (``time.perf_counter``, calling the device's ``synchronize`` before
reading), :class:`CupyEventClock` and :class:`TorchEventClock` (CUDA events recorded on the
current stream around the block, and a synchronize on the stop event before reading, so the
figure is GPU time from the first launch to the last kernel's end).
"""
from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["measure", "WallClock", "CupyEventClock", "TorchEventClock", "summarize"]


class WallClock:
    """``perf_counter`` around the block; ``sync()`` (if given) runs before each reading."""

    name = "wall"

    def __init__(self, sync=None):
        self._sync = sync or (lambda: None)

    def time(self, fn, number):
        self._sync()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        self._sync()
        return time.perf_counter() - t0


class CupyEventClock:
    """CUDA events through CuPy (gpuflow's CUDA backend on a real GPU)."""

    name = "cuda_events"

    def __init__(self):
        import cupy
        self._cupy = cupy

    def time(self, fn, number):
        cp = self._cupy
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        cp.cuda.get_current_stream().synchronize()
        start.record()
        for _ in range(number):
            fn()
        stop.record()
        stop.synchronize()
        return cp.cuda.get_elapsed_time(start, stop) / 1e3


class TorchEventClock:
    """CUDA events through PyTorch (the PyTorch peer on a GPU)."""

    name = "cuda_events"

    def __init__(self, torch):
        self._torch = torch

    def time(self, fn, number):
        torch = self._torch
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        for _ in range(number):
            fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop) / 1e3


def summarize(per_call, number, warmup, clock_name):
    """The statistics dict of a list of per-call seconds (see the module docstring)."""
    a = np.asarray(per_call, dtype=np.float64)
    q1, med, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    return {"median_s": med, "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1, "min_s": float(a.min()),
            "mean_s": float(a.mean()), "repeats": int(a.size), "number": int(number), "warmup": int(warmup),
            "clock": clock_name}


def measure(fn, *, clock=None, warmup=None, repeat=None, max_time=2.0, min_repeat=3, max_repeat=100,
            min_sample_s=1e-3, on_sample=None):
    """Times ``fn()`` (see the module docstring).

    Args:
        fn: a callable with no arguments; its result is ignored.
        clock: a clock (default :class:`WallClock` with no synchronize).
        warmup: untimed calls first; None = time-boxed (1 to 3 calls).
        repeat: samples; None = adaptive (``min_repeat`` .. ``max_repeat`` within ``max_time``).
        max_time: the time budget in seconds for the adaptive modes.
        min_sample_s: the shortest sample; ``number`` calls per sample make it up.
        on_sample: optional ``on_sample(i, total_or_None)`` after each sample (progress).

    Returns:
        The dict of :func:`summarize`.
    """
    clock = clock or WallClock()
    t_start = time.perf_counter()
    last = None
    done = 0
    if warmup is None:
        while done < 3 and (done == 0 or time.perf_counter() - t_start < max_time / 4):
            last = clock.time(fn, 1)
            done += 1
    else:
        for _ in range(int(warmup)):
            last = clock.time(fn, 1)
            done += 1
    if last is None:  # no warm-up asked: size the block from one timed call, kept as a sample
        last = clock.time(fn, 1)
        first = [last]
    else:
        first = []
    number = 1 if last >= min_sample_s else min(int(math.ceil(min_sample_s / max(last, 1e-9))), 1 << 20)
    per_call = list(first) if number == 1 else []
    t_samples = time.perf_counter()
    target = int(repeat) if repeat is not None else None
    while True:
        n = len(per_call)
        if target is not None:
            if n >= target:
                break
        elif n >= max_repeat or (n >= min_repeat and time.perf_counter() - t_samples >= max_time):
            break
        per_call.append(clock.time(fn, number) / number)
        if on_sample:
            on_sample(len(per_call), target)
    return summarize(per_call, number, done, getattr(clock, "name", "wall"))
