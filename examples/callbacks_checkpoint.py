"""Training callbacks, checkpointing, and resuming from a checkpoint.

Trains an MLP on a noisy synthetic classification problem (small training set, so it
overfits and validation loss stops improving) with:
  EarlyStopping(restore_best_weights=True), ModelCheckpoint(save_best_only=True, ".keras"),
  ReduceLROnPlateau, CSVLogger and LearningRateScheduler;
then reloads the best checkpoint with keras.models.load_model and resumes training.

Run:  python examples/callbacks_checkpoint.py [--quick] [--output-dir DIR]
Only the import differs from TensorFlow: `import gpuflow as tf`.
`--quick` shrinks the data and epochs (the tests use it). The files (checkpoint, CSV log,
TensorBoard logs) go to --output-dir, else to a new temporary folder; the script prints which.
"""
import argparse
import csv
import os
import tempfile

import numpy as np

import gpuflow as tf

keras = tf.keras
parser = argparse.ArgumentParser(description="Training callbacks, checkpointing, and resuming from a checkpoint.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
parser.add_argument("--output-dir", help="folder for the checkpoint and logs (default: a new temporary folder)")
args = parser.parse_args()
QUICK = args.quick
OUTDIR = args.output_dir or tempfile.mkdtemp(prefix="gpuflow_callbacks_example_")
os.makedirs(OUTDIR, exist_ok=True)
print(f"checkpoint and logs go to {OUTDIR}")
N_TRAIN, N_VAL = (400, 400) if QUICK else (2000, 2000)
MAX_EPOCHS = 30 if QUICK else 200
RESUME_EPOCHS = 3 if QUICK else 10
keras.utils.set_random_seed(0)

# 20 features, 4 classes; the label depends nonlinearly on 5 of them, 10% of labels flipped.
rng = np.random.default_rng(0)
n = N_TRAIN + N_VAL
x = rng.standard_normal((n, 20)).astype("float32")
score = np.stack([x[:, 0] * x[:, 1], np.sin(2 * x[:, 2]), x[:, 3] ** 2 - 1, x[:, 4]], axis=1)
y = score.argmax(1)
flip = rng.random(n) < 0.1
y[flip] = rng.integers(0, 4, flip.sum())
x_train, y_train, x_val, y_val = x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]

model = keras.Sequential([
    keras.Input(shape=(20,)),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.3),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.3),
    keras.layers.Dense(4, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])

ckpt_path = os.path.join(OUTDIR, "best_model.keras")
csv_path = os.path.join(OUTDIR, "training_log.csv")


def schedule(epoch, lr):
    """Keep the initial rate for 5 epochs, then decay it by 5% per epoch."""
    return lr if epoch < 5 else lr * 0.95


callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True, verbose=1),
    keras.callbacks.ModelCheckpoint(ckpt_path, monitor="val_loss", save_best_only=True, verbose=1),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=1e-5, verbose=1),
    keras.callbacks.CSVLogger(csv_path),
    keras.callbacks.LearningRateScheduler(schedule),
]
try:  # TensorBoard's event files are written by the optional tensorboardX (pip install 'gpuflow[tensorboard]')
    callbacks.append(keras.callbacks.TensorBoard(log_dir=os.path.join(OUTDIR, "logs")))
    print(f"TensorBoard logs: {os.path.join(OUTDIR, 'logs')} (view with: tensorboard --logdir ...)")
except ImportError as e:
    print(f"TensorBoard skipped: {e}")
history = model.fit(x_train, y_train, batch_size=32, epochs=MAX_EPOCHS, validation_data=(x_val, y_val),
                    callbacks=callbacks, verbose=2)
epochs_run = len(history.history["loss"])
best_epoch = int(np.argmin(history.history["val_loss"]))
best_val_loss = history.history["val_loss"][best_epoch]
print(f"ran {epochs_run} of {MAX_EPOCHS} epochs; best val_loss {best_val_loss:.4f} at epoch {best_epoch + 1}")
print("learning rate per epoch: " + ", ".join(f"{lr:.2e}" for lr in history.history["learning_rate"]))

val_loss_restored, val_acc_restored = model.evaluate(x_val, y_val, verbose=0)
print(f"in-memory model after EarlyStopping restore: val_loss {val_loss_restored:.4f}, val_acc {val_acc_restored:.4f}")

with open(csv_path) as f:
    rows = list(csv.DictReader(f))
print(f"CSVLogger wrote {len(rows)} rows with columns {list(rows[0])}")

# ---- reload the best checkpoint and resume training ----
restored = keras.models.load_model(ckpt_path)
ckpt_val_loss, ckpt_val_acc = restored.evaluate(x_val, y_val, verbose=0)
print(f"checkpoint {os.path.basename(ckpt_path)}: val_loss {ckpt_val_loss:.4f}, val_acc {ckpt_val_acc:.4f}")
assert abs(ckpt_val_loss - best_val_loss) < 1e-3, (ckpt_val_loss, best_val_loss)
print(f"optimizer restored: {type(restored.optimizer).__name__}, "
      f"learning_rate {float(restored.optimizer.learning_rate.numpy()):.2e}, "
      f"iterations {int(restored.optimizer.iterations.numpy())}")

resume = restored.fit(x_train, y_train, batch_size=32, initial_epoch=epochs_run,
                      epochs=epochs_run + RESUME_EPOCHS, validation_data=(x_val, y_val),
                      callbacks=[keras.callbacks.CSVLogger(csv_path, append=True)], verbose=2)
with open(csv_path) as f:
    n_rows = sum(1 for _ in csv.DictReader(f))
print(f"resumed for {len(resume.history['loss'])} epochs; CSV log now has {n_rows} rows")
print(f"Resumed model: val_loss {resume.history['val_loss'][-1]:.4f}, "
      f"val_accuracy {resume.history['val_accuracy'][-1]:.4f} (chance 0.25)")
