"""``tf.nest``: flatten and rebuild nested structures of lists, tuples, namedtuples and dicts (TensorFlow's order:
sequences in order, mappings by sorted key; anything else, None and Tensors included, is a leaf)."""
from __future__ import annotations

import collections.abc

__all__ = ["is_nested", "flatten", "pack_sequence_as", "map_structure", "assert_same_structure"]


def is_nested(seq):
    """Whether ``seq`` is a list, tuple (namedtuples too) or mapping (``tf.nest.is_nested``)."""
    return isinstance(seq, (list, tuple, collections.abc.Mapping))


def _children(s):
    if isinstance(s, collections.abc.Mapping):
        return [s[k] for k in sorted(s)]
    return list(s)


def flatten(structure, expand_composites=False):
    """The leaves of ``structure`` in TensorFlow's order (``tf.nest.flatten``); a leaf gives ``[leaf]``."""
    if not is_nested(structure):
        return [structure]
    out = []
    for child in _children(structure):
        out.extend(flatten(child))
    return out


def _rebuild(s, children):
    if isinstance(s, collections.abc.Mapping):
        by_key = dict(zip(sorted(s), children))
        return type(s)((k, by_key[k]) for k in s) if not isinstance(s, collections.defaultdict) else \
            collections.defaultdict(s.default_factory, ((k, by_key[k]) for k in s))
    if isinstance(s, tuple) and hasattr(s, "_fields"):  # a namedtuple
        return type(s)(*children)
    return type(s)(children)


def _pack(structure, leaves):
    if not is_nested(structure):
        return next(leaves)
    return _rebuild(structure, [_pack(c, leaves) for c in _children(structure)])


def pack_sequence_as(structure, flat_sequence, expand_composites=False):
    """``flat_sequence``'s values in the shape of ``structure`` (``tf.nest.pack_sequence_as``).

    Raises:
        ValueError: a number of values that differs from ``structure``'s leaves.
    """
    flat_sequence = list(flat_sequence)
    n = len(flatten(structure))
    if n != len(flat_sequence):
        raise ValueError(f"Could not pack sequence. Structure had {n} atoms, but flat_sequence had "
                         f"{len(flat_sequence)} items. Structure: {structure}, flat_sequence: {flat_sequence}.")
    return _pack(structure, iter(flat_sequence))


def assert_same_structure(nest1, nest2, check_types=True, expand_composites=False):
    """Raises ValueError unless both have the same nesting (and, with ``check_types``, the same sequence types)
    (``tf.nest.assert_same_structure``)."""
    def walk(a, b):
        if is_nested(a) != is_nested(b):
            return False
        if not is_nested(a):
            return True
        if check_types and type(a) is not type(b):
            raise TypeError(f"The two structures don't have the same nested structure (TensorFlow's message; "
                            f"check_types): the first has type {type(a).__name__} where the second has "
                            f"{type(b).__name__}.\n\nFirst structure: {nest1}\n\nSecond structure: {nest2}")
        if isinstance(a, collections.abc.Mapping) and sorted(a) != sorted(b):
            return False
        ca, cb = _children(a), _children(b)
        return len(ca) == len(cb) and all(walk(x, y) for x, y in zip(ca, cb))
    if not walk(nest1, nest2):
        raise ValueError(f"The two structures don't have the same nested structure.\n\nFirst structure: "
                         f"type={type(nest1).__name__} str={nest1}\n\nSecond structure: type={type(nest2).__name__} "
                         f"str={nest2}")


def map_structure(func, *structure, **kwargs):
    """``func`` applied to the leaves of one or more structures of the same shape, rebuilt in the first's shape
    (``tf.nest.map_structure``; ``check_types`` as :func:`assert_same_structure`).

    Raises:
        ValueError: no structure, or structures that differ.
    """
    if not structure:
        raise ValueError("Must provide at least one structure")
    check_types = kwargs.pop("check_types", True)
    kwargs.pop("expand_composites", None)
    if kwargs:
        raise ValueError(f"Only valid keyword arguments are `check_types` and `expand_composites`, not: {kwargs}")
    for other in structure[1:]:
        assert_same_structure(structure[0], other, check_types=check_types)
    flats = [flatten(s) for s in structure]
    return pack_sequence_as(structure[0], [func(*leaves) for leaves in zip(*flats)])
