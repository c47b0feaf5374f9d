"""``keras.layers.MultiHeadAttention`` and ``keras.layers.Attention`` (dot-product attention), with Keras masks.

MultiHeadAttention keeps Keras 3's weights: four projection sub-layers ``query``, ``key``, ``value`` and
``attention_output`` (Keras's EinsumDense, in the attributes ``_query_dense`` ... ``_output_dense``, so the
paths of a ``.weights.h5`` file match) with kernels (dim, num_heads, key_dim), (dim, num_heads, key_dim),
(dim, num_heads, value_dim), (num_heads, value_dim, output_dim) and biases (num_heads, key_dim) ...
(output_dim,). The einsums are computed as reshapes and matmuls.
"""
from __future__ import annotations

import math

import numpy as np

from ...ops import array_ops as _a, math_ops as _m, nn_ops as _nn
from ...ops.core import convert_to_tensor
from ...tensor import Tensor
from .. import constraints as _constraints, initializers as _init, regularizers as _regularizers
from .base import Layer, KerasTensor
from .core import Dropout
from .mask_utils import get_keras_mask, set_keras_mask

_LARGE_NEGATIVE = -1e9  # Keras's Softmax for float32


def _bool(mask):
    m = mask if isinstance(mask, Tensor) else convert_to_tensor(np.asarray(mask))
    return m if m.dtype.name == "bool" else _m.greater(m, 0.5 if m.dtype.is_floating else 0)


def _and(a, b):
    return b if a is None else (a if b is None else _m.logical_and(a, b))


def _causal_mask(t, s):
    """(1, t, s) bool: query step i sees key steps j <= i (Keras's ``_compute_causal_mask``)."""
    return convert_to_tensor(np.tril(np.ones((t, s), dtype=bool))[None])


def masked_softmax(scores, mask, zero_masked=True):
    """Softmax over the last axis with ``mask`` (bool, broadcastable) positions set to -1e9 first; with
    ``zero_masked`` the masked positions are then 0 (Keras's Softmax layer; a fully masked row is all 0),
    else a fully masked row stays uniform (Keras's ``ops.dot_product_attention``)."""
    if mask is None:
        return _nn.softmax(scores, axis=-1)
    mask = _a.broadcast_to(mask, tuple(scores.shape))
    probs = _nn.softmax(_m.where(mask, scores, _a.zeros_like(scores) + _LARGE_NEGATIVE), axis=-1)
    return _m.where(mask, probs, _a.zeros_like(probs)) if zero_masked else probs


class _Projection(Layer):
    """A dense projection of the last axis with a kernel of Keras's EinsumDense shape.

    ``kernel_shape`` is (in..., out...) where the first ``n_in`` axes are contracted with the input's last
    ``n_in`` axes; the output ends in the remaining axes. Bias of the out shape (or None).
    """

    def __init__(self, kernel_shape, n_in, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, kernel_constraint, bias_constraint, **kwargs):
        super().__init__(**kwargs)
        self.kernel_shape, self.n_in, self.use_bias = tuple(kernel_shape), n_in, use_bias
        self._opts = (kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
                      bias_constraint)

    def build(self, input_shape=None):
        k_init, b_init, k_reg, b_reg, k_con, b_con = self._opts
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_shape, initializer=k_init, regularizer=k_reg,
                                      constraint=k_con)
        out = self.kernel_shape[self.n_in:]
        self.bias = self.add_weight(name="bias", shape=out, initializer=b_init, regularizer=b_reg,
                                    constraint=b_con) if self.use_bias else None
        self.built = True

    def call(self, x):
        lead = tuple(x.shape[:x.ndim - self.n_in])
        k_in = int(np.prod(self.kernel_shape[:self.n_in]))
        out = self.kernel_shape[self.n_in:]
        y = _m.matmul(_a.reshape(x, (-1, k_in)), _a.reshape(self.kernel, (k_in, int(np.prod(out)))))
        y = _a.reshape(y, lead + out)
        return y + self.bias if self.bias is not None else y


class MultiHeadAttention(Layer):
    """Multi-head attention of "Attention is all you need" (Vaswani et al., 2017) (``keras.layers.MultiHeadAttention``).

    Args:
        num_heads: the number of heads, an int >= 1.
        key_dim: the size of each head for query and key, an int >= 1.
        value_dim: the size of each head for value (default ``key_dim``).
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        output_shape: the last axis (an int or a 1-tuple) of the output; default the query's last axis.
        attention_axes: None or (1,): attention over the sequence axis of rank-3 inputs (Keras writes (1,) once
            built).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint: as Dense, for the four projections.
        seed: seed of the dropout.

    Call arguments:
        query: (batch, T, dim). value: (batch, S, dim_v). key: optional (batch, S, dim_k), default ``value``.
        attention_mask: optional bool (batch, T, S) (or broadcastable): True where query step t may attend to
            key step s. Combined (AND) with the Keras masks of query (batch, T, 1), value and key (batch, 1, S)
            -- e.g. from ``Embedding(mask_zero=True)`` -- and with the causal mask of ``use_causal_mask``.
        value_mask, key_mask: optional (batch, S) booleans, by default the Keras masks of value and key.
        query_mask: ignored, as Keras 3.15 does: the query's own Keras mask is used.
        return_attention_scores: also return the probabilities (batch, num_heads, T, S).
        training: enables dropout. use_causal_mask: step t attends to steps <= t only.

    Returns:
        (batch, T, output_dim) float32, carrying the query's Keras mask; and the scores if asked.

    Raises:
        ValueError: invalid arguments (Keras's messages), ``value`` and ``key`` of different lengths.
        NotImplementedError: other ``attention_axes``, ``sliding_window``, ``use_gate``,
            ``flash_attention=True`` or inputs not of rank 3.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        for arg, v, optional in (("num_heads", num_heads, False), ("key_dim", key_dim, False),
                                 ("value_dim", value_dim, True)):
            if (v is not None or not optional) and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
                raise ValueError(f"Received an invalid value for argument `{arg}`, expected a positive integer"
                                 f"{' or `None`' if optional else ''}. Received: {arg}={v}")
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"`attention_axes` must be an int, list, or tuple.Received: attention_axes={attention_axes}")
        if attention_axes is not None and tuple(a if a >= 0 else 3 + a for a in attention_axes) != (1,):
            raise NotImplementedError(f"MultiHeadAttention: only attention over the sequence axis of rank-3 inputs "
                                      f"(attention_axes None or (1,)) is supported in gpuflow. "
                                      f"Received: attention_axes={attention_axes}")
        for arg, v, default in (("sliding_window", sliding_window, None),
                                ("use_gate", use_gate, False), ("flash_attention", flash_attention, None)):
            if v not in (default, False):
                raise NotImplementedError(f"MultiHeadAttention: `{arg}` is not supported in gpuflow. "
                                          f"Received: {arg}={v!r}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self._num_heads, self._key_dim = num_heads, key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout, self._use_bias, self.seed = float(dropout), bool(use_bias), seed
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(output_shape)
            except TypeError:
                raise ValueError(f"Invalid `output_shape`: {output_shape}. When specified, the `output_shape` should "
                                 "be of type tuple, list, or int.") from None
            if len(output_shape) != 1:
                raise NotImplementedError(f"MultiHeadAttention: only a 1-D `output_shape` is supported. Received: "
                                          f"output_shape={output_shape}")
        self._output_shape = output_shape or None
        self._kernel_initializer = _init.get(kernel_initializer)
        self._bias_initializer = _init.get(bias_initializer)
        self._kernel_regularizer = _regularizers.get(kernel_regularizer)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        self._kernel_constraint = _constraints.get(kernel_constraint)
        self._bias_constraint = _constraints.get(bias_constraint)
        self._mha_activity_regularizer = activity_regularizer
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        self._dropout_layer = Dropout(rate=self._dropout, seed=seed, dtype=self.dtype_policy)
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    def _projection(self, kernel_shape, n_in, name):
        return _Projection(kernel_shape, n_in, self._use_bias, self._kernel_initializer, self._bias_initializer,
                           self._kernel_regularizer, self._bias_regularizer, self._kernel_constraint,
                           self._bias_constraint, name=name, dtype=self.dtype_policy,
                           activity_regularizer=self._mha_activity_regularizer)

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise NotImplementedError(f"MultiHeadAttention '{self.name}': only rank-3 inputs (batch, steps, "
                                          f"features) are supported. Received: {arg}.shape={tuple(shape)}")
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be equal. Received: "
                             f"value_shape={tuple(value_shape)} and key_shape={tuple(key_shape)}")
        n, h, v = self._num_heads, self._key_dim, self._value_dim
        out = self._output_shape[0] if self._output_shape else query_shape[-1]
        self._query_dense = self._projection((query_shape[-1], n, h), 1, "query")
        self._key_dense = self._projection((key_shape[-1], n, h), 1, "key")
        self._value_dense = self._projection((value_shape[-1], n, v), 1, "value")
        self._output_dense = self._projection((n, v, out), 2, "attention_output")
        self._attention_axes = (1,)  # Keras's default for rank-3 inputs, set at build
        for sub in (self._query_dense, self._key_dense, self._value_dense, self._output_dense):
            sub.build()
            for w in sub._weights:
                w.path = f"{self.name}/{sub.name}/{w.name}"
        self.built = True

    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                 attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False, **kwargs):
        if isinstance(query, (list, tuple)):  # a packed functional node: [query, value, (key,) (attention_mask)]
            packed, roles = list(query), kwargs.pop("_roles", ("query", "value", "key"))
            named = dict(zip(roles, packed))
            query, value = named["query"], named.get("value")
            key = named.get("key", key)
            attention_mask = named.get("attention_mask", attention_mask)
        kwargs.pop("mask", None)
        if value is None:
            raise ValueError(f"MultiHeadAttention '{self.name}' needs `query` and `value`. Received: value=None")
        static = dict(return_attention_scores=bool(return_attention_scores), use_causal_mask=bool(use_causal_mask))
        tensors = {"query": query, "value": value}
        if key is not None:
            tensors["key"] = key
        if attention_mask is not None:
            tensors["attention_mask"] = attention_mask
        if any(isinstance(t, KerasTensor) for t in tensors.values()):
            return self._symbolic_mha(tensors, static)
        if not self.built:
            self.build(tuple(np.shape(query)), tuple(np.shape(value)), None if key is None else tuple(np.shape(key)))
        qm = get_keras_mask(query)  # Keras 3.15 reads the query's Keras mask, ignoring a `query_mask` argument
        vm = value_mask if value_mask is not None else get_keras_mask(value)
        km = key_mask if key_mask is not None else (get_keras_mask(key) if key is not None else None)
        return super().__call__(query, value, key, query_mask=qm, value_mask=vm, key_mask=km,
                                attention_mask=attention_mask, training=training, **static, **kwargs)

    def _symbolic_mha(self, tensors, static):
        roles = tuple(tensors)
        packed = [tensors[r] if isinstance(tensors[r], KerasTensor) else KerasTensor(np.shape(tensors[r]))
                  for r in roles]
        shapes = [tuple(t.shape) for t in packed]
        if not self.built:
            self.build(shapes[0], shapes[1], shapes[2] if "key" in roles else None)
        out_shape = self.compute_output_shape(shapes[0], shapes[1], shapes[2] if "key" in roles else None)
        call_kwargs = dict({k: v for k, v in static.items() if v}, _roles=roles)  # as Keras writes the node
        if static["return_attention_scores"]:
            t, s = shapes[0][1], shapes[1][1]
            outs = [KerasTensor(out_shape, self.dtype, history=(self, packed, 0, call_kwargs)),
                    KerasTensor((shapes[0][0], self._num_heads, t, s), self.dtype,
                                history=(self, packed, 1, call_kwargs))]
        else:
            outs = KerasTensor(out_shape, self.dtype, history=(self, packed, None, call_kwargs))
        if "_first_node" not in self.__dict__:
            self._first_node = (packed, outs)
        return outs

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        value = self._convert_input(value)
        key = value if key is None else self._convert_input(key)
        mask = None
        if query_mask is not None:
            mask = _a.expand_dims(_bool(query_mask), -1)  # (B, T, 1)
        if value_mask is not None:
            mask = _and(mask, _a.expand_dims(_bool(value_mask), -2))  # (B, 1, S)
        if key_mask is not None and key is not value:
            mask = _and(mask, _a.expand_dims(_bool(key_mask), -2))
        if use_causal_mask:
            mask = _and(mask, _causal_mask(query.shape[1], value.shape[1]))
        if attention_mask is not None:
            mask = _and(_bool(attention_mask), mask)
        if mask is not None:
            mask = _a.expand_dims(mask, 1)  # over the heads: (B, 1, T, S)
        q = _a.transpose(self._query_dense(query) * self._inverse_sqrt_key_dim, (0, 2, 1, 3))  # (B, N, T, H)
        k = _a.transpose(self._key_dense(key), (0, 2, 1, 3))  # (B, N, S, H)
        v = _a.transpose(self._value_dense(value), (0, 2, 1, 3))  # (B, N, S, V)
        # Keras runs ops.dot_product_attention (a fully masked row stays uniform) unless it needs the scores
        # or dropout, where its Softmax layer zeroes the masked positions
        scores = masked_softmax(_m.matmul(q, k, transpose_b=True), mask,
                                zero_masked=self._dropout > 0 or return_attention_scores)
        attended = _m.matmul(self._dropout_layer(scores, training=training), v)  # (B, N, T, V)
        output = self._output_dense(_a.transpose(attended, (0, 2, 1, 3)))
        if query_mask is not None:
            set_keras_mask(output, query_mask)
        return (output, scores) if return_attention_scores else output

    def compute_mask(self, inputs, previous_mask):
        return None  # the query's mask is attached in call, as Keras does

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if value_shape is not None and key_shape is not None and tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be equal. Received: "
                             f"value_shape={tuple(value_shape)} and key_shape={tuple(key_shape)}")
        return query_shape[:-1] + self._output_shape if self._output_shape else query_shape

    def get_config(self):
        c = super().get_config()
        c.update({"num_heads": self._num_heads, "key_dim": self._key_dim, "value_dim": self._value_dim,
                  "dropout": self._dropout, "use_bias": self._use_bias, "output_shape": self._output_shape,
                  "use_gate": False, "attention_axes": self._attention_axes, "sliding_window": None,
                  "kernel_initializer": _init.serialize(self._kernel_initializer),
                  "bias_initializer": _init.serialize(self._bias_initializer),
                  "kernel_regularizer": _regularizers.serialize(self._kernel_regularizer),
                  "bias_regularizer": _regularizers.serialize(self._bias_regularizer),
                  "activity_regularizer": _regularizers.serialize(self._mha_activity_regularizer),
                  "kernel_constraint": _constraints.serialize(self._kernel_constraint),
                  "bias_constraint": _constraints.serialize(self._bias_constraint), "seed": self.seed})
        return c


class Attention(Layer):
    """Dot-product attention, Luong-style (``keras.layers.Attention``).

    Args:
        use_scale: learn a scalar ``scale`` (init 1) multiplying the scores.
        score_mode: "dot" (``query @ key^T``) or "concat" (``sum(tanh(query + key) * concat_score_weight)``,
            with a learned scalar ``concat_score_weight``).
        dropout: dropout rate on the attention probabilities (training only).
        seed: seed of the dropout.

    Call arguments:
        inputs: ``[query (batch, T, dim), value (batch, S, dim)]`` or ``[query, value, key]``.
        mask: optional ``[query_mask (batch, T), value_mask (batch, S)]`` booleans; by default the Keras masks
            of the inputs. A masked value step gets no attention; the output at a masked query step is 0.
        return_attention_scores: also return the probabilities (batch, T, S).
        use_causal_mask: step t attends to value steps <= t only.

    Returns:
        (batch, T, dim), carrying the query mask; and the scores if asked.

    Raises:
        ValueError: inputs that are not a list of 2 or 3 tensors, an unknown ``score_mode`` (Keras's messages).
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Invalid value for argument score_mode. Expected one of {{'dot', 'concat'}}. "
                             f"Received: score_mode={score_mode}")
        self.use_scale, self.score_mode, self.dropout, self.seed = bool(use_scale), score_mode, float(dropout), seed
        self.supports_masking = True
        self._dropout_layer = Dropout(rate=self.dropout, seed=seed, dtype=self.dtype_policy)

    def build(self, input_shape=None):
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones") if self.use_scale else None
        self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(), initializer="ones") \
            if self.score_mode == "concat" else None
        self.built = True

    def _validate(self, inputs, mask):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"{type(self).__name__} layer must be called on a list of inputs, namely [query, value] "
                             f"or [query, value, key]. Received: inputs={inputs}.")
        if mask is not None and (not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3)):
            raise ValueError(f"{type(self).__name__} layer mask must be a list of length 2, namely [query_mask, "
                             f"value_mask]. Received: mask={mask}.")

    def _symbolic_call(self, inputs, *args, training=None, **kwargs):
        self._validate(inputs, None)
        return super()._symbolic_call(inputs, *args, training=training, **kwargs)

    def call(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._calculate_scores(q, k)
        smask = None if v_mask is None else _a.expand_dims(_bool(v_mask), -2)  # (B, 1, S)
        if use_causal_mask:
            smask = _and(smask, _causal_mask(scores.shape[-2], scores.shape[-1]))
        if smask is not None:  # Keras: scores - 1e9 where masked, then softmax
            scores = scores - (1.0 - _m.cast(_a.broadcast_to(smask, tuple(scores.shape)), scores.dtype)) * 1e9
        weights = _nn.softmax(scores, axis=-1)
        result = _m.matmul(self._dropout_layer(weights, training=training), v)
        if q_mask is not None:
            result = result * _a.expand_dims(_m.cast(_bool(q_mask), result.dtype), -1)
        return (result, weights) if return_attention_scores else result

    def _calculate_scores(self, q, k):
        """The attention scores (batch, Tq, Tv) of query (batch, Tq, dim) against key (batch, Tv, dim)."""
        if self.score_mode == "dot":
            scores = _m.matmul(q, k, transpose_b=True)
            return scores * self.scale if self.scale is not None else scores
        total = _a.expand_dims(q, -2) + _a.expand_dims(k, -3)
        if self.scale is not None:
            total = total * self.scale
        return self.concat_score_weight * _m.reduce_sum(_m.tanh(total), axis=-1)

    def compute_mask(self, inputs, previous_mask):
        if previous_mask is None or not isinstance(previous_mask, (list, tuple)) or previous_mask[0] is None:
            return None
        return _bool(previous_mask[0])

    def compute_output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        return tuple(q[:-1]) + (v[-1],)

    def get_config(self):
        c = super().get_config()
        c.update({"use_scale": self.use_scale, "score_mode": self.score_mode, "dropout": self.dropout,
                  "seed": self.seed})
        return c


class AdditiveAttention(Attention):
    """Additive attention, Bahdanau-style (``keras.layers.AdditiveAttention(use_scale=True, dropout=0.0)``).

    Scores ``sum(scale * tanh(query[:, :, None] + key[:, None]), axis=-1)`` (batch, Tq, Tv) with a learned
    ``scale`` of shape (dim,) (glorot_uniform; 1 without ``use_scale``), then as :class:`Attention`: softmax over
    the value steps (masks and the causal mask applied), dropout in training, weighted sum of the values.

    Call arguments, returns and errors: as :class:`Attention`.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape=None):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) not in (2, 3) or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"AdditiveAttention layer must be called on a list of inputs, namely [query, value] or "
                             f"[query, value, key]. Received: input_shape={input_shape}.")
        self.concat_score_weight = None
        self.scale = self.add_weight(name="scale", shape=(input_shape[0][-1],), initializer="glorot_uniform") \
            if self.use_scale else None
        self.built = True

    def _calculate_scores(self, q, k):
        t = _m.tanh(_a.expand_dims(q, -2) + _a.expand_dims(k, -3))
        return _m.reduce_sum(self.scale * t if self.scale is not None else t, axis=-1)

    def get_config(self):
        c = super().get_config()
        del c["score_mode"]
        return c
