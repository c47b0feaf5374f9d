"""Linear algebra and norms (``tf.einsum``, ``tf.tensordot``, ``tf.norm``, ``tf.linalg.inv`` ...), TensorFlow's
names, arguments and dtype rules, each differentiable through the tape.

``tensordot``, ``norm`` and the clipping ops are compositions of differentiable ops; ``einsum``, ``inv``, ``det``
and ``solve`` have their gradients beside them (the textbook matrix derivatives, as TensorFlow's ``linalg_grad``).
"""
from __future__ import annotations

import builtins
import collections
import string

import numpy as np

from .core import convert_to_tensor, make_op, wrap
from . import math_ops as M
from . import array_ops as A

__all__ = ["einsum", "tensordot", "norm", "global_norm", "clip_by_norm", "clip_by_global_norm", "l2_normalize",
           "inv", "det", "solve", "diag", "diag_part", "trace", "matvec", "band_part", "matrix_transpose", "adjoint"]


# -- einsum -------------------------------------------------------------------------------------------------------
def _einsum_subscripts(equation, operands):
    """The equation with every ``...`` spelled out in letters and the output made explicit: ``(inputs, output)``.

    Raises:
        ValueError: the number of operands or of subscripts per operand does not fit the equation.
    """
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} has {len(ins)} input(s). Received: "
                         f"{len(operands)} operand(s)")
    free = iter(c for c in string.ascii_letters if c not in eq)
    ell_rank = builtins.max([t.ndim - len(s.replace("...", "")) for s, t in zip(ins, operands) if "..." in s],
                            default=0)
    ell = "".join(next(free) for _ in builtins.range(ell_rank))
    spelled = []
    for s, t in zip(ins, operands):
        if "..." in s:
            s = s.replace("...", ell[ell_rank - (t.ndim - len(s.replace("...", ""))):])
        if len(s) != t.ndim or not s.isalpha():
            raise ValueError(f"einsum: the subscripts {s!r} do not fit an operand of shape {tuple(t.shape)} in "
                             f"{equation!r}.")
        spelled.append(s)
    if arrow:
        out = out.replace("...", ell)
    else:  # implicit output: the broadcast axes, then the letters used once, in alphabetical order
        counts = collections.Counter("".join(spelled))
        out = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    return spelled, out


def einsum(equation, *inputs, **kwargs):
    """Tensor contraction in Einstein notation (``tf.einsum``), e.g. ``einsum("bij,bjk->bik", a, b)``.

    ``...`` stands for broadcast axes; without ``->`` the output is the broadcast axes then the letters used once,
    in alphabetical order (NumPy's and TensorFlow's rule). Every operand has the same dtype; the result has it too.

    Args:
        equation: the subscripts, e.g. ``"ij,jk->ik"``.
        *inputs: the operands (Tensors or array-likes).

    Returns:
        A Tensor of the shape the output subscripts give.

    Raises:
        ValueError: subscripts that do not fit the operands, or sizes of one letter that differ.
        NotImplementedError: the gradient for an operand that repeats a letter (a diagonal, ``"ii->i"``).
    """
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum: unexpected keyword argument(s) {sorted(kwargs)}")
    ops = [convert_to_tensor(t) for t in inputs]
    if ops and any(t.dtype != ops[0].dtype for t in ops):
        raise TypeError(f"einsum: every operand must have the same dtype. Received: "
                        f"{[t.dtype.name for t in ops]}")
    ins, out = _einsum_subscripts(equation, ops)
    sizes = {}
    for s, t in zip(ins, ops):
        for c, d in zip(s, t.shape):
            if sizes.setdefault(c, d) != d and 1 not in (d, sizes[c]):
                raise ValueError(f"einsum: the size of '{c}' differs between operands ({sizes[c]} and {d}) in "
                                 f"{equation!r}. Received shapes: {[tuple(t.shape) for t in ops]}")
            sizes[c] = builtins.max(sizes[c], d)
    # broadcast size-1 axes explicitly (broadcast_to's gradient sums them back), so every letter has one size
    ops = [t if all(d == sizes[c] for c, d in zip(s, t.shape)) else A.broadcast_to(t, [sizes[c] for c in s])
           for s, t in zip(ins, ops)]
    data = ops[0]._backend.xp.einsum(f"{','.join(ins)}->{out}", *[t._data for t in ops], optimize=len(ops) > 2)

    def vjp(g, needs):
        grads = []
        for i, (s, t) in enumerate(zip(ins, ops)):
            if not needs[i]:
                grads.append(None)
                continue
            if len(set(s)) != len(s):
                raise NotImplementedError(f"einsum: the gradient for an operand with a repeated subscript ({s!r} in "
                                          f"{equation!r}) is not supported.")
            others = [(s2, t2) for j, (s2, t2) in enumerate(zip(ins, ops)) if j != i]
            seen = set(out).union(*[set(s2) for s2, _ in others])
            kept = "".join(c for c in s if c in seen)
            gi = einsum(f"{','.join([out] + [s2 for s2, _ in others])}->{kept}", g, *[t2 for _, t2 in others])
            if kept != s:  # letters summed in this operand only: the gradient is the same along them
                gi = A.broadcast_to(A.reshape(gi, [t.shape[k] if c in seen else 1 for k, c in enumerate(s)]),
                                    t.shape)
            grads.append(gi)
        return tuple(grads)
    return make_op("Einsum", tuple(ops), data, vjp)


# -- tensordot --------------------------------------------------------------------------------------------------
def tensordot(a, b, axes, name=None):
    """Sum of products over ``axes`` (``tf.tensordot``).

    Args:
        a, b: Tensors of one dtype.
        axes: an int ``N`` (the last N axes of ``a`` with the first N of ``b``), or a pair of axis lists
            ``[[a axes], [b axes]]`` (an int in place of a list is one axis).

    Returns:
        A Tensor of shape ``a``'s free axes + ``b``'s free axes.

    Raises:
        ValueError: ``axes`` out of range or contracting axes of different sizes.
    """
    a, b = convert_to_tensor(a), convert_to_tensor(b)
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= builtins.min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes must be in [0, {builtins.min(a.ndim, b.ndim)}] for shapes "
                             f"{tuple(a.shape)} and {tuple(b.shape)}. Received: axes={axes}")
        ax_a, ax_b = list(builtins.range(a.ndim - axes, a.ndim)), list(builtins.range(axes))
    else:
        if len(axes) != 2:
            raise ValueError(f"tensordot: axes must be an int or a pair of axis lists. Received: axes={axes}")
        ax_a, ax_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
        ax_a, ax_b = [int(x) % builtins.max(a.ndim, 1) for x in ax_a], [int(x) % builtins.max(b.ndim, 1) for x in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: the contracted axes must pair up with equal sizes. Received: a.shape="
                         f"{tuple(a.shape)} axes {ax_a}, b.shape={tuple(b.shape)} axes {ax_b}")
    free_a = [i for i in builtins.range(a.ndim) if i not in ax_a]
    free_b = [i for i in builtins.range(b.ndim) if i not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a], dtype=np.int64))
    a2 = A.reshape(A.transpose(a, free_a + ax_a), (-1, k)) if a.ndim else A.reshape(a, (1, 1))
    b2 = A.reshape(A.transpose(b, ax_b + free_b), (k, -1)) if b.ndim else A.reshape(b, (1, 1))
    return A.reshape(M.matmul(a2, b2), [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


# -- norms and clipping ---------------------------------------------------------------------------------------
def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002 - TensorFlow's name
    """Vector or matrix norm (``tf.norm`` / ``tf.linalg.norm``).

    Args:
        tensor: a float Tensor.
        ord: ``"euclidean"`` / ``"fro"`` / 2 (the square root of the sum of squares), 1, ``np.inf`` or any
            p > 0 for vector norms (``sum(|x|^p)^(1/p)``); with two axes (a matrix norm): ``"fro"``,
            ``"euclidean"``, 1 (largest column sum) or ``np.inf`` (largest row sum).
        axis: None (all elements as one vector), an int, or a pair of ints (a matrix norm).
        keepdims: keep the reduced axes with size 1.

    Returns:
        A float Tensor of ``tensor``'s dtype.

    Raises:
        ValueError: an ``ord`` TensorFlow does not accept for the axes given.
    """
    x = convert_to_tensor(tensor)
    keepdims = bool(keepdims)
    matrix = isinstance(axis, (list, tuple)) and len(axis) == 2
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    euclid = ord in ("euclidean", "fro") or (not matrix and ord == 2)
    if not euclid and (isinstance(ord, str) or not (ord > 0) or (matrix and ord not in (1, np.inf))):
        raise ValueError(f"'ord' must be a supported {'matrix' if matrix else 'vector'} norm: 'fro', 'euclidean'"
                         f"{', 1, np.inf' if matrix else ', 1, 2, np.inf or any positive real number'}. "
                         f"Received: ord={ord!r}")
    if ord == "fro" and not matrix and axis is not None:
        raise ValueError(f"'fro' is a matrix norm: it needs two axes. Received: axis={axis}")
    a = M.abs(x)
    if euclid:
        return M.sqrt(M.reduce_sum(M.square(x), axis=axis, keepdims=keepdims))
    if matrix:  # 1: the largest column sum (sum over rows); inf: the largest row sum
        inner, outer = (axis[0], axis[1]) if ord == 1 else (axis[1], axis[0])
        s = M.reduce_sum(a, axis=inner, keepdims=True)
        out = M.reduce_max(s, axis=outer, keepdims=True)
        return out if keepdims else A.squeeze(out, axis=list(axis))
    if ord == np.inf:
        return M.reduce_max(a, axis=axis, keepdims=keepdims)
    if ord == 1:
        return M.reduce_sum(a, axis=axis, keepdims=keepdims)
    return M.pow(M.reduce_sum(M.pow(a, float(ord)), axis=axis, keepdims=keepdims), 1.0 / float(ord))


def global_norm(t_list, name=None):
    """``sqrt(sum of every tensor's squared elements)`` (``tf.linalg.global_norm``); None entries are skipped.

    Returns:
        A scalar float Tensor (the first tensor's dtype).
    """
    parts = [M.reduce_sum(M.square(convert_to_tensor(t))) for t in t_list if t is not None]
    return M.sqrt(M.add_n(parts))


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t * clip_norm / max(norm(t, axes), clip_norm)`` (``tf.clip_by_norm``): unchanged when its L2 norm over
    ``axes`` (all axes when None) is at most ``clip_norm``; differentiable."""
    t = convert_to_tensor(t)
    n = M.sqrt(M.reduce_sum(M.square(t), axis=axes, keepdims=True))
    c = M.cast(convert_to_tensor(clip_norm), t.dtype)
    return t * c / M.maximum(n, c)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scales every tensor by ``clip_norm / max(global_norm, clip_norm)`` (``tf.clip_by_global_norm``).

    Returns:
        ``(clipped list, global_norm)``; None entries stay None.
    """
    g = global_norm(t_list) if use_norm is None else convert_to_tensor(use_norm)
    c = M.cast(convert_to_tensor(clip_norm), g.dtype)
    scale = c / M.maximum(g, c)
    return [None if t is None else convert_to_tensor(t) * M.cast(scale, convert_to_tensor(t).dtype)
            for t in t_list], g


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """``x / sqrt(max(sum(x^2, axis), epsilon))`` (``tf.math.l2_normalize`` / ``tf.nn.l2_normalize``)."""
    x = convert_to_tensor(x)
    axis = dim if axis is None else axis
    s = M.reduce_sum(M.square(x), axis=axis, keepdims=True)
    return x * M.rsqrt(M.maximum(s, M.cast(convert_to_tensor(epsilon), x.dtype)))


# -- matrices ---------------------------------------------------------------------------------------------------
def _square_matrices(x, op):
    x = convert_to_tensor(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op} expects a tensor of square matrices, shape (..., M, M). Received: "
                         f"shape={tuple(x.shape)}")
    if not x.dtype.is_floating:
        raise TypeError(f"{op} expects a floating-point tensor. Received: dtype={x.dtype.name}")
    return x


def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """``a`` with its last two axes swapped (``tf.linalg.matrix_transpose``; gpuflow's dtypes are real, so
    ``conjugate`` changes nothing).

    Raises:
        ValueError: rank below 2.
    """
    x = convert_to_tensor(a)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose expects a tensor of rank >= 2. Received: shape={tuple(x.shape)}")
    return A.transpose(x, list(builtins.range(x.ndim - 2)) + [x.ndim - 1, x.ndim - 2])


def adjoint(matrix, name=None):
    """The conjugate transpose of the last two axes (``tf.linalg.adjoint``): :func:`matrix_transpose` here."""
    return matrix_transpose(matrix)


_mt = matrix_transpose


def inv(input, adjoint=False, name=None):  # noqa: A002 - TensorFlow's name
    """The inverse of each square matrix (``tf.linalg.inv``); gradient ``-inv^T g inv^T``.

    Args:
        input: float Tensor of shape (..., M, M).
        adjoint: invert the (conjugate) transpose instead.

    Raises:
        ValueError: not square matrices.
        TypeError: not a float dtype. A singular matrix gives NumPy's/CuPy's LinAlgError (NumPy) or infinities.
    """
    x = _square_matrices(input, "inv")
    if adjoint:
        x = _mt(x)
    out = None
    out = make_op("MatrixInverse", (x,), x._backend.xp.linalg.inv(x._data),
                  lambda g, n: (-M.matmul(M.matmul(out, g, transpose_a=True), out, transpose_b=True),))
    return out


def det(input, name=None):  # noqa: A002
    """The determinant of each square matrix (``tf.linalg.det``), shape (...); gradient ``g det inv^T``."""
    x = _square_matrices(input, "det")
    out = None
    out = make_op("MatrixDeterminant", (x,), x._backend.xp.asarray(x._backend.xp.linalg.det(x._data)),
                  lambda g, n: (A.expand_dims(A.expand_dims(g * out, -1), -1) * _mt(inv(x)),))
    return out


def solve(matrix, rhs, adjoint=False, name=None):
    """``X`` with ``matrix @ X = rhs`` for each matrix (``tf.linalg.solve``): matrix (..., M, M), rhs (..., M, K).

    Gradients: ``d rhs = solve(matrix^T, g)``, ``d matrix = -d rhs X^T``."""
    a = _square_matrices(matrix, "solve")
    b = convert_to_tensor(rhs)
    if adjoint:
        a = _mt(a)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve expects rhs of shape (..., {a.shape[-1]}, K). Received: rhs.shape="
                         f"{tuple(b.shape)}, matrix.shape={tuple(a.shape)}")
    out = None

    def vjp(g, n):
        gb = solve(a, g, adjoint=True)
        return (-M.matmul(gb, out, transpose_b=True) if n[0] else None, gb if n[1] else None)
    out = make_op("MatrixSolve", (a, b), a._backend.xp.linalg.solve(a._data, b._data), vjp)
    return out


def diag(diagonal, name=None, k=0, **kwargs):
    """A (batch of) square matrices with ``diagonal`` (..., N) on the main diagonal (``tf.linalg.diag``, k=0)."""
    d = convert_to_tensor(diagonal)
    if k != 0 or kwargs:
        raise NotImplementedError(f"diag: only k=0 is supported. Received: k={k}, {kwargs}")
    n = d.shape[-1]
    return A.expand_dims(d, -1) * wrap(d._backend.xp.eye(n, dtype=d._data.dtype), d)


def diag_part(input, name=None, k=0, **kwargs):  # noqa: A002
    """The main diagonals (..., min(M, N)) of a batch of matrices (``tf.linalg.diag_part``, k=0)."""
    x = convert_to_tensor(input)
    if k != 0 or kwargs:
        raise NotImplementedError(f"diag_part: only k=0 is supported. Received: k={k}, {kwargs}")
    if x.ndim < 2:
        raise ValueError(f"diag_part expects rank >= 2. Received: shape={tuple(x.shape)}")
    n = builtins.min(x.shape[-2], x.shape[-1])
    i = np.arange(n)
    return A.getitem(x, (Ellipsis, i, i))


def trace(x, name=None):
    """Sum of the main diagonal of each matrix (``tf.linalg.trace``), shape (...)."""
    return M.reduce_sum(diag_part(x), axis=-1)


def matvec(a, b, transpose_a=False, adjoint_a=False, name=None):
    """Matrix-vector product ``a @ b`` (``tf.linalg.matvec``): a (..., M, N), b (..., N) -> (..., M)."""
    b = convert_to_tensor(b)
    return A.squeeze(M.matmul(a, A.expand_dims(b, -1), transpose_a=transpose_a or adjoint_a), axis=-1)


def band_part(input, num_lower, num_upper, name=None):  # noqa: A002
    """Keeps the band of ``num_lower`` sub- and ``num_upper`` super-diagonals (negative: all) of each matrix,
    zeroing the rest (``tf.linalg.band_part``); the gradient is masked the same way."""
    x = convert_to_tensor(input)
    m, n = x.shape[-2], x.shape[-1]
    i, j = np.arange(m)[:, None], np.arange(n)[None, :]
    keep = ((num_lower < 0) | (i - j <= num_lower)) & ((num_upper < 0) | (j - i <= num_upper))
    return x * wrap(x._backend.asarray(keep, dtype=x._data.dtype), x)
