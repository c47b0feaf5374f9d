"""``tf.custom_gradient``: a function that gives its own gradient to every recording tape."""
from __future__ import annotations

import functools
import inspect

from ..autodiff import GradientTape
from ..tensor import Tensor
from .core import convert_to_tensor, make_op
from .array_ops import zeros_like

__all__ = ["custom_gradient"]


def _accepts_variables(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return "variables" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def custom_gradient(f=None):
    """Decorator giving ``f`` its own gradient (``tf.custom_gradient``).

    ``f(*x)`` returns ``(y, grad_fn)``: ``y`` a Tensor (or a list/tuple of them) and ``grad_fn(*dy)`` the gradients
    for each input ``x`` (one Tensor or a list, None for none). If ``f`` reads trainable Variables, ``grad_fn`` is
    called as ``grad_fn(*dy, variables=[...])`` and returns ``(input gradients, variable gradients)``, as TF.

    Returns:
        The decorated function; tapes see its outputs as one op of the inputs (and variables) whose gradient is
        ``grad_fn``'s (what ``f`` computes inside is not differentiated).

    Raises:
        TypeError: ``f`` reads Variables and ``grad_fn`` has no ``variables`` argument (TensorFlow's rule).
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        with GradientTape() as inner:  # finds the trainable variables f reads
            y, grad_fn = f(*args, **kwargs)
        variables = list(inner.watched_variables())
        if variables and not _accepts_variables(grad_fn):
            raise TypeError("If using @custom_gradient with a function that uses variables, then grad_fn must accept "
                            "a keyword argument 'variables'.")
        inputs = tuple(a if isinstance(a, Tensor) else convert_to_tensor(a) for a in args)
        outputs = list(y) if isinstance(y, (list, tuple)) else [y]
        outputs = [convert_to_tensor(o) for o in outputs]
        sources = inputs + tuple(variables)

        def vjp_for(i):
            def vjp(g, needs):
                dys = [g if j == i else zeros_like(o) for j, o in enumerate(outputs)]
                if variables:
                    in_grads, var_grads = grad_fn(*dys, variables=variables)
                else:
                    in_grads, var_grads = grad_fn(*dys), []
                in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
                if len(in_grads) != len(inputs) or len(list(var_grads)) != len(variables):
                    raise ValueError(f"custom_gradient: grad_fn must return {len(inputs)} input gradient(s) and "
                                     f"{len(variables)} variable gradient(s). Received: {len(in_grads)} and "
                                     f"{len(list(var_grads))}")
                return tuple(None if gr is None else convert_to_tensor(gr) for gr in in_grads + list(var_grads))
            return vjp
        wrapped = [make_op("CustomGradient", sources, o._data, vjp_for(i), like=o) for i, o in enumerate(outputs)]
        return type(y)(wrapped) if isinstance(y, (list, tuple)) else wrapped[0]
    return decorated
