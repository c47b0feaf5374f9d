"""Vocabulary lookup layers (Keras 3.15's ``keras/src/layers/preprocessing/index_lookup.py``, ``string_lookup.py``,
``integer_lookup.py``, ``text_vectorization.py``): IntegerLookup, StringLookup and TextVectorization, on the host
in NumPy.

Index layout, as Keras: ``[mask token (output_mode "int" with a mask_token only)] [num_oov_indices OOV indices]
[vocabulary...]``. ``adapt`` keeps the most frequent tokens (ties: the larger token first, Keras's
``lexsort(...)[::-1]``), at most ``max_tokens`` indices in all. A token outside the vocabulary maps to the OOV
index (one OOV index), with several to ``floormod(token, num_oov_indices)`` for integers (``oov_method=
"floormod"``) or TensorFlow's FarmHash bucket of the token's string (strings, ``oov_method="farmhash"``), or
fails with ``num_oov_indices=0``; the mask token maps to 0. ``invert=True`` maps indices back to tokens. The other output
modes encode the indices as :class:`~gpuflow.keras.layers.CategoryEncoding` does, over ``vocabulary_size()``
(or ``max_tokens`` with ``pad_to_max_tokens``), int64 as Keras's, "tf_idf" float32 times the idf weights.

Strings are NumPy str arrays (gpuflow tensors hold numbers only): StringLookup takes str/bytes arrays or lists and
its inverse returns a NumPy str array; numeric outputs are Tensors. A model input of dtype "string" is not
supported, so StringLookup runs outside models (e.g. on the data before ``fit``). ``salt`` (keyed SipHash
buckets) is not supported.
"""
from __future__ import annotations

import collections
import math
import os
import re
import string

import numpy as np

from ...ops.core import convert_to_tensor
from .base import Layer
from .hashing import hash_to_buckets
from .preprocessing import adapt_batches
from .preprocessing_encoding import encode_categorical_inputs

__all__ = ["IntegerLookup", "StringLookup", "TextVectorization"]


def _listify(x):
    if hasattr(x, "numpy"):
        x = x.numpy()
    return x.tolist() if isinstance(x, np.ndarray) else x


class _IndexLookup(Layer):
    """Keras 3's ``IndexLookup``: see the module docstring. Subclasses give ``vocabulary_dtype`` and the token
    conversion (:meth:`_token`)."""

    _cast_inputs = False
    _string_inputs = True

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", name=None, salt=None, *, vocabulary_size=None, has_input_vocabulary=None,
                 **kwargs):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"If pad_to_max_tokens is True, must set `max_tokens`. Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError(f"`num_oov_indices` must be greater than or equal to 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"Invalid value for argument `oov_method`. Expected one of ['floormod', 'farmhash']. "
                             f"Received: oov_method={oov_method}")
        if salt is not None:
            raise NotImplementedError(f"{type(self).__name__}: `salt` (TensorFlow's keyed SipHash OOV buckets) is not "
                                      f"supported. Received: salt={salt!r}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of ['int', 'one_hot', "
                             f"'multi_hot', 'count', 'tf_idf']. Received: output_mode={output_mode}")
        if invert and output_mode != "int":
            raise ValueError(f"`output_mode` must be `'int'` when `invert` is true. Received: output_mode={output_mode}")
        if sparse:
            raise NotImplementedError(f"{type(self).__name__}: sparse=True is not supported (gpuflow has no sparse "
                                      f"tensors).")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"`idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: "
                             f"idf_weights={idf_weights} and output_mode={output_mode}")
        frozen = vocabulary_size  # Keras's config keeps the size the vocabulary had
        has_vocabulary = vocabulary is not None if has_input_vocabulary is None else has_input_vocabulary
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword argument(s): {kwargs}")
        super().__init__(name=name)
        self.invert, self.max_tokens, self.num_oov_indices = invert, max_tokens, num_oov_indices
        self.mask_token, self.oov_token, self.output_mode = mask_token, oov_token, output_mode
        self.sparse, self.pad_to_max_tokens, self.vocabulary_dtype = False, pad_to_max_tokens, vocabulary_dtype
        self.oov_method, self.salt = oov_method, salt
        self._frozen_vocab_size = frozen
        if isinstance(vocabulary, str):
            raise NotImplementedError(f"{type(self).__name__}: a vocabulary file is not supported; pass the tokens. "
                                      f"Received: vocabulary={vocabulary!r}")
        self.input_vocabulary, self.input_idf_weights = vocabulary, idf_weights
        self._has_input_vocabulary = has_vocabulary
        self._tokens, self._index = [], {}
        self.idf_weights = None
        if output_mode == "tf_idf" and has_vocabulary and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` "
                             "argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.reset_state()

    # -- indices -----------------------------------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The number of indices: special tokens included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens in index order: the mask token (int mode), ``oov_token`` for each OOV index, then the
        vocabulary (Keras's list)."""
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    def _set_tokens(self, tokens):
        self._tokens = [self._token(t) for t in tokens]
        start = self._token_start_index()
        self._index = {t: start + i for i, t in enumerate(self._tokens)}
        self._frozen_vocab_size = self.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Sets the vocabulary (and, for "tf_idf", the idf weights), with or without the special tokens first.

        Raises:
            ValueError: an empty or repeated vocabulary, a misplaced mask or OOV token, one larger than
                ``max_tokens``, or idf weights that do not fit (Keras's messages).
        """
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"`idf_weights` should only be set if output_mode is `'tf_idf'`. Received: "
                             f"output_mode={self.output_mode} and idf_weights={idf_weights}")
        vocabulary = [self._token(t) for t in _listify(vocabulary)]
        if not vocabulary:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        token_start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        found_special = vocabulary[:token_start] == special
        tokens = vocabulary[token_start:] if found_special else vocabulary
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"The passed vocabulary has at least one repeated term. Please uniquify your dataset. "
                             f"The repeated terms are: {repeated}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(f"Found reserved mask token at unexpected location in `vocabulary`. Note that passed "
                             f"`vocabulary` does not need to include the OOV and mask tokens. Either remove all mask "
                             f"and OOV tokens, or include them only at the start of the vocabulary in precisely this "
                             f"order: {special}. Received: mask_token={self.mask_token}")
        if self.oov_token is not None and self.invert and self.oov_token in tokens:
            raise ValueError(f"Found reserved OOV token at unexpected location in `vocabulary`. Either remove all "
                             f"mask and OOV tokens, or include them only at the start of the vocabulary in precisely "
                             f"this order: {special}. Received: oov_token={self.oov_token}")
        size = token_start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"Attempted to set a vocabulary larger than the maximum vocab size. Received vocabulary "
                             f"size is {size}; `max_tokens` is {self.max_tokens}.")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            weights = np.asarray(_listify(idf_weights), np.float64)
            if len(weights) != len(vocabulary):
                raise ValueError(f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is "
                                 f"{len(weights)}; len(vocabulary) is {len(vocabulary)}")
            if weights.ndim != 1:
                raise ValueError(f"TF-IDF data must be a 1-index array. Received: type(idf_weights)={type(weights)}")
            front, value = (0, 0.0) if found_special else (token_start, float(np.average(weights)))
            back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
            self.idf_weights = np.pad(weights, (front, back), constant_values=(value, 0)).astype("float32")

    # -- adapt -------------------------------------------------------------------------------------------------
    def reset_state(self):
        self._counts, self._doc_counts, self._num_documents = collections.Counter(), collections.Counter(), 0

    def adapt(self, data, steps=None):
        """Learns the vocabulary (and the idf weights for "tf_idf") from ``data``: an array, a Dataset or an
        iterable of batches; each row of a batch is one document.

        Raises:
            ValueError: a layer with a ``vocabulary`` given (Keras's message).
        """
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static vocabulary via `vocabulary` "
                             f"argument or `set_vocabulary()` method.")
        self.reset_state()
        for batch in adapt_batches(data, steps):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        data = np.asarray(data)
        docs = data.reshape(1, -1) if data.ndim < 2 else data.reshape(data.shape[0], -1)
        for doc in docs:
            doc = [self._token(t) for t in doc]
            self._counts.update(doc)
            if self.output_mode == "tf_idf":
                self._doc_counts.update(set(doc))
                self._num_documents += 1

    def finalize_state(self):
        counts = {t: c for t, c in self._counts.items() if t != self.mask_token and t != self.oov_token}
        if not counts:
            return
        tokens = sorted(counts, key=lambda t: (counts[t], self._sort_key(t)), reverse=True)
        if self.max_tokens:
            tokens = tokens[:self.max_tokens - self._token_start_index()]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            idf = np.array([math.log(1 + self._num_documents / (1 + self._doc_counts[t])) for t in tokens])
            weights = np.pad(idf, (self._token_start_index(), 0), constant_values=float(np.mean(idf)))
            if self.pad_to_max_tokens and self.max_tokens is not None:
                weights = np.pad(weights, (0, self.max_tokens - len(weights)))
            self.idf_weights = weights.astype("float32")
        self.reset_state()

    # -- call --------------------------------------------------------------------------------------------------
    def _lookup(self, values):
        """Indices of an object array of tokens."""
        default = self._oov_start_index() if self.num_oov_indices == 1 else -1
        ids = np.array([self._index.get(t, default) for t in values], np.int64)
        if self.mask_token is not None:
            ids[np.array([t == self.mask_token for t in values], bool)] = \
                0 if self.output_mode == "int" else np.iinfo(np.int64).max
        oov = ids == -1
        if self.num_oov_indices == 0 and oov.any():
            raise ValueError(f"When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                             f"{[values[i] for i in np.flatnonzero(oov)]}, consider setting `num_oov_indices=1`.")
        if self.num_oov_indices > 1 and oov.any():
            ids[oov] = self._oov_buckets([values[i] for i in np.flatnonzero(oov)]) + self._oov_start_index()
        return ids

    def _oov_buckets(self, tokens):
        """OOV bucket of each token: TensorFlow's ``to_hash_bucket_fast`` (FarmHash) of its string."""
        return hash_to_buckets(tokens, self.num_oov_indices)

    def call(self, inputs):
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise RuntimeError(f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, you must "
                               f"set the layer's vocabulary before calling it. Either pass a `vocabulary` argument to "
                               f"the layer, or call `adapt` with some sample data.")
        x = np.asarray(inputs.numpy() if hasattr(inputs, "numpy") else inputs)
        flat = [self._token(t) for t in x.reshape(-1)]
        if self.invert:  # token indices -> tokens, 0 -> the mask token if any, anything else -> oov_token
            vocab, start = self.get_vocabulary(), self._token_start_index()
            mask = self.mask_token is not None
            out = [vocab[i] if start <= i < len(vocab) or (mask and i == 0) else self.oov_token for i in flat]
            return self._invert_output(out, x.shape)
        ids = self._lookup(flat).reshape(x.shape)
        if self.output_mode == "int":
            return convert_to_tensor(ids)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        encoded = encode_categorical_inputs(ids, mode, depth, "int64")
        if self.output_mode == "tf_idf":
            if self.idf_weights is None:
                raise ValueError("When `output_mode` is `'tf_idf'`, `idf_weights` must be provided.")
            encoded = encoded.astype("float32") * self.idf_weights
        return convert_to_tensor(encoded)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        input_shape = tuple(input_shape)
        if self.output_mode == "one_hot":
            return (input_shape[:-1] if len(input_shape) > 1 and input_shape[-1] == 1 else input_shape) + (depth,)
        return input_shape[:-1] + (depth,)

    # -- saving ------------------------------------------------------------------------------------------------
    def save_own_variables(self, store):
        """"tf_idf": the idf weights under "idf_weights", as Keras (zeros of the config's vocabulary size before
        they are known, so that a saved layer's weights load into a layer built from its config)."""
        if self.output_mode == "tf_idf":
            size = self.max_tokens if self.pad_to_max_tokens else (self._frozen_vocab_size or 0)
            store["idf_weights"] = self.idf_weights if self.idf_weights is not None else np.zeros(size, "float32")

    def load_own_variables(self, store):
        if self.output_mode == "tf_idf" and "idf_weights" in store:
            self.idf_weights = np.asarray(store["idf_weights"], "float32")

    def save_assets(self, dir_path):
        """Writes an adapted vocabulary (special tokens included) to ``dir_path/vocabulary.txt``, one token a line,
        as Keras does (a vocabulary given as an argument lives in the config instead)."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary(include_special_tokens=True)))

    def load_assets(self, dir_path):
        """Reads the vocabulary :meth:`save_assets` (or Keras) wrote, after the idf weights for "tf_idf"."""
        path = os.path.join(dir_path, "vocabulary.txt")
        if self.input_vocabulary is not None or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        self.set_vocabulary([self._token(line) for line in lines],
                            idf_weights=self.idf_weights if self.output_mode == "tf_idf" else None)

    def get_config(self):
        c = super().get_config()
        c.update({"invert": self.invert, "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                  "oov_token": self.oov_token, "mask_token": self.mask_token, "output_mode": self.output_mode,
                  "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                  "vocabulary_dtype": self.vocabulary_dtype, "idf_weights": _listify(self.input_idf_weights),
                  "vocabulary": _listify(self.input_vocabulary), "vocabulary_size": self._frozen_vocab_size,
                  "oov_method": self.oov_method, "salt": self.salt})
        return c


class StringLookup(_IndexLookup):
    """Maps strings to integer indices from a vocabulary (``keras.layers.StringLookup``); see the module docstring.

    Args:
        max_tokens, num_oov_indices, mask_token, oov_token ("[UNK]"), vocabulary, idf_weights, invert,
            output_mode ("int", "one_hot", "multi_hot", "count", "tf_idf"), pad_to_max_tokens: as Keras.
        encoding: how bytes inputs are decoded ("utf-8").

    Call: a str/bytes array or list -> int64 indices of its shape, or encodings (see the module docstring); with
    ``invert``, integer indices -> a NumPy str array.

    Raises:
        ValueError: invalid arguments or vocabulary (Keras's messages); an OOV token with ``num_oov_indices=0``.
        NotImplementedError: ``sparse``, ``salt``, a vocabulary file.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    def _token(self, t):
        if isinstance(t, (bytes, np.bytes_)):
            return bytes(t).decode(self.encoding)
        return t if self.invert and isinstance(t, (int, np.integer)) else str(t)

    @staticmethod
    def _sort_key(t):
        return t.encode("utf-8")  # TensorFlow compares the bytes

    def _invert_output(self, tokens, shape):
        return np.array(tokens, dtype=str).reshape(shape)

    def get_config(self):
        c = super().get_config()
        del c["vocabulary_dtype"]
        c["encoding"] = self.encoding
        return c


class IntegerLookup(_IndexLookup):
    """Maps integers to contiguous indices from a vocabulary (``keras.layers.IntegerLookup``); see the module
    docstring. Several OOV indices bucket an unknown value ``v`` as ``floormod(v, num_oov_indices)``, or by the
    FarmHash of its decimal string with ``oov_method="farmhash"``.

    Call: integer ids -> int64 indices of their shape, or encodings; with ``invert``, indices -> the int64 tokens.

    Raises:
        ValueError: invalid arguments or vocabulary (Keras's messages), a ``vocabulary_dtype`` other than int64.
        NotImplementedError: ``sparse``, ``salt``, a vocabulary file.
    """

    _string_inputs = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If `max_tokens` is set for `IntegerLookup`, it must be greater than 1. Received: "
                             f"max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError(f"The value of `num_oov_indices` argument for `IntegerLookup` must >= 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if vocabulary_dtype != "int64":
            raise ValueError(f"Only `vocabulary_dtype='int64'` is supported at this time. Received: "
                             f"vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, vocabulary_dtype=vocabulary_dtype,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name, **kwargs)

    @staticmethod
    def _token(t):
        return int(t)

    @staticmethod
    def _sort_key(t):
        return t

    def _oov_buckets(self, tokens):
        if self.oov_method == "farmhash":
            return super()._oov_buckets(tokens)
        return np.mod(np.asarray(tokens, np.int64), self.num_oov_indices)

    def _invert_output(self, tokens, shape):
        return convert_to_tensor(np.array(tokens, np.int64).reshape(shape))

    def get_config(self):
        c = super().get_config()
        for key in ("oov_token", "mask_token"):
            if c[key] is not None:
                c[key] = int(c[key])
        if c["vocabulary"] is not None:
            c["vocabulary"] = [int(v) for v in c["vocabulary"]]
        return c


_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')  # Keras's DEFAULT_STRIP_REGEX
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # tf.strings.lower: ASCII only


class TextVectorization(Layer):
    """Turns strings into token indices or encodings (``keras.layers.TextVectorization``), on the host.

    Each string is standardized ("lower_and_strip_punctuation" (default), "lower", "strip_punctuation", None or a
    callable on a NumPy str array; lower-casing is ASCII-only, as ``tf.strings.lower``), split ("whitespace" (runs
    of it), "character", None or a callable giving a token list per string), extended with its n-grams (``ngrams``:
    an int n for 1..n, or a tuple of widths; joined by a space, each width after the previous, as
    ``tf.strings.ngrams``), and looked up in a :class:`StringLookup` with mask token "" (index 0, the padding).

    Args:
        max_tokens, vocabulary, idf_weights, pad_to_max_tokens, encoding: as StringLookup.
        output_mode: "int" (default): (batch, length) int64 indices, padded with 0 to the batch's longest or cut/padded
            to ``output_sequence_length``; "multi_hot", "count", "tf_idf", "one_hot": one encoding per string.

    Call: a (batch,) or (batch, 1) str/bytes array or list -> a Tensor. ``adapt`` learns the vocabulary from strings.

    Raises:
        ValueError: invalid arguments (Keras's messages), or an input of rank > 1 whose last axis is not 1.
        NotImplementedError: ``sparse`` or ``ragged``.
    """

    _cast_inputs = False
    _string_inputs = True

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, *, vocabulary_size=None,
                 has_input_vocabulary=None, **kwargs):
        if not (standardize is None or callable(standardize) or
                standardize in ("lower_and_strip_punctuation", "lower", "strip_punctuation")):
            raise ValueError(f"Invalid value for argument `standardize`. Expected one of "
                             f"['lower_and_strip_punctuation', 'lower', 'strip_punctuation'], None or a callable. "
                             f"Received: standardize={standardize}")
        if not (split is None or callable(split) or split in ("whitespace", "character")):
            raise ValueError(f"Invalid value for argument `split`. Expected one of ['whitespace', 'character'], None "
                             f"or a callable. Received: split={split}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of ['int', 'one_hot', "
                             f"'multi_hot', 'count', 'tf_idf']. Received: output_mode={output_mode}")
        if not (ngrams is None or isinstance(ngrams, int) or
                isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams)):
            raise ValueError(f"`ngrams` must be None, an integer, or a tuple of integers. Received: ngrams={ngrams}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(output_sequence_length, int)):
            raise ValueError(f"`output_sequence_length` must be either None or an integer when `output_mode` is "
                             f"'int'. Received: output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"`output_sequence_length` must not be set if `output_mode` is not 'int'. Received "
                             f"output_sequence_length={output_sequence_length}.")
        if sparse or ragged:
            raise NotImplementedError(f"TextVectorization: sparse and ragged outputs are not supported. Received: "
                                      f"sparse={sparse}, ragged={ragged}")
        has_vocabulary = vocabulary is not None if has_input_vocabulary is None else has_input_vocabulary
        super().__init__(name=name, **kwargs)
        self._standardize, self._split, self._ngrams_arg = standardize, split, ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode, self._output_sequence_length, self._encoding = output_mode, output_sequence_length, encoding
        self._ragged = False
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
                                          has_input_vocabulary=has_vocabulary, encoding=encoding,
                                          vocabulary_size=vocabulary_size)

    def _documents(self, inputs):
        """The token lists of the input strings, standardized, split and with their n-grams."""
        x = np.asarray(inputs.numpy() if hasattr(inputs, "numpy") else inputs)
        if x.dtype.kind == "S" or x.dtype.kind == "O":
            x = np.array([v.decode(self._encoding) if isinstance(v, bytes) else str(v) for v in x.reshape(-1)],
                         dtype=str).reshape(x.shape)
        if self._split is not None and x.ndim > 1:
            if x.shape[-1] != 1:
                raise ValueError(f"When using `TextVectorization` to tokenize strings, the input rank must be 1 or the "
                                 f"last shape dimension must be 1. Received: inputs.shape={x.shape} with "
                                 f"rank={x.ndim}")
            x = x[..., 0]
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            x = np.array([s.translate(_ASCII_LOWER) for s in x.reshape(-1)], dtype=str).reshape(x.shape)
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            x = np.array([_PUNCTUATION.sub("", s) for s in x.reshape(-1)], dtype=str).reshape(x.shape)
        if callable(self._standardize):
            x = np.asarray(self._standardize(x))
        if self._split is None:
            docs = [[str(s)] for s in x.reshape(-1)] if x.ndim < 2 else [[str(s) for s in row] for row in x]
        elif self._split == "whitespace":
            docs = [s.split() for s in x.reshape(-1)]
        elif self._split == "character":
            docs = [list(s) for s in x.reshape(-1)]
        else:
            docs = [list(d) for d in self._split(x)]
        if self._ngrams is not None:
            docs = [[" ".join(d[i:i + n]) for n in self._ngrams for i in range(len(d) - n + 1)] for d in docs]
        return docs

    def adapt(self, data, batch_size=None, steps=None):
        """Learns the vocabulary from strings: an array or list, a Dataset, or an iterable of batches."""
        self._lookup_layer.reset_state()
        for batch in adapt_batches(data, steps):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        for doc in self._documents(data):
            self._lookup_layer.update_state(np.array(doc if doc else [""], dtype=object))

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def call(self, inputs):
        docs = self._documents(inputs)
        length = self._output_sequence_length if self._output_mode == "int" and self._output_sequence_length \
            is not None else max([len(d) for d in docs] + [1])
        padded = np.array([(d + [""] * length)[:length] for d in docs], dtype=object).reshape(len(docs), length)
        return self._lookup_layer(padded)

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            input_shape = tuple(input_shape) + (1,) if len(input_shape) <= 1 else tuple(input_shape)
        else:
            input_shape = tuple(input_shape) + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def save_own_variables(self, store):
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store):
        self._lookup_layer.load_own_variables(store)

    def save_assets(self, dir_path):
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path):
        self._lookup_layer.load_assets(dir_path)

    def get_config(self):
        c = super().get_config()
        lookup = self._lookup_layer
        c.update({"max_tokens": lookup.max_tokens, "standardize": self._standardize, "split": self._split,
                  "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
                  "output_sequence_length": self._output_sequence_length,
                  "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": False, "ragged": self._ragged,
                  "vocabulary": _listify(lookup.input_vocabulary), "idf_weights": _listify(lookup.input_idf_weights),
                  "encoding": self._encoding, "vocabulary_size": self.vocabulary_size()})
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
        return cls(**config)
