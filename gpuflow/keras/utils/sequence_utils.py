"""``keras.utils.pad_sequences`` (also ``keras.preprocessing.sequence.pad_sequences``), as Keras 3.15's
``keras/src/utils/sequence_utils.py``."""
from __future__ import annotations

import numpy as np

__all__ = ["pad_sequences"]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pads (or truncates) each sequence to one length and stacks them.

    Args:
        sequences: a list of sequences (lists or arrays); each item may itself be an array of one shape
            (then the result has that trailing shape).
        maxlen: the length; None: the longest sequence's.
        dtype: the result's dtype ("int32"); use ``object`` (or a NumPy string dtype) to pad strings.
        padding: "pre" or "post": where the padding goes.
        truncating: "pre" or "post": which end of a longer sequence is cut.
        value: the padding value.

    Returns:
        A NumPy array of shape ``(len(sequences), maxlen) + item shape``.

    Raises:
        ValueError: ``sequences`` (or one of them) is not iterable; a string ``value`` with a non-string
            ``dtype``; items of different shapes; an unknown ``padding`` or ``truncating`` (Keras's messages).
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    lengths, item_shape = [], None
    for s in sequences:
        try:
            lengths.append(len(s))
        except TypeError as e:
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: {s}") from e
        if item_shape is None and len(s):
            item_shape = np.asarray(s).shape[1:]  # from the first non-empty sequence
    item_shape = item_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    is_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         "You should set `dtype=object` for variable length strings.")
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')
    out = np.full((len(sequences), maxlen) + item_shape, value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or not maxlen:
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {i} is different from "
                             f"expected shape {item_shape}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out
