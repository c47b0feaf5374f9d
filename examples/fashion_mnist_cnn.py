"""The seed CNN on Fashion-MNIST, written exactly as a tf.keras user writes it.

Run:  python examples/fashion_mnist_cnn.py [--epochs N] [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
`--quick` trains one epoch on 1,000 images (the tests use it). Nothing is written to disk
(except Fashion-MNIST's download into the dataset cache, when no copy is found).
"""
import argparse

import gpuflow as tf

keras = tf.keras
parser = argparse.ArgumentParser(description="The seed CNN on Fashion-MNIST.")
parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
parser.add_argument("--quick", action="store_true", help="one epoch on 1,000 images (what the tests use)")
args = parser.parse_args()
epochs = 1 if args.quick else args.epochs

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
if args.quick:
    x_train, y_train, x_test, y_test = x_train[:1000], y_train[:1000], x_test[:200], y_test[:200]
x_train = (x_train.astype("float32") / 255.0)[..., None]
x_test = (x_test.astype("float32") / 255.0)[..., None]

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(32, 3, activation="relu"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10),
])
model.summary()
model.compile(optimizer="adam",
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1)
test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
print(f"Test accuracy: {test_acc:.4f}")
