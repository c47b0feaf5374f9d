"""Devices and the default-device rules.

A :class:`Device` is ``cpu``, ``gpu:N``, ``emulator`` or ``reference`` (also spelled as
TensorFlow does: ``"/CPU:0"``, ``"/device:GPU:0"``); each kind's backend comes from a
registry (:func:`register_backend`). Every tensor remembers its device; ops run
on the device of their inputs, and new tensors are placed on the innermost
``with gpuflow.device(...)`` scope, else on the default device.

The default device is chosen once, lazily (``import gpuflow`` never touches a
GPU):

* ``GPUFLOW_DEVICE=emulator`` runs the CUDA backend and its kernels on the CPU
  emulator (NumPy arrays, the same ``.cu`` files and wrappers; for testing);
* ``GPUFLOW_DEVICE=reference`` runs the naive primitives of
  :mod:`gpuflow.backend.reference` (float64 inside, slow: for debugging a result
  and as the oracle of the tests; never chosen by ``auto``);
* ``GPUFLOW_DEVICE=cpu`` or ``gpu`` (or ``gpu:N``) forces a choice; a GPU asked
  for by name that cannot start raises :class:`DeviceUnavailableError`, it never
  falls back silently;
* otherwise CUDA is used when CuPy imports, a device answers and gpuflow's CUDA
  backend is available, else the CPU, and :func:`default_device_reason` (shown by
  ``gpuflow info``) says why.

``gpuflow.device`` is this module and, called, the context manager :func:`device`
(``with gpuflow.device("gpu:0"):``, as ``tf.device``).

The ``gpuflow`` command's ``--device`` takes the same values, parsed by the same
:func:`parse_device_request`, and overrides ``GPUFLOW_DEVICE`` (:func:`set_default_device`).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import types

__all__ = ["Device", "device", "current_device", "default_device", "default_device_reason",
           "DeviceUnavailableError", "backend_for", "created_backends", "register_backend", "probe_cuda",
           "probe_emulator"]


class DeviceUnavailableError(RuntimeError):
    """Raised when a device asked for by name cannot be used."""


_SPEC = re.compile(r"^/?(?:job:[^/]*/)?(?:replica:\d+/)?(?:task:\d+/)?(?:device:)?([a-z]+)(?::(\d+))?$",
                   re.IGNORECASE)


class Device:
    """A compute device: ``Device("cpu")``, ``Device("gpu:0")``, ``Device("emulator")`` or ``Device("reference")``.

    Args:
        spec: ``"cpu"``, ``"gpu"``, ``"gpu:N"``, ``"emulator"`` (the CUDA backend on the CPU emulator),
            ``"reference"`` (the slow, plain primitives of :mod:`gpuflow.backend.reference`, for debugging
            and as a test oracle), or a TensorFlow device string such as ``"/CPU:0"`` or
            ``"/device:GPU:1"`` (case-insensitive). The kinds are those of :func:`register_backend`.

    Raises:
        ValueError: if ``spec`` names no device.
    """

    __slots__ = ("kind", "index")

    def __init__(self, spec="cpu"):
        if isinstance(spec, Device):
            self.kind, self.index = spec.kind, spec.index
            return
        m = _SPEC.match(str(spec).strip())
        if not m or m.group(1).lower() not in _FACTORIES:
            raise ValueError(f"Unknown device. Expected 'cpu', 'gpu', 'gpu:N', 'emulator', 'reference' or a "
                             f"TensorFlow device string like '/GPU:0'. Received: device={spec!r}")
        self.kind = m.group(1).lower()
        self.index = int(m.group(2) or 0)

    def __eq__(self, other):
        return isinstance(other, Device) and (self.kind, self.index) == (other.kind, other.index)

    def __hash__(self):
        return hash((self.kind, self.index))

    def __str__(self):
        return f"gpu:{self.index}" if self.kind == "gpu" else self.kind

    def __repr__(self):
        return f"Device({str(self)!r})"


def register_backend(kind, factory):
    """Registers the backend of a device kind: ``Device(kind)`` then parses (``"kind"``, ``"kind:N"``) and
    :func:`backend_for` calls ``factory(device)`` once per device to create its backend.

    Args:
        kind: the device kind, lower case letters (``"cpu"``, ``"gpu"``, ``"emulator"``, ``"reference"``).
        factory: ``factory(device) -> Backend``; raises :class:`DeviceUnavailableError` naming the device
            and why when it cannot run here. It should import its backend module itself (lazily), so that
            ``import gpuflow`` imports no backend.
    """
    if not re.fullmatch(r"[a-z]+", str(kind)):
        raise ValueError(f"Expected a device kind of lower case letters. Received: kind={kind!r}")
    _FACTORIES[kind] = factory


def _numpy_backend(dev):
    from .backend.numpy_backend import NumpyBackend
    return NumpyBackend()


def _reference_backend(dev):
    from .backend.reference import ReferenceBackend
    return ReferenceBackend()


def _emulator_backend(dev):
    ok, why = probe_emulator()
    if not ok:
        raise DeviceUnavailableError(f"Device 'emulator' cannot be used: {why}.")
    import numpy
    from .backend.cupy_backend import CupyBackend
    from .backend.kernels import emulator_loader
    return CupyBackend(xp=numpy, loader=emulator_loader, name="emulator")


def _cupy_backend(dev):
    ok, why = probe_cuda()
    if not ok:
        raise DeviceUnavailableError(f"Device '{dev}' cannot be used: {why}.")
    from .backend.cupy_backend import CupyBackend  # pragma: no cover - needs a GPU
    return CupyBackend(dev.index)


_FACTORIES = {}
register_backend("cpu", _numpy_backend)
register_backend("gpu", _cupy_backend)
register_backend("emulator", _emulator_backend)
register_backend("reference", _reference_backend)


CPU = Device("cpu")

_state = threading.local()
_default = None
_default_reason = ""
_backends = {}
_lock = threading.Lock()


def probe_cuda():
    """Whether a CUDA device can run gpuflow here: ``(ok, reason)``, the reason in words (``gpuflow info``
    prints it, the tests skip with it). Never raises."""
    try:
        import cupy  # noqa: F401
    except Exception as e:  # ImportError, or a broken CUDA install
        return False, f"CuPy is not importable ({type(e).__name__}: {e})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return False, f"CuPy imported but no CUDA device answered ({type(e).__name__}: {e})"
    if n == 0:
        return False, "CuPy imported but reports 0 CUDA devices"
    try:
        from .backend import cupy_backend  # noqa: F401
    except ImportError:
        return False, (f"CuPy sees {n} CUDA device(s), but this gpuflow build has no CUDA backend yet "
                       "(gpuflow/backend/cupy_backend.py)")
    return True, f"CuPy sees {n} CUDA device(s)"


def probe_emulator():
    """Whether the CPU emulator of the CUDA backend can run here: ``(ok, reason)``, as :func:`probe_cuda`.
    Never raises."""
    import shutil
    try:
        from .backend import emulator  # noqa: F401
    except Exception as e:
        return False, f"the emulator package does not import ({type(e).__name__}: {e})"
    if not (shutil.which("g++") or shutil.which("clang++")):
        return False, "no C++ compiler (g++ or clang++) on PATH"
    return True, "C++ compiler found"


# TODO(issue 11): drop these two aliases once tests/conftest.py and tests/test_tensor_cores.py (other helpers'
# files, in progress) import probe_cuda / probe_emulator.
_probe_cuda, _probe_emulator = probe_cuda, probe_emulator

_REQUESTS = "'auto', 'cpu', 'gpu', 'gpu:N', 'emulator' or 'reference'"


def _said(request, source):
    """How the user wrote the request: ``GPUFLOW_DEVICE=gpu`` (a variable) or ``--device gpu`` (a flag)."""
    return f"{source} {request}" if source.startswith("-") else f"{source}={request}"


def parse_device_request(request, source="GPUFLOW_DEVICE"):
    """Parses a default-device request as ``GPUFLOW_DEVICE`` and ``gpuflow ... --device`` take it.

    Args:
        request: ``"auto"`` (or ``""``), ``"cpu"``, ``"gpu"``, ``"gpu:N"``, ``"emulator"``, ``"reference"``, or a
            TensorFlow device string such as ``"/GPU:1"``; case-insensitive.
        source: where the request came from, named in errors: an environment variable
            (``"GPUFLOW_DEVICE"``) or a command-line flag (``"--device"``).

    Returns:
        None for ``auto``, else the :class:`Device`.

    Raises:
        ValueError: ``request`` names no device.
    """
    text = str(request).strip().lower()
    if text in ("", "auto"):
        return None
    try:
        return Device(text)
    except ValueError:
        raise ValueError(f"Unknown device. Expected {_REQUESTS}. Received: {source}={request!r}") from None


def resolve_device_request(request, source="GPUFLOW_DEVICE"):
    """The device a request stands for, after checking that it can run here.

    ``auto`` is CUDA when CuPy imports and a device answers, else the CPU; a GPU or the
    emulator asked for by name that cannot start is an error, never a silent fallback.

    Args:
        request: as :func:`parse_device_request` takes it.
        source: as :func:`parse_device_request` takes it. The error for a device that cannot
            start tells a user of the environment variable to unset it, and a user of a flag
            only why.

    Returns:
        ``(device, reason)``: the :class:`Device` and why it was chosen (``gpuflow info`` shows it).

    Raises:
        ValueError: ``request`` names no device.
        DeviceUnavailableError: the device named cannot be used here (the message says why).
    """
    dev = parse_device_request(request, source)
    if dev is None:
        ok, why = probe_cuda()
        return (Device("gpu:0"), f"auto: {why}") if ok else (CPU, f"auto: CPU fallback because {why}")
    said = _said(str(request).strip(), source)
    fix = "" if source.startswith("-") else f" Unset {source} or set it to 'cpu'."
    if dev.kind == "cpu":
        return dev, said
    if dev.kind == "reference":
        return dev, f"{said} (the slow reference primitives, for debugging and tests)"
    if dev.kind == "emulator":
        ok, why = probe_emulator()
        if not ok:
            raise DeviceUnavailableError(f"{said} cannot be used: {why}.{fix}")
        return dev, f"{said} (CUDA kernels on the CPU emulator)"
    ok, why = probe_cuda()
    if ok:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        ok, why = (True, why) if dev.index < n else (False, f"there is no {dev}: CuPy sees {n} CUDA device(s)")
    if not ok:
        raise DeviceUnavailableError(f"{said} asks for a GPU, but it cannot be used: {why}.{fix}")
    return dev, said


def set_default_device(request, source="set_default_device"):
    """Chooses the default device from a request, overriding ``GPUFLOW_DEVICE`` (``gpuflow train
    --device`` does this). Call it before creating tensors: those made earlier stay where they are.

    Args:
        request, source: as :func:`resolve_device_request` takes them.

    Returns:
        The new default :class:`Device`.

    Raises:
        ValueError, DeviceUnavailableError: as :func:`resolve_device_request` raises them; the
            default is then unchanged.
    """
    global _default, _default_reason
    dev, reason = resolve_device_request(request, source)
    with _lock:
        _default, _default_reason = dev, reason
    return dev


def _resolve_default():
    global _default, _default_reason
    with _lock:
        if _default is None:
            _default, _default_reason = resolve_device_request(os.environ.get("GPUFLOW_DEVICE", ""))
        return _default


def default_device() -> Device:
    """The device new tensors go to outside any ``with device(...)`` scope."""
    return _default if _default is not None else _resolve_default()


def default_device_reason() -> str:
    """Why the default device was chosen (for ``gpuflow info``)."""
    default_device()
    return _default_reason


def current_device() -> Device:
    """The innermost ``with device(...)`` scope's device, else the default device."""
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else default_device()


@contextlib.contextmanager
def device(name):
    """Context manager placing new tensors and ops on a device (``tf.device``).

    Args:
        name: a device spec accepted by :class:`Device`.

    Raises:
        ValueError: for an unknown spec.
        DeviceUnavailableError: if a GPU is named and cannot be used.
    """
    dev = Device(name)
    backend_for(dev)  # fail now, naming the device, rather than at the first op
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(dev)
    try:
        yield dev
    finally:
        stack.pop()


def backend_for(dev: Device):
    """The backend instance that runs ops on ``dev`` (created once per device by the factory registered for
    its kind, :func:`register_backend`).

    Raises:
        DeviceUnavailableError: the device cannot be used here (the message says why).
    """
    b = _backends.get(dev)
    if b is not None:
        return b
    with _lock:
        if dev not in _backends:
            _backends[dev] = _FACTORIES[dev.kind](dev)
        return _backends[dev]


def created_backends():
    """``{Device: backend}`` for every backend created so far (a copy; :func:`backend_for` creates them)."""
    return dict(_backends)


class _DeviceModule(types.ModuleType):
    """The class of this module: ``gpuflow.device`` is the module (``import gpuflow.device`` finds it) and,
    called, TensorFlow's ``tf.device``: ``gpuflow.device("cpu")`` is :func:`device`. TensorFlow spells both
    with one name, so one object serves both, rather than a function that shadows its own module."""

    def __call__(self, name):
        return device(name)

    __call__.__doc__ = device.__doc__


sys.modules[__name__].__class__ = _DeviceModule
