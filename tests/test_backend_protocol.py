"""Every backend implements every primitive of gpuflow.backend.base.PRIMITIVES.

The backends are discovered, not listed: every module of gpuflow/backend/
(except base, kernels, nvrtc_check, cpu_runtime and the emulator package) is imported and each
``Backend`` subclass it defines is checked. A backend module that fails to
import is a failure, never a skip (backends import CuPy lazily, so importing
one must work without a GPU). The NumPy backend must always be among them.
"""
import importlib
import inspect
import pkgutil

import pytest

import gpuflow.backend as backend_pkg
from gpuflow.backend.base import PRIMITIVES, Backend
from gpuflow.backend.numpy_backend import NumpyBackend

_NOT_BACKENDS = {"base", "kernels", "emulator", "nvrtc_check", "cpu_runtime"}


def _backend_modules():
    return sorted(m.name for m in pkgutil.iter_modules(backend_pkg.__path__) if m.name not in _NOT_BACKENDS)


def _is_backend_class(cls, mod):
    return inspect.isclass(cls) and issubclass(cls, Backend) and cls is not Backend and cls.__module__ == mod.__name__


def _backend_classes():
    found = []
    for name in _backend_modules():
        try:
            mod = importlib.import_module(f"gpuflow.backend.{name}")
        except Exception:  # a failure of test_every_backend_module_imports_without_a_gpu
            continue
        for cls_name, cls in vars(mod).items():
            if _is_backend_class(cls, mod):
                found.append(pytest.param(cls, id=cls_name))
    return found


BACKENDS = _backend_classes()


@pytest.mark.parametrize("module", _backend_modules())
def test_every_backend_module_imports_without_a_gpu(module):
    mod = importlib.import_module(f"gpuflow.backend.{module}")
    classes = [c for c in vars(mod).values() if _is_backend_class(c, mod)]
    assert classes, f"gpuflow.backend.{module} defines no Backend subclass"


def test_the_numpy_backend_is_discovered():
    assert NumpyBackend in [p.values[0] for p in BACKENDS]


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("primitive", PRIMITIVES)
def test_backend_implements_primitive(cls, primitive):
    impl = getattr(cls, primitive, None)
    assert impl is not None and callable(impl), f"{cls.__name__} lacks primitive {primitive!r}"
    assert getattr(Backend, primitive, None) is not impl, f"{cls.__name__}.{primitive} is inherited from Backend"
    # the same parameters as the NumPy reference, so the ops can call every backend alike
    ref = inspect.signature(getattr(NumpyBackend, primitive))
    got = inspect.signature(impl)
    assert list(got.parameters) == list(ref.parameters), \
        f"{cls.__name__}.{primitive}{got} differs from NumpyBackend.{primitive}{ref}"


@pytest.mark.parametrize("cls", BACKENDS)
def test_backend_has_its_own_name(cls):
    assert isinstance(cls.name, str) and cls.name != Backend.name


def test_numpy_backend_array_module():
    import numpy as np
    assert NumpyBackend.xp is np and NumpyBackend().name == "numpy"


def test_primitives_are_unique_and_documented():
    assert len(set(PRIMITIVES)) == len(PRIMITIVES)
    doc = inspect.getdoc(Backend)
    for p in PRIMITIVES:
        if p not in ("asarray", "to_numpy", "synchronize", "seed"):
            assert p in doc, f"{p} is not documented in Backend's docstring"
