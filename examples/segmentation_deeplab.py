"""A small DeepLab-style semantic segmentation model on synthetic shapes.

Images hold random circles (class 1) and squares (class 2) on a noisy background
(class 0); the target is the per-pixel class mask. The model is the DeepLab recipe
in miniature: a frozen backbone (a Conv2D stack built as its own sub-model, then
`base.trainable = False`, as one does with a pretrained backbone), an ASPP block of
parallel dilated 3x3 convolutions (dilation_rate 1, 2, 4) plus an image-pooling
branch (GlobalAveragePooling2D -> Reshape -> 1x1 Conv2D -> UpSampling2D), a
Concatenate, and a 1x1 Conv2D head with a per-pixel softmax.

Run:  python examples/segmentation_deeplab.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
`--quick` shrinks the data and epochs (the tests use it). Nothing is written to disk.
"""
import argparse

import numpy as np

import gpuflow as tf

keras = tf.keras
layers = keras.layers
parser = argparse.ArgumentParser(description="A small DeepLab-style segmentation model on synthetic shapes.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick

SIZE = 16 if QUICK else 32
N_TRAIN = 160 if QUICK else 1200
N_TEST = 40 if QUICK else 200
EPOCHS = 4 if QUICK else 15
NUM_CLASSES = 3
keras.utils.set_random_seed(0)


def make_data(n, size, rng):
    """Images (n, size, size, 3) with circles (red-ish) and squares (blue-ish); masks (n, size, size)."""
    images = 0.1 * rng.standard_normal((n, size, size, 3)).astype("float32") + 0.3
    masks = np.zeros((n, size, size), dtype="int32")
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cls = rng.integers(1, 3)
            r = rng.integers(size // 8, size // 4 + 1)
            cy, cx = rng.integers(r, size - r, size=2)
            if cls == 1:
                region = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
                color = np.array([0.9, 0.3, 0.2]) + 0.1 * rng.standard_normal(3)
            else:
                region = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
                color = np.array([0.2, 0.3, 0.9]) + 0.1 * rng.standard_normal(3)
            images[i][region] = color + 0.05 * rng.standard_normal((region.sum(), 3))
            masks[i][region] = cls
    return images.astype("float32"), masks


rng = np.random.default_rng(0)
x_train, y_train = make_data(N_TRAIN, SIZE, rng)
x_test, y_test = make_data(N_TEST, SIZE, rng)
print(f"images {x_train.shape}, masks {y_train.shape}, class pixel fractions "
      f"{np.bincount(y_train.ravel(), minlength=NUM_CLASSES) / y_train.size}")

# --- backbone, built as its own model (in practice: pretrained weights), then frozen ---
base_in = keras.Input(shape=(SIZE, SIZE, 3))
h = layers.Conv2D(16, 3, padding="same", activation="relu")(base_in)
h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
h = layers.MaxPooling2D(2)(h)
h = layers.Conv2D(32, 3, padding="same", activation="relu")(h)
base = keras.Model(base_in, h, name="backbone")
base.trainable = False

# --- DeepLab-style head ---
inputs = keras.Input(shape=(SIZE, SIZE, 3))
features = base(inputs, training=False)           # (SIZE/2, SIZE/2, 32)
fh = SIZE // 2
branches = [layers.Conv2D(16, 3, padding="same", dilation_rate=d, activation="relu", name=f"aspp_rate{d}")(features)
            for d in (1, 2, 4)]
pool = layers.GlobalAveragePooling2D()(features)
pool = layers.Reshape((1, 1, 32))(pool)
pool = layers.Conv2D(16, 1, activation="relu", name="image_pool_conv")(pool)
pool = layers.UpSampling2D(size=(fh, fh), name="image_pool_upsample")(pool)
x = layers.Concatenate()(branches + [pool])
x = layers.Conv2D(32, 1, activation="relu", name="aspp_project")(x)
x = layers.UpSampling2D(size=2, interpolation="bilinear")(x)
outputs = layers.Conv2D(NUM_CLASSES, 1, activation="softmax", name="pixel_classifier")(x)
model = keras.Model(inputs, outputs, name="mini_deeplab")
model.summary()
print(f"trainable weights: {len(model.trainable_weights)}, non-trainable weights: {len(model.non_trainable_weights)}")

model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
base_before = [w.copy() for w in base.get_weights()]
model.fit(x_train, y_train, batch_size=16, epochs=EPOCHS, validation_split=0.1, verbose=0 if QUICK else 2)
assert all(np.array_equal(a, b) for a, b in zip(base_before, base.get_weights())), "frozen backbone changed!"
print("backbone weights unchanged by training (frozen)")

probs = model.predict(x_test, verbose=0)
pred = np.asarray(probs).argmax(-1)
pixel_acc = float((pred == y_test).mean())
majority = float((y_test == 0).mean())
ious = []
for c in range(NUM_CLASSES):
    inter = np.logical_and(pred == c, y_test == c).sum()
    union = np.logical_or(pred == c, y_test == c).sum()
    ious.append(inter / union if union else float("nan"))
print(f"per-class IoU: {', '.join(f'{c}={v:.3f}' for c, v in enumerate(ious))}; mean IoU {np.nanmean(ious):.3f}")
print(f"Test pixel accuracy: {pixel_acc:.4f} (all-background baseline: {majority:.4f})")
