"""Transfer learning: reuse a CNN trained on Fashion-MNIST classes 0-4 for classes 5-9.

1. Train a small CNN (a `base` feature extractor + a 5-way head) on classes 0-4
   (T-shirt, Trouser, Pullover, Dress, Coat).
2. Freeze the base (`base.trainable = False`), put a new 5-way head on it and train
   only the head on classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot).
3. Unfreeze the base and fine-tune everything with a 10x lower learning rate.
Trainable / non-trainable parameter counts are printed at each stage.

Run:  python examples/transfer_learning.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
`--quick` uses a small subset and fewer epochs (the tests use it). Nothing is written to disk
(except Fashion-MNIST's download into the dataset cache, when no copy is found).
If Fashion-MNIST cannot be loaded (no local copy, no network), synthetic data is used.
"""
import argparse

import numpy as np

import gpuflow as tf

keras = tf.keras
layers = keras.layers
parser = argparse.ArgumentParser(description="Transfer learning from Fashion-MNIST classes 0-4 to 5-9.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick
N_PER_TASK = 1500 if QUICK else None        # training samples per task (None: all ~30k)
N_TEST_PER_TASK = 500 if QUICK else None
EPOCHS_A, EPOCHS_HEAD, EPOCHS_FT = (2, 2, 1) if QUICK else (5, 5, 3)
keras.utils.set_random_seed(0)


def synthetic_fashion(n_train=12000, n_test=2000, seed=0):
    """Stand-in data with Fashion-MNIST's shapes: each class is a noisy, shifted template."""
    rng = np.random.default_rng(seed)
    templates = rng.random((10, 7, 7)) > 0.5
    templates = np.kron(templates, np.ones((4, 4))).astype("float32")  # 28x28 blocky patterns

    def draw(n):
        y = rng.integers(0, 10, n).astype("uint8")
        x = templates[y] * 200 + rng.normal(0, 40, (n, 28, 28))
        x = np.stack([np.roll(img, rng.integers(-2, 3, 2), axis=(0, 1)) for img in x])
        return np.clip(x, 0, 255).astype("uint8"), y
    return draw(n_train), draw(n_test)


try:
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
except Exception as e:  # no local copy and no network
    print(f"NOTE: Fashion-MNIST unavailable ({type(e).__name__}: {e}); using synthetic data instead.")
    (x_train, y_train), (x_test, y_test) = synthetic_fashion()
x_train = (x_train.astype("float32") / 255.0)[..., None]
x_test = (x_test.astype("float32") / 255.0)[..., None]


def task(x, y, lo, n):
    keep = (y >= lo) & (y < lo + 5)
    x, y = x[keep], (y[keep] - lo).astype("int64")
    return (x[:n], y[:n]) if n else (x, y)


xa, ya = task(x_train, y_train, 0, N_PER_TASK)
xa_test, ya_test = task(x_test, y_test, 0, N_TEST_PER_TASK)
xb, yb = task(x_train, y_train, 5, N_PER_TASK)
xb_test, yb_test = task(x_test, y_test, 5, N_TEST_PER_TASK)
print(f"task A (classes 0-4): {len(xa)} train / {len(xa_test)} test; "
      f"task B (classes 5-9): {len(xb)} train / {len(xb_test)} test")


def param_counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, frozen


def report(stage, model):
    t, f = param_counts(model)
    print(f"[{stage}] trainable params: {t:,}  non-trainable params: {f:,}")


# ---- 1. train base + head A on classes 0-4 ----
base = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
], name="base")
model_a = keras.Sequential([base, layers.Dense(5, name="head_a")], name="model_a")
model_a.compile(optimizer=keras.optimizers.Adam(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
report("task A, all trainable", model_a)
model_a.fit(xa, ya, batch_size=64, epochs=EPOCHS_A, validation_split=0.1, verbose=2)
_, acc_a = model_a.evaluate(xa_test, ya_test, verbose=0)
print(f"Task A (classes 0-4) test accuracy: {acc_a:.4f}")

# ---- 2. freeze the base, new head for classes 5-9, train the head only ----
base.trainable = False
inputs = keras.Input(shape=(28, 28, 1))
features = base(inputs, training=False)
outputs = layers.Dense(5, name="head_b")(features)
model_b = keras.Model(inputs, outputs, name="model_b")
model_b.compile(optimizer=keras.optimizers.Adam(1e-2),  # only 325 weights to fit: a higher rate is fine
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
model_b.summary()
report("task B, base frozen", model_b)
_, acc_before = model_b.evaluate(xb_test, yb_test, verbose=0)
print(f"Task B accuracy with an untrained head: {acc_before:.4f}")
frozen_before = [w.copy() for w in base.get_weights()]
model_b.fit(xb, yb, batch_size=64, epochs=EPOCHS_HEAD, validation_split=0.1, verbose=2)
assert all(np.array_equal(a, b) for a, b in zip(frozen_before, base.get_weights())), "frozen base changed"
_, acc_head = model_b.evaluate(xb_test, yb_test, verbose=0)
print(f"Task B (classes 5-9) test accuracy, head only: {acc_head:.4f}")

# ---- 3. unfreeze and fine-tune everything with a lower learning rate ----
base.trainable = True
model_b.compile(optimizer=keras.optimizers.Adam(1e-4),  # recompile after changing `trainable`; 10x below step 1
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
report("task B, fine-tuning", model_b)
model_b.fit(xb, yb, batch_size=64, epochs=EPOCHS_FT, validation_split=0.1, verbose=2)
_, acc_ft = model_b.evaluate(xb_test, yb_test, verbose=0)
print(f"Task B (classes 5-9) test accuracy after fine-tuning: {acc_ft:.4f}")
print(f"Summary: task A {acc_a:.4f}; task B head-only {acc_head:.4f} -> fine-tuned {acc_ft:.4f} (chance 0.2000)")
