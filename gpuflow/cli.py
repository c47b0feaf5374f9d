"""The ``gpuflow`` command: ``gpuflow train`` (the seed CNN on Fashion-MNIST) and ``gpuflow info``.

Bad arguments exit with status 2 and a one-line error, as argparse does.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def build_seed_cnn(keras):
    """The seed CNN (Keras layers): Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2,
    Flatten, Dense 128 relu, Dense 10 (logits), on 28x28x1 images."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10),
    ])


def load_fashion_mnist(subset=None):
    """Fashion-MNIST as float32 (N, 28, 28, 1) images in [0, 1] and uint8 labels."""
    from .keras.datasets import fashion_mnist
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    if subset:
        x_train, y_train = x_train[:subset], y_train[:subset]
        x_test, y_test = x_test[:max(subset // 6, 1)], y_test[:max(subset // 6, 1)]
    prep = lambda x: (x.astype("float32") / 255.0)[..., None]  # noqa: E731
    return (prep(x_train), y_train), (prep(x_test), y_test)


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def cmd_train(args):
    if args.device:
        os.environ["GPUFLOW_DEVICE"] = args.device
    import gpuflow as tf
    from . import device as _unused  # noqa: F401
    dev_mod = sys.modules['gpuflow.device']
    keras = tf.keras
    try:
        device = dev_mod.default_device()
    except (dev_mod.DeviceUnavailableError, ValueError) as e:
        print(f"gpuflow train: error: {e}", file=sys.stderr)
        return 2
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    try:
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist(args.subset)
    except (FileNotFoundError, OSError) as e:
        print(f"gpuflow train: error: {e}", file=sys.stderr)
        return 1
    print(f"gpuflow {tf.__version__} on {device} ({dev_mod.default_device_reason()}); "
          f"Fashion-MNIST: {len(x_train)} train / {len(x_test)} test images")
    model = build_seed_cnn(keras)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    if args.verbose:
        model.summary()
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose)
    train_s = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"Test accuracy: {acc:.4f} (loss {loss:.4f}) after {args.epochs} epoch(s) at batch size "
          f"{args.batch_size}; training took {train_s:.1f} s ({train_s / args.epochs:.1f} s/epoch)")
    if args.save:
        model.save_weights(args.save)
        print(f"Saved weights to {args.save}")
    return 0


def cmd_info(args):
    import numpy as np
    import gpuflow as tf
    from . import device as _unused  # noqa: F401
    dev_mod = sys.modules['gpuflow.device']
    print(f"gpuflow {tf.__version__}")
    print(f"Python {platform.python_version()} on {platform.platform()}")
    print(f"NumPy {np.__version__}")
    try:
        dev = dev_mod.default_device()
        print(f"Default device: {dev}")
        print(f"Backend: {dev_mod.backend_for(dev).name}")
        print(f"Why: {dev_mod.default_device_reason()}")
    except Exception as e:  # info must always print something useful
        print(f"Default device: unavailable ({e})")
    ok, why = dev_mod._probe_cuda()
    print(f"CUDA: {'available' if ok else 'not available'} ({why})")
    return 0


def make_parser():
    p = argparse.ArgumentParser(prog="gpuflow", description="gpuflow: train the seed CNN, show device info.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the seed CNN on Fashion-MNIST and report test accuracy")
    t.add_argument("--epochs", type=_positive_int, default=10, help="training epochs (default 10)")
    t.add_argument("--batch-size", type=_positive_int, default=128, help="batch size (default 128)")
    t.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    t.add_argument("--device", choices=["cpu", "gpu", "auto"], default=None,
                   help="device (default: GPUFLOW_DEVICE, else auto)")
    t.add_argument("--subset", type=_positive_int, default=None, help="train on the first N images only")
    t.add_argument("--seed", type=int, default=None, help="random seed for reproducible runs")
    t.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1 if sys.stdout.isatty() else 2,
                   help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 on a terminal, else 2)")
    t.add_argument("--save", metavar="PATH", default=None, help="save the trained weights (.weights.h5)")
    t.set_defaults(func=cmd_train)
    i = sub.add_parser("info", help="show the backend, device and versions in use")
    i.set_defaults(func=cmd_info)
    return p


def main(argv=None):
    args = make_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
