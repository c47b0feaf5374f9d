"""Every backend implements every primitive of gpuflow.backend.base.PRIMITIVES (the abstract methods of
Backend), with the contract's parameters.

The backends are discovered, not listed: every module of gpuflow/backend/ is imported and each
``Backend`` subclass it defines is checked. A module that fails to import is a failure, never a
skip (backends import CuPy lazily, so importing any must work without a GPU). The NumPy, CuPy and
reference backends must be among them.
"""
import importlib
import inspect
import pkgutil

import pytest

import gpuflow.backend as backend_pkg
from gpuflow.backend.base import PRIMITIVES, Backend
from gpuflow.backend.numpy_backend import NumpyBackend

def _backend_modules():
    return sorted(m.name for m in pkgutil.iter_modules(backend_pkg.__path__))


def _is_backend_class(cls, mod):
    return inspect.isclass(cls) and issubclass(cls, Backend) and cls is not Backend and cls.__module__ == mod.__name__


def _backend_classes():
    found = []
    for name in _backend_modules():
        try:
            mod = importlib.import_module(f"gpuflow.backend.{name}")
        except Exception:
            continue  # a failure of test_every_module_of_the_backend_package_imports_without_a_gpu
        for cls_name, cls in vars(mod).items():
            if _is_backend_class(cls, mod):
                found.append(pytest.param(cls, id=cls_name))
    return found


BACKENDS = _backend_classes()


@pytest.mark.parametrize("module", _backend_modules())
def test_every_module_of_the_backend_package_imports_without_a_gpu(module):
    importlib.import_module(f"gpuflow.backend.{module}")


def test_the_numpy_cupy_and_reference_backends_are_discovered():
    from gpuflow.backend.cupy_backend import CupyBackend
    from gpuflow.backend.reference import ReferenceBackend
    assert {NumpyBackend, CupyBackend, ReferenceBackend} <= {p.values[0] for p in BACKENDS}


def _parameters(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("primitive", PRIMITIVES)
def test_backend_implements_primitive(cls, primitive):
    impl = getattr(cls, primitive, None)
    assert impl is not None and callable(impl), f"{cls.__name__} lacks primitive {primitive!r}"
    assert getattr(Backend, primitive, None) is not impl, f"{cls.__name__}.{primitive} is inherited from Backend"
    # the contract's parameters (names, positional or keyword-only, defaults), so the ops call every backend alike
    assert _parameters(impl) == _parameters(getattr(Backend, primitive)), \
        f"{cls.__name__}.{primitive}{inspect.signature(impl)} differs from Backend.{primitive}" \
        f"{inspect.signature(getattr(Backend, primitive))}"
    assert not cls.__abstractmethods__, f"{cls.__name__} leaves {set(cls.__abstractmethods__)} abstract"


@pytest.mark.parametrize("cls", BACKENDS)
def test_backend_has_its_own_name(cls):
    assert isinstance(cls.name, str) and cls.name != Backend.name


def test_numpy_backend_array_module():
    import numpy as np
    assert NumpyBackend.xp is np and NumpyBackend().name == "numpy"


def test_primitives_are_the_documented_abstract_methods_of_backend():
    assert set(PRIMITIVES) == Backend.__abstractmethods__ and len(set(PRIMITIVES)) == len(PRIMITIVES)
    assert {"conv2d_fwd", "conv2d_bwd", "max_pool2d_fwd", "dense_fwd", "bias_act_bwd"} <= set(PRIMITIVES)
    for p in PRIMITIVES:
        assert inspect.getdoc(getattr(Backend, p)), f"Backend.{p} has no docstring"


def test_flags_and_options_are_keyword_only():
    """Every primitive parameter with a default (a flag, an optional operand) is keyword-only: no more
    positional runs of True/None. The array and random draws keep NumPy's signatures."""
    for p in set(PRIMITIVES) - {"asarray", "random_normal", "random_uniform"}:
        for param in inspect.signature(getattr(Backend, p)).parameters.values():
            if param.default is not param.empty:
                assert param.kind is param.KEYWORD_ONLY, f"{p}: {param.name} is not keyword-only"
