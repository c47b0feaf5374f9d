"""``tf.Module`` and ``tf.name_scope``: a base class that finds the Variables held in its attributes (TensorFlow 2's
``tensorflow/python/module/module.py`` walk, same order), and the name scopes it opens.

gpuflow runs eagerly and does not prefix variable names with scopes; ``name_scope`` keeps TensorFlow's scope strings
(``"outer/inner/"``) for code that reads them.
"""
from __future__ import annotations

import functools
import re
import threading

from .tensor import Variable

__all__ = ["Module", "name_scope", "get_current_name_scope"]

_local = threading.local()


def _stack():
    if not hasattr(_local, "scopes"):
        _local.scopes = []
    return _local.scopes


def get_current_name_scope():
    """The current name scope without its trailing ``/`` (``tf.get_current_name_scope``): ``"a/b"`` inside
    ``name_scope("a")`` and ``name_scope("b")``, ``""`` outside any."""
    stack = _stack()
    return stack[-1].removesuffix("/") if stack else ""


class name_scope:  # noqa: N801 - TensorFlow's name
    """A context manager for a name scope (``tf.name_scope``): ``with name_scope("a") as s`` gives ``s == "a/"``,
    nested scopes ``"a/b/"``; a name ending in ``/`` is taken as a full scope.

    Raises:
        ValueError: ``name`` not a string.
    """

    def __init__(self, name):
        if not isinstance(name, str):
            raise ValueError(f"name for name_scope must be a string. Received: name={name!r}")
        self._name = name

    @property
    def name(self):
        return self._name

    def __enter__(self):
        stack = _stack()
        if self._name.endswith("/") or not self._name:
            scope = self._name
        else:
            scope = (stack[-1] if stack else "") + self._name + "/"
        stack.append(scope)
        return scope

    def __exit__(self, *exc):
        _stack().pop()
        return False


def _camel_to_snake(name):
    return re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name).lower()


def _leaves(value):
    """TensorFlow's ``nest.flatten`` order: list and tuple items in order, dict values by sorted key."""
    if isinstance(value, dict):
        for k in sorted(value):
            yield from _leaves(value[k])
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


class Module:
    """Base class for objects that hold Variables and other Modules (``tf.Module``).

    Args:
        name: a valid Python identifier; default the class name in snake_case (``MyNet`` -> ``"my_net"``).

    Raises:
        ValueError: ``name`` not a valid Python identifier (TensorFlow's message).
    """

    def __init__(self, name=None):
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not (isinstance(name, str) and name.isidentifier()):
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid Python identifiers "
                             "(e.g. a valid class name).")
        self._name = name
        with name_scope(name) as scope:
            self._name_scope = name_scope(scope)

    @property
    def name(self):
        """The name given (or derived from the class) at construction."""
        return self._name

    @property
    def name_scope(self):
        """The :class:`name_scope` of this module (its name under the scope it was created in)."""
        return self._name_scope

    def _flatten(self, predicate, recursive=True, seen=None, stack=None):
        # TensorFlow's _flatten_module: this module's attributes by sorted name, each flattened, leaves deduplicated;
        # then each submodule found, in that order, walked the same way
        seen = {id(self)} if seen is None else seen
        stack = [] if stack is None else stack
        recursive = recursive and id(self) not in stack
        submodules = []
        for key in sorted(vars(self)):
            for leaf in _leaves(vars(self)[key]):
                if id(leaf) in seen:
                    continue
                seen.add(id(leaf))
                if predicate(leaf):
                    yield leaf
                if recursive and isinstance(leaf, Module):
                    submodules.append(leaf)
        stack.append(id(self))
        for sub in submodules:
            yield from sub._flatten(predicate, recursive, seen, stack)
        stack.pop()

    @property
    def variables(self):
        """This module's Variables (by attribute name), then its submodules', as a tuple."""
        return tuple(self._flatten(lambda v: isinstance(v, Variable)))

    @property
    def trainable_variables(self):
        """The trainable ones of :attr:`variables`."""
        return tuple(self._flatten(lambda v: isinstance(v, Variable) and v.trainable))

    @property
    def non_trainable_variables(self):
        """The non-trainable ones of :attr:`variables`."""
        return tuple(self._flatten(lambda v: isinstance(v, Variable) and not v.trainable))

    @property
    def submodules(self):
        """Every Module reachable from this one's attributes (not itself)."""
        return tuple(self._flatten(lambda v: isinstance(v, Module)))

    @classmethod
    def with_name_scope(cls, method):
        """Decorator: runs ``method`` inside ``self.name_scope``."""
        @functools.wraps(method)
        def wrapped(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        return wrapped
