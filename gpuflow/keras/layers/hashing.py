"""``keras.layers.Hashing`` and ``HashedCrossing`` (Keras 3.15's ``keras/src/layers/preprocessing/hashing.py``,
``hashed_crossing.py``) and FarmHash's ``Fingerprint64``, the hash behind TensorFlow's
``tf.strings.to_hash_bucket_fast``, ``tf.fingerprint`` and ``tf.sparse.cross_hashed``.

:func:`fingerprint64` is farmhashna's ``Hash64`` (Google's FarmHash, MIT licence) in Python integers: the same
bucket for the same string as TensorFlow, so a Keras model's hashed features keep their indices. Checked against
``tf.fingerprint(..., "farmhash64")`` on strings of every length 0-199 and a few longer ones (all branches).
"""
from __future__ import annotations

import struct

import numpy as np

from ...ops.core import convert_to_tensor
from .base import Layer
from .preprocessing_encoding import encode_categorical_inputs

__all__ = ["Hashing", "HashedCrossing", "fingerprint64", "hash_to_buckets"]

_M = (1 << 64) - 1
_K0, _K1, _K2 = 0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f


def _f64(s, i):
    return struct.unpack_from("<Q", s, i)[0]


def _rot(v, n):
    return v if n == 0 else ((v >> n) | (v << (64 - n))) & _M


def _smix(v):
    return v ^ (v >> 47)


def _h16(u, v, mul):
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _len0to16(s, n):
    if n >= 8:
        mul = _K2 + n * 2
        a = (_f64(s, 0) + _K2) & _M
        b = _f64(s, n - 8)
        return _h16((_rot(b, 37) * mul + a) & _M, ((_rot(a, 25) + b) * mul) & _M, mul)
    if n >= 4:
        a = struct.unpack_from("<I", s, 0)[0]
        return _h16((n + (a << 3)) & _M, struct.unpack_from("<I", s, n - 4)[0], _K2 + n * 2)
    if n > 0:
        y = (s[0] + (s[n >> 1] << 8)) & 0xffffffff
        z = (n + (s[n - 1] << 2)) & 0xffffffff
        return (_smix(((y * _K2) ^ (z * _K0)) & _M) * _K2) & _M
    return _K2


def _len17to64(s, n):
    mul = _K2 + n * 2
    a = (_f64(s, 0) * (_K1 if n <= 32 else _K2)) & _M
    b = _f64(s, 8)
    c = (_f64(s, n - 8) * mul) & _M
    d = (_f64(s, n - 16) * _K2) & _M
    y = (_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M
    z = _h16(y, (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)
    if n <= 32:
        return z
    e = (_f64(s, 16) * mul) & _M
    f = _f64(s, 24)
    g = ((y + _f64(s, n - 32)) * mul) & _M
    h = ((z + _f64(s, n - 24)) * mul) & _M
    return _h16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M, (e + _rot((f + a) & _M, 18) + g) & _M, mul)


def _weak32(s, i, a, b):
    w, x, y, z = _f64(s, i), _f64(s, i + 8), _f64(s, i + 16), _f64(s, i + 24)
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    return (a + z) & _M, (b + _rot(a, 44) + c) & _M


def fingerprint64(s):
    """FarmHash ``Fingerprint64`` of the bytes ``s`` (an int in [0, 2**64)), as TensorFlow computes it."""
    n = len(s)
    if n <= 16:
        return _len0to16(s, n)
    if n <= 64:
        return _len17to64(s, n)
    x, y = 81, (81 * _K1 + 113) & _M
    z = (_smix((y * _K2 + 113) & _M) * _K2) & _M
    v, w = (0, 0), (0, 0)
    x = (x * _K2 + _f64(s, 0)) & _M
    end, last64 = ((n - 1) // 64) * 64, ((n - 1) // 64) * 64 + ((n - 1) & 63) - 63
    for i in range(0, end, 64):
        x = (_rot((x + y + v[0] + _f64(s, i + 8)) & _M, 37) * _K1) & _M
        y = (_rot((y + v[1] + _f64(s, i + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _f64(s, i + 40)) & _M
        z = (_rot((z + w[0]) & _M, 33) * _K1) & _M
        v = _weak32(s, i, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak32(s, i + 32, (z + w[1]) & _M, (y + _f64(s, i + 16)) & _M)
        z, x = x, z
    mul = _K1 + ((z & 0xff) << 1)
    w0 = (w[0] + ((n - 1) & 63)) & _M
    v0 = (v[0] + w0) & _M
    w = ((w0 + v0) & _M, w[1])
    x = (_rot((x + y + v0 + _f64(s, last64 + 8)) & _M, 37) * mul) & _M
    y = (_rot((y + v[1] + _f64(s, last64 + 48)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v0 * 9 + _f64(s, last64 + 40)) & _M
    z = (_rot((z + w[0]) & _M, 33) * mul) & _M
    v = _weak32(s, last64, (v[1] * mul) & _M, (x + w[0]) & _M)
    w = _weak32(s, last64 + 32, (z + w[1]) & _M, (y + _f64(s, last64 + 16)) & _M)
    z, x = x, z
    return _h16((_h16(v[0], w[0], mul) + _smix(y) * _K0 + z) & _M, (_h16(v[1], w[1], mul) + x) & _M, mul)


def _as_bytes(value):
    """A value as ``tf.strings.as_string`` writes it (floats truncated to int64 first, as Keras's Hashing)."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    if isinstance(value, (float, np.floating)):
        value = int(value)
    return str(value).encode("utf-8")


def hash_to_buckets(values, num_buckets):
    """``tf.strings.to_hash_bucket_fast`` of a sequence of strings, bytes or numbers: int64 bucket ids."""
    return np.array([fingerprint64(_as_bytes(v)) % num_buckets for v in values], np.int64)


class Hashing(Layer):
    """Hashes strings or integers into ``num_bins`` buckets (``keras.layers.Hashing``), TensorFlow's buckets.

    A value is hashed as its string (``tf.strings.as_string``; floats truncated to integers first) with FarmHash
    Fingerprint64, modulo ``num_bins``; with ``mask_value``, that value goes to bin 0 and the others to
    ``1 + hash % (num_bins - 1)``. ``output_mode``: "int" (bin ids, int64 by default), "one_hot", "multi_hot" or
    "count" (float32 encodings over ``num_bins``, as CategoryEncoding).

    Raises:
        ValueError: a missing or non-positive ``num_bins``, an unknown ``output_mode``, a non-integer dtype with
            "int", a bad ``salt`` (Keras's messages).
        NotImplementedError: ``salt`` (the keyed SipHash of ``to_hash_bucket_strong``) and ``sparse``.
    """

    _cast_inputs = False
    _string_inputs = True

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else "float32"
        super().__init__(**kwargs)
        if num_bins is None or num_bins <= 0:
            raise ValueError(f"The `num_bins` for `Hashing` cannot be `None` or non-positive values. Received: "
                             f"num_bins={num_bins}.")
        if output_mode == "int" and self.dtype_policy.name not in ("int32", "int64"):
            raise ValueError(f"When `output_mode=\"int\"`, `dtype` should be an integer type, 'int32' or 'in64'. "
                             f"Received: dtype={kwargs['dtype']}")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of ('int', 'one_hot', "
                             f"'multi_hot', 'count'). Received: output_mode={output_mode}")
        if sparse:
            raise NotImplementedError("Hashing: sparse=True is not supported (gpuflow has no sparse tensors).")
        if salt is not None:
            if not (isinstance(salt, int) or isinstance(salt, (tuple, list)) and len(salt) == 2):
                raise ValueError(f"The `salt` argument for `Hashing` can only be a tuple of size 2 integers, or a "
                                 f"single integer. Received: salt={salt}.")
            raise NotImplementedError(f"Hashing: `salt` (TensorFlow's keyed SipHash) is not supported. "
                                      f"Received: salt={salt}")
        self.num_bins, self.mask_value, self.salt = num_bins, mask_value, None
        self.output_mode, self.sparse = output_mode, False

    def _bins(self, values):
        bins = self.num_bins - 1 if self.mask_value is not None and self.num_bins > 1 else self.num_bins
        ids = hash_to_buckets(values, bins)
        if bins != self.num_bins:
            masked = np.array([v == self.mask_value for v in values], bool)
            ids = np.where(masked, 0, ids + 1)
        return ids

    def call(self, inputs):
        x = np.asarray(inputs.numpy() if hasattr(inputs, "numpy") else inputs)
        if x.dtype.kind in "SO":
            x = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in x.reshape(-1)],
                         dtype=object).reshape(x.shape)
        if self.output_mode == "one_hot" and x.ndim and x.shape[-1] == 1:
            x = x[..., 0]
        ids = self._bins(x.reshape(-1).tolist()).reshape(x.shape)
        return convert_to_tensor(encode_categorical_inputs(ids, self.output_mode, self.num_bins,
                                                           self.dtype_policy.name))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return tuple(input_shape[:-1]) + (self.num_bins,) if len(input_shape) else (self.num_bins,)

    def get_config(self):
        c = super().get_config()
        c.update({"num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                  "output_mode": self.output_mode, "sparse": self.sparse})
        return c


_CROSS_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default hash_key


def _fingerprint_cat64(fp1, fp2):
    """TensorFlow's ``FingerprintCat64`` (tensorflow/core/platform/fingerprint.h): two fingerprints combined."""
    mul = 0xc6a4a7935bd1e995
    t = (fp2 * mul) & _M
    result = (fp1 ^ mul) ^ ((((t ^ (t >> 47)) * mul) & _M))
    result = (result * mul) & _M
    result = ((result ^ (result >> 47)) * mul) & _M
    return result ^ (result >> 47)


def _cross_hash(features):
    """``tf.sparse.cross_hashed`` of one row: strings by Fingerprint64, integers as their 64 bits."""
    h = _CROSS_KEY
    for f in features:
        if isinstance(f, (str, bytes, np.str_, np.bytes_)):
            hf = fingerprint64(f.encode("utf-8") if isinstance(f, str) else bytes(f))
        else:
            hf = int(f) & _M
        h = _fingerprint_cat64(h, hf)
    return h


class HashedCrossing(Layer):
    """Hashes the cross of two or more categorical features into ``num_bins`` bins (``keras.layers.HashedCrossing``),
    TensorFlow's ``tf.sparse.cross_hashed`` (checked against it in TensorFlow 2.21).

    Call: a list of at least two integer or string arrays of one shape: (), (batch,) or (batch, 1). Returns the bin
    of each row's combination, of that shape (int64 by default), or one-hot encodings with ``output_mode="one_hot"``.

    Raises:
        ValueError: an unknown ``output_mode``; inputs that are not a list of at least two, of different shapes,
            of another shape or of a float dtype (Keras's messages).
        NotImplementedError: ``sparse=True``.
    """

    _cast_inputs = False
    _string_inputs = True

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs):
        if output_mode == "int" and dtype is None:
            dtype = "int64"
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise NotImplementedError("HashedCrossing: sparse=True is not supported (gpuflow has no sparse tensors).")
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of ['int', 'one_hot']. "
                             f"Received: output_mode={output_mode}")
        self.num_bins, self.output_mode, self.sparse = num_bins, output_mode, False

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"`HashedCrossing` should be called on a list or tuple of inputs. Received: "
                             f"inputs={inputs}")
        if len(inputs) < 2:
            raise ValueError(f"`HashedCrossing` should be called on at least two inputs. Received: inputs={inputs}")
        arrays = [np.asarray(x.numpy() if hasattr(x, "numpy") else x) for x in inputs]
        shape = arrays[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError(f"All `HashedCrossing` inputs should have shape `()`, `(batch_size)` or "
                             f"`(batch_size, 1)`. Received: inputs={inputs}")
        if any(a.shape != shape for a in arrays[1:]):
            raise ValueError(f"All `HashedCrossing` inputs should have equal shape. Received: inputs={inputs}")
        if any(a.dtype.kind not in "iuUSO" for a in arrays):
            raise ValueError(f"All `HashedCrossing` inputs should have an integer or string dtype. Received: "
                             f"inputs={inputs}")
        rows = zip(*[a.reshape(-1).tolist() for a in arrays])
        ids = np.array([_cross_hash(r) % self.num_bins for r in rows], np.int64).reshape(shape)
        return convert_to_tensor(encode_categorical_inputs(ids, self.output_mode, self.num_bins,
                                                           self.dtype_policy.name))

    def compute_output_shape(self, input_shape):
        if not (len(input_shape) == 2 and isinstance(input_shape[0], (tuple, list))
                and isinstance(input_shape[1], (tuple, list))):
            raise ValueError(f"Expected as input a list/tuple of 2 tensors. Received input_shape={input_shape}")
        first = tuple(input_shape[0])
        if self.output_mode == "int":
            return first
        if first and first[-1] != 1:
            return first + (self.num_bins,)
        return first[:-1] + (self.num_bins,)

    def get_config(self):
        return {"num_bins": self.num_bins, "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name,
                "dtype": self.dtype}
