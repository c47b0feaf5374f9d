"""The fused recurrent op (gpuflow.ops.rnn_ops.recurrent_sequence): its gradients (inputs, kernel,
recurrent kernel, initial states, input bias, GRU's recurrent bias) against central finite differences
in float64, with and without a mask, for every cell; its argument checks.

The gradient test takes the ``device`` fixture (tests/conftest.py): on every device the op's values and
gradients are compared with the reference backend in float32 (``check_op``; finite differences in
float64 on the CPU). The argument checks and the CPU backend's batch chunking stay CPU-only."""
import numpy as np
import pytest

from gpuflow.backend import numpy_backend
from gpuflow.ops import rnn_ops
from gradcheck import check_op, rand

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}


@pytest.mark.parametrize("cell", sorted(GATES))
@pytest.mark.parametrize("masked", [False, True])
def test_recurrent_sequence_gradients_match_finite_differences(cell, masked, device):
    t, b, f, u = 4, 2, 2, 3
    g = GATES[cell]
    n_states = 2 if cell == "lstm" else 1
    mask = np.array([[1, 1], [0, 1], [1, 0], [0, 1]], bool) if masked else None
    args = [rand(t, b, f, seed=1), rand(f, g * u, seed=5), rand(u, g * u, seed=2)] + \
        [rand(b, u, seed=3 + k) for k in range(n_states)] + [rand(g * u, seed=8)]
    if cell == "gru":
        args.append(rand(g * u, seed=9))

    def fn(x, k, uk, *rest):
        states, biases = rest[:n_states], rest[n_states:]
        return rnn_ops.recurrent_sequence(cell, x, k, uk, list(states), *biases, mask=mask)
    check_op(fn, *args, device=device)


def test_recurrent_sequence_checks_its_arguments():
    x, k, uk = np.zeros((3, 2, 5), np.float32), np.zeros((5, 8), np.float32), np.zeros((2, 8), np.float32)
    h = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="Expected cell to be one of"):
        rnn_ops.recurrent_sequence("rnn", x, k, uk, [h, h])
    with pytest.raises(ValueError, match=r"kernel \(input_dim, 3\*units\).*kernel.shape=\(5, 8\)"):
        rnn_ops.recurrent_sequence("gru", x, k, uk, [h])
    with pytest.raises(ValueError, match=r"Expected 2 initial state\(s\) of shape \(2, 2\)"):
        rnn_ops.recurrent_sequence("lstm", x, k, uk, [h])
    with pytest.raises(ValueError, match=r"Expected bias of shape \(8,\). Received: bias.shape=\(6,\)"):
        rnn_ops.recurrent_sequence("lstm", x, k, uk, [h, h], np.zeros(6, np.float32))
    with pytest.raises(ValueError, match=r"Expected recurrent_bias of shape \(8,\) for 'gru' only"):
        rnn_ops.recurrent_sequence("lstm", x, k, uk, [h, h], None, np.zeros(8, np.float32))
    with pytest.raises(ValueError, match=r"Expected mask of shape \(timesteps, batch\)=\(3, 2\)"):
        rnn_ops.recurrent_sequence("lstm", x, k, uk, [h, h], mask=np.ones((2, 3), bool))


@pytest.mark.parametrize("cell", sorted(GATES))
def test_batch_chunks_give_the_same_states_and_gradients(cell, monkeypatch):
    """On the CPU the batch runs in chunks of at most ``rnn_ops._ROWS`` rows, each chunk's recurrence on its
    own thread: chunks of 2 rows (a batch of 5: 2, 1, 2 rows) give the states and gradients of one chunk."""
    import gpuflow as tf
    t, b, u = 3, 5, 4
    g, n_states = GATES[cell], 2 if cell == "lstm" else 1
    mask = np.random.default_rng(0).random((t, b)) > 0.3
    args = [rand(t, b, 3, seed=1), rand(3, g * u, seed=5), rand(u, g * u, seed=2)] + \
        [rand(b, u, seed=3 + k) for k in range(n_states)]
    if cell == "gru":
        args.append(rand(g * u, seed=9))

    def run(rows):
        monkeypatch.setattr(rnn_ops, "_ROWS", rows)
        xs = [tf.Variable(a.astype(np.float32)) for a in args]
        with tf.GradientTape() as tape:
            states, rec_bias = xs[3:3 + n_states], (xs[-1] if cell == "gru" else None)
            seq = rnn_ops.recurrent_sequence(cell, xs[0], xs[1], xs[2], states, None, rec_bias, mask)
            loss = tf.reduce_sum(seq * np.linspace(-1, 1, int(np.prod(seq.shape)), dtype=np.float32).reshape(seq.shape))
        return [seq.numpy()] + [gr.numpy() for gr in tape.gradient(loss, xs)]
    calls = []
    real = numpy_backend._chunk_bounds
    monkeypatch.setattr(numpy_backend, "_chunk_bounds",
                        lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    whole = run(64)
    assert calls == [[0, 5], [0, 5]]  # forward, then backward with the weight gradients
    calls.clear()
    for a, w in zip(run(2), whole):
        np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-6)
    assert calls == [[0, 1, 3, 5], [0, 1, 3, 5]]  # forward and backward, each in 3 chunks


@pytest.mark.parametrize("cell", sorted(GATES))
def test_final_states_only_are_the_last_step_with_the_same_gradients(cell):
    """``return_sequences=False`` returns ``[:, -1]`` of the full output, and the gradients of a loss on it are
    those of the same loss on the full output's last step."""
    import gpuflow as tf
    t, b, u = 4, 3, 2
    g, n_states = GATES[cell], 2 if cell == "lstm" else 1
    mask = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0]], bool)
    xs = [tf.Variable(a.astype(np.float32)) for a in
          [rand(t, b, 3, seed=1), rand(3, g * u, seed=5), rand(u, g * u, seed=2), rand(g * u, seed=8)] +
          [rand(b, u, seed=3 + k) for k in range(n_states)]]
    weights = np.linspace(-1, 1, n_states * u * b, dtype=np.float32).reshape(n_states, u, b)

    def run(return_sequences):
        with tf.GradientTape() as tape:
            out = rnn_ops.recurrent_sequence(cell, xs[0], xs[1], xs[2], xs[4:], xs[3], mask=mask,
                                             return_sequences=return_sequences)
            final = out[:, -1] if return_sequences else out
            loss = tf.reduce_sum(final * weights)
        return [final.numpy()] + [gr.numpy() for gr in tape.gradient(loss, xs)]
    for a, w in zip(run(False), run(True)):
        np.testing.assert_allclose(a, w, rtol=1e-6, atol=1e-7)
