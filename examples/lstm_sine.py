"""SimpleRNN vs LSTM vs GRU on a noisy sine series: a window of past values -> the next value.

Run:  python examples/lstm_sine.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
`--quick` shrinks the data and epochs (the tests use it). Nothing is written to disk.
"""
import argparse

import numpy as np

import gpuflow as tf

keras = tf.keras
parser = argparse.ArgumentParser(description="SimpleRNN vs LSTM vs GRU on a noisy sine series.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick

WINDOW = 12 if QUICK else 30
N_POINTS = 700 if QUICK else 4000
EPOCHS = 6 if QUICK else 20
UNITS = 16 if QUICK else 32

# A sine wave with two frequencies plus a little noise.
rng = np.random.default_rng(0)
t = np.arange(N_POINTS, dtype="float32")
series = (np.sin(0.1 * t) + 0.5 * np.sin(0.031 * t) + 0.05 * rng.standard_normal(N_POINTS)).astype("float32")

# windows [s[i], ..., s[i+WINDOW-1]] -> s[i+WINDOW]
x = np.stack([series[i:i + WINDOW] for i in range(N_POINTS - WINDOW)])[..., None]
y = series[WINDOW:][:, None]
split = int(0.8 * len(x))
x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
print(f"train windows: {x_train.shape}, test windows: {x_test.shape}")

# A baseline: predict that the next value equals the last one seen.
naive_mse = float(np.mean((x_test[:, -1, :] - y_test) ** 2))
print(f"naive (last value) test MSE: {naive_mse:.5f}")


def build(rnn_layer):
    model = keras.Sequential([
        keras.Input(shape=(WINDOW, 1)),
        rnn_layer,
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse", metrics=["mae"])
    return model


results = {}
for name, layer_cls in [("SimpleRNN", keras.layers.SimpleRNN),
                        ("LSTM", keras.layers.LSTM),
                        ("GRU", keras.layers.GRU)]:
    keras.utils.set_random_seed(42)
    model = build(layer_cls(UNITS))
    if name == "LSTM":
        model.summary()
    model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, validation_split=0.1, verbose=2 if not QUICK else 0)
    mse, mae = model.evaluate(x_test, y_test, verbose=0)
    results[name] = mse
    print(f"{name:9s} test MSE: {mse:.5f}  MAE: {mae:.5f}")

best = min(results, key=results.get)
print("Summary: " + ", ".join(f"{k}={v:.5f}" for k, v in results.items()) + f" (naive={naive_mse:.5f})")
print(f"Best model: {best} with test MSE {results[best]:.5f}")
