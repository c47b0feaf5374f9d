"""Random tensors (``tf.random``): ``set_seed``, ``normal``, ``uniform``, ``truncated_normal``, ``categorical``,
``shuffle``.

A global seed (``set_seed``) makes every later draw reproducible; an op-level
``seed`` makes that one call reproducible on its own (it draws from a generator
seeded by the pair (global seed, op seed), as TensorFlow combines the two).
"""
from __future__ import annotations

import numpy as np

from . import dtypes as _dtypes
from .device import current_device, backend_for, created_backends
from .tensor import Tensor

__all__ = ["set_seed", "normal", "uniform", "truncated_normal", "get_global_seed", "categorical", "shuffle"]

_global_seed = None


def set_seed(seed):
    """Sets the global seed of every backend's generator (``tf.random.set_seed``)."""
    global _global_seed
    _global_seed = int(seed)
    backend_for(current_device())  # make sure the current device's backend exists
    for b in created_backends().values():
        b.seed(_global_seed)


def get_global_seed():
    return _global_seed


def _draw(kind, shape, dtype, seed, a, b):
    dt = _dtypes.as_dtype(dtype)
    dev = current_device()
    be = backend_for(dev)
    shape = tuple(int(d) for d in (shape.numpy() if isinstance(shape, Tensor) else shape))
    if seed is not None:
        rng = np.random.default_rng([_global_seed or 0, int(seed)])
        if kind == "normal":
            host = rng.normal(a, b, size=shape)
        elif dt.is_integer:
            host = rng.integers(a, b, size=shape)
        else:
            host = rng.uniform(a, b, size=shape)
        return Tensor(be.asarray(host, dtype=dt.as_numpy_dtype), dev, be)
    fn = be.random_normal if kind == "normal" else be.random_uniform
    return Tensor(fn(shape, dt.as_numpy_dtype, a, b), dev, be)


def normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None, name=None):
    """Samples from N(mean, stddev^2) (``tf.random.normal``)."""
    if not _dtypes.as_dtype(dtype).is_floating:
        raise ValueError(f"random.normal needs a floating dtype. Received: dtype={_dtypes.as_dtype(dtype).name}")
    return _draw("normal", shape, dtype, seed, float(mean), float(stddev))


def uniform(shape, minval=0, maxval=None, dtype="float32", seed=None, name=None):
    """Samples uniformly from [minval, maxval) (``tf.random.uniform``; maxval defaults to 1 for floats).

    Raises:
        ValueError: integer dtype without ``maxval``, as TensorFlow.
    """
    dt = _dtypes.as_dtype(dtype)
    if maxval is None:
        if dt.is_integer:
            raise ValueError("random.uniform: maxval must be given for integer dtypes.")
        maxval = 1.0
    return _draw("uniform", shape, dtype, seed, minval, maxval)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None, name=None):
    """Normal samples redrawn until within two standard deviations (``tf.random.truncated_normal``)."""
    t = normal(shape, 0.0, 1.0, "float64", seed).numpy().copy()
    dev = current_device()
    be = backend_for(dev)
    if seed is None:  # redraw from the backend's generator too, so that set_seed makes the result reproducible
        def redraw(k):
            return be.to_numpy(be.random_normal((k,), np.float64))
    else:
        rng = np.random.default_rng([_global_seed or 0, int(seed), 1])

        def redraw(k):
            return rng.normal(size=k)
    bad = np.abs(t) > 2
    while bad.any():
        t[bad] = redraw(int(bad.sum()))
        bad = np.abs(t) > 2
    return Tensor(be.asarray(t * stddev + mean, dtype=_dtypes.as_dtype(dtype).as_numpy_dtype), dev, be)


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """Class indices drawn from the softmax of each row of ``logits`` (``tf.random.categorical``), by the Gumbel-max
    trick on :func:`uniform` draws (so ``set_seed`` and ``seed`` make it reproducible; the draws differ from TF's).

    Args:
        logits: float Tensor of shape (batch, classes), unnormalized log-probabilities.
        num_samples: samples per row.
        dtype: int64 (default) or int32.

    Returns:
        An integer Tensor of shape (batch, num_samples).

    Raises:
        ValueError: ``logits`` not of rank 2.
    """
    from .ops.core import convert_to_tensor, wrap
    x = convert_to_tensor(logits)
    if x.ndim != 2:
        raise ValueError(f"categorical expects logits of shape (batch, classes). Received: shape={tuple(x.shape)}")
    u = uniform((x.shape[0], int(num_samples), x.shape[1]), 1e-20, 1.0, "float64", seed)
    xp = x._backend.xp
    scores = x._data.astype(np.float64)[:, None, :] - xp.log(-xp.log(u._data))
    out_dtype = _dtypes.as_dtype(dtype or "int64").as_numpy_dtype
    return wrap(xp.argmax(scores, axis=-1).astype(out_dtype), x)


def shuffle(value, seed=None, name=None):
    """``value`` with its first dimension randomly permuted (``tf.random.shuffle``), by the order of :func:`uniform`
    draws (reproducible under ``set_seed`` / ``seed``)."""
    from .ops.core import convert_to_tensor
    from .ops.array_ops import gather
    from .ops.core import wrap
    x = convert_to_tensor(value)
    if x.ndim == 0:
        return x
    keys = uniform((x.shape[0],), dtype="float64", seed=seed)
    return gather(x, wrap(keys._backend.xp.argsort(keys._data), keys))
