"""Model builders shared by ``gpuflow train``, ``gpuflow bench model``, ``gpuflow parity``, the examples and the
tests. Each takes the ``keras`` module to build with (``gpuflow.keras``, or Keras itself for a peer), so one
definition serves every framework; importing this module imports nothing else."""
from __future__ import annotations

__all__ = ["build_seed_cnn"]


def build_seed_cnn(keras):
    """The seed CNN, built with ``keras``: Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2,
    Flatten, Dense 128 relu, Dense 10 (logits), on (28, 28, 1) float32 images; an uncompiled Sequential."""
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
