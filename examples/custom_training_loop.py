"""Custom training: a GradientTape loop, metric objects, tf.data, and an overridden `train_step`.

Part 1 trains an MLP on a 3-class spiral with a hand-written loop:
  tf.data.Dataset.from_tensor_slices(...).shuffle(...).batch(...), tf.GradientTape,
  optimizer.apply_gradients, and metrics driven by update_state / result / reset_state.
Part 2 subclasses keras.Model, overrides `train_step` (and `test_step`) and trains it
with the ordinary `model.fit` on the same Dataset.

Run:  python examples/custom_training_loop.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
`--quick` shrinks the data and epochs (the tests use it). Nothing is written to disk.
"""
import argparse
import time

import numpy as np

import gpuflow as tf

keras = tf.keras
parser = argparse.ArgumentParser(description="A GradientTape training loop and an overridden train_step.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick
N_PER_CLASS = 300 if QUICK else 2000
EPOCHS = 15 if QUICK else 40
BATCH = 64
NUM_CLASSES = 3
keras.utils.set_random_seed(0)


def spiral(n_per_class, rng):
    xs, ys = [], []
    for c in range(NUM_CLASSES):
        r = np.linspace(0.05, 1.0, n_per_class)
        theta = np.linspace(c * 2 * np.pi / NUM_CLASSES, c * 2 * np.pi / NUM_CLASSES + 5.0, n_per_class)
        theta = theta + rng.normal(0, 0.3, n_per_class)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(n_per_class, c))
    x, y = np.concatenate(xs).astype("float32"), np.concatenate(ys).astype("int64")
    perm = rng.permutation(len(x))
    return x[perm], y[perm]


rng = np.random.default_rng(0)
x, y = spiral(N_PER_CLASS, rng)
split = int(0.8 * len(x))
x_train, y_train, x_val, y_val = x[:split], y[:split], x[split:], y[split:]

train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(buffer_size=1024, seed=0).batch(BATCH)
val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(BATCH)
print(f"train batches per epoch: {len(train_ds)}, val batches: {len(val_ds)}")


def make_mlp():
    return keras.Sequential([
        keras.Input(shape=(2,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(NUM_CLASSES),
    ])


# ---------------------------------------------------------------- Part 1: GradientTape loop
print("=== Part 1: custom loop with tf.GradientTape ===")
model = make_mlp()
optimizer = keras.optimizers.Adam(learning_rate=1e-2)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_loss = keras.metrics.Mean(name="train_loss")
train_acc = keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
val_acc = keras.metrics.SparseCategoricalAccuracy(name="val_accuracy")


def train_step(x_batch, y_batch):
    with tf.GradientTape() as tape:
        logits = model(x_batch, training=True)
        loss = loss_fn(y_batch, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    train_loss.update_state(loss)
    train_acc.update_state(y_batch, logits)


for epoch in range(EPOCHS):
    start = time.time()
    for x_batch, y_batch in train_ds:
        train_step(x_batch, y_batch)
    for x_batch, y_batch in val_ds:
        val_acc.update_state(y_batch, model(x_batch, training=False))
    if epoch % 5 == 4 or epoch == EPOCHS - 1:
        print(f"epoch {epoch + 1:3d}: loss {float(train_loss.result()):.4f}  "
              f"acc {float(train_acc.result()):.4f}  val_acc {float(val_acc.result()):.4f}  "
              f"({time.time() - start:.2f}s)")
    loop_val_acc = float(val_acc.result())
    for m in (train_loss, train_acc, val_acc):
        m.reset_state()
print(f"Custom loop validation accuracy: {loop_val_acc:.4f}")


# ---------------------------------------------------------------- Part 2: overridden train_step
print("=== Part 2: subclassed keras.Model with an overridden train_step, used with fit() ===")


class CustomModel(keras.Model):
    """An MLP whose train_step / test_step are written by hand; `fit` and `evaluate` drive them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden1 = keras.layers.Dense(64, activation="relu")
        self.hidden2 = keras.layers.Dense(64, activation="relu")
        self.out = keras.layers.Dense(NUM_CLASSES)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def call(self, inputs, training=False):
        return self.out(self.hidden2(self.hidden1(inputs)))

    @property
    def metrics(self):
        # Listed here so fit() / evaluate() reset them at the start of each epoch.
        return [self.loss_tracker, self.acc_metric]

    def train_step(self, data):
        # tf.keras passes the dataset element, (x, y), here. gpuflow currently always passes
        # (x, y, sample_weight) (sample_weight=None); slicing accepts both.
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.acc_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data[0], data[1]
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.loss_fn(y, y_pred))
        self.acc_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


custom = CustomModel()
custom.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2))  # the loss lives in train_step
history = custom.fit(train_ds, validation_data=val_ds, epochs=EPOCHS, verbose=0)
last = {k: v[-1] for k, v in history.history.items()}
print("last epoch logs: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(last.items())))
results = custom.evaluate(val_ds, verbose=0, return_dict=True)
print(f"evaluate(): {results}")
print(f"Subclassed train_step validation accuracy: {float(results['accuracy']):.4f} (chance {1 / NUM_CLASSES:.4f})")
