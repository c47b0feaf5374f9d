"""Helpers of the serving tests: tiny exported models, and HTTP calls with a time limit."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import numpy as np

from gpuflow import keras

TIMEOUT = 20  # seconds for any one request


def tiny_dense(seed=0, units=2):
    """Sequential Input(3) -> Dense(units), weights from ``seed``."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(shape=(3,), name="x"), keras.layers.Dense(units, name="y")])


def two_in_two_out():
    """Functional: inputs a (3,) and b (2,); outputs o1 (2,) and o2 (1,)."""
    keras.utils.set_random_seed(1)
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    h = keras.layers.Concatenate()([a, b])
    return keras.Model([a, b], [keras.layers.Dense(2, name="o1")(h), keras.layers.Dense(1, name="o2")(h)])


def export(model, base, version):
    model.export(os.path.join(base, str(version)), verbose=False)


def config(name, base, **fields):
    from gpuflow.serving.protos import model_server_config_pb2 as pb
    return pb.ModelConfig(name=name, base_path=str(base), **fields)


def call(url, body=None, raw=None):
    """(status, JSON document) of a GET (no body) or POST (``body`` as JSON, or ``raw`` bytes)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def predict(port, name, body, suffix=""):
    return call(f"http://127.0.0.1:{port}/v1/models/{name}{suffix}:predict", body)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)
