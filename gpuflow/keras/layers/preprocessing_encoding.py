"""Categorical preprocessing layers (Keras 3's ``keras/src/layers/preprocessing/``): CategoryEncoding and
Discretization.

They map integer ids or float values to ids and encodings on the host, in NumPy, as Keras's data layers do
(their outputs carry no gradient: they sit at a model's input). The encodings follow Keras 3.15's
``numerical_utils.encode_categorical_inputs`` with the TensorFlow backend (what ``tf.keras`` 2.21 runs):

* ``"one_hot"``: (..., depth) per id; a trailing axis of size 1 is replaced, not kept;
* ``"multi_hot"``: 1 where an id occurs, over axis 1 of a batched input (its other axes kept), over the whole
  input for a rank-1 one, which is one sample: (n,) -> (depth,);
* ``"count"``: how often each id occurs (times ``count_weights`` where given), reduced as multi_hot.

Ids outside [0, depth) encode to zeros.
"""
from __future__ import annotations

import numpy as np

from ...ops.core import convert_to_tensor
from .base import Layer
from .preprocessing import adapt_batches

__all__ = ["CategoryEncoding", "Discretization", "encode_categorical_inputs"]


def _host(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def encode_categorical_inputs(inputs, output_mode, depth, dtype, count_weights=None):
    """Keras 3's ``encode_categorical_inputs`` of an integer array (see the module docstring).

    Args:
        inputs: an integer array of ids (a float array is truncated to ints).
        output_mode: "int", "one_hot", "multi_hot" or "count".
        depth: the number of ids.
        dtype: the output dtype.
        count_weights: optional weights of ``inputs``'s shape for "count".

    Returns:
        A NumPy array: ``inputs`` cast for "int"; otherwise with a last axis of size ``depth``.
    """
    ids = _host(inputs)
    if output_mode == "int":
        return ids.astype(dtype)
    ids = ids.astype(np.int64)
    if ids.ndim == 0:
        ids = ids[None]
    if output_mode == "one_hot" and ids.ndim > 1 and ids.shape[-1] == 1:
        ids = ids[..., 0]
    encoded = (ids[..., None] == np.arange(depth)).astype(dtype)
    if output_mode == "one_hot":
        return encoded
    axis = 1 if ids.ndim > 1 else 0
    if output_mode == "multi_hot":
        return encoded.max(axis=axis)
    if count_weights is not None:
        encoded = encoded * _host(count_weights).astype(dtype)[..., None]
    return encoded.sum(axis=axis).astype(dtype)


def _encoded_shape(input_shape, output_mode, depth):
    """The output shape of :func:`encode_categorical_inputs` for ``input_shape`` (a None stays None)."""
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if not input_shape:
        return (depth,)
    if output_mode == "one_hot":
        if input_shape[-1] == 1 and len(input_shape) > 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    if len(input_shape) == 1:
        return (depth,)
    return (input_shape[0],) + input_shape[2:] + (depth,)


class CategoryEncoding(Layer):
    """Encodes integer ids as one-hot, multi-hot or count vectors (``keras.layers.CategoryEncoding``).

    Args:
        num_tokens: the number of ids, >= 1 (ids are in [0, num_tokens)).
        output_mode: "multi_hot" (default; "binary" is its old name), "one_hot" or "count".
        sparse: must be False (gpuflow has no sparse tensors).

    Call arguments:
        inputs: integer ids, any rank; shapes as the module docstring says.
        count_weights: for "count", weights of the inputs' shape summed instead of ones.

    Returns:
        A float (layer dtype) Tensor with a last axis of ``num_tokens``.

    Raises:
        ValueError: an unknown ``output_mode``, a missing or non-positive ``num_tokens``, or ``count_weights``
            outside "count" mode (Keras's messages).
        NotImplementedError: ``sparse=True``.
    """

    _cast_inputs = False

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of tokens is not known "
                             "beforehand, use the IntegerLookup layer instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise NotImplementedError("CategoryEncoding: sparse=True is not supported (gpuflow has no sparse "
                                      "tensors). Received: sparse=True")
        self.num_tokens, self.output_mode, self.sparse = num_tokens, output_mode, False

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"`count_weights` is not used when `output_mode` is not `'count'`. Received "
                             f"`count_weights={count_weights}`.")
        return convert_to_tensor(encode_categorical_inputs(inputs, self.output_mode, self.num_tokens,
                                                           self.compute_dtype, count_weights))

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        c = super().get_config()
        c.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return c


# -- Discretization's quantile summaries: Keras 3.15's functions, NumPy ------------------------------------------
def _summarize(values, epsilon):
    values = np.sort(np.reshape(values, [-1]))
    step = max(np.size(values) / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def _compress_summary(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


def _merge_summaries(prev_summary, next_summary, epsilon):
    merged = np.concatenate((prev_summary, next_summary), axis=1)
    return _compress_summary(np.take(merged, np.argsort(merged[0]), axis=1), epsilon)


class Discretization(Layer):
    """Buckets float values by ``bin_boundaries`` (``keras.layers.Discretization``).

    Value x falls in bucket i with ``bin_boundaries[i - 1] <= x < bin_boundaries[i]`` (``np.digitize``; TensorFlow's
    Bucketize), so there are ``len(bin_boundaries) + 1`` buckets. With ``num_bins`` instead, :meth:`adapt` learns
    the boundaries as approximate quantiles of the data (Keras 3.15's summaries, ``epsilon`` their error).

    Args:
        bin_boundaries: sorted floats, or None with ``num_bins``.
        num_bins: the number of buckets ``adapt`` makes.
        epsilon: the quantile approximation error (0.01).
        output_mode: "int" (bucket ids, int32, the input's shape), "one_hot", "multi_hot" or "count" (float
            encodings of depth ``len(bin_boundaries) + 1``, as :class:`CategoryEncoding`).
        sparse: must be False.

    Raises:
        ValueError: both or neither of ``bin_boundaries`` and ``num_bins``, a negative ``num_bins``, an unknown
            ``output_mode``, a call before the boundaries are known, ``adapt`` without ``num_bins`` (Keras's
            messages).
        NotImplementedError: ``sparse=True``.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, dtype=None,
                 name=None):
        super().__init__(name=name, dtype=dtype)
        if sparse:
            raise NotImplementedError("Discretization: sparse=True is not supported (gpuflow has no sparse "
                                      "tensors). Received: sparse=True")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of ['int', 'one_hot', "
                             f"'multi_hot', 'count']. Received: output_mode={output_mode}")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"`num_bins` must be greater than or equal to 0. Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries, self.num_bins, self.epsilon = bin_boundaries, num_bins, epsilon
        self.output_mode, self.sparse = output_mode, False
        self.summary = None if bin_boundaries else np.array([[], []], dtype="float32")

    @property
    def output_dtype(self):
        return self.compute_dtype if self.output_mode != "int" else "int32"

    def adapt(self, data, steps=None):
        """Learns ``num_bins - 1`` boundaries from ``data`` (an array, Tensor, Dataset or iterable of batches).

        Raises:
            ValueError: a layer made with ``bin_boundaries`` (Keras's message).
        """
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized with `bin_boundaries`, "
                             "use `num_bins` instead.")
        self.reset_state()
        for batch in adapt_batches(data, steps):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        self.summary = _merge_summaries(_summarize(np.asarray(data, "float32"), self.epsilon), self.summary,
                                        self.epsilon)

    def finalize_state(self):
        if self.num_bins is not None:
            self.bin_boundaries = _compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        if self.num_bins is not None:
            self.summary = np.array([[], []], dtype="float32")

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at construction time or call "
                             "`adapt(dataset)` before you can start using the `Discretization` layer.")
        ids = np.digitize(_host(inputs).astype(np.float32), np.asarray(self.bin_boundaries, np.float32))
        return convert_to_tensor(encode_categorical_inputs(ids, self.output_mode, len(self.bin_boundaries) + 1,
                                                           self.output_dtype))

    def compute_output_shape(self, input_shape):
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        return _encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            bin_boundaries = config.pop("bin_boundaries")  # an adapted layer: both set, as Keras's from_config
            layer = cls(**config)
            layer.bin_boundaries = bin_boundaries
            return layer
        return cls(**config)
