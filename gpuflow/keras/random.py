"""``keras.random``: random tensors with Keras 3.15's signatures and seeding rules.

``seed`` is, as in Keras: None (a fresh draw from gpuflow's generators, reproducible after
``keras.utils.set_random_seed``), an int (the same values at every call with that int), or a
:class:`SeedGenerator` (a new seed at each call, the sequence fixed by the generator's own seed). The values are
gpuflow's (NumPy's PCG64 streams), not Keras's: the same seed gives the same values in gpuflow, not the values
Keras would draw. ``dtype`` None means ``keras.config.floatx()``.
"""
from __future__ import annotations

import numpy as np

from .. import random as _random
from ..ops import array_ops as _a, nn_ops as _nn
from ..ops.core import convert_to_tensor
from ..tensor import Tensor
from . import config

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "shuffle", "dropout", "categorical"]


class SeedGenerator:
    """A stream of seeds (``keras.random.SeedGenerator``): each random call given it takes the next one.

    Args:
        seed: an int fixing the stream; None: a random stream.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self.name = name or "seed_generator"
        self._initial = seed
        self._rng = np.random.default_rng(seed)

    def next(self, ordered=True):
        """The next seed, an int."""
        return int(self._rng.integers(0, 2**31 - 1))

    def get_config(self):
        return {"seed": self._initial}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _seed(seed):
    """The op-level int seed for gpuflow.random: None stays None (the backend's generator), an int stays, a
    SeedGenerator gives its next."""
    if seed is None or isinstance(seed, (int, np.integer)):
        return None if seed is None else int(seed)
    if isinstance(seed, SeedGenerator):
        return seed.next()
    raise ValueError(f"Argument `seed` must be either an integer or an instance of `SeedGenerator`. Received: "
                     f"seed={seed} (of type {type(seed)})")


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev²) of ``shape``."""
    return _random.normal(shape, mean, stddev, dtype or config.floatx(), _seed(seed))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples of U[minval, maxval) of ``shape``.

    Raises:
        ValueError: a non-float ``dtype`` (Keras's rule: use :func:`randint` for integers).
    """
    dtype = dtype or config.floatx()
    from .backend import is_float_dtype
    if not is_float_dtype(dtype):
        raise ValueError(f"`keras.random.uniform` requires a floating point `dtype`. Received: dtype={dtype} ")
    return _random.uniform(shape, minval, maxval, dtype, _seed(seed))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples redrawn until within two standard deviations of ``mean``."""
    return _random.truncated_normal(shape, mean, stddev, dtype or config.floatx(), _seed(seed))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval) of ``shape``."""
    return _random.uniform(shape, int(minval), int(maxval), dtype, _seed(seed))


def _permutation(n, seed):
    """A random permutation of range(n) as a NumPy int64 array, from ``seed`` (an int, or None: NumPy's global
    generator, which ``keras.utils.set_random_seed`` seeds)."""
    if seed is None:
        return np.random.permutation(n)
    return np.random.default_rng([_random.get_global_seed() or 0, int(seed)]).permutation(n)


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order."""
    x = convert_to_tensor(x)
    return _a.gather(x, _permutation(int(x.shape[axis]), _seed(seed)), axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zeroes each element with probability ``rate`` and scales the rest by ``1 / (1 - rate)``."""
    return _nn.dropout(inputs, rate, noise_shape=noise_shape, seed=_seed(seed))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Class ids drawn from the softmax of each row of ``logits``.

    Args:
        logits: (batch, classes) unnormalised log-probabilities.
        num_samples: draws per row.

    Returns:
        (batch, num_samples) ids of ``dtype``.

    Raises:
        ValueError: ``logits`` not rank 2 (Keras's rule).
    """
    logits = convert_to_tensor(logits)
    if len(logits.shape) != 2:
        raise ValueError(f"`logits` should be a 2-D tensor with shape [batch_size, num_classes]. Received: "
                         f"logits={logits}")
    z = np.asarray(logits.numpy(), dtype=np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = np.asarray(uniform((z.shape[0], int(num_samples)), dtype="float64", seed=seed).numpy())
    ids = np.minimum((u[:, :, None] > cdf[:, None, :]).sum(axis=2), z.shape[1] - 1)
    return Tensor(logits._backend.asarray(ids, dtype=np.dtype(dtype)), logits.device, logits._backend)
