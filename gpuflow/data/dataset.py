"""``Dataset``: a lazy, re-iterable input pipeline with ``tf.data.Dataset``'s methods and semantics.

A dataset is a recipe: each ``iter(ds)`` starts a fresh pass (so ``fit`` re-reads
a finite dataset every epoch, as TensorFlow does). Elements are nested
structures (tuples, dicts) of arrays; iterating yields gpuflow Tensors,
``as_numpy_iterator`` yields NumPy arrays, and ``map``/``filter`` functions
receive Tensors, with tuple elements unpacked into separate arguments as TF
does. Work happens on the host; ``prefetch`` is accepted and needs no thread
because every step already runs synchronously.

Cardinality follows TF: a known count, ``INFINITE_CARDINALITY`` (-1) after
``repeat()``, or ``UNKNOWN_CARDINALITY`` (-2) after ``filter`` or for generators.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


def _map_structure(fn, s):
    if isinstance(s, tuple):  # lists are values (converted to arrays), as in tf.data
        return tuple(_map_structure(fn, v) for v in s)
    if isinstance(s, dict):
        return {k: _map_structure(fn, v) for k, v in s.items()}
    return fn(s)


def _leaves(s):
    if isinstance(s, tuple):
        return [l for v in s for l in _leaves(v)]
    if isinstance(s, dict):
        return [l for k in s for l in _leaves(s[k])]
    return [s]


def _to_numpy(v):
    if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
        return np.asarray(v.numpy())
    a = np.asarray(v)
    if a.dtype == np.float64 and not isinstance(v, np.ndarray):
        a = a.astype(np.float32)  # Python floats become float32, as tf.constant does
    return a


def _to_tensor(v):
    from ..ops.core import convert_to_tensor
    return convert_to_tensor(v)


def _stack(elements):
    first = elements[0]
    if isinstance(first, tuple):
        return tuple(_stack([e[i] for e in elements]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack([e[k] for e in elements]) for k in first}
    try:
        return np.stack(elements)
    except ValueError:
        shapes = sorted({np.shape(e) for e in elements})
        raise ValueError(f"Dataset.batch: cannot batch elements of different shapes {shapes[:4]}. "
                         "Pad them first or batch with batch size 1.") from None


def _call(fn, element):
    args = _map_structure(_to_tensor, element)
    out = fn(*args) if isinstance(element, tuple) else fn(args)
    return out


class Dataset:
    """A re-iterable pipeline of elements (``tf.data.Dataset``). Build one with the static constructors."""

    def __init__(self, make_iter, cardinality):
        self._make_iter = make_iter
        self._cardinality = cardinality

    # -- sources ----------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """Slices arrays (or a tuple/dict of arrays) along their first axis.

        Raises:
            ValueError: if the components have different first dimensions.
        """
        data = _map_structure(_to_numpy, tensors)
        leaves = _leaves(data)
        if not leaves or any(l.ndim == 0 for l in leaves):
            raise ValueError("from_tensor_slices: every component needs at least one axis to slice.")
        sizes = {l.shape[0] for l in leaves}
        if len(sizes) != 1:
            raise ValueError(f"from_tensor_slices: all components must have the same size in their first "
                             f"dimension. Received sizes: {[l.shape[0] for l in leaves]}")
        n = sizes.pop()
        return Dataset(lambda: (_map_structure(lambda a: a[i], data) for i in range(n)), n)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of exactly one element: ``tensors``."""
        data = _map_structure(_to_numpy, tensors)
        return Dataset(lambda: iter([data]), 1)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None,
                       name=None):
        """Elements from calling ``generator(*args)`` afresh at each pass.

        Raises:
            TypeError: if ``generator`` is not callable (TF requires a callable).
        """
        if not callable(generator):
            raise TypeError(f"`generator` must be a Python callable. Received: {type(generator).__name__}")
        args = tuple(args or ())
        return Dataset(lambda: (_map_structure(_to_numpy, e) for e in generator(*args)), UNKNOWN_CARDINALITY)

    @staticmethod
    def range(*args, dtype="int64", name=None):
        """Like Python's ``range`` (``tf.data.Dataset.range``); int64 scalars."""
        r = range(*args)
        return Dataset(lambda: (np.array(i, dtype=dtype) for i in r), len(r))

    @staticmethod
    def zip(*datasets, name=None):
        """Zips datasets into tuples; stops at the shortest."""
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, list)):
            datasets = tuple(datasets[0])
        cards = [d._cardinality for d in datasets]
        known = [c for c in cards if c >= 0]
        card = min(known) if known else (UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in cards else INFINITE_CARDINALITY)
        return Dataset(lambda: zip(*(iter(d._make_iter()) for d in datasets)), card)

    # -- transformations ------------------------------------------------------------
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """Applies ``map_func`` to each element (tuple elements are unpacked into arguments)."""
        src = self._make_iter
        return Dataset(lambda: (_map_structure(_to_numpy, _call(map_func, e)) for e in src()), self._cardinality)

    def filter(self, predicate, name=None):
        """Keeps the elements for which ``predicate`` returns True."""
        src = self._make_iter
        return Dataset(lambda: (e for e in src() if bool(_to_numpy(_call(predicate, e)))), UNKNOWN_CARDINALITY)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        """Stacks consecutive elements into batches of ``batch_size`` (the last may be smaller).

        Raises:
            ValueError: ``batch_size`` < 1.
        """
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size}")
        src = self._make_iter

        def make():
            it = iter(src())
            while True:
                chunk = list(itertools.islice(it, batch_size))
                if not chunk or (drop_remainder and len(chunk) < batch_size):
                    return
                yield _stack(chunk)
        c = self._cardinality
        card = c if c < 0 else (c // batch_size if drop_remainder else -(-c // batch_size))
        return Dataset(make, card)

    def unbatch(self, name=None):
        """Splits each batch back into elements."""
        src = self._make_iter

        def make():
            for b in src():
                n = _leaves(b)[0].shape[0]
                for i in range(n):
                    yield _map_structure(lambda a: a[i], b)
        return Dataset(make, UNKNOWN_CARDINALITY)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Shuffles with a buffer of ``buffer_size`` elements, TF's algorithm: fill the buffer, emit
        a uniformly chosen element, refill its slot from the input."""
        buffer_size = int(buffer_size)
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be a positive integer. Received: buffer_size={buffer_size}")
        src = self._make_iter
        base = np.random.SeedSequence(seed).generate_state(1)[0] if seed is not None else None
        epoch = itertools.count()

        def make():
            e = next(epoch)
            rng = np.random.default_rng(None if base is None else
                                        [base, e if reshuffle_each_iteration else 0])
            buf = []
            for item in src():
                if len(buf) < buffer_size:
                    buf.append(item)
                    continue
                i = int(rng.integers(len(buf)))
                yield buf[i]
                buf[i] = item
            while buf:
                yield buf.pop(int(rng.integers(len(buf))))
        return Dataset(make, self._cardinality)

    def repeat(self, count=None, name=None):
        """Repeats the dataset ``count`` times (forever when None or -1)."""
        src = self._make_iter
        forever = count is None or count < 0

        def make():
            for _ in (itertools.count() if forever else range(count)):
                yield from src()
        c = self._cardinality
        card = INFINITE_CARDINALITY if forever and c != 0 else (c * count if c >= 0 and not forever else c)
        return Dataset(make, card)

    def take(self, count, name=None):
        """The first ``count`` elements (all when -1)."""
        if count < 0:
            return self
        src = self._make_iter
        c = self._cardinality
        return Dataset(lambda: itertools.islice(src(), count),
                       min(c, count) if c >= 0 else (count if c == INFINITE_CARDINALITY else c))

    def skip(self, count, name=None):
        """All but the first ``count`` elements."""
        src = self._make_iter
        c = self._cardinality
        return Dataset(lambda: itertools.islice(src(), count, None), max(c - count, 0) if c >= 0 else c)

    def cache(self, filename="", name=None):
        """Keeps the elements in memory after the first complete pass."""
        if filename:
            raise NotImplementedError("Dataset.cache(filename) is not supported; use cache() (in memory).")
        src = self._make_iter
        store = {}

        def make():
            if "items" in store:
                return iter(store["items"])

            def fill():
                items = []
                for e in src():
                    items.append(e)
                    yield e
                store["items"] = items
            return fill()
        return Dataset(make, self._cardinality)

    def prefetch(self, buffer_size, name=None):
        """Accepted for compatibility; elements are produced on demand."""
        return self

    def enumerate(self, start=0, name=None):
        src = self._make_iter
        return Dataset(lambda: ((np.array(i, dtype=np.int64), e) for i, e in enumerate(src(), start)),
                       self._cardinality)

    # -- iteration -----------------------------------------------------------------
    def __iter__(self):
        return (_map_structure(_to_tensor, e) for e in self._make_iter())

    def as_numpy_iterator(self):
        """Iterates the elements as NumPy arrays."""
        return iter(self._make_iter())

    def cardinality(self):
        """Number of elements, or INFINITE_CARDINALITY (-1) / UNKNOWN_CARDINALITY (-2), as an int64 Tensor."""
        return _to_tensor(np.int64(self._cardinality))

    def __len__(self):
        if self._cardinality == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if self._cardinality == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def reduce(self, initial_state, reduce_func, name=None):
        state = initial_state
        for e in self:
            state = reduce_func(state, e)
        return state

    def __repr__(self):
        return f"<Dataset cardinality={self._cardinality}>"
