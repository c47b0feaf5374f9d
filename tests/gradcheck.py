"""Finite-difference gradient checks for gpuflow ops (the model: Chainer's
``gradient_check.check_backward`` and tinygrad's ``helper_test_op``).

One line per case::

    check_gradients(lambda x, y: tf.matmul(x, y), rand(2, 3), rand(3, 4))

Every floating-point NumPy array among ``inputs`` becomes a float64 Tensor that
is differentiated; anything else (integer arrays, Python values, Tensors) is
passed to ``fn`` unchanged and not differentiated. ``fn`` returns a Tensor or a
list/tuple of Tensors. The tape gradient is taken with random upstream
weights ``w`` (``output_gradients``), so it is the gradient of
``sum_k sum(w_k * out_k)``, which is compared, element by element, with the
central difference ``(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)`` of that same
scalar computed in NumPy float64.

``check_double_backward`` does the same one level up: it takes the first
gradient under an outer tape and checks the gradient of ``sum(v * grad)``
against finite differences of the first gradient (a Hessian-vector product).
"""
from __future__ import annotations

import numpy as np

import gpuflow as tf

__all__ = ["check_gradients", "check_double_backward", "rand"]


def rand(*shape, low=-1.0, high=1.0, seed=None, away_from=None, margin=1e-2):
    """A float64 array of uniform values; ``away_from`` keeps them ``margin`` off given kinks.

    The default seed is derived from the shape, so a case gets the same data on every run.
    """
    rng = np.random.default_rng(seed if seed is not None else abs(hash(shape)) % (2 ** 32))
    a = rng.uniform(low, high, size=shape)
    for k in (away_from or ()):
        close = np.abs(a - k) < margin
        a[close] = k + np.where(a[close] >= k, margin, -margin) * 2
    return a


def _is_diff(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _to_args(inputs):
    return [tf.constant(a.astype(np.float64)) if _is_diff(a) else a for a in inputs]


def _outputs(out):
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    for o in outs:
        assert isinstance(o, tf.Tensor), f"fn must return Tensors, got {type(o).__name__}"
    return outs


def _weights(outs, rng):
    return [np.asarray(rng.standard_normal(tuple(o.shape)), dtype=np.float64) for o in outs]


def _scalar(fn, inputs, weights):
    outs = _outputs(fn(*_to_args(inputs)))
    return sum(float(np.sum(np.asarray(o, dtype=np.float64) * w)) for o, w in zip(outs, weights))


def _numeric(fn, inputs, weights, eps):
    grads = []
    for i, a in enumerate(inputs):
        if not _is_diff(a):
            grads.append(None)
            continue
        a = a.astype(np.float64)
        g = np.zeros_like(a)
        for idx in np.ndindex(*a.shape):
            plus, minus = a.copy(), a.copy()
            plus[idx] += eps
            minus[idx] -= eps
            args_p = list(inputs)
            args_m = list(inputs)
            args_p[i], args_m[i] = plus, minus
            g[idx] = (_scalar(fn, args_p, weights) - _scalar(fn, args_m, weights)) / (2 * eps)
        grads.append(g)
    return grads


def _compare(analytic, numeric, inputs, atol, rtol, what):
    for i, (ga, gn, a) in enumerate(zip(analytic, numeric, inputs)):
        if gn is None:
            continue
        if ga is None:  # an unconnected input: its true gradient must be zero
            ga_np = np.zeros_like(gn)
        else:
            assert isinstance(ga, tf.Tensor), f"{what} of input {i} is a {type(ga).__name__}, not a Tensor"
            assert ga.dtype == tf.float64, f"{what} of input {i} has dtype {ga.dtype.name}, expected float64"
            assert tuple(ga.shape) == a.shape, \
                f"{what} of input {i} has shape {tuple(ga.shape)}, expected {a.shape}"
            ga_np = ga.numpy()
        np.testing.assert_allclose(ga_np, gn, atol=atol, rtol=rtol,
                                   err_msg=f"{what} of input {i} (shape {a.shape}) differs from finite differences")


def check_gradients(fn, *inputs, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0):
    """Asserts that the tape gradients of ``fn(*inputs)`` match central finite differences in float64.

    Args:
        fn: function of Tensors returning a Tensor or a list/tuple of Tensors.
        *inputs: float NumPy arrays (differentiated, as float64 Tensors) or
            anything else (passed through, not differentiated).
        eps: finite-difference step.
        atol, rtol: tolerances of the comparison.
        seed: seed of the random upstream weights.

    Returns:
        The analytic gradients (NumPy arrays; None for non-differentiated inputs).
    """
    rng = np.random.default_rng(seed)
    args = _to_args(inputs)
    sources = [a for a, raw in zip(args, inputs) if _is_diff(raw)]
    with tf.GradientTape() as tape:
        tape.watch(sources)
        outs = _outputs(fn(*args))
    for o in outs:
        assert o.dtype == tf.float64, f"fn output has dtype {o.dtype.name}; float64 inputs must give float64"
    weights = _weights(outs, rng)
    grads = tape.gradient(outs, sources, output_gradients=[tf.constant(w) for w in weights])
    it = iter(grads)
    analytic = [next(it) if _is_diff(raw) else None for raw in inputs]
    numeric = _numeric(fn, inputs, weights, eps)
    _compare(analytic, numeric, inputs, atol, rtol, "gradient")
    return [None if g is None else g.numpy() for g in analytic]


def check_double_backward(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """Asserts that second derivatives of ``fn`` (nested tapes) match finite differences.

    With random upstream weights ``w`` and ``v``, the function checked is
    ``x -> sum(v * d/dx sum(w * fn(x)))`` (a Hessian-vector product), whose
    gradient is taken with an outer tape and compared with central
    differences of the first gradient.
    """
    rng = np.random.default_rng(seed)
    diff = [i for i, a in enumerate(inputs) if _is_diff(a)]

    def first_grad(*args):
        outs = None
        with tf.GradientTape() as inner:
            inner.watch([args[i] for i in diff])
            outs = _outputs(fn(*args))
        w = first_grad.w if hasattr(first_grad, "w") else None
        if w is None:
            w = first_grad.w = _weights(outs, rng)
        gs = inner.gradient(outs, [args[i] for i in diff], output_gradients=[tf.constant(a) for a in w],
                            unconnected_gradients="zero")
        return list(gs)

    # Fix the inner weights once, then check the first gradient as a function of the inputs.
    first_grad(*_to_args(inputs))
    check_gradients(first_grad, *inputs, eps=eps, atol=atol, rtol=rtol, seed=seed + 1)
