"""``keras.config`` (and the same functions in ``keras.backend``): Keras 3.15's global settings.

Follows ``keras/src/backend/config.py`` and ``keras/src/utils/io_utils.py``: the default float type
(:func:`floatx`, which the global dtype policy defaults to when none is set), the fuzz factor :func:`epsilon`, the
image data format layers take when their ``data_format`` is None, interactive logging (the progress bar), and
``enable_unsafe_deserialization``. Settings are process-wide, as in Keras.

What gpuflow does not have is answered plainly: :func:`set_backend` accepts only ``"gpuflow"`` (gpuflow runs its
own backends: see :mod:`gpuflow.device`), and ``"channels_first"`` is accepted as the image data format but the
layers that would use it raise ``NotImplementedError`` when built (they run NHWC only).
"""
from __future__ import annotations

__all__ = ["backend", "set_backend", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "dtype_policy", "set_dtype_policy", "enable_unsafe_deserialization",
           "enable_interactive_logging", "disable_interactive_logging", "is_interactive_logging_enabled",
           "enable_traceback_filtering", "disable_traceback_filtering", "is_traceback_filtering_enabled"]

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_INTERACTIVE_LOGGING = True
_TRACEBACK_FILTERING = True
_FLOAT_TYPES = ("bfloat16", "float16", "float32", "float64")


def backend():
    """The backend's name, ``"gpuflow"`` (Keras: ``"tensorflow"``, ``"jax"``...)."""
    return "gpuflow"


def set_backend(backend):
    """Keras's ``keras.config.set_backend``: only ``"gpuflow"`` is accepted.

    Raises:
        ValueError: any other name (gpuflow runs its own NumPy and CUDA backends; pick a device with
            ``tf.device`` or ``GPUFLOW_DEVICE`` instead).
    """
    if backend != "gpuflow":
        raise ValueError(f"gpuflow runs its own backends (NumPy on the CPU, CUDA); it cannot switch to another "
                         f"framework. Expected backend='gpuflow'. Received: backend={backend!r}")


def floatx():
    """The default float type, ``"float32"`` unless :func:`set_floatx` changed it."""
    return _FLOATX


def set_floatx(value):
    """Sets the default float type: the dtype of layers (and their weights) made afterwards without ``dtype`` and
    without a global mixed-precision policy, as Keras.

    Raises:
        ValueError: ``value`` not one of "bfloat16", "float16", "float32", "float64" (Keras's message).
    """
    global _FLOATX
    if value not in _FLOAT_TYPES:
        raise ValueError(f"Unknown `floatx` value: {value}. Expected one of {set(_FLOAT_TYPES)}")
    _FLOATX = str(value)


def epsilon():
    """The fuzz factor of numeric expressions, 1e-7 unless :func:`set_epsilon` changed it."""
    return _EPSILON


def set_epsilon(value):
    """Sets the fuzz factor :func:`epsilon` returns."""
    global _EPSILON
    _EPSILON = value


def image_data_format():
    """The image data format layers take when ``data_format`` is None: ``"channels_last"`` by default."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Sets :func:`image_data_format`.

    Raises:
        ValueError: not "channels_first" or "channels_last" (case-insensitive), Keras's message.
    """
    global _IMAGE_DATA_FORMAT
    fmt = str(data_format).lower()
    if fmt not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    _IMAGE_DATA_FORMAT = fmt


def standardize_data_format(data_format):
    """``data_format`` itself, or :func:`image_data_format` for None (Keras's ``backend.standardize_data_format``).

    Raises:
        ValueError: a value other than "channels_first"/"channels_last".
    """
    if data_format is None:
        return image_data_format()
    fmt = str(data_format).lower()
    if fmt not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    return fmt


def dtype_policy():
    """The global dtype policy (``keras.config.dtype_policy``): see :mod:`gpuflow.keras.mixed_precision`."""
    from .mixed_precision import dtype_policy as _get
    return _get()


def set_dtype_policy(policy):
    """Sets the global dtype policy (``keras.config.set_dtype_policy``)."""
    from .mixed_precision import set_dtype_policy as _set
    _set(policy)


def enable_unsafe_deserialization():
    """Keras's switch that lets ``load_model`` run Python lambdas from a file. gpuflow never runs code stored in a
    file, so this changes nothing: Lambda layers and serialized lambdas are refused either way (rebuild the model
    in code and use ``load_weights``)."""


def enable_interactive_logging():
    """Progress bars and messages of ``fit``, its callbacks and ``summary`` go to stdout (the default)."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = True


def disable_interactive_logging():
    """Progress bars and messages go to Python's ``logging`` instead of stdout, as Keras."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = False


def is_interactive_logging_enabled():
    return _INTERACTIVE_LOGGING


def enable_traceback_filtering():
    """Kept for Keras code; gpuflow does not filter tracebacks."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = True


def disable_traceback_filtering():
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = False


def is_traceback_filtering_enabled():
    return _TRACEBACK_FILTERING

