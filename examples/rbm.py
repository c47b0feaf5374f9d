"""A restricted Boltzmann machine trained by contrastive divergence (CD-1), with plain tensor ops.

Run:  python examples/rbm.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
The data are the 4x4 "bars and stripes" images (MacKay, 2003): every image whose rows, or whose columns, are
each all on or all off (30 distinct patterns). CD-1 (Hinton, 2002) needs no gradient tape: the update
`W += lr * (<v h>_data - <v h>_model)` is computed from one Gibbs step with matmul, sigmoid and random draws,
and applied with `assign_add`. The script reports the reconstruction error and the free energy of the data
against random images before and after training, then lets the model dream by Gibbs sampling.
`--quick` runs fewer epochs (the tests use it). Nothing is written to disk.
"""
import argparse
import itertools

import numpy as np

import gpuflow as tf

parser = argparse.ArgumentParser(description="An RBM trained by CD-1 on bars and stripes.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick

SIDE, HIDDEN = 4, 16
EPOCHS = 300 if QUICK else 2000
LEARNING_RATE, BATCH = 0.2, 5


def bars_and_stripes():
    patterns = set()
    for bits in itertools.product([0, 1], repeat=SIDE):
        rows = np.repeat(np.array(bits, "float32")[:, None], SIDE, axis=1)
        patterns.add(rows.tobytes())
        patterns.add(rows.T.copy().tobytes())
    return np.array([np.frombuffer(p, "float32") for p in sorted(patterns)])


tf.random.set_seed(0)
data = tf.constant(bars_and_stripes())
n_visible = SIDE * SIDE
W = tf.Variable(tf.random.normal((n_visible, HIDDEN), stddev=0.01))
b_visible = tf.Variable(tf.zeros((n_visible,)))
b_hidden = tf.Variable(tf.zeros((HIDDEN,)))


def sample(probs):
    """Bernoulli draws: 1 where a uniform draw is below the probability."""
    return tf.cast(tf.random.uniform(tf.shape(probs)) < probs, "float32")


def hidden_probs(v):
    return tf.sigmoid(tf.matmul(v, W) + b_hidden)


def visible_probs(h):
    return tf.sigmoid(tf.matmul(h, W, transpose_b=True) + b_visible)


def free_energy(v):
    """F(v) = -v.b_v - sum_j softplus(v W_j + b_h_j): low for the patterns the model likes."""
    return -tf.reduce_sum(v * b_visible, axis=1) - tf.reduce_sum(tf.nn.softplus(tf.matmul(v, W) + b_hidden), axis=1)


def reconstruction_error(v):
    return float(tf.reduce_mean(tf.square(v - visible_probs(hidden_probs(v)))))


def cd1_step(v0):
    """One contrastive-divergence update from the batch v0 (Hinton, 2002)."""
    h0 = hidden_probs(v0)
    v1 = visible_probs(sample(h0))
    h1 = hidden_probs(v1)
    n = float(v0.shape[0])
    W.assign_add(LEARNING_RATE * (tf.matmul(v0, h0, transpose_a=True) - tf.matmul(v1, h1, transpose_a=True)) / n)
    b_visible.assign_add(LEARNING_RATE * tf.reduce_mean(v0 - v1, axis=0))
    b_hidden.assign_add(LEARNING_RATE * tf.reduce_mean(h0 - h1, axis=0))


noise = tf.constant((np.random.default_rng(1).random((30, n_visible)) < 0.5).astype("float32"))
print(f"{data.shape[0]} patterns of {SIDE}x{SIDE}; {HIDDEN} hidden units; {EPOCHS} epochs of CD-1")
print(f"Before training: reconstruction error {reconstruction_error(data):.4f}")
for epoch in range(EPOCHS):
    order = np.random.default_rng(epoch).permutation(data.shape[0])
    for start in range(0, len(order), BATCH):
        cd1_step(tf.gather(data, order[start:start + BATCH]))
    if not QUICK and (epoch + 1) % 200 == 0:
        print(f"epoch {epoch + 1}: reconstruction error {reconstruction_error(data):.4f}")
print(f"After training: reconstruction error {reconstruction_error(data):.4f}")
gap = float(tf.reduce_mean(free_energy(noise)) - tf.reduce_mean(free_energy(data)))
print(f"Free energy of random images minus that of the data: {gap:.3f}")

# Dreaming: Gibbs sampling from noise, then the share of dreams that are valid bars-and-stripes patterns.
v = noise
for _ in range(50):
    v = sample(visible_probs(sample(hidden_probs(v))))
valid = {row.tobytes() for row in data.numpy()}
dreams = visible_probs(sample(hidden_probs(v))).numpy() > 0.5
share = np.mean([d.astype("float32").tobytes() in valid for d in dreams])
print(f"Valid patterns among 30 dreams: {share:.2f}")
print("A dream:\n" + "\n".join("".join("#" if p else "." for p in row) for row in dreams[0].reshape(SIDE, SIDE)))
