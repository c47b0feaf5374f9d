"""``keras.layers.ConvLSTM1D/2D/3D`` (Keras 3.15's ``keras/src/layers/rnn/conv_lstm.py``): an LSTM whose input and
recurrent transformations are convolutions.

At each step, with ``*`` a convolution and the gates in Keras's order i, f, c, o along the kernels' last axis::

    z = inputs * kernel + bias + h * recurrent_kernel      (the recurrent convolution: stride 1, "same")
    i, f, o = recurrent_activation(z_i, z_f, z_o);  c = f * c + i * activation(z_c);  h = o * activation(c)

Weights, Keras's names and shapes: ``kernel`` (*kernel_size, channels, 4 * filters), ``recurrent_kernel``
(*kernel_size, filters, 4 * filters), ``bias`` (4 * filters,) (its f block ones with ``unit_forget_bias``). The four
gates are computed together (one convolution of each kind, then a split), which equals Keras's one convolution per
gate; in training with ``dropout``/``recurrent_dropout``, Keras's four masks per sequence (one per gate, on the
inputs and on the state) need one convolution per gate, as Keras; the 1-D layer runs the 2-D convolution at height 1 and the 3-D one :func:`.conv3d.conv3d`. The time loop is
:class:`~gpuflow.keras.layers.RNN`'s (masks, go_backwards, return_sequences, return_state).
"""
from __future__ import annotations

import numpy as np

from ...ops import array_ops as _a, nn_ops as _nn
from .. import activations as _act, initializers as _init
from .base import Layer, InputSpec
from .base_conv import conv_output_shape, normalize_data_format, normalize_padding, normalize_tuple
from .conv3d import conv3d
from .rnn import RNN

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

_CELL_KEYS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
              "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
              "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed")


def _conv(x, kernel, bias, strides, padding, dilation_rate):
    """A convolution of rank 1, 2 or 3 (channels_last), TensorFlow's padding rules."""
    rank = x.ndim - 2
    if rank == 3:
        return conv3d(x, kernel, bias, strides, padding, dilation_rate)
    if rank == 2:
        return _nn.fused_conv2d(x, kernel, bias, strides, padding.upper(), dilation_rate, None)
    y = _nn.fused_conv2d(_a.expand_dims(x, 1), _a.expand_dims(kernel, 0), bias, (1,) + tuple(strides),
                         padding.upper(), (1,) + tuple(dilation_rate), None)
    return _a.squeeze(y, 1)


class ConvLSTMCell(Layer):
    """One step of a ConvLSTM (Keras 3's ``ConvLSTMCell``): ``call(inputs, [h, c])`` -> ``(h, [h, c])``, inputs
    (batch, *spatial, channels), states (batch, *spatial_out, filters). See the module docstring.

    Raises:
        ValueError: invalid arguments (Keras's checks), unknown spatial sizes or channels at build.
        NotImplementedError: ``data_format="channels_first"``.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if rank > 3:
            raise ValueError(f"Rank {rank} convolutions are not currently implemented. Received: rank={rank}")
        self.rank, self.filters, self.seed = rank, filters, seed
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = normalize_tuple(strides, rank, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Specifying `strides > 1` is not compatible with `dilation_rate > 1`. Please provide "
                             f"`strides=1` or `dilation_rate=1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = _act.get(activation)
        self.recurrent_activation = _act.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = use_bias, unit_forget_bias
        self.kernel_initializer = _init.get(kernel_initializer)
        self.recurrent_initializer = _init.get(recurrent_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self._set_weight_options(kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                                 bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                                 recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)
        self.dropout = min(1.0, max(0.0, dropout))
        self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
        self._seed_rng = np.random.default_rng(seed) if seed is not None else None
        self.reset_dropout_mask()
        self.state_size = [filters, filters]  # two states of `filters` channels (their spatial size: the input's)
        self.input_spec = InputSpec(ndim=rank + 2)

    def build(self, inputs_shape, states_shape=None):
        self.spatial_dims = tuple(inputs_shape[1:-1])
        if None in self.spatial_dims:
            raise ValueError(f"ConvLSTM layers only support static input shapes for the spatial dimension. Received "
                             f"invalid input shape: input_shape={inputs_shape}")
        if inputs_shape[-1] is None:
            raise ValueError(f"The channel dimension of the inputs (last axis) should be defined. Found None. Full "
                             f"input shape received: input_shape={inputs_shape}")
        self.input_dim = inputs_shape[-1]
        f = self.filters
        self.kernel = self.add_weight(shape=self.kernel_size + (self.input_dim, 4 * f), name="kernel",
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=self.kernel_size + (f, 4 * f), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                def init(shape, dtype=None):  # Keras: zeros/bias_initializer, ones for the f block
                    return _a.concat([self.bias_initializer((f,), dtype=dtype), _init.get("ones")((f,), dtype=dtype),
                                      self.bias_initializer((2 * f,), dtype=dtype)], axis=0)
            self.bias = self.add_weight(shape=(4 * f,), name="bias", initializer=init,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def reset_dropout_mask(self):
        """Forgets the dropout masks: the layer draws new ones for each sequence (Keras's DropoutRNNCell)."""
        self._masks = {}

    def _gate_masks(self, kind, like, rate):
        """Four dropout masks (one per gate) of ``like``'s shape, drawn once per sequence: 0 or 1 / (1 - rate)."""
        if kind not in self._masks:
            ones = _a.ones_like(like)
            seeds = [None if self._seed_rng is None else int(self._seed_rng.integers(0, 2 ** 31 - 1)) for _ in range(4)]
            self._masks[kind] = [_nn.dropout(ones, rate, seed=s) for s in seeds]
        return self._masks[kind]

    def call(self, inputs, states, training=False):
        h, c = states[0], states[1]
        drop, rec_drop = training and 0 < self.dropout < 1, training and 0 < self.recurrent_dropout < 1
        if drop or rec_drop:  # per-gate masks (Keras's dropout_mask_count = 4): one convolution per gate
            f, ones = self.filters, (1,) * self.rank
            xs = self._gate_masks("input", inputs, self.dropout) if drop else [None] * 4
            hs = self._gate_masks("recurrent", h, self.recurrent_dropout) if rec_drop else [None] * 4
            z = [_conv(inputs if xm is None else inputs * xm, self.kernel[..., g * f:(g + 1) * f],
                       None if self.bias is None else self.bias[g * f:(g + 1) * f], self.strides, self.padding,
                       self.dilation_rate) +
                 _conv(h if hm is None else h * hm, self.recurrent_kernel[..., g * f:(g + 1) * f], None, ones, "same",
                       ones) for g, (xm, hm) in enumerate(zip(xs, hs))]
        else:
            z = _a.split(_conv(inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate) +
                         _conv(h, self.recurrent_kernel, None, (1,) * self.rank, "same", (1,) * self.rank), 4,
                         axis=-1)
        z_i, z_f, z_c, z_o = z
        c = self.recurrent_activation(z_f) * c + self.recurrent_activation(z_i) * self.activation(z_c)
        h = self.recurrent_activation(z_o) * self.activation(c)
        return h, [h, c]

    def compute_output_shape(self, inputs_shape, states_shape=None):
        out = conv_output_shape(inputs_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate,
                                self.filters, type(self).__name__)
        return out, [out, out]

    def get_initial_state(self, batch_size=None):
        shape = self.compute_output_shape((batch_size,) + self.spatial_dims + (self.input_dim,))[0]
        return [_a.zeros(shape, self.compute_dtype), _a.zeros(shape, self.compute_dtype)]

    def cell_config(self):
        """The cell's arguments as Keras's config writes them (the ConvLSTM layers flatten them into theirs)."""
        out = {}
        for k in _CELL_KEYS:
            v = getattr(self, k)
            if k.endswith("activation"):
                v = _act.serialize(v)
            elif k.endswith("initializer"):
                v = _init.serialize(v)
            elif k.endswith(("regularizer", "constraint")):
                v = self._weight_options_config(k)[k]
            out[k] = v
        return out

    def get_config(self):
        c = super().get_config()
        c.update(self.cell_config())
        return c


class _ConvLSTM(RNN):
    """Keras 3's ``ConvLSTM(rank)``: an :class:`RNN` over a :class:`ConvLSTMCell`, with the cell's arguments as
    its own (config flattened, as Keras)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, **kwargs):
        if stateful:
            raise NotImplementedError(f"{type(self).__name__}: stateful=True is not supported yet.")
        cell = ConvLSTMCell(self.rank, filters, kernel_size, strides=strides, padding=padding,
                            data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                            recurrent_activation=recurrent_activation, use_bias=use_bias,
                            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, name="conv_lstm_cell",
                            dtype=kwargs.get("dtype"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=False, activity_regularizer=activity_regularizer,
                         **kwargs)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self.cell.reset_dropout_mask()
        try:
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        finally:
            self.cell.reset_dropout_mask()

    def _initial_states(self, initial_state, batch):
        if initial_state is None:
            return self.get_initial_state(batch)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != 2:
            raise ValueError(f'Layer "{self.name}" expects 2 initial state tensors (h, c). Received: '
                             f"initial_state with {len(states)} tensor(s).")
        return states

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape[0] if isinstance(sequences_shape[0], (list, tuple))
                                else sequences_shape)
        batch, steps = sequences_shape[0], sequences_shape[1]
        state = tuple(self.cell.compute_output_shape((batch,) + sequences_shape[2:])[0][1:])
        out = (batch, steps) + state if self.return_sequences else (batch,) + state
        return [out, (batch,) + state, (batch,) + state] if self.return_state else out

    def get_config(self):
        c = super().get_config()
        del c["cell"]
        c.update(self.cell.cell_config())
        c["activity_regularizer"] = c.get("activity_regularizer")
        return c

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
        return cls(**config)


class ConvLSTM1D(_ConvLSTM):
    """1-D convolutional LSTM (``keras.layers.ConvLSTM1D``): (batch, time, steps, channels) -> (batch, new_steps,
    filters), or (batch, time, new_steps, filters) with ``return_sequences``. See the module docstring."""
    rank = 1
    _sequence_ndim = 4


class ConvLSTM2D(_ConvLSTM):
    """2-D convolutional LSTM (``keras.layers.ConvLSTM2D``): (batch, time, rows, cols, channels) -> (batch,
    new_rows, new_cols, filters), or per step with ``return_sequences``. Arguments as Keras 3.15's (``stateful``
    not supported yet); see the module docstring."""
    rank = 2
    _sequence_ndim = 5


class ConvLSTM3D(_ConvLSTM):
    """3-D convolutional LSTM (``keras.layers.ConvLSTM3D``): (batch, time, d1, d2, d3, channels) -> (batch,
    *new_spatial, filters). See the module docstring."""
    rank = 3
    _sequence_ndim = 6
