"""``tf.function`` and ``tf.TensorSpec``: TensorFlow 2's tracing rules, kept where gpuflow can keep them.

gpuflow has no graph: a :class:`Function` runs its Python body **eagerly on every call**. What TensorFlow users
observe of tracing is kept:

* a call is matched to a *concrete function* by its input signature, with TensorFlow 2.21's rules: tensors (and
  NumPy arrays, which are converted to tensors first, as TF converts them) by shape and dtype, variables by shape
  and dtype apart from tensors, Python scalars and strings by value (``1``, ``1.0`` and ``True`` are one value, as
  in TF), lists, tuples and dicts by structure, other objects by identity; a call that no existing concrete
  function accepts *traces* a new one, and ``experimental_get_tracing_count()`` counts them;
* ``reduce_retracing=True`` traces, on a miss, the most specific shape that covers the earlier traces (``(2,)``
  then ``(3,)`` trace ``(None,)``, which ``(4,)`` reuses), as TF does;
* ``input_signature`` (a list of :class:`TensorSpec`, possibly nested): one concrete function; Python values are
  converted to the spec's dtype, and an argument that does not fit is TF's ``TypeError`` ("Binding inputs to
  tf.function failed due to ...");
* ``get_concrete_function(*args)`` (values or TensorSpecs) returns the :class:`ConcreteFunction` a call with them
  uses, tracing it if needed; calling it checks its inputs;
* a method decorated with ``@tf.function`` gets one Function per instance (tracing counts per instance);
* outputs are returned as TF returns them: Python numbers and NumPy arrays in the returned structure become
  tensors;
* ``tf.config.run_functions_eagerly(True)`` bypasses all of this (no tracing, no counts), as in TF.

What differs from TensorFlow, and how each difference shows:

* **Python side effects run on every call**, not only when tracing: ``print`` prints each call (TF prints at
  tracing; ``tf.print`` would print each call in both), appending to a Python list appends each call, a Python
  global read in the body is read each call (TF freezes its value into the trace), and NumPy/Python random numbers
  are drawn each call (TF freezes them). ``get_concrete_function`` does not run the body (there is nothing to trace
  it with), so its side effects happen at the first call instead.
* **Creating a variable in any call but a Function's first is an error** (TF's ``ValueError``: "tf.function only
  supports singleton tf.Variables created on the first call"). TF raises it only when a later *trace* creates one;
  a later call that TF would not retrace does not run Python at all, so an eager rerun would silently create a
  fresh variable each call. The usual pattern, ``if self.v is None: self.v = tf.Variable(...)``, works as in TF.
* ``autograph`` changes nothing: Python ``if``/``for``/``while`` over tensor values run eagerly, which gives the
  results AutoGraph's converted code gives; with ``autograph=False`` TF raises on such code, gpuflow runs it.
* ``jit_compile`` (XLA) compiles nothing; results are the same up to floating-point rounding. The
  ``experimental_*`` options are accepted (``experimental_relax_shapes`` and ``experimental_compile`` as TF's
  deprecated spellings of ``reduce_retracing`` and ``jit_compile``); ``experimental_follow_type_hints`` converts
  arguments annotated ``tf.Tensor`` to tensors, as TF does.
* a :class:`ConcreteFunction` has no graph (``.graph``, ``.inputs`` and the like are AttributeErrors); calling it
  with a tensor whose shape does not fit its signature is a ``ValueError`` (TF runs the graph and may fail later
  or not at all).
"""
from __future__ import annotations

import functools
import inspect
import threading
import warnings
import weakref

import numpy as np

from . import config as _config, dtypes as _dtypes
from .ops.core import convert_to_tensor
from .tensor import Tensor, TensorShape, Variable

__all__ = ["function", "Function", "ConcreteFunction", "TensorSpec"]


# ---- TensorSpec --------------------------------------------------------------------------------------------------

class _UnknownShape(TensorShape):
    """The shape of unknown rank (``TensorShape(None)``): ``rank`` None, printed ``<unknown>``."""

    @property
    def rank(self):
        return None

    ndims = rank

    def as_list(self):
        raise ValueError("as_list() is not defined on an unknown TensorShape.")

    def __str__(self):
        return "<unknown>"

    def __repr__(self):
        return "TensorShape(None)"


class TensorSpec:
    """Describes a tensor: shape, dtype and optional name (``tf.TensorSpec``).

    Args:
        shape: a sequence of ints and None (unknown dimensions), or None (unknown rank).
        dtype: a dtype (default float32).
        name: optional name (TF names the concrete function's inputs with it).

    Raises:
        TypeError: ``dtype`` names no dtype.
        ValueError: a dimension that is not a non-negative int or None.
    """

    __slots__ = ("_dims", "dtype", "name")

    def __init__(self, shape, dtype=_dtypes.float32, name=None):
        if shape is None:
            self._dims = None
        else:
            dims = []
            for d in (tuple(shape) if not isinstance(shape, int) else (shape,)):
                if d is not None and (isinstance(d, bool) or int(d) != d or int(d) < 0):
                    raise ValueError(f"TensorSpec: expected dimensions that are non-negative ints or None. "
                                     f"Received: shape={shape!r}")
                dims.append(None if d is None else int(d))
            self._dims = tuple(dims)
        self.dtype = _dtypes.as_dtype(dtype)
        self.name = name

    @classmethod
    def from_tensor(cls, tensor, name=None):
        """The spec of a tensor (or NumPy array): its shape and dtype."""
        return cls(tuple(tensor.shape), _dtypes.as_dtype(tensor.dtype), name)

    @property
    def shape(self):
        """A :class:`TensorShape` (``rank`` None and printed ``<unknown>`` when the rank is unknown)."""
        return _UnknownShape(()) if self._dims is None else TensorShape(self._dims)

    def _shape_covers(self, dims):
        if self._dims is None:
            return True
        return dims is not None and len(dims) == len(self._dims) and all(
            a is None or a == b for a, b in zip(self._dims, dims))

    def is_compatible_with(self, spec_or_value):
        """True when ``spec_or_value`` (a TensorSpec, Tensor or NumPy array) has this dtype and a shape that fits
        this one (None matches any dimension, unknown rank any shape); names are ignored, as in TF."""
        other = spec_or_value if isinstance(spec_or_value, TensorSpec) else _spec_of(spec_or_value)
        if other is None or other.dtype != self.dtype:
            return False
        if self._dims is None or other._dims is None:
            return True
        return len(self._dims) == len(other._dims) and all(
            a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def is_subtype_of(self, other):
        """True when every tensor this spec describes is described by ``other`` (TF's ``is_subtype_of``)."""
        return isinstance(other, TensorSpec) and other.dtype == self.dtype and other._shape_covers(self._dims)

    def most_specific_common_supertype(self, others):
        """The narrowest spec covering this one and ``others`` (unequal dimensions become None), or None when the
        dtypes or ranks differ."""
        dims = self._dims
        for o in others:
            if not isinstance(o, TensorSpec) or o.dtype != self.dtype:
                return None
            if dims is None or o._dims is None or len(dims) != len(o._dims):
                return None
            dims = tuple(a if a == b else None for a, b in zip(dims, o._dims))
        return TensorSpec(dims, self.dtype, self.name)

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self._dims == other._dims and self.dtype == other.dtype
                and self.name == other.name)

    def __hash__(self):
        return hash((self._dims, self.dtype, self.name))

    def __repr__(self):
        shape = "<unknown>" if self._dims is None else tuple.__repr__(self._dims)
        return f"TensorSpec(shape={shape}, dtype={self.dtype!r}, name={self.name!r})"


def _spec_of(value):
    if isinstance(value, (Tensor, np.ndarray)):
        return TensorSpec.from_tensor(value)
    return None


# ---- trace types -------------------------------------------------------------------------------------------------
# A call's trace type is a nested tuple built from its bound arguments. Tensor leaves are TensorSpecs (unnamed), so
# subtype matching and relaxation work leaf by leaf; everything else is compared by equality.

class _VariableSpec(TensorSpec):
    """A variable's trace type: shape and dtype, never equal to a tensor's (TF's VariableSpec)."""
    __slots__ = ()

    def __eq__(self, other):
        return isinstance(other, _VariableSpec) and TensorSpec.__eq__(self, other)

    def __hash__(self):
        return hash(("variable", self._dims, self.dtype))

    def is_subtype_of(self, other):
        return isinstance(other, _VariableSpec) and TensorSpec.is_subtype_of(self, other)


class _Literal:
    """A Python scalar, string or None, by value (``1 == 1.0 == True`` as in TF)."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Literal) and self.value == other.value

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return repr(self.value)


class _Ref:
    """Any other object, by identity (TF's weakref trace type); the object is not kept alive, and a dead object's
    trace matches no later object that reuses its id."""
    __slots__ = ("ident", "type_name", "ref")

    def __init__(self, value):
        self.ident, self.type_name = id(value), type(value).__name__
        try:
            self.ref = weakref.ref(value)
        except TypeError:  # not weak-referenceable (e.g. a builtin container subclass): by id alone
            self.ref = None

    def _alive(self):
        return self.ref is None or self.ref() is not None

    def __eq__(self, other):
        return isinstance(other, _Ref) and self.ident == other.ident and self._alive() and other._alive()

    def __hash__(self):
        return self.ident

    def __repr__(self):
        return f"<{self.type_name} object at {self.ident:#x}>"


def _trace_type(value):
    if isinstance(value, TensorSpec):  # get_concrete_function(TensorSpec(...)) stands for such tensors
        return TensorSpec(value._dims, value.dtype)
    if isinstance(value, Variable):
        return _VariableSpec(tuple(value.shape), value.dtype)
    if isinstance(value, (Tensor, np.ndarray)):
        return TensorSpec(tuple(value.shape), _dtypes.as_dtype(value.dtype))
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return _Literal(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__qualname__,) + tuple(_trace_type(v) for v in value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_trace_type(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((_Literal(k), _trace_type(value[k])) for k in sorted(value, key=repr))
    return _Ref(value)


def _is_subtype(a, b):
    """Every call of type ``a`` is accepted by a concrete function of type ``b``."""
    if isinstance(a, TensorSpec):
        return a.is_subtype_of(b)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_is_subtype(x, y) for x, y in zip(a, b))
    return a == b


def _supertype(a, b):
    """The most specific type covering ``a`` and ``b`` (tensor dimensions relaxed to None), or None."""
    if isinstance(a, TensorSpec):
        if type(a) is not type(b):
            return None
        s = a.most_specific_common_supertype([b])
        return None if s is None else type(a)(s._dims, s.dtype)
    if isinstance(a, tuple):
        if not isinstance(b, tuple) or len(a) != len(b):
            return None
        out = tuple(_supertype(x, y) for x, y in zip(a, b))
        return None if any(o is None for o in out) else out
    return a if a == b else None


# ---- variable creation -------------------------------------------------------------------------------------------

_calls = threading.local()  # .stack: [(Function, is_first_call)] of the calls running in this thread


def on_variable_created(variable):
    """Called by every new ``Variable`` (tensor.py): inside a Function's call other than its first, TF's error."""
    stack = getattr(_calls, "stack", None)
    if stack and not stack[-1][1]:
        raise ValueError("tf.function only supports singleton tf.Variables created on the first call. Make sure the "
                         "tf.Variable is only created once or created outside tf.function. See "
                         "https://www.tensorflow.org/guide/function#creating_tfvariables for more information. "
                         f"(gpuflow runs `{stack[-1][0].__name__}` eagerly on every call, so a variable created "
                         "after its first call would be a fresh one each call.)")


# ---- ConcreteFunction --------------------------------------------------------------------------------------------

def _to_output(value):
    """TF returns tensors: Python numbers and NumPy arrays in the output structure are converted."""
    if isinstance(value, (bool, int, float, np.ndarray, np.generic)):
        return convert_to_tensor(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_to_output(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_to_output(v) for v in value)
    if isinstance(value, dict):
        return type(value)((k, _to_output(v)) for k, v in value.items())
    return value


def _leaves(spec):
    """The TensorSpecs of a nested trace type, in order."""
    if isinstance(spec, TensorSpec):
        return [spec]
    if isinstance(spec, tuple):
        return [leaf for s in spec for leaf in _leaves(s)]
    return []


class ConcreteFunction:
    """One traced signature of a :class:`Function` (``tf.types.experimental.ConcreteFunction``).

    Attributes:
        structured_input_signature: ``(args, kwargs)``: the arguments' TensorSpecs (named after the parameters, as
            TF names them) and other values, in the call's structure.
    """

    def __init__(self, function, trace_type, structured_input_signature):
        self._function = function
        self._trace_type = trace_type
        self.structured_input_signature = structured_input_signature

    def __call__(self, *args, **kwargs):
        """Runs the Python function on arguments that fit this signature.

        Raises:
            TypeError: an argument's dtype or structure does not fit.
            ValueError: a tensor's shape does not fit.
        """
        f = self._function
        bound = f._bind(args, kwargs)
        got = f._key(bound)
        if not _is_subtype(got, self._trace_type):
            for want, have in zip(_leaves(self._trace_type), _leaves(got)):
                if want.dtype == have.dtype and not want._shape_covers(have._dims):
                    raise ValueError(f"ConcreteFunction {f.__name__}: expected a tensor of shape {want.shape}. "
                                     f"Received: shape={have.shape}")
            raise TypeError(f"ConcreteFunction {f.__name__}: the arguments do not fit its signature "
                            f"{self.structured_input_signature}. Received: args={args!r}, kwargs={kwargs!r}")
        return f._run(bound)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(f"ConcreteFunction.{name} is not supported in gpuflow: gpuflow runs the Python "
                             f"function eagerly and builds no graph (see gpuflow.tf_function).")

    def __repr__(self):
        return f"<ConcreteFunction {self._function.__name__}{self.structured_input_signature}>"


# ---- Function ----------------------------------------------------------------------------------------------------

def _is_tensor_hint(annotation):
    """``x: tf.Tensor`` (also as a string, under ``from __future__ import annotations``)."""
    return annotation is Tensor or (isinstance(annotation, str) and annotation.split(".")[-1] == "Tensor")


def _check_signature(input_signature):
    def ok(s):
        if isinstance(s, TensorSpec):
            return True
        if isinstance(s, (list, tuple)):
            return all(ok(v) for v in s)
        if isinstance(s, dict):
            return all(ok(v) for v in s.values())
        return False
    if input_signature is None:
        return None
    if not isinstance(input_signature, (list, tuple)) or not ok(input_signature):
        bad = [s for s in (input_signature if isinstance(input_signature, (list, tuple)) else [input_signature])
               if not ok(s)]
        raise TypeError(f"input_signature must be a possibly nested sequence of TensorSpec objects, got invalid "
                        f"args {bad} with types {[type(b) for b in bad]}.")
    return tuple(input_signature)


class Function:
    """A Python function with TensorFlow's tracing rules (``tf.function``; made by :func:`function`).

    Calling it runs the Python function eagerly (see the module docstring for what that changes); the call's
    input signature picks, or traces, a :class:`ConcreteFunction`.

    Attributes:
        python_function: the wrapped Python function.
        input_signature: the ``input_signature`` given, or None.
    """

    def __init__(self, python_function, input_signature=None, autograph=True, jit_compile=None,
                 reduce_retracing=False, experimental_follow_type_hints=False, name=None):
        if not callable(python_function):
            raise TypeError(f"tf.function expects a callable. Received: func={python_function!r}")
        self.python_function = python_function
        self.input_signature = _check_signature(input_signature)
        self._autograph, self._jit_compile = autograph, jit_compile
        self._reduce_retracing = bool(reduce_retracing)
        self._follow_type_hints = bool(experimental_follow_type_hints)
        self._concrete = []  # ConcreteFunctions in tracing order
        self._called = False
        self._signature = None
        functools.update_wrapper(self, python_function, updated=())  # not the wrapped object's __dict__
        self.__name__ = name or getattr(python_function, "__name__", type(python_function).__name__)

    # -- binding ---------------------------------------------------------------------------------------------------
    def _python_signature(self):
        if self._signature is None:
            sig = inspect.signature(self.python_function)
            if self.input_signature is not None:
                params = [p for p in sig.parameters.values()
                          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
                for p in params[len(self.input_signature):]:
                    if p.default is p.empty:
                        raise TypeError(f"input_signature missing type constraint for {p.name}")
            self._signature = sig
        return self._signature

    def _bind(self, args, kwargs):
        sig = self._python_signature()
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise self._binding_error(str(e), args, kwargs) from None
        bound.apply_defaults()
        if self.input_signature is not None:
            names = list(sig.parameters)
            for i, spec in enumerate(self.input_signature):
                if i < len(names) and names[i] in bound.arguments:
                    bound.arguments[names[i]] = self._conform(bound.arguments[names[i]], spec, args, kwargs)
            return bound
        for name, value in bound.arguments.items():
            if isinstance(value, np.ndarray):  # TF converts NumPy arrays to tensors
                bound.arguments[name] = convert_to_tensor(value)
            elif (self._follow_type_hints and _is_tensor_hint(sig.parameters[name].annotation)
                  and not isinstance(value, Tensor)):
                bound.arguments[name] = convert_to_tensor(value)
        return bound

    def _conform(self, value, spec, args, kwargs):
        """``value`` as the input_signature's ``spec`` takes it (Python values converted to the spec's dtype)."""
        if isinstance(spec, TensorSpec):
            if isinstance(value, Variable):  # TF reads a variable given for a TensorSpec
                value = value.value()
            if not isinstance(value, Tensor):
                try:
                    value = convert_to_tensor(value, dtype=spec.dtype)
                except (TypeError, ValueError) as e:
                    raise self._binding_error(f"Can not convert {value!r} to {spec}: {e}", args, kwargs) from None
            got = TensorSpec.from_tensor(value)
            if not got.is_subtype_of(spec):
                raise self._binding_error(f"Can not cast {got} to {TensorSpec(spec._dims, spec.dtype)}", args, kwargs)
            return value
        if isinstance(spec, dict):
            if not isinstance(value, dict) or set(value) != set(spec):
                raise self._binding_error(f"Expected a dict with keys {sorted(spec)}; received {value!r}", args, kwargs)
            return {k: self._conform(value[k], spec[k], args, kwargs) for k in spec}
        if not isinstance(value, (list, tuple)) or len(value) != len(spec):
            raise self._binding_error(f"Expected a sequence of {len(spec)} values matching {spec}; received {value!r}",
                                      args, kwargs)
        return type(spec)(self._conform(v, s, args, kwargs) for v, s in zip(value, spec))  # the spec's structure

    def _binding_error(self, reason, args, kwargs):
        if self.input_signature is not None:
            names = list(self._python_signature().parameters)
            shown = ", ".join(f"{n}: {s}" for n, s in zip(names, self.input_signature))
        else:
            shown = str(self._python_signature())[1:-1]
        return TypeError(f"Binding inputs to tf.function `{self.__name__}` failed due to `{reason}`. Received args: "
                         f"{args} and kwargs: {kwargs} for signature: ({shown}).")

    def _key(self, bound):
        return tuple((name, _trace_type(value)) for name, value in bound.arguments.items())

    # -- dispatch and tracing --------------------------------------------------------------------------------------
    def _lookup(self, key):
        for cf in self._concrete:
            if _is_subtype(key, cf._trace_type):
                return cf
        return None

    def _trace(self, key, bound):
        if self.input_signature is not None:
            names = list(bound.arguments)
            key = tuple((n, TensorSpec(s._dims, s.dtype)) if isinstance(s, TensorSpec) else (n, _trace_type(s))
                        for n, s in zip(names, self.input_signature)) + key[len(self.input_signature):]
        elif self._reduce_retracing:
            for cf in self._concrete:
                relaxed = _supertype(key, cf._trace_type)
                if relaxed is not None:
                    key = relaxed
        cf = ConcreteFunction(self, key, self._structured(key))
        self._concrete.append(cf)
        return cf

    def _structured(self, key):
        def spec(name, t):
            if isinstance(t, TensorSpec):
                return TensorSpec(t._dims, t.dtype, name)
            if isinstance(t, _Literal):
                return t.value
            if isinstance(t, tuple) and t and isinstance(t[0], str):
                return tuple(spec(f"{name}_{i}", v) for i, v in enumerate(t[1:]))
            return t
        sig = self._python_signature()
        args, kwargs = [], {}
        for name, t in key:
            kind = sig.parameters[name].kind
            (kwargs.__setitem__(name, spec(name, t)) if kind == inspect.Parameter.KEYWORD_ONLY
             else args.append(spec(name, t)))
        return tuple(args), kwargs

    def _run(self, bound):
        """Runs the Python function on bound arguments; only the first call (through this Function or one of its
        ConcreteFunctions) may create variables."""
        stack = getattr(_calls, "stack", None)
        if stack is None:
            stack = _calls.stack = []
        stack.append((self, not self._called))
        self._called = True
        try:
            return _to_output(self.python_function(*bound.args, **bound.kwargs))
        finally:
            stack.pop()

    def __call__(self, *args, **kwargs):
        if _config.functions_run_eagerly():
            return self.python_function(*args, **kwargs)
        bound = self._bind(args, kwargs)
        key = self._key(bound)
        if self._lookup(key) is None:
            self._trace(key, bound)
        return self._run(bound)

    def get_concrete_function(self, *args, **kwargs):
        """The :class:`ConcreteFunction` a call with these arguments (values, or TensorSpecs standing for tensors)
        uses, traced now if no existing one accepts them (the Python body does not run)."""
        if self.input_signature is not None and not args and not kwargs:
            args = self.input_signature
        specs = [a for a in list(args) + list(kwargs.values()) if isinstance(a, TensorSpec)]
        if self.input_signature is not None and specs:
            bound = self._python_signature().bind(*args, **kwargs)
            bound.apply_defaults()
        else:
            bound = self._bind(args, kwargs)
        key = self._key(bound)
        return self._lookup(key) or self._trace(key, bound)

    def experimental_get_tracing_count(self):
        """How many concrete functions this Function has traced."""
        return len(self._concrete)

    @property
    def function_spec(self):
        raise AttributeError("Function.function_spec is not supported in gpuflow (see gpuflow.tf_function).")

    # -- methods: one Function per instance ------------------------------------------------------------------------
    def __get__(self, instance, owner=None):
        if instance is None or not hasattr(self.python_function, "__get__"):
            return self
        # Kept in the instance's __dict__ (a cycle through the bound method, which the garbage collector frees
        # with the instance); an instance without one gets a new Function per access.
        cache = getattr(instance, "__dict__", {}).setdefault("_gpuflow_tf_functions", {})
        bound = cache.get(id(self))
        if bound is None:
            bound = cache[id(self)] = Function(
                self.python_function.__get__(instance, owner), self.input_signature, self._autograph,
                self._jit_compile, self._reduce_retracing, self._follow_type_hints, self.__name__)
        return bound

    def __repr__(self):
        return f"<gpuflow.Function {self.__name__} (tracing count {len(self._concrete)})>"


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_implements=None, experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None, experimental_follow_type_hints=None):
    """``tf.function``: wraps ``func`` in a :class:`Function` with TensorFlow's tracing rules; usable as
    ``@tf.function``, ``@tf.function(input_signature=...)``, ``tf.function(f, ...)``, and on methods.

    gpuflow runs the Python body eagerly on every call; the module docstring of :mod:`gpuflow.tf_function` says
    what that keeps of TensorFlow's behaviour (signatures, retracing, ``experimental_get_tracing_count``,
    ``input_signature`` errors) and what differs (Python side effects run every call; creating a variable after
    the first call is an error).

    Args:
        func: the function (or method) to wrap; None returns a decorator.
        input_signature: a (nested) sequence of :class:`TensorSpec`, one per parameter; calls are checked and
            converted against it and never retrace.
        autograph: accepted; no effect (the body runs eagerly).
        jit_compile: accepted; no XLA compilation happens.
        reduce_retracing: relax tensor shapes to cover earlier traces instead of tracing each new shape.
        experimental_implements, experimental_autograph_options, experimental_attributes: accepted, no effect.
        experimental_relax_shapes: deprecated spelling of ``reduce_retracing`` (a DeprecationWarning, as TF).
        experimental_compile: deprecated spelling of ``jit_compile``.
        experimental_follow_type_hints: convert arguments annotated ``tf.Tensor`` to tensors before tracing.

    Returns:
        A :class:`Function`, or a decorator making one when ``func`` is None.

    Raises:
        TypeError: ``input_signature`` is not a nested sequence of TensorSpecs, or misses a parameter without a
            default (at the first call); ``func`` is not callable.
    """
    if experimental_relax_shapes is not None:
        warnings.warn("experimental_relax_shapes is deprecated, use reduce_retracing instead", DeprecationWarning,
                      stacklevel=2)
        reduce_retracing = reduce_retracing or experimental_relax_shapes
    if experimental_compile is not None:
        warnings.warn("experimental_compile is deprecated, use jit_compile instead", DeprecationWarning, stacklevel=2)
        jit_compile = experimental_compile if jit_compile is None else jit_compile

    def decorate(f):
        return Function(f, input_signature, autograph, jit_compile, reduce_retracing,
                        bool(experimental_follow_type_hints))
    return decorate if func is None else decorate(func)
