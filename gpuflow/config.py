"""``tf.config``: the devices gpuflow can run on, GPU memory growth, and ``run_functions_eagerly``.

Devices are named as TensorFlow names them: physical ``/physical_device:CPU:0`` and ``/physical_device:GPU:N``,
logical ``/device:CPU:0`` and ``/device:GPU:N``, one GPU per CUDA device CuPy sees when gpuflow's CUDA backend can
run (the probe ``gpuflow info`` reports; no GPU is listed when it cannot). The emulator and the reference backend
are gpuflow's own devices, not TensorFlow's, and are not listed.
"""
from __future__ import annotations

import collections
import types

from ._unsupported import TF_CONFIG, TF_CONFIG_EXPERIMENTAL, module_getattr

__all__ = ["PhysicalDevice", "LogicalDevice", "list_physical_devices", "list_logical_devices",
           "run_functions_eagerly", "functions_run_eagerly", "experimental"]

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])

_memory_growth = {}
_run_eagerly = False
_tensor_float_32 = True


def _gpu_count():
    """CUDA devices gpuflow can use (0 without CuPy, a driver or gpuflow's CUDA backend)."""
    from .device import probe_cuda
    ok, _ = probe_cuda()
    if not ok:
        return 0
    import cupy  # pragma: no cover - needs a GPU
    return cupy.cuda.runtime.getDeviceCount()  # pragma: no cover


def _devices(kind, prefix, device_type):
    found = [kind(f"/{prefix}:CPU:0", "CPU")] + [kind(f"/{prefix}:GPU:{i}", "GPU") for i in range(_gpu_count())]
    return [d for d in found if device_type is None or d.device_type == device_type]


def list_physical_devices(device_type=None):
    """The physical devices (``tf.config.list_physical_devices``).

    Args:
        device_type: ``"CPU"`` or ``"GPU"`` (compared exactly, as TF: ``"gpu"`` matches nothing), or None for all.

    Returns:
        A list of ``PhysicalDevice(name, device_type)``: ``/physical_device:CPU:0`` first, then one
        ``/physical_device:GPU:N`` per usable CUDA device.
    """
    return _devices(PhysicalDevice, "physical_device", device_type)


def list_logical_devices(device_type=None):
    """The logical devices (``tf.config.list_logical_devices``): ``LogicalDevice("/device:CPU:0", "CPU")`` and
    ``/device:GPU:N`` per usable CUDA device; ``device_type`` as :func:`list_physical_devices`. Their names work
    in ``with tf.device(name):``."""
    return _devices(LogicalDevice, "device", device_type)


def _check_gpu(device, verb):
    if device not in list_physical_devices():
        raise ValueError(f"Unrecognized device: {device!r}")
    if getattr(device, "device_type", None) != "GPU":
        raise ValueError(f"Cannot {verb} memory growth on non-GPU and non-Pluggable devices")


def set_memory_growth(device, enable):
    """Records memory growth for a GPU (``tf.config.experimental.set_memory_growth``).

    gpuflow allocates GPU memory through CuPy's memory pool, which grows on demand and never reserves the whole
    GPU up front, so it always behaves as TF with memory growth enabled; the setting is recorded for
    :func:`get_memory_growth` and changes nothing else. On a machine without a GPU the usual loop over
    ``list_physical_devices("GPU")`` does nothing.

    Args:
        device: a ``PhysicalDevice`` from :func:`list_physical_devices` of type ``"GPU"``.
        enable: bool.

    Raises:
        ValueError: ``device`` is not one of :func:`list_physical_devices` ("Unrecognized device"), or is not a GPU
            (TF's "Cannot set memory growth on non-GPU and non-Pluggable devices").
    """
    _check_gpu(device, "set")
    _memory_growth[device] = bool(enable)


def get_memory_growth(device):
    """The memory growth recorded for a GPU by :func:`set_memory_growth` (None when never set, as TF).

    Raises:
        ValueError: as :func:`set_memory_growth`.
    """
    _check_gpu(device, "get")
    return _memory_growth.get(device)


def run_functions_eagerly(run_eagerly):
    """``tf.config.run_functions_eagerly``: when True, every ``tf.function`` calls its Python function directly,
    with no signature matching, tracing counts or variable-creation checks (TF's debugging switch)."""
    global _run_eagerly
    _run_eagerly = bool(run_eagerly)


def functions_run_eagerly():
    """Whether :func:`run_functions_eagerly` is on."""
    return _run_eagerly


def enable_tensor_float_32_execution(enabled):
    """Allows or forbids TensorFloat-32 (``tf.config.experimental.enable_tensor_float_32_execution``).

    As TensorFlow, TF32 is on by default: on a GPU of compute capability 8.0 or more, float32 convolutions and
    matmuls may run on tensor cores with their inputs rounded to TF32 (10-bit mantissa) and float32
    accumulation. ``enable_tensor_float_32_execution(False)`` keeps them in full float32 (the FP32 SIMT
    kernels). The CUDA backend reads the setting when it picks a kernel; the CPU backend is unaffected
    (float32 throughout).

    Args:
        enabled: bool.
    """
    global _tensor_float_32
    _tensor_float_32 = bool(enabled)


def tensor_float_32_execution_enabled():
    """Whether TensorFloat-32 is allowed (``tf.config.experimental.tensor_float_32_execution_enabled``); True
    unless :func:`enable_tensor_float_32_execution` turned it off."""
    return _tensor_float_32


experimental = types.ModuleType(f"{__name__}.experimental", "``tf.config.experimental``: memory growth, the "
                                                              "device lists and the TensorFloat-32 switch.")
experimental.__dict__.update(
    set_memory_growth=set_memory_growth, get_memory_growth=get_memory_growth,
    enable_tensor_float_32_execution=enable_tensor_float_32_execution,
    tensor_float_32_execution_enabled=tensor_float_32_execution_enabled,
    list_physical_devices=list_physical_devices, list_logical_devices=list_logical_devices,
    __getattr__=module_getattr(experimental.__name__, "tf.config.experimental", TF_CONFIG_EXPERIMENTAL))
experimental_run_functions_eagerly = run_functions_eagerly
experimental_functions_run_eagerly = functions_run_eagerly

__getattr__ = module_getattr(__name__, "tf.config", TF_CONFIG)
