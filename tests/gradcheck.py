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

Finite differences need float64 and run on the CPU. On every device (the ``device``
fixture of tests/conftest.py), ``check_on_device`` runs ``fn`` in float32 there and on
the plain reference backend (``gpuflow/backend/reference.py``, device ``"reference"``)
and compares the forward values and the tape gradients; ``check_op`` is the one call
an op test makes: finite differences on the CPU, the reference comparison on every device.
"""
from __future__ import annotations

import numpy as np

import gpuflow as tf
from gpuflow.device import Device
from primitive_checks import assert_sums_match

__all__ = ["check_gradients", "check_double_backward", "check_on_device", "check_op", "assert_float32_close",
           "rand", "REFERENCE"]

#: The device kind of the test oracle: the naive backend of gpuflow/backend/reference.py.
REFERENCE = "reference"
#: Roundings allowed beside the sums of an op compared with the reference (assert_float32_close).
ELEMENTWISE_ROUNDINGS = 16


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


def _first_gradient(fn, inputs, seed):
    """``x -> d/dx sum(w * fn(x))`` for the differentiable inputs, as a list; ``w`` is drawn on the first call
    (float64 normal, cast to each output's dtype) and kept."""
    rng = np.random.default_rng(seed)
    diff = [i for i, a in enumerate(inputs) if _is_diff(a)]
    weights = []

    def first_grad(*args):
        with tf.GradientTape() as inner:
            inner.watch([args[i] for i in diff])
            outs = _outputs(fn(*args))
        if not weights:
            weights.extend(_weights(outs, rng))
        return list(inner.gradient(outs, [args[i] for i in diff],
                                   output_gradients=[tf.constant(w.astype(o.dtype.as_numpy_dtype))
                                                     for w, o in zip(weights, outs)],
                                   unconnected_gradients="zero"))
    return first_grad


def check_double_backward(fn, *inputs, device=None, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """Asserts that second derivatives of ``fn`` (nested tapes) are right.

    With random upstream weights ``w`` and ``v``, the function checked is
    ``x -> sum(v * d/dx sum(w * fn(x)))`` (a Hessian-vector product), whose
    gradient is taken with an outer tape and compared with central differences of the first
    gradient in float64 (:func:`check_gradients`); given a ``device``, as :func:`check_op` does
    (finite differences on the CPU, the reference backend in float32 on every device).
    """
    first_grad = _first_gradient(fn, inputs, seed)
    with tf.device("cpu"):
        first_grad(*_to_args(inputs))  # fixes the inner weights
    if device is None:
        check_gradients(first_grad, *inputs, eps=eps, atol=atol, rtol=rtol, seed=seed + 1)
    else:
        check_op(first_grad, *inputs, device=device, eps=eps, atol=atol, rtol=rtol, seed=seed + 1)


# -- the same function on a device and on the reference backend, in float32 ----------------------------------
def _place(a):
    """An input as ``fn`` gets it on the current device: float arrays as float32 Tensors (differentiated),
    Tensors copied here (not differentiated), anything else unchanged."""
    if _is_diff(a):
        return tf.constant(a.astype(np.float32))
    if isinstance(a, tf.Tensor):
        return tf.constant(a.numpy())
    return a


def _run_on(kind, fn, inputs, variables, seed):
    """Outputs and tape gradients (NumPy arrays; None where unconnected) of ``fn`` on device ``kind``."""
    with tf.device(kind):
        args = [_place(a) for a in inputs]
        with tf.GradientTape() as tape:
            sources = [a for a, raw in zip(args, inputs) if _is_diff(raw)]
            tape.watch(sources)
            outs = _outputs(fn(*args))
            sources += list(variables() if variables is not None else ())
        for o in outs:
            assert o.device == Device(kind), f"an output of fn is on '{o.device}', expected '{kind}'"
        diff_outs = [o for o in outs if o.dtype.is_floating]
        rng = np.random.default_rng(seed)
        weights = [tf.constant(w.astype(o.dtype.as_numpy_dtype)) for w, o in zip(_weights(diff_outs, rng), diff_outs)]
        grads = tape.gradient(diff_outs, sources, output_gradients=weights) if diff_outs and sources else []
        for g in grads:
            assert g is None or g.device == Device(kind), f"a gradient is on '{g.device}', expected '{kind}'"
        return [o.numpy() for o in outs], [None if g is None else g.numpy() for g in grads]


def assert_float32_close(got, want, k=1, what="value"):
    """Asserts that a float32 result ``got`` agrees with the reference's ``want`` to float32 rounding.

    Integer and boolean results must be equal, infinities and NaNs must match. Finite floating-point values
    must agree within the rounding of sums of ``k`` terms (:func:`primitive_checks.assert_sums_match`, the
    ``gamma_k`` bound), ``ELEMENTWISE_ROUNDINGS`` more terms standing for the elementwise maths around the
    sums (a GPU's ``expf`` is not NumPy's). The bound needs ``sum|term|`` per element, which a composite
    ``fn`` does not expose: ``|want| + max|want|`` stands for it, as a sum's terms may cancel.
    """
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, reference {want.dtype}"
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.where(finite, 0, got), np.where(finite, 0, want), err_msg=f"{what}: inf/nan")
    got, want = got[finite], want[finite].astype(np.float64)
    assert_sums_match(got, want, np.abs(want) + np.max(np.abs(want), initial=0.0), k + ELEMENTWISE_ROUNDINGS,
                      f"{what} differs from the reference backend's")


def check_on_device(fn, *inputs, device, k=None, variables=None, seed=0):
    """Runs ``fn`` on ``device`` and on the reference backend, in float32, and asserts that the outputs and
    their tape gradients agree to float32 rounding (:func:`assert_float32_close`).

    Args:
        fn: function of Tensors returning a Tensor or a list/tuple of Tensors; it is called once under
            ``with gpuflow.device(REFERENCE)`` and once under ``with gpuflow.device(device)``.
        *inputs: float NumPy arrays (each becomes a float32 Tensor on the device and is differentiated),
            Tensors (copied to the device, not differentiated), or anything else (passed unchanged).
        device: the device kind to check ("cpu", "emulator", "gpu").
        k: the longest sum in ``fn`` (terms of a dot product, a reduction, a broadcast undone); by default the
            largest size among the float inputs and outputs, which bounds every such sum of the ops tested.
        variables: optional callable returning more sources (Variables of the device's copy of a layer),
            called after ``fn`` under the same device scope.
        seed: seed of the random upstream weights (the gradient is that of ``sum_k sum(w_k * out_k)``).

    Returns:
        The outputs and the gradients on ``device``, as NumPy arrays.
    """
    want_outs, want_grads = _run_on(REFERENCE, fn, inputs, variables, seed)
    got_outs, got_grads = _run_on(device, fn, inputs, variables, seed)
    if k is None:
        k = max([np.size(a) for a in inputs if _is_diff(a)] + [np.size(o) for o in want_outs] + [1])
    assert len(got_outs) == len(want_outs)
    for i, (g, w) in enumerate(zip(got_outs, want_outs)):
        assert_float32_close(g, w, k, f"{device}: output {i}")
    assert len(got_grads) == len(want_grads)
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        assert (g is None) == (w is None), f"{device}: gradient {i} is {g}, the reference's {w}"
        if w is not None:
            assert_float32_close(g, w, k, f"{device}: gradient of source {i}")
    return got_outs, got_grads


def check_op(fn, *inputs, device, k=None, **fd_kwargs):
    """The check of an op test, one body for every device: on the CPU, tape gradients against finite
    differences in float64 (:func:`check_gradients`, with ``fd_kwargs``: eps, atol, rtol, seed); on every
    device, forward values and gradients in float32 against the reference backend (:func:`check_on_device`)."""
    if device == "cpu":
        with tf.device("cpu"):
            check_gradients(fn, *inputs, **fd_kwargs)
    check_on_device(fn, *inputs, device=device, k=k, seed=fd_kwargs.get("seed", 0))
