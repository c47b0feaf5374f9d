"""Reverse-mode automatic differentiation: ``GradientTape`` (TensorFlow 2 semantics).

While a tape is active, every op whose inputs the tape watches is recorded as a
node ``(inputs, output, vjp)``; ``gradient`` walks the nodes in reverse order of
recording (a valid reverse topological order) and applies each vector-Jacobian
product. Vjps are written with differentiable ops, so an outer tape records the
gradient computation of an inner one and higher-order gradients work (nested
tapes). The backward passes of the fused primitives (conv2d, pooling, dense,
the fused recurrences) are recorded with a :func:`first_order_only` vjp, which
refuses a further derivative with a clear error rather than returning a
silently wrong one. An op recorded with ``vjp=None`` is not differentiable
(TensorFlow's ``ops.NotDifferentiable``, Chainer's no-grad): no node is kept,
so gradients through it are ``None``.

Follows ``tf.GradientTape``: trainable variables are watched when read inside
the tape (``watch_accessed_variables=True``), a non-persistent tape gives one
``gradient`` call, unconnected sources get ``None`` (or zeros with
``unconnected_gradients="zero"``), integer targets and sources get ``None``.
"""
from __future__ import annotations

import contextlib
import threading

__all__ = ["GradientTape", "record", "is_recording", "recording_tape_count", "stop_recording", "first_order_only",
           "UnconnectedGradients"]

_local = threading.local()


def _active():
    tapes = getattr(_local, "tapes", None)
    if tapes is None:
        tapes = _local.tapes = []
    return tapes


def is_recording() -> bool:
    """True when at least one tape is recording on this thread."""
    tapes = getattr(_local, "tapes", None)
    return bool(tapes)


def recording_tape_count() -> int:
    """How many tapes are recording on this thread: 0 outside any, 2 or more inside nested tapes (where a
    gradient may itself be differentiated, so an op without a second derivative should not be chosen)."""
    return len(getattr(_local, "tapes", None) or ())


class UnconnectedGradients:
    NONE = "none"
    ZERO = "zero"


class _Node:
    __slots__ = ("inputs", "output", "vjp", "needs", "name")

    def __init__(self, inputs, output, vjp, needs, name):
        self.inputs, self.output, self.vjp, self.needs, self.name = inputs, output, vjp, needs, name


def first_order_only(name):
    """The vjp of a gradient op ``name`` that has no derivative of its own (the backward passes of the fused
    primitives): recorded, so a first-order gradient flows as usual, but differentiating through it raises.

    Returns:
        ``vjp(g, needs)`` raising NotImplementedError that names ``name``.
    """
    def vjp(g, needs):
        raise NotImplementedError(f"The gradient of '{name}' (itself a gradient op) is not implemented: "
                                  "higher-order derivatives through this op are not supported yet.")
    return vjp


def record(name, inputs, output, vjp):
    """Records an op on every recording tape that watches one of ``inputs``.

    Args:
        name: op name, used in error messages.
        inputs: tuple of input Tensors (non-tensors must not be passed).
        output: the output Tensor.
        vjp: ``vjp(grad_output, needs) -> tuple`` of input gradients (Tensor or
            None), ``needs[i]`` saying whether input i needs one; ``None`` for an
            op that is not differentiable: no node is kept and gradients through
            it are None (trainable variables it reads are still watched, as
            TensorFlow watches a variable when it is read). For a gradient op
            with no derivative of its own use :func:`first_order_only`.
    """
    for tape in _active():
        tape._record(name, inputs, output, vjp)


@contextlib.contextmanager
def stop_recording():
    """Pauses every tape on this thread (``tf.GradientTape.stop_recording`` for all)."""
    tapes = _active()
    saved = list(tapes)
    tapes.clear()
    try:
        yield
    finally:
        tapes[:] = saved


def _output_gradient(g, target):
    """A user-supplied ``output_gradients`` entry as a Tensor of ``target``'s dtype, device and shape."""
    from .ops.core import convert_to_tensor
    g = convert_to_tensor(g, dtype=target.dtype, device=target.device)  # a Tensor of another dtype is an error
    if tuple(g.shape) != tuple(target.shape):
        raise ValueError(f"output_gradients must match the target's shape. Expected: {tuple(target.shape)}. "
                         f"Received: {tuple(g.shape)}")
    return g


def _flatten(structure):
    if isinstance(structure, dict):
        return [v for k in structure for v in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [v for s in structure for v in _flatten(s)]
    return [structure]


def _pack(structure, flat_iter):
    if isinstance(structure, dict):
        return {k: _pack(structure[k], flat_iter) for k in structure}
    if isinstance(structure, (list, tuple)):
        packed = [_pack(s, flat_iter) for s in structure]
        return type(structure)(packed) if isinstance(structure, tuple) else packed
    return next(flat_iter)


class GradientTape:
    """Records operations for automatic differentiation (``tf.GradientTape``).

    Args:
        persistent: if True, ``gradient`` may be called more than once.
        watch_accessed_variables: if True, trainable ``Variable`` objects read
            while the tape is active are watched automatically.

    Example:
        >>> x = gpuflow.Variable(3.0)
        >>> with gpuflow.GradientTape() as tape:
        ...     y = x * x
        >>> float(tape.gradient(y, x))
        6.0
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._watched = {}
        self._variables = {}
        self._nodes = []
        self._used = False

    def __enter__(self):
        _active().append(self)
        return self

    def __exit__(self, *exc):
        self._pop()
        return False

    def _pop(self):
        tapes = _active()
        for i in range(len(tapes) - 1, -1, -1):
            if tapes[i] is self:
                del tapes[i]
                return True
        return False

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stops this tape from recording."""
        was = self._pop()
        try:
            yield
        finally:
            if was:
                _active().append(self)

    def reset(self):
        """Clears everything recorded so far."""
        self._watched.clear()
        self._variables.clear()
        self._nodes.clear()

    def watch(self, tensor):
        """Marks a tensor, variable, or a (nested) list of them, to be traced.

        Raises:
            ValueError: for anything that is not a Tensor.
        """
        from .tensor import Tensor, Variable
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise ValueError(f"GradientTape.watch expects Tensors or Variables. Received: {type(t).__name__}")
            self._watched[id(t)] = t
            if isinstance(t, Variable):
                self._variables[id(t)] = t

    def watched_variables(self):
        """The variables watched by this tape, in the order they were first watched."""
        return tuple(self._variables.values())

    def _record(self, name, inputs, output, vjp):
        from .tensor import Variable
        watched = self._watched
        needs = []
        hit = False
        for t in inputs:
            w = id(t) in watched
            if not w and self._watch_accessed and isinstance(t, Variable) and t.trainable:
                watched[id(t)] = t
                self._variables[id(t)] = t
                w = True
            needs.append(w)
            hit = hit or w
        if hit and vjp is not None and output.dtype.is_floating:
            watched[id(output)] = output
            self._nodes.append(_Node(inputs, output, vjp, tuple(needs), name))

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """Computes the gradient of ``target`` with respect to ``sources``.

        Args:
            target: a Tensor, or a list of Tensors whose gradients are summed.
            sources: a Tensor/Variable or a nested list/tuple/dict of them.
            output_gradients: optional upstream gradient(s), one per target.
            unconnected_gradients: ``"none"`` (default) or ``"zero"``.

        Returns:
            The gradients, in the structure of ``sources``; ``None`` for a source
            the target does not depend on (or zeros, see above).

        Raises:
            RuntimeError: on a second call to a non-persistent tape.
        """
        from .tensor import Tensor
        from .ops import array_ops
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of "
                               "gradients (or jacobians). Use GradientTape(persistent=True) for more.")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"Unknown unconnected_gradients. Expected 'none' or 'zero'. "
                             f"Received: unconnected_gradients={unconnected_gradients!r}")
        self._used = True
        targets = _flatten(target)
        flat_sources = _flatten(sources)
        for s in flat_sources:
            if not isinstance(s, Tensor):
                raise ValueError(f"GradientTape.gradient expects sources to be Tensors or Variables. "
                                 f"Received: {type(s).__name__}")
        if output_gradients is None:
            out_grads = [None] * len(targets)
        else:
            out_grads = _flatten(output_gradients)
            if len(out_grads) != len(targets):
                raise ValueError(f"output_gradients must have one entry per target. Expected: {len(targets)}. "
                                 f"Received: {len(out_grads)}")
        keep = {id(s) for s in flat_sources}
        with self.stop_recording():
            grads = {}
            for t, g in zip(targets, out_grads):
                if not isinstance(t, Tensor) or not t.dtype.is_floating:
                    continue
                g = array_ops.ones_like(t) if g is None else _output_gradient(g, t)
                grads[id(t)] = grads[id(t)] + g if id(t) in grads else g
            for node in reversed(self._nodes):
                oid = id(node.output)
                g = grads.get(oid) if oid in keep else grads.pop(oid, None)
                if g is None:
                    continue
                in_grads = node.vjp(g, node.needs)
                for t, gi, need in zip(node.inputs, in_grads, node.needs):
                    if gi is None or not need:
                        continue
                    tid = id(t)
                    grads[tid] = grads[tid] + gi if tid in grads else gi
            result = []
            for s in flat_sources:
                g = grads.get(id(s))
                if g is not None and not s.dtype.is_floating:
                    g = None
                if g is None and unconnected_gradients == "zero":
                    g = array_ops.zeros_like(s)
                result.append(g)
        if not self._persistent:  # free the recording; watched_variables() still answers, as in TensorFlow
            self._watched.clear()
            self._nodes.clear()
        return _pack(sources, iter(result))
