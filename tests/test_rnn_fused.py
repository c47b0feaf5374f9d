"""The recurrent layers' fused path (gpuflow.ops.rnn_ops) against their per-step path (the differentiable
ops it replaces): the same outputs and the same gradients of the input, the initial states and every
weight, within float32 rounding, for SimpleRNN, LSTM and GRU (reset_after True and False), with masks,
go_backwards, return_sequences/return_state, initial_state and input dropout; and where the layers leave
the fused path (recurrent dropout masks, nested tapes).
"""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras.layers import rnn as rnn_mod
from gpuflow.ops import rnn_ops
from gradcheck import rand

layers = tf.keras.layers


CASES = [(layers.SimpleRNN, {}), (layers.LSTM, {}), (layers.GRU, {}), (layers.GRU, {"reset_after": False})]
IDS = ["SimpleRNN", "LSTM", "GRU", "GRU-reset_before"]
OPTIONS = [dict(return_sequences=True, return_state=True), dict(go_backwards=True),
           dict(return_sequences=True, go_backwards=True, mask=True),
           dict(return_state=True, mask=True, initial_state=True),
           dict(return_sequences=True, zero_output_for_mask=True, mask=True, go_backwards=True)]


def _run(layer, x, states, mask, training):
    """Outputs and the gradients of sum(w * outputs) w.r.t. the input, the states and every weight."""
    xt = tf.constant(x)
    st = [tf.constant(s) for s in states]
    with tf.GradientTape() as tape:
        tape.watch([xt] + st)
        kw = {"initial_state": st} if st else {}
        out = layer(xt, mask=mask, training=training, **kw)
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        total = tf.add_n([tf.reduce_sum(o * tf.constant(np.cos(np.arange(o.shape.num_elements()).reshape(o.shape))
                                                        .astype(np.float32))) for o in out])
    grads = tape.gradient(total, [xt] + st + list(layer.trainable_weights))
    return [o.numpy() for o in out], [g.numpy() for g in grads]


@pytest.mark.parametrize("cls,extra", CASES, ids=IDS)
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(sorted(o)))
def test_fused_path_matches_per_step_path(cls, extra, opts, monkeypatch):
    opts = dict(opts)
    use_mask, use_states = opts.pop("mask", False), opts.pop("initial_state", False)
    b, t, f, u = 3, 5, 4, 6
    x = rand(b, t, f, seed=1).astype(np.float32)
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], bool) if use_mask else None
    n_states = 2 if cls is layers.LSTM else 1
    states = [rand(b, u, seed=5 + k).astype(np.float32) for k in range(n_states)] if use_states else []
    layer = cls(u, dropout=0.3, seed=4, **extra, **opts)
    layer(x)
    rng = np.random.default_rng(2)
    layer.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in layer.get_weights()])
    calls = []
    real = rnn_ops.recurrent_sequence
    monkeypatch.setattr(rnn_mod._rnn, "recurrent_sequence", lambda *a, **k: calls.append(1) or real(*a, **k))
    for training in (False, True):  # training: the input dropout mask is drawn the same way on both paths
        layer.cell._seed_rng = np.random.default_rng(11)
        fused = _run(layer, x, states, mask, training)
        assert calls, "the fused path did not run"
        calls.clear()
        with monkeypatch.context() as m:
            m.setattr(rnn_mod, "_fused_kind", lambda cell, masks: None)
            layer.cell._seed_rng = np.random.default_rng(11)
            step = _run(layer, x, states, mask, training)
        assert not calls
        for a, want in zip(fused[0] + fused[1], step[0] + step[1]):
            np.testing.assert_allclose(a, want, rtol=2e-5, atol=2e-6)


def test_fused_path_is_left_for_recurrent_dropout_and_nested_tapes(monkeypatch):
    calls = []
    real = rnn_ops.recurrent_sequence
    monkeypatch.setattr(rnn_mod._rnn, "recurrent_sequence", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = tf.constant(rand(2, 3, 2, seed=1).astype(np.float32))
    layer = layers.LSTM(3, recurrent_dropout=0.5, seed=1)
    layer(x, training=True)
    assert not calls  # per-gate recurrent dropout masks: the per-step path
    layer(x, training=False)
    assert len(calls) == 1
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            layer(x)
    assert len(calls) == 1  # a second derivative may be taken: the differentiable per-step path
