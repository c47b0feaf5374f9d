"""``tf.cond``, ``tf.while_loop``, ``tf.map_fn``, ``tf.vectorized_map`` and ``tf.executing_eagerly`` as gpuflow runs
them: eagerly (gpuflow has no graph mode; ``tf.function`` runs its Python too), so a branch or loop is Python
control flow over the ops, and gradients flow through the branch taken and every iteration."""
from __future__ import annotations

from .core import convert_to_tensor
from .array_ops import stack, unstack

__all__ = ["cond", "while_loop", "map_fn", "vectorized_map", "executing_eagerly"]


def executing_eagerly():
    """True: gpuflow always executes eagerly, inside ``tf.function`` too (``tf.executing_eagerly``)."""
    return True


def cond(pred, true_fn=None, false_fn=None, name=None):
    """``true_fn()`` if ``pred`` (a bool scalar) else ``false_fn()`` (``tf.cond``).

    Raises:
        TypeError: a branch that is not callable (TensorFlow's message).
    """
    for arg, fn in (("true_fn", true_fn), ("false_fn", false_fn)):
        if not callable(fn):
            raise TypeError(f"{arg} must be callable. Received: {arg}={fn!r}")
    return true_fn() if bool(convert_to_tensor(pred).numpy()) else false_fn()


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    """Repeats ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (``tf.while_loop``), at most
    ``maximum_iterations`` times; returns the final ``loop_vars`` in the structure given (a list or tuple, or one
    value).

    Raises:
        TypeError: ``cond`` or ``body`` not callable.
    """
    if not callable(cond) or not callable(body):
        raise TypeError(f"cond and body must be callable. Received: cond={cond!r}, body={body!r}")
    single = not isinstance(loop_vars, (list, tuple))
    values = [loop_vars] if single else list(loop_vars)
    i = 0
    while (maximum_iterations is None or i < int(maximum_iterations)) and \
            bool(convert_to_tensor(cond(*values)).numpy()):
        out = body(*values)
        values = list(out) if isinstance(out, (list, tuple)) else [out]
        i += 1
    return values[0] if single else type(loop_vars)(values)


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None, fn_output_signature=None):
    """``fn`` applied to each slice of ``elems`` along axis 0, the results stacked (``tf.map_fn``).

    ``elems`` is a Tensor or a list/tuple of Tensors with the same first dimension (``fn`` then takes the tuple of
    slices); ``fn`` returns a Tensor or a list/tuple of them, stacked alike. Gradients flow through every call.

    Raises:
        ValueError: ``elems`` of rank 0 or with different first dimensions.
    """
    many = isinstance(elems, (list, tuple))
    xs = [convert_to_tensor(e) for e in (elems if many else [elems])]
    if any(x.ndim == 0 for x in xs) or len({int(x.shape[0]) for x in xs}) != 1:
        raise ValueError(f"map_fn: elems must have rank >= 1 and one first dimension. Received shapes: "
                         f"{[tuple(x.shape) for x in xs]}")
    slices = [unstack(x) for x in xs]
    results = [fn(type(elems)(s) if many else s[0]) for s in zip(*slices)]
    if results and isinstance(results[0], (list, tuple)):
        return type(results[0])(stack([r[k] for r in results]) for k in range(len(results[0])))
    return stack(results)


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    """:func:`map_fn` (``tf.vectorized_map``; gpuflow calls ``fn`` per slice)."""
    return map_fn(fn, elems)
