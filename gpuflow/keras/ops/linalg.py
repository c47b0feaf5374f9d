"""``keras.ops.linalg``: Keras 3.15's linear algebra (``keras/src/ops/linalg.py``) on gpuflow.

Differentiable (gpuflow ops): ``inv``, ``det``, ``solve``, ``solve_triangular``, ``cholesky_inverse`` and ``norm``
(except its ``"nuc"``/2/-2 matrix norms). Computed with the backend's ``linalg`` (NumPy or CuPy) and **not
differentiable** (a GradientTape sees no gradient through them): ``cholesky``, ``eigh``, ``qr``, ``svd``,
``lstsq``, ``lu_factor``, ``matrix_rank``, ``pinv``. ``jvp`` runs on two nested tapes. ``eig`` (complex results)
is not supported.
"""
from __future__ import annotations

import numpy as np

from ...ops import array_ops as A
from ...ops import keras_numpy_ops as K
from ...ops import linalg_ops as L
from ...ops import math_ops as M
from ...ops.core import convert_to_tensor
from ..._unsupported import module_getattr
from . import _names
from ._symbolic import wrap_module
from ._common import axis_tuple, flatten, float_tensor, promote, tensor, unflatten
from . import numpy as _np_ops

def _square(x, op):
    x = float_tensor(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op} expects square matrices of shape (..., N, N). Received: x.shape={tuple(x.shape)}")
    return x


def _host_linalg(name, fn, *xs):
    """``fn(xp.linalg, *arrays)`` (one array or a tuple of them) as Tensors with no gradient."""
    ts = [float_tensor(x) for x in xs]
    xp = ts[0]._backend.xp
    out = fn(xp.linalg, *(t._data for t in ts))
    if isinstance(out, tuple):
        return tuple(K.nondifferentiable(name, lambda _xp, _a, o=o: o, ts[0]) for o in out)
    return K.nondifferentiable(name, lambda _xp, _a: out, ts[0])


def inv(x):
    """The inverse of each square matrix (..., N, N); differentiable."""
    return L.inv(_square(x, "inv"))


def det(x):
    """The determinant of each square matrix (..., N, N), shape (...); differentiable."""
    return L.det(_square(x, "det"))


def solve(a, b):
    """``X`` with ``a @ X = b`` for square ``a`` (..., N, N) and ``b`` (..., N, K) or (..., N); differentiable."""
    a, b = promote(a, b, extra=(float,))
    vector = b.ndim == a.ndim - 1
    if vector:
        b = A.expand_dims(b, -1)
    x = L.solve(a, b)
    return A.reshape(x, tuple(x.shape[:-1])) if vector else x


def solve_triangular(a, b, lower=False):
    """:func:`solve` with the triangular part of ``a`` (lower or upper) alone; differentiable."""
    a = float_tensor(a)
    return solve(_np_ops.tril(a) if lower else _np_ops.triu(a), b)


def jvp(fun, primals, tangents, has_aux=False):
    """The forward-mode Jacobian-vector product of ``fun`` at ``primals`` along ``tangents`` (same structures),
    Keras 3's ``ops.jvp``: returns ``(fun(*primals), J @ tangents)`` (and ``aux`` when ``has_aux``: ``fun`` then
    returns ``(output, aux)``), in the structure of ``fun``'s output. gpuflow has reverse mode only: the product is
    the gradient, with respect to a cotangent ``u``, of ``<J^T u, tangents>`` (two nested tapes), so every op in
    ``fun`` must be twice differentiable.

    Raises:
        ValueError: ``primals`` and ``tangents`` of different structures.
    """
    from ...autodiff import GradientTape
    flat_p = [tensor(p) for p in flatten(primals)]
    flat_t = flatten(tangents)
    if len(flat_t) != len(flat_p):
        raise ValueError(f"`primals` and `tangents` must have the same structure. Received: {len(flat_p)} primals "
                         f"and {len(flat_t)} tangents")
    flat_t = [tensor(t, p.dtype) for t, p in zip(flat_t, flat_p)]
    args = unflatten(primals, flat_p)
    with GradientTape() as outer:
        with GradientTape() as inner:
            inner.watch(flat_p)
            result = fun(*args)
        out, aux = result if has_aux else (result, None)
        flat_out = [tensor(o) for o in flatten(out)]
        cotangents = [A.zeros_like(o) for o in flat_out]
        outer.watch(cotangents)
        grads = inner.gradient(flat_out, flat_p, output_gradients=cotangents)
        total = None
        for g, t in zip(grads, flat_t):
            if g is not None:
                term = M.reduce_sum(g * t)
                total = term if total is None else total + term
    products = outer.gradient(total, cotangents) if total is not None else [None] * len(cotangents)
    tangents_out = unflatten(out, [A.zeros_like(o) if d is None else d for d, o in zip(products, flat_out)])
    return (out, tangents_out, aux) if has_aux else (out, tangents_out)


def cholesky(x, upper=False):
    """The Cholesky factor ``L`` (``x = L L^T``) of each symmetric positive-definite matrix, or ``L^T`` when
    ``upper``. Not differentiable in gpuflow.

    Raises:
        ValueError: a matrix that is not positive definite.
    """
    x = _square(x, "cholesky")
    try:
        out = _host_linalg("Cholesky", lambda la, a: la.cholesky(a), x)
    except np.linalg.LinAlgError as e:
        raise ValueError(f"Cholesky decomposition failed: the input might not be a valid positive definite "
                         f"matrix. ({e})") from None
    return _np_ops.swapaxes(out, -1, -2) if upper else out


def cholesky_inverse(x, upper=False):
    """The inverse of ``A = L L^T`` from its Cholesky factor ``x`` (lower, or upper when ``upper``);
    differentiable in ``x``."""
    f = _square(x, "cholesky_inverse")
    ft = _np_ops.swapaxes(f, -1, -2)
    return L.inv(M.matmul(ft, f) if upper else M.matmul(f, ft))


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors (columns) of each symmetric matrix. Not differentiable."""
    return _host_linalg("Eigh", lambda la, a: tuple(la.eigh(a)), _square(x, "eigh"))


def qr(x, mode="reduced"):
    """The QR decomposition ``(q, r)`` of each matrix (``mode`` "reduced" or "complete"). Not differentiable.

    Raises:
        ValueError: another mode (Keras's message).
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"`mode` argument value not supported. Expected one of {{'reduced', 'complete'}}. "
                         f"Received: mode={mode}")
    return _host_linalg("Qr", lambda la, a: tuple(la.qr(a, mode=mode)), x)


def svd(x, full_matrices=True, compute_uv=True):
    """The singular value decomposition ``(u, s, v^T)`` of each matrix, or ``s`` alone without ``compute_uv``. Not
    differentiable."""
    if not compute_uv:
        return _host_linalg("Svd", lambda la, a: la.svd(a, compute_uv=False), x)
    return _host_linalg("Svd", lambda la, a: tuple(la.svd(a, full_matrices=full_matrices)), x)


def lstsq(a, b, rcond=None):
    """The least-squares solution ``x`` of ``a @ x = b`` (``a`` (M, N), ``b`` (M,) or (M, K)). Not
    differentiable."""
    return _host_linalg("Lstsq", lambda la, p, q: la.lstsq(p, q, rcond=rcond)[0], a, b)


def lu_factor(x):
    """The LU factorisation of each square matrix: ``(lu, pivots)``, LAPACK's ``getrf`` layout (``lu`` holds ``L``
    below the diagonal, unit diagonal implied, and ``U``; ``pivots`` int32 row swaps), as SciPy's ``lu_factor``.
    Not differentiable; computed on the host with partial pivoting."""
    x = _square(x, "lu_factor")
    a = np.array(x.numpy(), dtype=np.float64)
    n = a.shape[-1]
    piv = np.zeros(a.shape[:-1], dtype=np.int32)
    for idx in np.ndindex(*a.shape[:-2]):
        m = a[idx]
        for k in range(n):
            p = k + int(np.argmax(np.abs(m[k:, k])))
            piv[idx + (k,)] = p
            if p != k:
                m[[k, p]] = m[[p, k]]
            if m[k, k] != 0:
                m[k + 1:, k] /= m[k, k]
                m[k + 1:, k + 1:] -= np.outer(m[k + 1:, k], m[k, k + 1:])
    return tensor(a.astype(x.dtype.as_numpy_dtype)), tensor(piv)


def matrix_rank(x, tol=None):
    """The rank of each matrix (singular values above ``tol``, default NumPy's), int32. Not differentiable."""
    x = float_tensor(x)
    return K.nondifferentiable("MatrixRank", lambda xp, a: xp.linalg.matrix_rank(a, tol=tol).astype(np.int32), x)


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse of each matrix (singular values below ``rcond * max`` dropped, default
    ``1e-15``... NumPy's). Not differentiable."""
    return _host_linalg("Pinv", lambda la, a: la.pinv(a) if rcond is None else la.pinv(a, rcond=rcond), x)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - Keras's name
    """Vector or matrix norm (NumPy's ``linalg.norm``): with ``axis`` None, the 2-norm of the flattened tensor when
    ``ord`` is None, else a vector norm (1-D) or matrix norm (2-D); an int ``axis`` gives vector norms (``ord``:
    None/2, inf, -inf, 0, any p), a pair of axes matrix norms (None/"fro", "nuc", inf, -inf, 1, -1, 2, -2).
    Integer inputs give ``floatx()``. Differentiable except "nuc", 2 and -2 (singular values).

    Raises:
        ValueError: an invalid ``ord`` for the number of axes, or ``axis`` of more than two axes.
    """
    x = float_tensor(x)
    if axis is None:
        if ord is None:
            out = M.sqrt(M.reduce_sum(M.square(x)))
            return A.reshape(out, (1,) * x.ndim) if keepdims else out
        axis = tuple(range(x.ndim))
    axes = axis_tuple(axis, x.ndim)
    if isinstance(axis, (int, np.integer)) or len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) != 2:
        raise ValueError(f"Invalid axis for norm: at most two axes. Received: axis={axis}")
    return _matrix_norm(x, ord, axis if isinstance(axis, (tuple, list)) else axes, keepdims)


def _vector_norm(x, ord, ax, keepdims):  # noqa: A002
    a = M.abs(x)
    if ord is None or ord == 2:
        return M.sqrt(M.reduce_sum(M.square(x), axis=ax, keepdims=keepdims))
    if ord == np.inf:
        return M.reduce_max(a, axis=ax, keepdims=keepdims)
    if ord == -np.inf:
        return M.reduce_min(a, axis=ax, keepdims=keepdims)
    if ord == 0:
        return M.reduce_sum(M.cast(M.not_equal(x, M.zeros_like_(x)), x.dtype), axis=ax, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid `ord` argument for vector norm. Received: ord={ord}")
    p = float(ord)
    s = M.reduce_sum(M.pow(a, _scalar(p, x)), axis=ax, keepdims=keepdims)
    return M.pow(s, _scalar(1.0 / p, s))


def _scalar(v, like):
    return convert_to_tensor(np.asarray(v, dtype=like.dtype.as_numpy_dtype), device=like.device)


def _matrix_norm(x, ord, axis, keepdims):  # noqa: A002
    r, c = (a % x.ndim for a in axis)
    if ord is None or ord == "fro":
        out = M.sqrt(M.reduce_sum(M.square(x), axis=(r, c), keepdims=True))
    elif ord in (1, -1, np.inf, -np.inf):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)
        s = M.reduce_sum(M.abs(x), axis=inner, keepdims=True)
        out = (M.reduce_max if ord > 0 else M.reduce_min)(s, axis=outer, keepdims=True)
    elif ord in ("nuc", 2, -2):
        moved = _np_ops.moveaxis(x, [r, c], [-2, -1])
        sv = svd(moved, compute_uv=False)
        red = M.reduce_sum(sv, axis=-1) if ord == "nuc" else (M.reduce_max if ord == 2 else M.reduce_min)(sv, axis=-1)
        out = A.reshape(red, [1 if i in (r, c) else d for i, d in enumerate(x.shape)])
    else:
        raise ValueError(f"Invalid `ord` argument for matrix norm. Received: ord={ord}")
    if not keepdims:
        out = A.reshape(out, [d for i, d in enumerate(out.shape) if i not in (r, c)])
    return out



__all__ = [n for n in _names.LINALG.split() if n in globals()]
wrap_module(globals(), __all__)  # a call on symbolic tensors is a functional-model node
__getattr__ = module_getattr(__name__, "tf.keras.ops.linalg", _names.LINALG)  # a Keras op gpuflow lacks
