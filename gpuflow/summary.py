"""``tf.summary``: TensorBoard event files from eager code (TensorFlow 2.21's ``summary_ops_v2`` semantics, with
the scalar, histogram, text and image summaries of TensorBoard's ``summary_v2`` plugins).

A writer from :func:`create_file_writer` becomes the thread's default inside ``with writer.as_default():`` (or after
``writer.set_as_default()``); each summary op then writes one event with the plugin data TensorFlow writes (a
``float32`` scalar tensor for ``scalars``, a ``(buckets, 3)`` ``float64`` tensor for ``histograms``, a string tensor
for ``text``, ``[width, height, png...]`` for ``images``), so TensorBoard shows them on the same dashboards. Without a
default writer, or under ``record_if(False)``, a summary op writes nothing and returns False. The ops return Python
bools where TensorFlow returns a scalar bool tensor (gpuflow runs eagerly).

Event files are written by ``tensorboardX`` (``pip install 'gpuflow[tensorboard]'``), named like TensorFlow's:
``events.out.tfevents.<time>.<host>.<pid>.<n><filename_suffix>``.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import struct
import threading
import time
import types
import weakref
import zlib

import numpy as np

from .io import local_path
from .module import get_current_name_scope

__all__ = ["SummaryWriter", "create_file_writer", "create_noop_writer", "scalar", "histogram", "text", "image",
           "write", "flush", "record_if", "should_record_summaries", "experimental"]

_DEFAULT_BUCKET_COUNT = 30  # tensorboard/plugins/histogram/summary_v2.py


class _State(threading.local):
    # TensorFlow keeps the default writer, step and recording condition per thread
    writer = None
    step = None
    is_recording = None


_state = _State()
_file_counter = itertools.count()


@functools.lru_cache(maxsize=None)
def _tbx():
    # tensorboardX's event writer and protobuf classes (an ImportError with the install command when missing)
    try:
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
    except ImportError:
        raise ImportError("tf.summary writes event files with tensorboardX: "
                          "pip install 'gpuflow[tensorboard]' (or pip install tensorboardX).") from None
    return types.SimpleNamespace(EventsWriter=EventsWriter, Event=event_pb2.Event, Summary=summary_pb2.Summary,
                                 SummaryMetadata=summary_pb2.SummaryMetadata, TensorProto=tensor_pb2.TensorProto,
                                 TensorShapeProto=tensor_shape_pb2.TensorShapeProto)


class SummaryWriter:
    """The summary writer interface (``tf.summary.SummaryWriter``): ``as_default``, ``set_as_default``, ``init``,
    ``flush``, ``close``."""

    def set_as_default(self, step=None):
        """Makes this writer the thread's default (and ``step``, when not None, the default step) for good."""
        self.as_default(step).__enter__()

    def as_default(self, step=None):
        """A context manager making this writer the thread's default; ``step``, when not None, is the default step
        inside it. The previous writer and step come back on exit, and the writer is flushed."""
        return _SummaryContext(self, step)

    def init(self):
        """Initializes the writer (a no-op: writers are ready when created)."""

    def flush(self):
        """Writes buffered events to disk."""

    def close(self):
        """Flushes and closes the writer."""


class _SummaryContext:
    # summary_ops_v2._SummaryContextManager
    def __init__(self, writer, step):
        self._writer, self._step = writer, step

    def __enter__(self):
        self._old_writer, self._old_step = _state.writer, _state.step
        _state.writer = self._writer
        if self._step is not None:
            _state.step = self._step
        return self._writer

    def __exit__(self, *exc):
        _state.writer.flush()
        _state.writer = self._old_writer
        if self._step is not None:
            _state.step = self._old_step
        return False


class _FileWriter(SummaryWriter):
    """The writer :func:`create_file_writer` returns: one event file, written through ``tensorboardX``'s
    ``EventsWriter``. As TensorFlow's file writer, events are flushed when more than ``max_queue`` wait or
    ``flush_millis`` have passed since the last flush (checked at each write), by ``flush()`` and ``close()``, and at
    exit."""

    def __init__(self, logdir, max_queue, flush_millis, filename_suffix):
        tbx = _tbx()
        os.makedirs(logdir, exist_ok=True)
        suffix = f".{os.getpid()}.{next(_file_counter)}{filename_suffix}"  # TensorFlow's event file name
        self._events = tbx.EventsWriter(os.path.join(logdir, "events"), suffix)
        self._close_file = weakref.finalize(self, self._events.close)
        self._max_queue, self._flush_secs = max_queue, flush_millis / 1000
        self._pending, self._last_flush = 0, time.monotonic()

    def _check_open(self):
        if not self._close_file.alive:
            raise RuntimeError(f"SummaryWriter {self!r} is already closed")

    def as_default(self, step=None):
        self._check_open()
        return super().as_default(step)

    def init(self):
        self._check_open()

    def flush(self):
        if self._close_file.alive:
            self._events.flush()
            self._pending, self._last_flush = 0, time.monotonic()

    def close(self):
        self._close_file()

    def _write(self, summary, step):
        self._check_open()
        self._events.write_event(_tbx().Event(wall_time=time.time(), step=step, summary=summary))
        self._pending += 1
        if self._pending > self._max_queue or time.monotonic() - self._last_flush > self._flush_secs:
            self.flush()


class _NoopWriter(SummaryWriter):
    # TensorFlow's _NoopSummaryWriter: as_default does not even install it, so summary ops return False under it
    def set_as_default(self, step=None):
        pass

    @contextlib.contextmanager
    def as_default(self, step=None):
        yield


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None):
    """Creates a summary file writer for ``logdir`` (``tf.summary.create_file_writer``); the directory and the event
    file are created at once.

    Args:
        logdir: the directory for the event file (str or path-like).
        max_queue: the most events kept before a flush (default 10).
        flush_millis: the longest time between flushes, in milliseconds (default 120,000).
        filename_suffix: appended to the event file's name (default ``".v2"``).
        name: unused (TensorFlow's op name).

    Returns:
        A :class:`SummaryWriter`.

    Raises:
        ValueError: ``logdir`` is None.
        UnimplementedError: ``logdir`` is not local (``gs://`` ...).
        ImportError: tensorboardX is not installed (with the install command).
    """
    del name
    if logdir is None:
        raise ValueError("Argument `logdir` cannot be None")
    return _FileWriter(local_path(logdir), 10 if max_queue is None else int(max_queue),
                       120_000 if flush_millis is None else flush_millis,
                       ".v2" if filename_suffix is None else str(filename_suffix))


def create_noop_writer():
    """A writer that writes nothing (``tf.summary.create_noop_writer``): a placeholder where code expects one."""
    return _NoopWriter()


def flush(writer=None, name=None):
    """Flushes ``writer``, or the default writer when None (nothing when there is none) (``tf.summary.flush``).

    Raises:
        ValueError: ``writer`` is not a :class:`SummaryWriter`.
    """
    del name
    writer = _state.writer if writer is None else writer
    if writer is None:
        return
    if not isinstance(writer, SummaryWriter):
        raise ValueError(f"Invalid argument to flush(): {writer!r}")
    writer.flush()


@contextlib.contextmanager
def record_if(condition):
    """A context manager turning recording on or off (``tf.summary.record_if``): ``condition`` is a bool, a scalar
    bool tensor, or a callable returning one, called at each summary op (``lambda: step % 100 == 0``)."""
    old = _state.is_recording
    _state.is_recording = condition
    try:
        yield
    finally:
        _state.is_recording = old


def should_record_summaries():
    """True if a summary op would write now: a default writer is set and the ``record_if`` condition (True when
    none is set) holds (``tf.summary.should_record_summaries``)."""
    if _state.writer is None:
        return False
    cond = _state.is_recording
    cond = cond() if callable(cond) else cond
    return True if cond is None else bool(cond)


class experimental:  # noqa: N801 - tf.summary.experimental
    """``tf.summary.experimental``: the thread's default step."""

    @staticmethod
    def get_step():
        """The default step set by :func:`set_step` (or ``as_default(step=...)``), else None; returned as given (a
        Variable stays a Variable, read at each summary op)."""
        return _state.step

    @staticmethod
    def set_step(step):
        """Sets the thread's default step: an integer, a scalar integer tensor or Variable, or None to unset."""
        _state.step = step


def _step_value(step):
    if step is None:
        step = _state.step
    if step is None:
        raise ValueError("No step set. Please specify one either through the `step` argument or through "
                         "tf.summary.experimental.set_step()")
    value = np.asarray(step)
    if value.shape != () or value.dtype.kind not in "iu":
        raise TypeError(f"The summary step must be an int64-castable scalar (an int or a scalar integer tensor). "
                        f"Received: step={step!r}")
    return int(value)


# tensorflow/core/framework/types.proto
_DTYPES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "int64": 9, "bool": 10,
           "uint16": 17, "float16": 19, "uint32": 22, "uint64": 23}
_DT_STRING = 7


def _tensor_proto(value):
    # A TensorProto as TensorFlow's WriteSummary writes it: numbers in tensor_content, strings in string_val
    tbx = _tbx()
    value = np.asarray(value)
    shape = tbx.TensorShapeProto(dim=[tbx.TensorShapeProto.Dim(size=d) for d in value.shape])
    if value.dtype.kind in "OUS":
        return tbx.TensorProto(dtype=_DT_STRING, tensor_shape=shape,
                                      string_val=[v if isinstance(v, bytes) else str(v).encode() for v in value.flat])
    if value.dtype.name not in _DTYPES:
        raise TypeError(f"tf.summary.write expects a numeric or string tensor. Received: dtype={value.dtype}")
    return tbx.TensorProto(dtype=_DTYPES[value.dtype.name], tensor_shape=shape,
                                  tensor_content=value.astype(value.dtype.newbyteorder("<")).tobytes())


def write(tag, tensor, step=None, metadata=None, name=None):
    """Writes ``tensor`` under ``tag`` to the default writer (``tf.summary.write``, the op under the typed summaries).

    Args:
        tag: the summary tag (not prefixed by name scopes).
        tensor: an array-like or Tensor (numeric, bool, or str/bytes), or a callable returning one, called only when
            recording.
        step: the step (int or scalar integer tensor); default ``tf.summary.experimental.get_step()``.
        metadata: a ``SummaryMetadata`` proto (tensorboardX's or TensorBoard's), or its serialized bytes.
        name: unused (TensorFlow's op name).

    Returns:
        True if written; False when there is no default writer or recording is off.

    Raises:
        ValueError: recording, but no step given or set.
        TypeError: the step is not an integer scalar, or the tensor's dtype cannot be written.
    """
    del name
    if not should_record_summaries():
        return False
    meta = _tbx().SummaryMetadata()
    if metadata is not None:
        meta.ParseFromString(metadata if isinstance(metadata, bytes) else metadata.SerializeToString())
    return _emit(tag, tensor, step, meta)


def _emit(tag, tensor, step, metadata):
    # the event of summary_ops_v2.write's record(), once recording is known to be on
    step = _step_value(step)
    value = _tensor_proto(tensor() if callable(tensor) else tensor)
    _state.writer._write(_tbx().Summary(value=[{"tag": tag, "metadata": metadata, "tensor": value}]), step)
    return True


def _write(name, tensor, step, description, plugin):
    # a typed summary: the tag under the enclosing name scopes (summary_ops_v2.summary_scope), the plugin's metadata
    # (its version-0 plugin content serializes to nothing)
    if not should_record_summaries():
        return False
    scope = get_current_name_scope()
    metadata = _tbx().SummaryMetadata(summary_description=description, plugin_data={"plugin_name": plugin})
    return _emit(f"{scope}/{name}" if scope else name, tensor, step, metadata)


def _as_array(data, what):
    if data is None:
        raise ValueError(f"tf.summary.{what} expects data. Received: data=None")
    return np.asarray(data)


def scalar(name, data, step=None, description=None):
    """Writes a scalar summary (``tf.summary.scalar``): ``data`` cast to float32, plugin ``scalars``.

    Args:
        name: the tag, prefixed by the enclosing ``tf.name_scope`` scopes.
        data: a real scalar: Python number, NumPy scalar, or 0-d Tensor/Variable.
        step: the step (int or scalar integer tensor); default ``tf.summary.experimental.get_step()``.
        description: optional long description (Markdown), stored in the summary metadata.

    Returns:
        True if written; False when there is no default writer or recording is off.

    Raises:
        ValueError: ``data`` is not a scalar; or recording with no step given or set.
        TypeError: ``data`` is not numeric.
    """
    value = _as_array(data, "scalar")
    if value.shape != ():
        raise ValueError(f"Expected scalar shape, saw shape: {value.shape}.")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"tf.summary.scalar expects a real number. Received: data={data!r}")
    return _write(name or "scalar_summary", lambda: value.astype(np.float32), step, description, "scalars")


def _buckets(data, bucket_count):
    # tensorboard/plugins/histogram/summary_v2.py _buckets (TensorFlow version): rows [left, right, count], float64
    bucket_count = max(0, bucket_count)
    data = data.reshape(-1).astype(np.float64)
    if data.size == 0 or bucket_count == 0:
        return np.zeros((bucket_count, 3))
    lo, hi = data.min(), data.max()
    if hi == lo:
        counts = np.zeros(bucket_count)
        counts[-1] = data.size
        return np.stack([np.full(bucket_count, hi), np.full(bucket_count, hi), counts], axis=1)
    indices = np.minimum(np.floor((data - lo) / ((hi - lo) / bucket_count)).astype(np.int64), bucket_count - 1)
    edges = np.linspace(lo, hi, bucket_count + 1)
    edges[-1] = hi
    return np.stack([edges[:-1], edges[1:], np.bincount(indices, minlength=bucket_count).astype(np.float64)], axis=1)


def histogram(name, data, step=None, buckets=None, description=None):
    """Writes a histogram summary (``tf.summary.histogram``, plugin ``histograms``): a ``(buckets, 3)`` float64
    tensor of ``[left_edge, right_edge, count]`` rows over all elements of ``data``, ``buckets`` equal-width buckets
    from its min to its max (the last one closed). All-equal data puts every count in the last bucket, all edges at
    that value; empty data gives zero rows of counts; ``buckets=0`` gives shape ``(0, 3)``.

    Args:
        name: the tag, prefixed by the enclosing ``tf.name_scope`` scopes.
        data: a real array-like or Tensor of any shape.
        step: the step (int or scalar integer tensor); default ``tf.summary.experimental.get_step()``.
        buckets: the number of buckets (default 30).
        description: optional long description (Markdown).

    Returns:
        True if written; False when there is no default writer or recording is off.

    Raises:
        ValueError: recording with no step given or set.
    """
    value = _as_array(data, "histogram")
    count = _DEFAULT_BUCKET_COUNT if buckets is None else int(buckets)
    return _write(name or "histogram_summary", lambda: _buckets(value, count), step, description, "histograms")


def text(name, data, step=None, description=None):
    """Writes a text summary (``tf.summary.text``, plugin ``text``; TensorBoard renders it as Markdown).

    Args:
        name: the tag, prefixed by the enclosing ``tf.name_scope`` scopes.
        data: a str or bytes, or a (nested) list / NumPy array of them, of any shape (gpuflow has no string
            tensors).
        step: the step (int or scalar integer tensor); default ``tf.summary.experimental.get_step()``.
        description: optional long description (Markdown).

    Returns:
        True if written; False when there is no default writer or recording is off.

    Raises:
        TypeError: ``data`` is not text.
        ValueError: recording with no step given or set.
    """
    value = np.asarray(data, dtype=object)
    if not all(isinstance(v, (str, bytes)) for v in value.flat):
        raise TypeError(f"tf.summary.text expects str or bytes data. Received: data={data!r}")
    return _write(name or "text_summary", lambda: value, step, description, "text")


def _png(image):
    # A PNG file (8-bit; gray, gray+alpha, RGB or RGBA by channel count) from a (h, w, c) uint8 array: the format's
    # chunks written with zlib, so images need no imaging library
    h, w, c = image.shape
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    rows = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1)  # filter type 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes()))
            + chunk(b"IEND", b""))


def _to_uint8(images):
    # tf.image.convert_image_dtype(images, tf.uint8, saturate=True)
    kind = images.dtype.kind
    if kind == "f":
        return np.clip(images.astype(np.float64) * 255.5, 0, 255).astype(np.uint8)
    if kind in "iu":
        top, pixels = int(np.iinfo(images.dtype).max), images.astype(np.int64)
        pixels = pixels // ((top + 1) // 256) if top > 255 else pixels * (256 // (top + 1))
        return np.clip(pixels, 0, 255).astype(np.uint8)
    raise TypeError(f"tf.summary.image expects float or integer pixels. Received: data.dtype={images.dtype}")


def image(name, data, step=None, max_outputs=3, description=None):
    """Writes an image summary (``tf.summary.image``, plugin ``images``): the first ``max_outputs`` images as PNGs,
    after the width and height (as strings).

    Args:
        name: the tag, prefixed by the enclosing ``tf.name_scope`` scopes.
        data: ``(k, h, w, c)`` pixels with ``c`` in 1 (grayscale), 2 (grayscale+alpha), 3 (RGB) or 4 (RGBA): floats
            in [0, 1] (scaled by 255.5 and clipped, as ``tf.image.convert_image_dtype`` with ``saturate=True``),
            uint8, or other integers (rescaled to 8 bits).
        step: the step (int or scalar integer tensor); default ``tf.summary.experimental.get_step()``.
        max_outputs: at most this many images are written.
        description: optional long description (Markdown).

    Returns:
        True if written; False when there is no default writer or recording is off.

    Raises:
        ValueError: ``data`` is not rank 4 with 1 to 4 channels, ``max_outputs`` is negative, or recording with no
            step given or set.
        TypeError: the pixels are not numbers.
    """
    def tensor():
        images = _as_array(data, "image")
        if images.ndim != 4 or not 1 <= images.shape[-1] <= 4:
            raise ValueError("tf.summary.image expects data of shape (k, h, w, c) with 1 to 4 channels. "
                             f"Received: data.shape={images.shape}")
        if max_outputs < 0:
            raise ValueError(f"max_outputs must be non-negative. Received: max_outputs={max_outputs}")
        pixels = _to_uint8(images)
        dims = [str(images.shape[2]).encode(), str(images.shape[1]).encode()]
        return np.array(dims + [_png(im) for im in pixels[:max_outputs]], dtype=object)

    return _write(name or "image_summary", tensor, step, description, "images")
