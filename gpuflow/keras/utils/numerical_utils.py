"""Numerical utilities, as `keras.utils` (`to_categorical`)."""

import operator

import numpy as np


def to_categorical(x, num_classes=None):
    """Converts a class vector (integers) to a one-hot matrix.

    Follows `keras.utils.to_categorical` (Keras 3,
    keras/src/utils/numerical_utils.py): a trailing dimension of size 1 is
    dropped, so labels of shape (n, 1) give (n, num_classes), like (n,) do.
    As in Keras 3 the result is float64 (``np.zeros`` default); unlike Keras,
    labels out of range raise instead of wrapping around (Keras silently maps
    -1 to the last class).

    Args:
        x: array-like (or an object with `.numpy()`) of integer class labels in
            `[0, num_classes)`, any shape. Booleans and integral floats (such
            as 3.0) are accepted.
        num_classes: total number of classes, a positive int. If `None`,
            inferred as `max(x) + 1`.

    Returns:
        A float64 NumPy array of shape `x.shape + (num_classes,)` (with a
        trailing size-1 dimension of `x` dropped first) holding 1.0 at each
        label's class and 0.0 elsewhere.

    Raises:
        ValueError: a label is negative, >= `num_classes`, or not an integer;
            `num_classes` < 1; or `x` is empty and `num_classes` is None.
        TypeError: `num_classes` is not an int.

    Example:

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    x = np.asarray(x)
    if x.dtype.kind == "f":
        integral = np.isfinite(x) & (x == np.round(x))
        if not integral.all():
            bad = x[~integral].flat[0]
            raise ValueError(
                "to_categorical expects integer class labels in `x`. "
                f"Received: x containing {bad}"
            )
    elif x.dtype.kind not in "biu":
        raise ValueError(
            "to_categorical expects integer class labels in `x`. "
            f"Received: x with dtype={x.dtype}"
        )

    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = x.reshape(-1)

    if num_classes is None:
        if flat.size == 0:
            raise ValueError(
                "to_categorical cannot infer `num_classes` from an empty `x`. "
                f"Pass num_classes. Received: x with shape={x.shape}"
            )
        num_classes = max(int(flat.max()), -1) + 1
        inferred = " (inferred as max(x) + 1)"
    else:
        try:
            num_classes = operator.index(num_classes)
        except TypeError:
            raise TypeError(
                "`num_classes` must be a positive int or None. "
                f"Received: num_classes={num_classes!r}"
            ) from None
        if num_classes < 1:
            raise ValueError(
                "`num_classes` must be a positive int or None. "
                f"Received: num_classes={num_classes}"
            )
        inferred = ""

    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        n_bad = int(np.count_nonzero((flat < 0) | (flat >= num_classes)))
        raise ValueError(
            f"to_categorical expects every label in `x` in [0, num_classes) = "
            f"[0, {num_classes}), num_classes={num_classes}{inferred}. Received: "
            f"x.min()={flat.min()}, x.max()={flat.max()} ({n_bad} labels out of range)"
        )

    categorical = np.zeros((flat.size, num_classes))
    categorical[np.arange(flat.size), flat.astype(np.intp)] = 1.0
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (``keras.utils.normalize``).

    A NumPy array gives a NumPy array, with a zero norm treated as 1 (Keras's NumPy path); a gpuflow Tensor gives a
    Tensor (differentiable), divided by ``max(norm, keras.config.epsilon())`` (Keras's ``ops.nn.normalize``).

    Args:
        x: an array or Tensor.
        axis: the axis to normalise along (None: treated as -1 for the NumPy path, as Keras).
        order: the norm's order (2: Euclidean, 1: sum of absolute values, any p >= 1).
    """
    from ...ops import math_ops as _m
    from ...ops.core import convert_to_tensor
    from ...tensor import Tensor
    from .. import config
    if not isinstance(x, Tensor):
        x = np.asarray(x)
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, -1 if axis is None else axis)
    x = convert_to_tensor(x)
    if order == 2:
        norm = _m.sqrt(_m.reduce_sum(_m.square(x), axis=axis, keepdims=True))
    elif order == 1:
        norm = _m.reduce_sum(_m.abs(x), axis=axis, keepdims=True)
    else:
        norm = _m.pow(_m.reduce_sum(_m.pow(_m.abs(x), float(order)), axis=axis, keepdims=True), 1.0 / order)
    return _m.divide(x, _m.maximum(norm, config.epsilon()))
