"""Transfer learning and fine-tuning with a pretrained MobileNetV2, following TensorFlow's "Transfer learning and
fine-tuning" guide, on Fashion-MNIST.

1. The base: ``keras.applications.MobileNetV2(include_top=False, alpha=0.35)`` on 32x32x3 images, frozen
   (``base_model.trainable = False``).
2. The model: Fashion-MNIST's 28x28 grayscale images resized to 32x32 (``Resizing``) and repeated to 3 channels,
   a random horizontal flip, MobileNetV2's ``preprocess_input``, the base called with ``training=False`` as the
   guide does, then a new head: ``GlobalAveragePooling2D`` -> ``Dropout(0.2)`` -> ``Dense(10)``. Only the head is
   trained.
3. Fine-tuning: the top layers of the base (from layer ``FINE_TUNE_AT`` on) are unfrozen, except the
   BatchNormalization layers, and the model is trained again with a 10x lower learning rate (RMSprop, as the
   guide). The BatchNormalization layers must stay in inference mode (their moving statistics fixed): in Keras 3,
   and so in gpuflow, ``fit``'s ``training=True`` reaches every layer of a functional model, overriding the
   ``training=False`` of step 2 (keras-team/keras#20285), so they are kept frozen instead (a frozen
   BatchNormalization runs in inference mode), as Keras's EfficientNet fine-tuning example does. The script
   checks that their moving statistics do not change.

Run:  python examples/transfer_learning.py [--weights imagenet|none|PATH] [--quick] [--output-dir DIR]

``--weights``: ``imagenet`` (default) loads Keras's published file
``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5`` from the Keras cache (``~/.keras/models/``,
downloaded there when online; offline, the error says where to put it); ``none`` starts from random weights; any
other value is the path of a local Keras weights file for ``MobileNetV2(alpha=0.35, include_top=False)``, e.g.
``~/.keras/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5`` (the weights do not depend
on the input size). Only the import differs from TensorFlow: ``import gpuflow as tf``.
``--quick`` trains on 512 images for one epoch per stage (the tests use it). Nothing is written to disk unless
``--output-dir`` is given (the fine-tuned model is saved there as ``transfer_learning.keras``), except Fashion-MNIST's
and the weights' downloads into their caches when no copy is found.
"""
import argparse
import os
import sys

import numpy as np

import gpuflow as tf

keras = tf.keras
layers = keras.layers
parser = argparse.ArgumentParser(description="Transfer learning and fine-tuning of MobileNetV2 on Fashion-MNIST.")
parser.add_argument("--weights", default="imagenet",
                    help="'imagenet' (Keras's file, from the Keras cache), 'none' (random) or a weights file's path")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
parser.add_argument("--output-dir", help="save the fine-tuned model there (default: save nothing)")
args = parser.parse_args()
WEIGHTS = None if args.weights.lower() == "none" else args.weights
if WEIGHTS not in (None, "imagenet"):
    WEIGHTS = os.path.expanduser(WEIGHTS)
N_TRAIN, N_TEST = (512, 256) if args.quick else (20000, 5000)
EPOCHS_HEAD, EPOCHS_FT = (1, 1) if args.quick else (5, 5)
IMG_SIZE = 32              # MobileNetV2's smallest input
FINE_TUNE_AT = 100         # the guide's choice: layers 100 to 153 of the base are fine-tuned
BASE_LEARNING_RATE = 1e-3
keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train, y_train = x_train[:N_TRAIN, ..., None].astype("float32"), y_train[:N_TRAIN].astype("int64")
x_test, y_test = x_test[:N_TEST, ..., None].astype("float32"), y_test[:N_TEST].astype("int64")
print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images, pixel values in [0, 255]")

# ---- 1. the pretrained base, frozen ----
try:
    base_model = keras.applications.MobileNetV2(input_shape=(IMG_SIZE, IMG_SIZE, 3), alpha=0.35, include_top=False,
                                                weights=WEIGHTS)
except FileNotFoundError as e:  # weights="imagenet" offline, with no cached file: the error says where to put it
    sys.exit(f"{e}\nOr run with --weights PATH (a local weights file) or --weights none (random weights).")
print(f"Base weights: {args.weights}; {len(base_model.layers)} layers, {base_model.count_params():,} parameters; "
      f"sum of Conv1's kernel: {float(np.sum(base_model.get_layer('Conv1').get_weights()[0])):.6f}")
base_model.trainable = False

# ---- 2. a new head on the frozen base; only the head trains ----
inputs = keras.Input(shape=(28, 28, 1))
x = layers.Resizing(IMG_SIZE, IMG_SIZE)(inputs)
x = layers.Concatenate()([x, x, x])                   # grayscale -> the 3 channels the base expects
x = layers.RandomFlip("horizontal")(x)                # data augmentation, active in training only
x = keras.applications.mobilenet_v2.preprocess_input(x)   # [0, 255] -> [-1, 1]
x = base_model(x, training=False)                     # BatchNormalization in inference mode, even when unfrozen
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs, outputs)


def compile_and_report(optimizer, stage):
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    print(f"[{stage}] trainable params: {trainable:,}  non-trainable params: {frozen:,}")


compile_and_report(keras.optimizers.Adam(BASE_LEARNING_RATE), "head only")
_, acc0 = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy with an untrained head: {acc0:.4f} (chance 0.1000)")
model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS_HEAD, validation_split=0.1, verbose=2)
_, acc_head = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy after training the head: {acc_head:.4f}")

# ---- 3. fine-tune the top of the base with a lower learning rate ----
base_model.trainable = True
for i, layer in enumerate(base_model.layers):
    # below FINE_TUNE_AT, and every BatchNormalization: frozen (a frozen BatchNormalization runs in inference mode)
    layer.trainable = i >= FINE_TUNE_AT and not isinstance(layer, layers.BatchNormalization)
compile_and_report(keras.optimizers.RMSprop(BASE_LEARNING_RATE / 10), "fine-tuning")  # recompile after the change
bn_layers = [layer for layer in base_model.layers if isinstance(layer, layers.BatchNormalization)]
bn_before = [w.copy() for layer in bn_layers for w in layer.get_weights()]
conv_before = base_model.get_layer("Conv_1").get_weights()[0].copy()   # the base's last convolution, unfrozen
model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS_FT, validation_split=0.1, verbose=2)
bn_same = all(np.array_equal(a, b) for a, b in zip(bn_before, (w for l in bn_layers for w in l.get_weights())))
print(f"Fine-tuning changed Conv_1's kernel: {not np.array_equal(conv_before, base_model.get_layer('Conv_1').get_weights()[0])}; "
      f"BatchNormalization weights and moving statistics unchanged: {bn_same}")
_, acc_ft = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy after fine-tuning: {acc_ft:.4f}")
if args.output_dir:
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "transfer_learning.keras")
    model.save(path)
    print(f"Saved the fine-tuned model to {path}")
