"""Recurrent layers (``keras.layers``): SimpleRNN, LSTM, GRU, their cells, ``StackedRNNCells``, the generic ``RNN``
wrapper, ``Bidirectional`` and ``TimeDistributed``, and ``Wrapper`` (Keras 3's ``layers/core/wrapper.py``: the
abstract base of wrapping layers).

Keras 3's equations, weight names and layouts, so weights transfer both ways
(``keras/src/layers/rnn/simple_rnn.py``, ``lstm.py``, ``gru.py``):

* SimpleRNN: ``h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``; kernel
  (input_dim, units), recurrent_kernel (units, units), bias (units,).
* LSTM, gates in the order **i, f, c, o** along the last axis of kernel (input_dim, 4*units),
  recurrent_kernel (units, 4*units) and bias (4*units,)::

      z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias;  z_i, z_f, z_c, z_o = split(z, 4)
      i = ra(z_i);  f = ra(z_f);  c_t = f * c_{t-1} + i * a(z_c);  o = ra(z_o);  h_t = o * a(c_t)

  with ``a = activation`` (tanh) and ``ra = recurrent_activation`` (sigmoid). ``unit_forget_bias``
  initializes the f block of the bias to ones.
* GRU, gates in the order **z, r, h**; kernel (input_dim, 3*units), recurrent_kernel
  (units, 3*units). With ``reset_after=True`` (Keras's default, cuDNN's form) bias is (2, 3*units),
  row 0 for the input projection and row 1 for the recurrent one::

      xz, xr, xh = split(x_t @ kernel + bias[0], 3);  rz, rr, rh = split(h_{t-1} @ recurrent_kernel + bias[1], 3)
      z = ra(xz + rz);  r = ra(xr + rr);  hh = a(xh + r * rh);  h_t = z * h_{t-1} + (1 - z) * hh

  With ``reset_after=False`` bias is (3*units,) and ``hh = a(xh + (r * h_{t-1}) @ recurrent_kernel[:, 2u:])``.

Execution: the input projection ``x @ kernel + bias`` of every time step is one GEMM over
(batch * timesteps, input_dim). For the built-in cells with their default activations (tanh,
sigmoid gates) the recurrence is then one op, :func:`gpuflow.ops.rnn_ops.recurrent_sequence`
(every step on preallocated buffers, backpropagation through time with one GEMM for the
recurrent kernel's gradient), covering masks, go_backwards, return_sequences/return_state,
initial_state, stateful and input dropout. The per-step path -- one step at a time with
differentiable gpuflow ops -- runs instead for custom cells or activations, when a recurrent
dropout mask is drawn (training with ``recurrent_dropout > 0``: Keras's per-gate masks), and
under nested tapes (the fused op has no second derivative; this path differentiates to any
order). Both give the same values and gradients within float32 rounding. The per-step slices
of the projection are taken by halving the time axis recursively, so the backward pass
assembles their gradients in O(T log T) work instead of the O(T^2) of T independent slices.

Dropout follows Keras's ``DropoutRNNCell``: one mask per call (the same for every time step) on
the inputs (``dropout``) and on the recurrent state (``recurrent_dropout``); LSTM and GRU draw
one mask per gate when ``recurrent_dropout > 0`` (Keras's implementation 1), one shared input
mask otherwise.
"""
from __future__ import annotations

import numpy as np

from ... import autodiff as _autodiff
from ...ops import array_ops as _a, math_ops as _m, nn_ops as _nn, rnn_ops as _rnn
from ...ops.core import convert_to_tensor, wrap
from ...tensor import Tensor
from .. import activations as _act, initializers as _init, regularizers as _regularizers
from .base import Layer, InputSpec, KerasTensor

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "RNN", "Wrapper", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
           "TimeDistributed"]


# -- helpers ------------------------------------------------------------------------------------
def _positive_units(units):
    if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
        raise ValueError(f"Received an invalid value for argument `units`, expected a positive integer, got {units}.")
    return int(units)


def _rate(value, arg):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`{arg}` must be a float between 0 and 1. Received: {arg}={value}")
    return value


def _unstack_time(x):
    """``[x[:, t] for t in range(T)]``, sliced by recursive halving (see the module docstring)."""
    out = []

    def rec(part, n):
        if n == 1:
            out.append(part[:, 0])
            return
        h = n // 2
        rec(part[:, :h], h)
        rec(part[:, h:], n - h)
    rec(x, x.shape[1])
    return out


def _flat(x):
    """A state or state size, or a nested list of them (a stacked cell's, one entry per cell), as a flat list."""
    return [v for item in x for v in _flat(item)] if isinstance(x, (list, tuple)) else [x]


def _adopt_paths(owner, sub):
    """Prefixes the variable paths of a sub-layer ``owner`` has just built with ``owner``'s name,
    as Keras 3's name scopes do (``lstm/lstm_cell/kernel``)."""
    for w in sub.weights:
        if not w.path.startswith(owner.name + "/"):
            w.path = f"{owner.name}/{w.path}"


def _serialize_layer(layer):
    """A layer as Keras 3's ``serialize_keras_object`` writes it (``{"module", "class_name", "config", ...}``)."""
    try:
        from ..saving import serialize_keras_object
    except ImportError:
        serialize_keras_object = None
    if serialize_keras_object is not None:
        return serialize_keras_object(layer)
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def _deserialize_layer(config, what):
    """A Layer from a Layer or from a serialized layer dict (``{"class_name", "config", ...}``)."""
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{what}: expected a Layer or a serialized layer config. Received: {config!r:.200}")
    try:
        from ..saving import deserialize_keras_object
    except ImportError:
        deserialize_keras_object = None
    if deserialize_keras_object is not None:
        return deserialize_keras_object(config)
    from .. import layers as _layers
    cls = getattr(_layers, config["class_name"], None)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"{what}: unknown layer class {config['class_name']!r}.")
    return cls.from_config(config["config"])


def _split_packed(inputs, initial_state):
    """``(sequences, initial_state)`` from a call's arguments: a list input is ``[sequences, *initial_states]``.

    That is how a symbolic call with ``initial_state`` is recorded (see ``_pack_symbolic``), so a
    functional model replays it with the states as inputs of the node.
    """
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise ValueError("Expected a sequence tensor or a list [sequences, *initial_states]. Received: []")
        if len(inputs) > 1:
            if initial_state is not None:
                raise ValueError("Received initial states both in a list input and in `initial_state`.")
            initial_state = list(inputs[1:])
        inputs = inputs[0]
    return inputs, initial_state


def _first_shape(shape):
    """The sequence shape of a call's input shape (the first one of a list ``[sequences, *states]``)."""
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return tuple(shape[0])
    return tuple(shape)


def _pack_symbolic(layer, inputs, initial_state):
    """Symbolic inputs with the initial states appended, so a functional model records them as inputs."""
    if initial_state is None:
        return inputs
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
    if not all(isinstance(s, KerasTensor) for s in states):
        raise ValueError(f'Layer "{layer.name}" was called on a symbolic input with a non-symbolic initial_state: '
                         f"in a functional model, pass initial states that come from keras.Input or other layers.")
    return [inputs] + states


def _dropout_mask(shape, rate, dtype, rng):
    """A Keras dropout mask: ``1 / (1 - rate)`` with probability ``1 - rate``, else 0 (a constant Tensor)."""
    seed = None if rng is None else int(rng.integers(0, 2 ** 31 - 1))
    return _nn.dropout(_a.ones(shape, dtype), rate, seed=seed)


def _fused_kind(cell, masks):
    """The :func:`~gpuflow.ops.rnn_ops.recurrent_sequence` cell name for a built-in cell this call can run
    fused, else None (the per-step path): tanh activation and sigmoid gates, no recurrent dropout mask in
    this call (per-gate masks), and at most one tape recording (the fused op has no second derivative, so
    under nested tapes the differentiable per-step ops run instead)."""
    kind = _FUSED.get(type(cell))
    if kind is None or masks[1] is not None or cell.activation is not _act.tanh or _autodiff.recording_tape_count() > 1:
        return None
    if (masks[0] is not None and len(masks[0]) > 1) or \
            (type(cell) is not SimpleRNNCell and cell.recurrent_activation is not _act.sigmoid):
        return None
    if type(cell) is GRUCell and not cell.reset_after:
        return "gru_reset_before"
    return kind


# -- cells ------------------------------------------------------------------------------------
class _Cell(Layer):
    """Shared machinery of the built-in cells.

    A cell computes one time step: ``call(inputs, states, training)`` -> ``(output, new_states)``
    (Keras's cell API). The ``RNN`` layer drives built-in cells through the split form:
    ``_project`` (inputs of every step at once) then ``_step`` per time step.
    """

    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)  # Keras's execution hint; one implementation here
        super().__init__(**kwargs)
        self._set_weight_options(kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                                 bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                                 recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)
        self.units = _positive_units(units)
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.recurrent_initializer = _init.get(recurrent_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self._seed_rng = np.random.default_rng(seed) if seed is not None else None
        self.state_size = self.units
        self.output_size = self.units

    # Keras's per-gate masks (implementation 1) only when recurrent dropout is on
    def _mask_count(self):
        return self._gates if (self._gates > 1 and self.recurrent_dropout > 0) else None

    def _masks(self, batch, input_dim, training):
        """``(input_masks, recurrent_masks)``: None, or a list of one mask per gate (or a single one)."""
        if not training:
            return None, None
        count = self._mask_count()
        n = count or 1
        dt = self.compute_dtype
        inp = [_dropout_mask((batch, input_dim), self.dropout, dt, self._seed_rng) for _ in range(n)] \
            if 0.0 < self.dropout < 1.0 else None
        rec = [_dropout_mask((batch, self.units), self.recurrent_dropout, dt, self._seed_rng) for _ in range(n)] \
            if 0.0 < self.recurrent_dropout < 1.0 else None
        return inp, rec

    def _build_weights(self, input_dim, bias_shape, bias_initializer=None):
        g = self._gates
        self.kernel = self.add_weight(shape=(input_dim, g * self.units), name="kernel",
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, g * self.units), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(shape=bias_shape, name="bias", initializer=bias_initializer or
                                    self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _input_bias(self):
        return self.bias

    def _project(self, x, masks):
        """``x @ kernel + input bias`` for x of shape (..., input_dim), as one GEMM over the leading axes."""
        lead = tuple(x.shape[:-1])
        x2 = _a.reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
        inp = masks[0]
        if inp is None:
            p = _m.matmul(x2, self.kernel)
        else:
            u = self.units
            if x.ndim == 3:  # masks are per sequence: broadcast over time
                inp = [_a.reshape(_a.broadcast_to(_a.expand_dims(m, 1), lead + (m.shape[-1],)), (-1, m.shape[-1]))
                       for m in inp]
            if len(inp) == 1:
                p = _m.matmul(x2 * inp[0], self.kernel)
            else:
                p = _a.concat([_m.matmul(x2 * m, self.kernel[:, g * u:(g + 1) * u]) for g, m in enumerate(inp)],
                              axis=-1)
        b = self._input_bias()
        if b is not None:
            p = p + b
        return _a.reshape(p, lead + (p.shape[-1],)) if x.ndim != 2 else p

    def _recurrent(self, h, masks, kernel, gates=None):
        """``h @ kernel`` with the recurrent dropout masks (one per gate block of ``kernel``) applied."""
        rec = masks[1]
        if rec is None:
            return _m.matmul(h, kernel)
        if len(rec) == 1:
            return _m.matmul(h * rec[0], kernel)
        u = self.units
        gates = gates if gates is not None else range(len(rec))
        return _a.concat([_m.matmul(h * rec[g], kernel[:, i * u:(i + 1) * u]) for i, g in enumerate(gates)], axis=-1)

    def build(self, input_shape):
        raise NotImplementedError

    def _step(self, p, states, masks):
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        """One time step (Keras's cell API): ``inputs`` (batch, input_dim), ``states`` a list of (batch, units).

        Returns:
            ``(output, new_states)``, new_states a list.
        """
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        states = [convert_to_tensor(s, dtype=self.compute_dtype) if not isinstance(s, Tensor) else s for s in states]
        masks = self._masks(inputs.shape[0], inputs.shape[-1], training)
        return self._step(self._project(inputs, masks), states, masks)

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [_a.zeros((batch_size, d), self.compute_dtype) for d in sizes]

    def _base_config(self):
        c = super().get_config()
        c.update({"units": self.units, "activation": _act.serialize(self.activation), "use_bias": self.use_bias,
                  "kernel_initializer": _init.serialize(self.kernel_initializer),
                  "recurrent_initializer": _init.serialize(self.recurrent_initializer),
                  "bias_initializer": _init.serialize(self.bias_initializer),
                  **self._weight_options_config("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                                                "kernel_constraint", "recurrent_constraint", "bias_constraint"),
                  "dropout": self.dropout,
                  "recurrent_dropout": self.recurrent_dropout, "seed": self.seed})
        return c


class SimpleRNNCell(_Cell):
    """Cell of :class:`SimpleRNN` (``keras.layers.SimpleRNNCell``).

    ``h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)``; states ``[h]``.
    """

    _gates = 1

    def build(self, input_shape):
        self._build_weights(input_shape[-1], (self.units,))
        self.built = True

    def _step(self, p, states, masks):
        h = self.activation(p + self._recurrent(states[0], masks, self.recurrent_kernel))
        return h, [h]

    def get_config(self):
        return self._base_config()


class LSTMCell(_Cell):
    """Cell of :class:`LSTM` (``keras.layers.LSTMCell``); gate order i, f, c, o (see the module docstring).

    States ``[h, c]``; ``unit_forget_bias=True`` initializes the forget-gate block of the bias to 1.
    """

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = _act.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        init = None
        if self.use_bias and self.unit_forget_bias:
            u, base = self.units, self.bias_initializer

            def init(shape, dtype=None):  # Keras: [bias_init(u), ones(u), bias_init(2u)]
                parts = [np.asarray(convert_to_tensor(base((u,), dtype=dtype)).numpy()), np.ones((u,)),
                         np.asarray(convert_to_tensor(base((2 * u,), dtype=dtype)).numpy())]
                return convert_to_tensor(np.concatenate(parts).astype(dtype or "float32"))
        self._build_weights(input_shape[-1], (4 * self.units,), init)
        self.built = True

    def _step(self, p, states, masks):
        h_prev, c_prev = states[0], states[1]
        u = self.units
        z = p + self._recurrent(h_prev, masks, self.recurrent_kernel)
        ra, a = self.recurrent_activation, self.activation
        i = ra(z[:, :u])
        f = ra(z[:, u:2 * u])
        c = f * c_prev + i * a(z[:, 2 * u:3 * u])
        o = ra(z[:, 3 * u:])
        h = o * a(c)
        return h, [h, c]

    def get_config(self):
        c = self._base_config()
        c.update({"recurrent_activation": _act.serialize(self.recurrent_activation),
                  "unit_forget_bias": self.unit_forget_bias})
        return c


class GRUCell(_Cell):
    """Cell of :class:`GRU` (``keras.layers.GRUCell``); gate order z, r, h (see the module docstring)."""

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.recurrent_activation = _act.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def build(self, input_shape):
        self._build_weights(input_shape[-1], (2, 3 * self.units) if self.reset_after else (3 * self.units,))
        self.built = True

    def _input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def _step(self, p, states, masks):
        h_prev = states[0]
        u = self.units
        ra, a = self.recurrent_activation, self.activation
        if self.reset_after:
            r_all = self._recurrent(h_prev, masks, self.recurrent_kernel)
            if self.bias is not None:
                r_all = r_all + self.bias[1]
            z = ra(p[:, :u] + r_all[:, :u])
            r = ra(p[:, u:2 * u] + r_all[:, u:2 * u])
            hh = a(p[:, 2 * u:] + r * r_all[:, 2 * u:])
        else:
            r_zr = self._recurrent(h_prev, masks, self.recurrent_kernel[:, :2 * u], gates=(0, 1))
            z = ra(p[:, :u] + r_zr[:, :u])
            r = ra(p[:, u:2 * u] + r_zr[:, u:])
            h_in = h_prev if masks[1] is None else h_prev * masks[1][-1]
            hh = a(p[:, 2 * u:] + _m.matmul(r * h_in, self.recurrent_kernel[:, 2 * u:]))
        h = z * h_prev + (1.0 - z) * hh
        return h, [h]

    def get_config(self):
        c = self._base_config()
        c.update({"recurrent_activation": _act.serialize(self.recurrent_activation), "reset_after": self.reset_after})
        return c


_FUSED = {SimpleRNNCell: "simple_rnn", LSTMCell: "lstm", GRUCell: "gru"}


# -- the RNN layer --------------------------------------------------------------------------------
def _first_mask(mask):
    """The sequence's mask out of a call's ``mask`` (a list when the call packed the initial states)."""
    while isinstance(mask, (list, tuple)):
        mask = mask[0] if mask else None
    return mask


class StackedRNNCells(Layer):
    """Several RNN cells run as one (``keras.layers.StackedRNNCells(cells)``): at each step the output of a cell is
    the input of the next; ``RNN([cell1, cell2])`` wraps its list in one.

    ``state_size`` is the list of the cells' state sizes (nested, as Keras), ``output_size`` the last cell's.
    The call takes the states nested per cell (a list for a cell of several states, else one tensor) or flat, in
    the cells' order, and returns ``(output, new_states)`` nested per cell (a single cell's states unwrapped), as
    Keras's. Weights: each cell's, in the cells' order. Config: ``cells``, the serialized cells.

    Inside ``RNN`` the states are flat: ``RNN(cells, return_state=True)`` returns ``(output, *states)`` with every
    cell's states in order, where Keras nests each multi-state cell's states in a list.

    Raises:
        ValueError: a cell without a ``call`` method or a ``state_size`` (Keras's messages).
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if "call" not in dir(cell):
                raise ValueError(f"All cells must have a `call` method. Received cell without a `call` method: {cell}")
            if "state_size" not in dir(cell):
                raise ValueError(f"All cells must have a `state_size` attribute. Received cell without a "
                                 f"`state_size`: {cell}")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @staticmethod
    def _output_dim(cell):
        if getattr(cell, "output_size", None) is not None:
            return cell.output_size
        return cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else cell.state_size

    @property
    def output_size(self):
        return self._output_dim(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                states.append(fn(batch_size=batch_size))
            elif isinstance(cell.state_size, (int, np.integer)):
                states.append(_a.zeros((batch_size, cell.state_size), self.compute_dtype))
            else:
                states.append([_a.zeros((batch_size, d), self.compute_dtype) for d in cell.state_size])
        return states

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell._maybe_build(tuple(input_shape))
                _adopt_paths(self, cell)  # Keras's paths: rnn/stacked_rnn_cells/lstm_cell/kernel
            input_shape = (input_shape[0], self._output_dim(cell))
        self.built = True

    def call(self, inputs, states, training=False):
        flat = _flat(states)
        new_states, i = [], 0
        for cell in self.cells:
            n = len(_flat(cell.state_size))
            kw = {"training": training} if getattr(cell, "_call_has_training", False) else {}
            inputs, cell_states = cell(inputs, flat[i:i + n], **kw)
            i += n
            cell_states = _flat(cell_states)
            new_states.append(cell_states if isinstance(cell.state_size, (list, tuple)) else cell_states[0])
        return inputs, new_states[0] if len(new_states) == 1 else new_states

    def get_config(self):
        c = super().get_config()
        c["cells"] = [_serialize_layer(cell) for cell in self.cells]
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cells = [_deserialize_layer(c, "StackedRNNCells.from_config") for c in config.pop("cells")]
        dt = config.get("dtype")
        if isinstance(dt, dict):
            config["dtype"] = dt.get("config", {}).get("name", "float32")
        return cls(cells, **config)


class RNN(Layer):
    """Runs a cell over the time axis (``keras.layers.RNN``); base of SimpleRNN, LSTM and GRU.

    Input (batch, timesteps, features). Output (batch, units), or (batch, timesteps, units) with
    ``return_sequences``; with ``return_state`` the call returns ``(output, *final_states)``.

    Args:
        cell: a cell layer: ``call(inputs, states)`` -> ``(output, new_states)`` and a ``state_size``
            attribute (the built-in cells, or a custom one).
        return_sequences: return every step's output instead of the last one.
        return_state: also return the final states.
        go_backwards: process the sequence in reverse; the returned sequence is in processing
            order (reversed), as Keras.
        stateful: keep the final states of each batch as the initial states of the next
            (needs a fixed batch size; ``reset_states()`` zeroes them).
        unroll: accepted for compatibility (the loop is always unrolled here).
        zero_output_for_mask: with a ``mask``, masked steps output zeros instead of the previous output.

    Call arguments:
        sequences: (batch, timesteps, features).
        initial_state: a tensor or list of tensors, one (batch, state_size) per state.
        mask: optional (batch, timesteps) booleans: masked steps keep the previous states.
        training: enables dropout.

    Raises:
        ValueError: an input that is not rank 3; ``initial_state`` with the wrong number or shape
            of tensors; ``stateful=True`` with an unknown batch size.
    """

    _sequence_ndim = 3  # (batch, timesteps, features); ConvLSTM's steps are images: rank + 3

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell, dtype=kwargs.get("dtype"))  # Keras: a list of cells runs as one cell
        cell = _deserialize_layer(cell, "RNN `cell`") if isinstance(cell, dict) else cell
        if not hasattr(cell, "call"):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: cell={cell}")
        if not hasattr(cell, "state_size"):
            raise ValueError(f"The RNN cell should have a `state_size` attribute (single integer or list of integers, "
                             f"one integer per RNN state). Received: cell={cell}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.state_size = [int(d) for d in _flat(cell.state_size)]  # a stacked cell's nested sizes, flattened
        self.states = None
        self.input_spec = InputSpec(ndim=self._sequence_ndim)

    @property
    def _output_size(self):
        return int(getattr(self.cell, "output_size", None) or self.state_size[0])

    def _symbolic_call(self, inputs, *args, training=None, initial_state=None, **kwargs):
        return super()._symbolic_call(_pack_symbolic(self, inputs, initial_state), *args, training=training,
                                      **kwargs)

    def build(self, sequences_shape, initial_state_shape=None):
        sequences_shape = _first_shape(sequences_shape)
        if len(sequences_shape) != self._sequence_ndim:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f'ndim={self._sequence_ndim}, '
                             f"found ndim={len(sequences_shape)}. Full shape received: {tuple(sequences_shape)}")
        if sequences_shape[-1] is None:
            raise ValueError(f'Layer "{self.name}": the last dimension (features) of the input must be known. '
                             f"Received: input_shape={tuple(sequences_shape)}")
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell._maybe_build((sequences_shape[0],) + tuple(sequences_shape[2:]))
            _adopt_paths(self, self.cell)
        if self.stateful:
            if sequences_shape[0] is None:
                raise ValueError(f"When using `stateful=True` in a RNN, the batch size must be static. Found dynamic "
                                 f"batch size: sequence.shape={tuple(sequences_shape)}")
            self._create_state_variables(sequences_shape[0])
        self.input_spec = InputSpec(ndim=self._sequence_ndim, axes={-1: sequences_shape[-1]})
        self.built = True

    def _create_state_variables(self, batch_size):
        from ...tensor import Variable
        self.states = [Variable(_a.zeros((batch_size, d), self.compute_dtype), trainable=False, name="rnn_state")
                       for d in self.state_size]

    def reset_states(self):
        self.reset_state()

    def reset_state(self):
        """Zeroes the states of a stateful layer."""
        if self.states is not None:
            for v in self.states:
                v.assign(np.zeros(tuple(v.shape), dtype=v.dtype.as_numpy_dtype))

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            return _flat(fn(batch_size=batch_size))
        return [_a.zeros((batch_size, d), self.compute_dtype) for d in self.state_size]

    def _initial_states(self, initial_state, batch):
        if initial_state is None:
            if self.stateful and self.states is not None:
                return [v.value() for v in self.states]
            return self.get_initial_state(batch)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != len(self.state_size):
            raise ValueError(f'Layer "{self.name}" expects {len(self.state_size)} initial state tensor(s) '
                             f"(state_size={self.state_size}). Received: initial_state with {len(states)} tensor(s).")
        out = []
        for i, (s, d) in enumerate(zip(states, self.state_size)):
            s = s if isinstance(s, Tensor) else convert_to_tensor(np.asarray(s), dtype=self.compute_dtype)
            if s.dtype.name != self.compute_dtype:
                s = _m.cast(s, self.compute_dtype)
            if tuple(s.shape) != (batch, d):
                raise ValueError(f'Layer "{self.name}": initial_state[{i}] must have shape (batch_size, state_size)='
                                 f"{(batch, d)}. Received: shape={tuple(s.shape)}")
            out.append(s)
        return out

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x, initial_state = _split_packed(sequences, initial_state)
        mask = _first_mask(mask)
        if x.ndim != self._sequence_ndim:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f'ndim={self._sequence_ndim}, '
                             f"found ndim={x.ndim}. Full shape received: {tuple(x.shape)}")
        batch, steps = x.shape[0], x.shape[1]
        if steps == 0:
            raise ValueError(f'Layer "{self.name}" received a sequence with 0 timesteps. Full shape: {tuple(x.shape)}')
        states = self._initial_states(initial_state, batch)
        cell = self.cell
        if isinstance(cell, _Cell):
            masks = cell._masks(batch, x.shape[-1], training)
            if _fused_kind(cell, masks) is not None:
                return self._call_fused(x, states, masks, self._time_mask(mask, batch, steps))
            inputs = _unstack_time(cell._project(x, masks))

            def step(p, s):
                return cell._step(p, s, masks)
        else:
            inputs = _unstack_time(x)
            kw = {"training": training} if getattr(cell, "_call_has_training", False) else {}

            def step(x_t, s):
                out, new = cell(x_t, list(s), **kw)
                return out, _flat(new)
        masks_t = None
        m = self._time_mask(mask, batch, steps)
        if m is not None:
            masks_t = [m[:, t:t + 1] for t in range(steps)]
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, out, prev = [], None, None
        for t in order:
            out, new_states = step(inputs[t], states)
            if masks_t is not None:
                keep = masks_t[t]
                if prev is None:
                    prev = _a.zeros_like(out)
                out = _m.where(keep, out, _a.zeros_like(out) if self.zero_output_for_mask else prev)
                new_states = [_m.where(keep, n, s) for n, s in zip(new_states, states)]
                prev = out
            states = list(new_states)
            if self.return_sequences:
                outputs.append(out)
        output = _a.stack(outputs, axis=1) if self.return_sequences else out
        return self._finish(output, states)

    def _finish(self, output, states):
        if self.stateful and self.states is not None:
            for v, s in zip(self.states, states):
                v.assign(s)  # on the device: no host copy
        if self.return_state:
            return (output,) + tuple(states)
        return output

    def _time_mask(self, mask, batch, steps):
        """The call's ``mask`` as a (batch, timesteps) bool tensor, or None."""
        if mask is None:
            return None
        m = convert_to_tensor(mask)
        if m.dtype.name != "bool":
            m = _m.not_equal(m, _a.zeros_like(m))
        if tuple(m.shape) != (batch, steps):
            raise ValueError(f'Layer "{self.name}": the mask must have shape (batch, timesteps)={(batch, steps)}. '
                             f"Received: mask.shape={tuple(m.shape)}")
        return m

    def _call_fused(self, x, states, masks, mask):
        """The built-in cells' recurrence as one :func:`~gpuflow.ops.rnn_ops.recurrent_sequence` op.

        Time-major: x (batch, T, F) -> (T, batch, F), reversed for ``go_backwards``; the op does the
        input projection of every step too, and returns the states after every step in its layout,
        (n_states, T, units, batch), transposed here to the layer's. With a mask, a masked step's output is the last unmasked step's output (which is the held state)
        or zeros before the first one -- the states times "some step so far was unmasked" -- or
        zeros with ``zero_output_for_mask``; a constant factor, so no per-step ops.
        """
        cell = self.cell
        kind = _fused_kind(cell, masks)
        xt = _a.transpose(x, (1, 0, 2))
        if self.go_backwards:
            xt = xt[::-1]
        if masks[0] is not None:  # one input mask per sequence, broadcast over time
            xt = xt * masks[0][0]
        rec_bias = cell.bias[1] if kind == "gru" and cell.bias is not None else None
        seq = _rnn.recurrent_sequence(kind, xt, cell.kernel, cell.recurrent_kernel, states, cell._input_bias(),
                                      rec_bias,
                                      None if mask is None else _a.transpose(mask)[::-1 if self.go_backwards else 1],
                                      return_sequences=self.return_sequences)
        # the op's layout, batch last: (n_states, T, units, batch), or the final states (n_states, units, batch)
        final = seq[:, -1] if self.return_sequences else seq
        states = [_a.transpose(final[k]) for k in range(len(states))]
        keep = None
        if mask is not None:
            m = _a.transpose(mask)._data[::-1 if self.go_backwards else 1]
            keep = m if self.zero_output_for_mask else seq._backend.xp.cumsum(m, axis=0) > 0
            keep = wrap(keep.astype(seq._data.dtype), seq)
        if self.return_sequences:
            h = seq[0] if keep is None else seq[0] * _a.expand_dims(keep, 1)
            output = _a.transpose(h, (2, 0, 1))
        else:
            output = states[0] if keep is None else states[0] * _a.expand_dims(keep[-1], 1)
        return self._finish(output, states)

    def compute_mask(self, inputs, previous_mask):
        """Keras 3's rule: the input's time mask for ``return_sequences``, else None; None for each state."""
        mask = _first_mask(previous_mask)
        output_mask = mask if self.return_sequences else None
        return [output_mask] + [None] * len(self.state_size) if self.return_state else output_mask

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        sequences_shape = _first_shape(sequences_shape)
        batch, steps = sequences_shape[0], sequences_shape[1]
        out = (batch, steps, self._output_size) if self.return_sequences else (batch, self._output_size)
        if self.return_state:
            return [out] + [(batch, d) for d in self.state_size]
        return out

    def get_config(self):
        c = super().get_config()
        c.update({"return_sequences": self.return_sequences, "return_state": self.return_state,
                  "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask})
        c["cell"] = _serialize_layer(self.cell)
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cell = _deserialize_layer(config.pop("cell"), f"{cls.__name__}.from_config")
        dt = config.get("dtype")
        if isinstance(dt, dict):
            config["dtype"] = dt.get("config", {}).get("name", "float32")
        return cls(cell, **config)


class _KerasRNN(RNN):
    """SimpleRNN/LSTM/GRU: the cell is built from the layer's own arguments and its config is flattened."""

    _cell_cls = None
    _cell_name = None
    _cell_args = ()

    def __init__(self, cell_kwargs, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, activity_regularizer=None, use_cudnn="auto", **kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"Invalid valid received for argument `use_cudnn`. Expected one of {{'auto', True, False}}. "
                             f"Received: use_cudnn={use_cudnn}")
        cell = self._cell_cls(dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                              name=self._cell_name, implementation=kwargs.pop("implementation", 2), **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, activity_regularizer=activity_regularizer,
                         **kwargs)
        self.use_cudnn = use_cudnn

    def __getattr__(self, name):  # units, activation, dropout, ... read through to the cell, as Keras's properties
        if name in type(self)._cell_args and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        c = Layer.get_config(self)
        c.update({"return_sequences": self.return_sequences, "return_state": self.return_state,
                  "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask})
        cell = self.cell.get_config()
        for k in type(self)._cell_args:
            c[k] = _regularizers.serialize(self.activity_regularizer) if k == "activity_regularizer" else cell[k]
        return c

    @classmethod
    def from_config(cls, config):
        return Layer.from_config.__func__(cls, config)


# The flattened config keys of each layer, in Keras 3's order.
_REGS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
         "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout")
_INITS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")


class SimpleRNN(_KerasRNN):
    """Fully-connected RNN whose output is fed back as its state (``keras.layers.SimpleRNN``).

    ``h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``; weights (in the
    cell ``simple_rnn_cell``) kernel (input_dim, units), recurrent_kernel (units, units), bias
    (units,). Call arguments and outputs: see :class:`RNN`.
    """

    _cell_cls = SimpleRNNCell
    _cell_name = "simple_rnn_cell"
    _cell_args = ("units", "activation", "use_bias") + _INITS + _REGS

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 seed=None, **kwargs):
        super().__init__(dict(units=units, activation=activation, use_bias=use_bias,
                              kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                              bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                              recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                              kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                              bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                              seed=seed),
                         return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                         stateful=stateful, unroll=unroll, activity_regularizer=activity_regularizer, **kwargs)


class LSTM(_KerasRNN):
    """Long Short-Term Memory layer (``keras.layers.LSTM``; Hochreiter & Schmidhuber 1997).

    Equations, gate order (i, f, c, o) and weight layout as Keras 3 (module docstring); weights
    in the cell ``lstm_cell``: kernel (input_dim, 4*units), recurrent_kernel (units, 4*units),
    bias (4*units,). States ``[h, c]``: with ``return_state`` the call returns
    ``(output, h, c)``. Call arguments: see :class:`RNN`.
    """

    _cell_cls = LSTMCell
    _cell_name = "lstm_cell"
    _cell_args = ("units", "activation", "recurrent_activation", "use_bias") + _INITS + ("unit_forget_bias",) + \
        _REGS + ("seed",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        super().__init__(dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                              use_bias=use_bias, kernel_initializer=kernel_initializer,
                              recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                              unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
                              recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                              kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                              bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                              seed=seed),
                         return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                         stateful=stateful, unroll=unroll, activity_regularizer=activity_regularizer,
                         use_cudnn=use_cudnn, **kwargs)


class GRU(_KerasRNN):
    """Gated Recurrent Unit layer (``keras.layers.GRU``; Cho et al. 2014), Keras 3's defaults
    (``reset_after=True``, the form cuDNN uses).

    Gate order (z, r, h) and weight layout as Keras 3 (module docstring); weights in the cell
    ``gru_cell``: kernel (input_dim, 3*units), recurrent_kernel (units, 3*units), bias
    (2, 3*units) -- or (3*units,) with ``reset_after=False``. Call arguments: see :class:`RNN`.
    """

    _cell_cls = GRUCell
    _cell_name = "gru_cell"
    _cell_args = ("units", "activation", "recurrent_activation", "use_bias") + _INITS + _REGS + \
        ("reset_after", "seed")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        super().__init__(dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                              use_bias=use_bias, kernel_initializer=kernel_initializer,
                              recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                              kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                              bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                              recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                              dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after,
                              seed=seed),
                         return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                         stateful=stateful, unroll=unroll, activity_regularizer=activity_regularizer,
                         use_cudnn=use_cudnn, **kwargs)


# -- wrappers --------------------------------------------------------------------------------------
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, merging the two (``keras.layers.Bidirectional``).

    The copies are ``forward_<name>`` and ``backward_<name>`` (``go_backwards=True``), built from
    ``layer``'s config (``layer``'s own weights are not used, as in Keras). The backward output
    sequence is flipped back to input order before merging. Weights: the forward layer's, then the
    backward layer's.

    Args:
        layer: an RNN layer (SimpleRNN, LSTM, GRU, RNN).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or None (a list of both).
        backward_layer: optional explicit backward layer.

    Call arguments: as :class:`RNN`; ``initial_state`` lists the forward states, then the
    backward ones. With ``return_state`` the call returns ``(output, *forward_states, *backward_states)``.

    Raises:
        ValueError: ``layer`` not a Layer, an unknown merge_mode, or forward and backward layers that
            disagree (Keras's checks).
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if isinstance(layer, dict):
            layer = _deserialize_layer(layer, "Bidirectional `layer`")
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `Bidirectional` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer}")
        if isinstance(backward_layer, dict):
            backward_layer = _deserialize_layer(backward_layer, "Bidirectional `backward_layer`")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"`backward_layer` need to be a `keras.layers.Layer` instance. Received: {backward_layer}")
        if merge_mode not in ["sum", "mul", "ave", "concat", None]:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}')
        super().__init__(**kwargs)
        cfg = dict(layer.get_config())
        base = layer.name[len("forward_"):] if layer.name.startswith("forward_") else layer.name
        cfg["name"] = f"forward_{base}"
        self.forward_layer = type(layer).from_config(cfg)
        if backward_layer is None:
            cfg = dict(layer.get_config())
            cfg["go_backwards"] = True
            base = layer.name[len("backward_"):] if layer.name.startswith("backward_") else layer.name
            cfg["name"] = f"backward_{base}"
            self.backward_layer = type(layer).from_config(cfg)
        else:
            self.backward_layer = backward_layer
        fw, bw = self.forward_layer, self.backward_layer
        if fw.go_backwards == bw.go_backwards:
            raise ValueError(f"Forward layer and backward layer should have different `go_backwards` value. "
                             f"Received: forward_layer.go_backwards {fw.go_backwards}, "
                             f"backward_layer.go_backwards={bw.go_backwards}")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(fw, a) != getattr(bw, a):
                raise ValueError(f'Forward layer and backward layer are expected to have the same value for attribute '
                                 f'"{a}", got "{getattr(fw, a)}" for forward layer and "{getattr(bw, a)}" for '
                                 f"backward layer")
        for sub in (fw, bw):
            if getattr(sub, "zero_output_for_mask", None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.input_spec = layer.input_spec
        self._initial_weights = weights

    def _symbolic_call(self, inputs, *args, training=None, initial_state=None, **kwargs):
        return super()._symbolic_call(_pack_symbolic(self, inputs, initial_state), *args, training=training,
                                      **kwargs)

    def build(self, sequences_shape, initial_state_shape=None):
        sequences_shape = _first_shape(sequences_shape)
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub._maybe_build(tuple(sequences_shape))
                _adopt_paths(self, sub)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        sequences, initial_state = _split_packed(sequences, initial_state)
        kw = {"training": training}
        mask = _first_mask(mask)
        if mask is not None:
            kw["mask"] = mask
        fw_state = bw_state = None
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            fw_state, bw_state = states[:half], states[half:]
        y = self.forward_layer(sequences, initial_state=fw_state, **kw)
        y_rev = self.backward_layer(sequences, initial_state=bw_state, **kw)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        if self.merge_mode == "concat":
            out = _a.concat([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) / 2.0
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:
            out = (y, y_rev)
        if self.return_state:
            return (out + states) if self.merge_mode is None else (out,) + states
        return out

    def compute_mask(self, inputs, previous_mask):
        """Keras 3's rule: the input's time mask for ``return_sequences`` (once per output with
        ``merge_mode=None``), else None; None for each state."""
        mask = _first_mask(previous_mask) if self.return_sequences else None
        output_mask = [mask, mask] if self.merge_mode is None else [mask]
        if self.return_state:
            return output_mask + [None] * (2 * len(self.forward_layer.state_size))
        return output_mask if self.merge_mode is None else mask

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        out = self.forward_layer.compute_output_shape(_first_shape(sequences_shape))
        state_shapes = []
        if self.return_state:
            out, state_shapes = out[0], list(out[1:])
        if self.merge_mode == "concat":
            out = tuple(out[:-1]) + (out[-1] * 2,)
        if self.merge_mode is None:
            shapes = [tuple(out), tuple(out)]
        else:
            shapes = [tuple(out)]
        if self.return_state or self.merge_mode is None:
            return shapes + state_shapes + state_shapes
        return tuple(out)

    def reset_states(self):
        self.reset_state()

    def reset_state(self):
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def get_config(self):
        c = super().get_config()
        c["merge_mode"] = self.merge_mode
        c["layer"] = _serialize_layer(self.forward_layer)
        c["backward_layer"] = _serialize_layer(self.backward_layer)
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = _deserialize_layer(config["layer"], "Bidirectional.from_config")
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deserialize_layer(config["backward_layer"], "Bidirectional.from_config")
        return Layer.from_config.__func__(cls, config)


class Wrapper(Layer):
    """Abstract wrapper base class (``keras.layers.Wrapper(layer)``).

    Raises:
        ValueError: ``layer`` that is not a Layer (Keras's message).
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer type. Please ensure wrapped "
                             f"layer is a valid Keras layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._maybe_build(input_shape)
            _adopt_paths(self, self.layer)
        self.built = True

    def get_config(self):
        c = super().get_config()
        c["layer"] = _serialize_layer(self.layer)
        return c

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = _deserialize_layer(config.pop("layer"), f"{cls.__name__}.from_config")
        dt = config.get("dtype")
        if isinstance(dt, dict):
            config["dtype"] = dt.get("config", {}).get("name", "float32")
        return cls(layer, **config)


class TimeDistributed(Layer):
    """Applies a layer to every time step of the input (``keras.layers.TimeDistributed``).

    Input (batch, timesteps, ...) -> (batch, timesteps, *layer_output[1:]); the wrapped layer's
    weights are shared across steps (they are its own). The steps run as one call on
    (batch * timesteps, ...) -- the same result for layers that treat examples independently --
    except when the wrapped layer contains a BatchNormalization, whose batch statistics Keras 3
    computes per time step: that case loops over the steps, as Keras does.

    Raises:
        ValueError: ``layer`` not a Layer, or an input of rank < 3 (Keras's messages).
    """

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):
            layer = _deserialize_layer(layer, "TimeDistributed `layer`")
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `TimeDistributed` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True  # the time mask passes through, as Keras

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"`TimeDistributed` Layer should be passed an `input_shape` with at least 3 dimensions, "
                             f"received: {input_shape}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        child = self._child_shape(input_shape)
        if not self.layer.built:
            self.layer._maybe_build(child)
            _adopt_paths(self, self.layer)
        self.built = True

    def compute_output_shape(self, input_shape):
        out = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (out[0], input_shape[1]) + tuple(out[1:])

    def _per_step(self):
        from .normalization import BatchNormalization
        return any(isinstance(l, BatchNormalization) for l in [self.layer] + list(self.layer._flatten_layers()))

    def call(self, inputs, training=None):
        self._child_shape(tuple(inputs.shape))
        n, t = inputs.shape[0], inputs.shape[1]
        if self._per_step():
            return _a.stack([self.layer(x_t, training=training) for x_t in _unstack_time(inputs)], axis=1)
        y = self.layer(_a.reshape(inputs, (n * t,) + tuple(inputs.shape[2:])), training=training)
        return _a.reshape(y, (n, t) + tuple(y.shape[1:]))

    def get_config(self):
        c = super().get_config()
        c["layer"] = _serialize_layer(self.layer)
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = _deserialize_layer(config["layer"], "TimeDistributed.from_config")
        return Layer.from_config.__func__(cls, config)
