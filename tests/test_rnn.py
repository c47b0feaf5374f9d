"""Recurrent layers: SimpleRNN, LSTM, GRU (and their cells), RNN, Bidirectional, TimeDistributed.

The issue's bar: outputs and gradients match the same computation in float64 within 1e-5. Each
cell is written again below in float64 NumPy from Keras 3's equations and gate order (LSTM
i, f, c, o; GRU z, r, h with reset_after), and the layers are compared with it -- in float64
(to ~1e-12) and in float32 (within 1e-5) -- for return_sequences, return_state, go_backwards and
initial_state. Gradients with respect to the input, the initial states and every weight are
checked against central finite differences in float64. run_layer_test covers shapes, weight
layout, config round trips and gradient flow.

Every test that computes values or gradients takes the ``device`` fixture (tests/conftest.py) and
runs on cpu, emulator and gpu; there ``run_layer_test`` also compares each layer's values and
gradients with the reference backend. The CUDA backend's kernels take float32, so the float64 cases
run in float32 off the CPU (or skip, where float64 is the point), and the finite-difference checks
(float64) stay on the CPU, as do the error tests.
"""
import numpy as np
import pytest

import gpuflow as tf
from layer_test_utils import run_layer_test

keras = tf.keras
layers = keras.layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


def rnd(*shape, seed=0, dtype="float32", scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- float64 NumPy references (Keras 3's equations) ------------------------------------------------------
def _steps(x, go_backwards):
    order = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    return [x[:, t] for t in order]


def simple_rnn_ref(x, k, u, b, h0, go_backwards=False, act=np.tanh):
    h, outs = h0, []
    for xt in _steps(x, go_backwards):
        h = act(xt @ k + b + h @ u)
        outs.append(h)
    return np.stack(outs, 1), [h]


def lstm_ref(x, k, u, b, h0, c0, go_backwards=False):
    n = u.shape[0]
    h, c, outs = h0, c0, []
    for xt in _steps(x, go_backwards):
        z = xt @ k + h @ u + b
        i, f, g, o = sigmoid(z[:, :n]), sigmoid(z[:, n:2 * n]), np.tanh(z[:, 2 * n:3 * n]), sigmoid(z[:, 3 * n:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), [h, c]


def gru_ref(x, k, u, b, h0, go_backwards=False, reset_after=True):
    n = u.shape[0]
    h, outs = h0, []
    for xt in _steps(x, go_backwards):
        if reset_after:
            mx = xt @ k + b[0]
            mh = h @ u + b[1]
            z = sigmoid(mx[:, :n] + mh[:, :n])
            r = sigmoid(mx[:, n:2 * n] + mh[:, n:2 * n])
            hh = np.tanh(mx[:, 2 * n:] + r * mh[:, 2 * n:])
        else:
            mx = xt @ k + b
            z = sigmoid(mx[:, :n] + h @ u[:, :n])
            r = sigmoid(mx[:, n:2 * n] + h @ u[:, n:2 * n])
            hh = np.tanh(mx[:, 2 * n:] + (r * h) @ u[:, 2 * n:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), [h]


def _ref(layer, x, states, go_backwards):
    k, u = (w.astype(np.float64) for w in layer.get_weights()[:2])
    b = layer.get_weights()[2].astype(np.float64)
    if isinstance(layer, layers.LSTM):
        return lstm_ref(x, k, u, b, states[0], states[1], go_backwards)
    if isinstance(layer, layers.GRU):
        return gru_ref(x, k, u, b, states[0], go_backwards, layer.reset_after)
    return simple_rnn_ref(x, k, u, b, states[0], go_backwards)


def _randomize(layer, seed=7, scale=0.6):
    rng = np.random.default_rng(seed)
    layer.set_weights([(rng.standard_normal(w.shape) * scale).astype(w.dtype) for w in layer.get_weights()])


RNN_CASES = [(layers.SimpleRNN, {}), (layers.LSTM, {}), (layers.GRU, {}), (layers.GRU, {"reset_after": False})]
RNN_IDS = ["SimpleRNN", "LSTM", "GRU", "GRU-reset_before"]


def _nstates(cls):
    return 2 if cls is layers.LSTM else 1


# -- run_layer_test: shapes, weights, config, gradient flow ------------------------------------------------
@pytest.mark.parametrize("cls,extra", RNN_CASES, ids=RNN_IDS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_rnn_layer_test(cls, extra, return_sequences, device):
    g = {layers.SimpleRNN: 1, layers.LSTM: 4, layers.GRU: 3}[cls]
    bias = (2, 3 * 4) if cls is layers.GRU and extra.get("reset_after", True) else (g * 4,)
    layer = run_layer_test(cls, {"units": 4, "return_sequences": return_sequences, **extra}, (2, 5, 3),
                           (2, 5, 4) if return_sequences else (2, 4), expected_num_trainable_weights=3,
                           expected_weight_shapes=[(3, g * 4), (4, g * 4), bias])
    cell_name = {layers.SimpleRNN: "simple_rnn_cell", layers.LSTM: "lstm_cell", layers.GRU: "gru_cell"}[cls]
    assert [w.path for w in layer.weights] == [f"{layer.name}/{cell_name}/{n}"
                                               for n in ("kernel", "recurrent_kernel", "bias")]


def test_lstm_and_gru_keras_defaults(device):
    lstm = layers.LSTM(3)
    lstm(rnd(2, 4, 5))
    kernel, rec, bias = lstm.get_weights()
    np.testing.assert_array_equal(bias, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])  # unit_forget_bias
    np.testing.assert_allclose(rec @ rec.T, np.eye(3), atol=1e-5)  # orthogonal recurrent_initializer
    cfg = lstm.get_config()
    assert (cfg["units"], cfg["activation"], cfg["recurrent_activation"], cfg["unit_forget_bias"]) == \
        (3, "tanh", "sigmoid", True)
    gru = layers.GRU(3)
    gru(rnd(2, 4, 5))
    assert gru.get_weights()[2].shape == (2, 9) and gru.reset_after
    assert gru.cell.name == "gru_cell" and lstm.units == 3 and gru.recurrent_activation is keras.activations.sigmoid


# -- numbers against the float64 references ---------------------------------------------------------------
@pytest.mark.parametrize("cls,extra", RNN_CASES, ids=RNN_IDS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_rnn_matches_float64_reference(cls, extra, go_backwards, dtype, tol, device):
    x = rnd(3, 6, 4, seed=1, dtype="float64")
    layer = cls(5, return_sequences=True, return_state=True, go_backwards=go_backwards, dtype=dtype, **extra)
    states = [rnd(3, 5, seed=10 + i, dtype="float64", scale=0.5) for i in range(_nstates(cls))]
    layer(x.astype(dtype), initial_state=[s.astype(dtype) for s in states])
    _randomize(layer)
    out = layer(x.astype(dtype), initial_state=[s.astype(dtype) for s in states])
    ref_seq, ref_states = _ref(layer, x, states, go_backwards)
    assert len(out) == 1 + len(ref_states)
    assert out[0].dtype.name == dtype
    np.testing.assert_allclose(out[0].numpy(), ref_seq, rtol=0, atol=tol)
    for got, want in zip(out[1:], ref_states):
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=tol)
    # return_sequences=False gives the last output of the (processing-order) sequence
    last = cls(5, go_backwards=go_backwards, dtype=dtype, **extra)
    last(x.astype(dtype))
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(last(x.astype(dtype)).numpy(), _ref(last, x, [np.zeros((3, 5))] * _nstates(cls),
                                                                   go_backwards)[0][:, -1], rtol=0, atol=tol)


def test_rnn_accepts_single_tensor_initial_state_and_checks_it():
    x = rnd(2, 4, 3)
    gru = layers.GRU(5)
    gru(x, initial_state=rnd(2, 5))
    with pytest.raises(ValueError, match="expects 2 initial state tensor"):
        layers.LSTM(5)(x, initial_state=[rnd(2, 5)])
    with pytest.raises(ValueError, match=r"initial_state\[1\] must have shape \(batch_size, state_size\)=\(2, 5\)"):
        layers.LSTM(5)(x, initial_state=[rnd(2, 5), rnd(2, 4)])


# -- gradients against finite differences (float64) ----------------------------------------------------------
def fd_check_layer(layer, x, states=(), eps=1e-6, atol=1e-7, rtol=1e-6, seed=0):
    """Tape gradients of sum(w * outputs) w.r.t. the input, the initial states and every trainable weight
    against central finite differences in float64 (weights perturbed in place with assign)."""
    rng = np.random.default_rng(seed)
    kwargs = {"initial_state": [tf.constant(s) for s in states]} if states else {}
    outs = layer(tf.constant(x), **kwargs)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    ws = [rng.standard_normal(tuple(o.shape)) for o in outs]

    def loss(xv, sv):
        kw = {"initial_state": [tf.constant(s) for s in sv]} if sv else {}
        o = layer(tf.constant(xv), **kw)
        o = list(o) if isinstance(o, (list, tuple)) else [o]
        return sum(float(np.sum(a.numpy() * w)) for a, w in zip(o, ws))

    xt = tf.constant(x)
    st = [tf.constant(s) for s in states]
    with tf.GradientTape() as tape:
        tape.watch([xt] + st)
        o = layer(xt, **({"initial_state": st} if st else {}))
        o = list(o) if isinstance(o, (list, tuple)) else [o]
        total = tf.add_n([tf.reduce_sum(a * tf.constant(w)) for a, w in zip(o, ws)])
    grads = tape.gradient(total, [xt] + st + list(layer.trainable_weights))
    # inputs and initial states
    arrays = [x] + list(states)
    for k, arr in enumerate(arrays):
        num = np.zeros_like(arr)
        for idx in np.ndindex(*arr.shape):
            vals = [a.copy() for a in arrays]
            vals[k][idx] += eps
            up = loss(vals[0], vals[1:])
            vals[k][idx] -= 2 * eps
            num[idx] = (up - loss(vals[0], vals[1:])) / (2 * eps)
        np.testing.assert_allclose(grads[k].numpy(), num, atol=atol, rtol=rtol,
                                   err_msg=f"{layer.name}: gradient of input {k}")
    for g, v in zip(grads[len(arrays):], layer.trainable_weights):
        base = v.numpy()
        num = np.zeros_like(base)
        for idx in np.ndindex(*base.shape):
            p = base.copy()
            p[idx] += eps
            v.assign(p)
            up = loss(x, list(states))
            p[idx] -= 2 * eps
            v.assign(p)
            num[idx] = (up - loss(x, list(states))) / (2 * eps)
        v.assign(base)
        assert g is not None, v.path
        np.testing.assert_allclose(g.numpy(), num, atol=atol, rtol=rtol, err_msg=f"gradient of {v.path}")


@pytest.mark.parametrize("cls,extra", RNN_CASES, ids=RNN_IDS)
def test_rnn_gradients_match_finite_differences(cls, extra):
    layer = cls(2, return_sequences=True, return_state=True, dtype="float64", **extra)
    x = rnd(2, 3, 3, seed=3, dtype="float64")
    states = [rnd(2, 2, seed=4 + i, dtype="float64", scale=0.5) for i in range(_nstates(cls))]
    layer(x, initial_state=states)
    _randomize(layer, scale=0.8)
    fd_check_layer(layer, x, states)


def test_rnn_go_backwards_gradients_match_finite_differences():
    layer = layers.LSTM(2, go_backwards=True, dtype="float64")
    x = rnd(2, 4, 2, seed=5, dtype="float64")
    layer(x)
    _randomize(layer)
    fd_check_layer(layer, x)


def test_long_sequence_gradient_matches_stepwise_slicing(device):
    # the recursive-halving unstack gives the same gradient as the plain per-step slices
    from gpuflow.keras.layers.rnn import _unstack_time
    x = tf.constant(rnd(2, 37, 3, dtype="float64"))
    w = rnd(37, 2, 3, seed=1, dtype="float64")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tf.add_n([tf.reduce_sum(p * p * w[t]) for t, p in enumerate(_unstack_time(x))])
        b = tf.add_n([tf.reduce_sum(x[:, t] * x[:, t] * w[t]) for t in range(37)])
    np.testing.assert_allclose(tape.gradient(a, x).numpy(), tape.gradient(b, x).numpy(), rtol=1e-14)


# -- masks, dropout, stateful ----------------------------------------------------------------------------------
def test_mask_keeps_states_over_masked_steps(device):
    x = rnd(2, 5, 3)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    lstm = layers.LSTM(4, return_sequences=True)
    seq = lstm(x, mask=mask).numpy()
    short = layers.LSTM(4, return_sequences=True)
    short(x)
    short.set_weights(lstm.get_weights())
    np.testing.assert_allclose(seq[0, :3], short(x[:1, :3]).numpy()[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(seq[0, 3], seq[0, 2])  # masked steps repeat the previous output (Keras)
    last = layers.LSTM(4)
    last(x)
    last.set_weights(lstm.get_weights())
    np.testing.assert_allclose(last(x, mask=mask).numpy()[0], seq[0, 2], rtol=1e-6)
    zero = layers.LSTM(4, return_sequences=True, zero_output_for_mask=True)
    zero(x)
    zero.set_weights(lstm.get_weights())
    np.testing.assert_array_equal(zero(x, mask=mask).numpy()[0, 3:], 0)
    with pytest.raises(ValueError, match="mask must have shape"):
        lstm(x, mask=mask[:, :3])


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_dropout_only_in_training(cls, device):
    x = rnd(4, 5, 3)
    layer = cls(6, dropout=0.5, recurrent_dropout=0.3, seed=3)
    plain = cls(6)
    plain(x)
    layer(x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer(x).numpy(), plain(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer(x, training=False).numpy(), plain(x).numpy(), rtol=1e-6)
    assert not np.allclose(layer(x, training=True).numpy(), plain(x).numpy())
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x, training=True))
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in tape.gradient(y, layer.trainable_weights))
    only_input = cls(6, dropout=0.5)  # Keras's shared input mask when recurrent_dropout == 0
    only_input(x, training=True)


def test_stateful_lstm_carries_states_between_calls(device):
    x = rnd(2, 6, 3)
    full = layers.LSTM(4)
    full(x)
    st = layers.LSTM(4, stateful=True)
    st(keras.Input((3, 3), batch_size=2))
    st.set_weights(full.get_weights())
    st(x[:, :3])
    np.testing.assert_allclose(st(x[:, 3:]).numpy(), full(x).numpy(), rtol=1e-5, atol=1e-6)
    st.reset_states()
    np.testing.assert_allclose(st(x[:, :3]).numpy(), full(x[:, :3]).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch size must be static"):
        layers.GRU(3, stateful=True)(keras.Input((4, 3)))


# -- errors ---------------------------------------------------------------------------------------------
def test_rnn_errors():
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layers.LSTM(3)(rnd(2, 5))
    with pytest.raises(ValueError, match="expected a positive integer"):
        layers.GRU(0)
    with pytest.raises(ValueError, match="use_cudnn"):
        layers.LSTM(3, use_cudnn="maybe")
    lstm = layers.LSTM(3)
    lstm(rnd(2, 5, 4))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        lstm(rnd(2, 5, 3))
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: l5"):
        layers.SimpleRNN(3, kernel_regularizer="l5")


# -- cells and the generic RNN layer ---------------------------------------------------------------------------
def test_rnn_with_builtin_cell_equals_layer(device):
    x = rnd(2, 5, 3)
    lstm = layers.LSTM(4, return_sequences=True)
    lstm(x)
    generic = layers.RNN(layers.LSTMCell(4), return_sequences=True)
    generic(x)
    generic.set_weights(lstm.get_weights())
    np.testing.assert_allclose(generic(x).numpy(), lstm(x).numpy(), rtol=1e-6)
    cell = layers.GRUCell(4)
    h, states = cell(tf.constant(x[:, 0]), [tf.zeros((2, 4))])
    assert h.shape == (2, 4) and len(states) == 1
    cell_config = {"module": "keras.layers", "class_name": "SimpleRNNCell", "config": {"units": 3},
                   "registered_name": None}  # a serialized cell: run_layer_test builds several layers, one cell each
    layer = run_layer_test(layers.RNN, {"cell": cell_config, "return_sequences": True}, (2, 4, 5), (2, 4, 3),
                           expected_num_trainable_weights=3, expected_weight_shapes=[(5, 3), (3, 3), (3,)])
    assert isinstance(layer.cell, layers.SimpleRNNCell) and layer.get_config()["cell"]["class_name"] == "SimpleRNNCell"


def test_rnn_with_custom_cell(device):
    class MinimalRNNCell(layers.Layer):  # the example of Keras's RNN docstring
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            output = tf.matmul(inputs, self.kernel) + tf.matmul(states[0], self.recurrent_kernel)
            return output, [output]

    x = rnd(2, 4, 3)
    layer = layers.RNN(MinimalRNNCell(5), return_sequences=True)
    y = layer(x).numpy()
    k, u = layer.get_weights()
    h, ref = np.zeros((2, 5)), []
    for t in range(4):
        h = x[:, t] @ k + h @ u
        ref.append(h)
    np.testing.assert_allclose(y, np.stack(ref, 1), rtol=1e-5, atol=1e-6)
    assert layers.RNN(MinimalRNNCell(5))(keras.Input((4, 3))).shape == (None, 5)


# -- Bidirectional -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_numbers(merge_mode, device):
    dtype, atol = ("float64", 1e-12) if device == "cpu" else ("float32", 1e-5)  # the CUDA kernels take float32
    x = rnd(2, 5, 3, dtype="float64")
    bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True, dtype=dtype), merge_mode=merge_mode, dtype=dtype)
    bi(x.astype(dtype))
    _randomize(bi)
    out = bi(x.astype(dtype))
    w = [a.astype("float64") for a in bi.get_weights()]
    zeros = np.zeros((2, 4))
    fw = lstm_ref(x, w[0], w[1], w[2], zeros, zeros)[0]
    bw = lstm_ref(x, w[3], w[4], w[5], zeros, zeros, go_backwards=True)[0][:, ::-1]  # flipped back to input order
    want = {"concat": np.concatenate([fw, bw], -1), "sum": fw + bw, "mul": fw * bw, "ave": (fw + bw) / 2,
            None: None}[merge_mode]
    if merge_mode is None:
        np.testing.assert_allclose(out[0].numpy(), fw, atol=atol)
        np.testing.assert_allclose(out[1].numpy(), bw, atol=atol)
    else:
        np.testing.assert_allclose(out.numpy(), want, atol=atol)


def test_bidirectional_layer_test_and_layout(device):
    layer = run_layer_test(layers.Bidirectional, {"layer": layers.GRU(3)}, (2, 5, 4), (2, 6),
                           expected_num_trainable_weights=6,
                           expected_weight_shapes=[(4, 9), (3, 9), (2, 9)] * 2)
    assert [w.path for w in layer.weights][0] == f"{layer.name}/forward_gru/gru_cell/kernel"
    assert layer.backward_layer.go_backwards and layer.backward_layer.name == "backward_gru"
    cfg = layer.get_config()
    assert cfg["merge_mode"] == "concat" and cfg["layer"]["class_name"] == "GRU"
    assert cfg["backward_layer"]["config"]["go_backwards"] is True


def test_bidirectional_states_and_errors(device):
    x = rnd(2, 5, 3)
    bi = layers.Bidirectional(layers.LSTM(4, return_state=True))
    out = bi(x, initial_state=[rnd(2, 4, seed=i) for i in range(4)])
    assert len(out) == 5 and out[0].shape == (2, 8) and all(s.shape == (2, 4) for s in out[1:])
    sym = layers.Bidirectional(layers.LSTM(4, return_state=True))(keras.Input((5, 3)))
    assert [t.shape for t in sym] == [(None, 8)] + [(None, 4)] * 4
    with pytest.raises(ValueError, match="Invalid merge mode"):
        layers.Bidirectional(layers.LSTM(4), merge_mode="max")
    with pytest.raises(ValueError, match="keras.layers.Layer"):
        layers.Bidirectional("lstm")
    with pytest.raises(ValueError, match="different `go_backwards`"):
        layers.Bidirectional(layers.LSTM(4), backward_layer=layers.LSTM(4))


# -- TimeDistributed -----------------------------------------------------------------------------------------
def test_time_distributed_dense_and_conv(device):
    x = rnd(2, 4, 3)
    dense = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 5}, "registered_name": None}
    layer = run_layer_test(layers.TimeDistributed, {"layer": dense}, (2, 4, 3), (2, 4, 5),
                           expected_num_trainable_weights=2, expected_weight_shapes=[(3, 5), (5,)], input_data=x)
    k, b = layer.get_weights()
    np.testing.assert_allclose(layer(x).numpy(), x @ k + b, rtol=1e-5, atol=1e-6)
    assert layer.weights[0].path == f"{layer.name}/dense/kernel"
    conv = layers.TimeDistributed(layers.Conv2D(2, 3))
    assert conv(rnd(2, 3, 6, 5, 1)).shape == (2, 3, 4, 3, 2)
    assert conv.compute_output_shape((None, 3, 6, 5, 1)) == (None, 3, 4, 3, 2)
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        layers.TimeDistributed(layers.Dense(3))(rnd(2, 3))
    with pytest.raises(ValueError, match="keras.layers.Layer"):
        layers.TimeDistributed("dense")


def test_time_distributed_batch_normalization_uses_per_step_statistics(device):
    x = rnd(4, 3, 2) + np.arange(3, dtype=np.float32)[None, :, None] * 5  # a different mean per step
    td = layers.TimeDistributed(layers.BatchNormalization(epsilon=1e-3))
    y = td(x, training=True).numpy()
    ref = (x - x.mean(0, keepdims=True)) / np.sqrt(x.var(0, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


# -- in models -------------------------------------------------------------------------------------------------
def test_lstm_sine_series_model_trains(device):
    t = np.linspace(0, 8 * np.pi, 400).astype(np.float32)
    s = np.sin(t)
    x = np.stack([s[i:i + 12] for i in range(0, 360, 4)])[..., None]
    y = np.array([s[i + 12] for i in range(0, 360, 4)])[:, None]
    model = keras.Sequential([keras.Input((12, 1)), layers.LSTM(8, return_sequences=True), layers.GRU(6),
                              layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    hist = model.fit(x, y, epochs=6, batch_size=30, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert model.predict(x[:3], verbose=0).shape == (3, 1)


def test_embedding_bidirectional_time_distributed_functional_model(device):
    ids = np.random.default_rng(0).integers(0, 20, (6, 7))
    inp = keras.Input((7,), dtype="int32")
    h = layers.Embedding(20, 5)(inp)
    h = layers.Bidirectional(layers.SimpleRNN(4, return_sequences=True))(h)
    out = layers.TimeDistributed(layers.Dense(3))(h)
    model = keras.Model(inp, out)
    assert out.shape == (None, 7, 3)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ids, ids % 3, epochs=1, batch_size=3, verbose=0)
    assert model.predict(ids, verbose=0).shape == (6, 7, 3)


def test_initial_state_from_inputs_in_a_functional_model(device):
    # a symbolic initial_state is recorded as extra inputs of the node, so the model replays it (not zeros)
    x, h0, c0 = rnd(2, 5, 3), rnd(2, 4, seed=1), rnd(2, 4, seed=2)
    inp, hi, ci = keras.Input((5, 3)), keras.Input((4,)), keras.Input((4,))
    lstm = layers.LSTM(4)
    model = keras.Model([inp, hi, ci], lstm(inp, initial_state=[hi, ci]))
    np.testing.assert_allclose(model([x, h0, c0]).numpy(), lstm(x, initial_state=[h0, c0]).numpy(), rtol=1e-6)
    assert not np.allclose(model([x, h0, c0]).numpy(), lstm(x).numpy())
    bi = layers.Bidirectional(layers.GRU(4))
    model = keras.Model([inp, hi, ci], bi(inp, initial_state=[hi, ci]))
    np.testing.assert_allclose(model([x, h0, c0]).numpy(), bi(x, initial_state=[h0, c0]).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="non-symbolic initial_state"):
        layers.LSTM(4)(inp, initial_state=[h0, c0])


def test_lstm_second_derivative():
    # the recurrence is written with differentiable ops, so nested tapes give Hessian-vector products
    from gradcheck import check_double_backward
    layer = layers.LSTM(2, return_sequences=True, dtype="float64")
    x = rnd(1, 3, 2, seed=9, dtype="float64")
    layer(x)
    _randomize(layer)
    check_double_backward(lambda t: layer(t), x)
