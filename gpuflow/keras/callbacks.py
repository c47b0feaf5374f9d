"""Callbacks (``keras.callbacks``) with Keras 3's hook set: History, ProgbarLogger,
TerminateOnNaN, LambdaCallback, BackupAndRestore, and the ``Callback`` base class.

Under a ``tf.distribute`` strategy with several workers, only worker 0 (the chief) prints the progress
bar and writes ModelCheckpoint, TensorBoard, CSVLogger and BackupAndRestore files (the other workers
skip those callbacks), and every loop starts from worker 0's weights and random state."""
from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings

import numpy as np

from .utils.io_utils import print_msg

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "TerminateOnNaN", "LambdaCallback", "EarlyStopping",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "ModelCheckpoint", "TensorBoard",
           "BackupAndRestore"]


class Callback:
    """Base class (``keras.callbacks.Callback``): override any ``on_*`` hook.

    Attributes:
        model: the model being trained (set by ``set_model``).
        params: dict with ``verbose``, ``epochs`` and ``steps``.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass
    on_batch_begin = on_train_batch_begin
    on_batch_end = on_train_batch_end


class CallbackList:
    """Calls every hook on each callback in order, adding History and ProgbarLogger as Keras does.

    Under a strategy with several workers: on workers other than 0 the chief-only callbacks (progress bar,
    file writers) are left out, and ``on_train_begin``/``on_test_begin``/``on_predict_begin`` first copy
    worker 0's variables and random state to every worker."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        from ..distribute import keras_hooks
        self.callbacks = list(callbacks or [])
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances. Received: {type(c).__name__}")
        self.model = model
        if not keras_hooks.is_chief():
            self.callbacks = [c for c in self.callbacks if not getattr(c, "_chief_only", False)]
            add_progbar = False
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.history = None
        if add_history:
            self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
            if self.history is None:
                self.history = History()
                self.callbacks.append(self.history)
        for c in self.callbacks:
            if model is not None:
                c.set_model(model)
            c.set_params(params)

    def wants_batch_logs(self, hook, batch):
        """Whether a callback needs the logs (host values) at the batch hook ``hook`` (e.g.
        ``"on_train_batch_end"``) of step ``batch``: one that overrides it, or the live progress bar when it is
        due to redraw (:meth:`ProgbarLogger.wants_logs`). The loops on a CUDA backend bring the logs to the
        host only then (each time a device-to-host copy that waits for the device), else pass ``logs=None``."""
        wants = False
        for c in self.callbacks:
            if isinstance(c, ProgbarLogger):
                wants = c.wants_logs(hook, batch) or wants  # asked every time: it notes when it last drew
            elif hook in vars(c) or getattr(type(c), hook) is not getattr(Callback, hook):
                wants = True
        return wants

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            if hook in ("on_train_begin", "on_test_begin", "on_predict_begin") and self.model is not None:
                from ..distribute import keras_hooks
                keras_hooks.sync_model(self.model)
            for c in self.callbacks:
                getattr(c, hook)(*args, **kwargs)
        return call


class History(Callback):
    """Records each epoch's logs in ``history`` (a dict of lists); returned by ``fit``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints Keras's progress bar for fit, evaluate and predict (``keras.callbacks.ProgbarLogger``).

    The live bar (verbose=1) asks for the logs (:meth:`wants_logs`) at most every ``LIVE_INTERVAL`` seconds and
    at the last step; a batch hook given ``logs=None`` (the loops on a CUDA backend between host contacts) only
    counts the step."""

    LIVE_INTERVAL = 0.1  # seconds: a CUDA step's logs are one device-to-host copy, which waits for the device

    _chief_only = True

    def __init__(self, count_mode=None, stateful_metrics=None):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False
        self._logs_at = None  # time.monotonic() when the logs were last asked for

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init(self):
        if self.progbar is None:
            from .utils.progbar import Progbar
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                                   stateless_metrics=set())  # logs arrive already averaged

    def wants_logs(self, hook, batch):
        """Whether this bar draws values at ``hook`` of step ``batch``: with verbose=1, at the last step or when
        ``LIVE_INTERVAL`` has passed since it last asked (fit's validation and predict show none)."""
        if self.verbose != 1 or hook == "on_predict_batch_end" or (
                hook == "on_test_batch_end" and self._called_in_fit):
            return False
        now = time.monotonic()
        if batch + 1 == self.target or self._logs_at is None or now - self._logs_at >= self.LIVE_INTERVAL:
            self._logs_at = now
            return True
        return False

    def _update(self, batch, logs):
        self._maybe_init()
        self.seen = batch + 1
        if self.verbose == 1 and logs is not None:
            self.progbar.update(self.seen, list(logs.items()), finalize=False)

    def _finalize(self, logs):
        self._maybe_init()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._reset()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, {})  # predict shows no values, only the bar

    def on_predict_end(self, logs=None):
        self._finalize(None)

    def on_train_end(self, logs=None):
        self._called_in_fit = False


class TerminateOnNaN(Callback):
    """Stops training when a batch loss is NaN or infinite, printing the batch (Keras's message)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback built from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


def _monitor_op(monitor, mode, name):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{name}: mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode == "auto":
        higher_better = any(k in monitor for k in ("acc", "auc", "precision", "recall"))
        mode = "max" if higher_better else "min"
    return mode


class _Monitor(Callback):
    """Shared logic of the callbacks that watch a logged quantity for improvement (Keras's rules)."""

    def __init__(self, monitor, mode, min_delta, name):
        super().__init__()
        self.monitor = monitor
        self.mode = _monitor_op(monitor, mode, name)
        self.min_delta = abs(min_delta)

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def _initial_best(self):
        return float("inf") if self.mode == "min" else -float("inf")

    def _get(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            import warnings
            warnings.warn(f"{type(self).__name__}: metric '{self.monitor}' is not available. Available metrics are: "
                          f"{','.join(sorted(logs or {}))}", stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Stops training when ``monitor`` stops improving (``keras.callbacks.EarlyStopping``).

    Follows Keras 3: ``patience`` epochs without an improvement larger than
    ``min_delta`` stop training; ``restore_best_weights`` puts back the weights of
    the best epoch; ``baseline`` must be beaten for the wait to reset.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta, "EarlyStopping")
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._initial_best()
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._get(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta, "ReduceLROnPlateau")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.best = self._initial_best()
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
        current = self._get(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate.numpy())
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at each epoch from ``schedule(epoch, lr)`` (or ``schedule(epoch)``)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate.numpy())
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        new = float(new.numpy()) if hasattr(new, "numpy") else new
        if not isinstance(new, (float, int)):
            raise ValueError(f'The output of the "schedule" function should be a float. Got: {new}')
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file: ``epoch`` then the log keys (``keras.callbacks.CSVLogger``)."""

    _chief_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = str(filename), separator, append
        self.keys = None
        self._file = None

    def on_train_begin(self, logs=None):
        import os
        has_header = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._write_header = not has_header
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        import csv
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
            if self._write_header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class ModelCheckpoint(_Monitor):
    """Saves the model (or its weights) at the end of each epoch (``keras.callbacks.ModelCheckpoint``).

    ``filepath`` may contain format fields filled from the epoch (1-based) and the logs, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.2f}.weights.h5"``. With ``save_best_only`` a file is written
    only when ``monitor`` improves; when ``monitor`` is not in the logs, Keras's warning is given
    and the file is written. Writes are atomic (see :mod:`gpuflow.keras.saving`).

    Raises:
        ValueError: ``filepath`` with the wrong extension (``.weights.h5`` for weights, ``.keras``
            or legacy ``.h5`` for whole models), or ``save_freq`` other than "epoch".
        KeyError: (at an epoch's end) ``filepath`` names a field the logs do not have.
    """

    _chief_only = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0, "ModelCheckpoint")
        self.filepath = str(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint: only save_freq='epoch' is supported. Received: save_freq={save_freq!r}")
        suffixes = (".weights.h5",) if save_weights_only else (".keras", ".h5")  # as Keras 3
        if not self.filepath.endswith(suffixes):
            raise ValueError(f"When using `save_weights_only={save_weights_only}` in `ModelCheckpoint`, the filepath "
                             f"provided must end in {' or '.join(f'`{s}`' for s in suffixes)}. "
                             f"Received: filepath={self.filepath}")
        self.best = initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}') from None
        current = logs.get(self.monitor) if self.save_best_only else None
        if self.save_best_only and current is None:  # as Keras: warn, and save
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
        elif self.save_best_only:
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                prev = "inf" if self.best is None else f"{self.best:.5f}"
                print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {prev} to {current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class TensorBoard(Callback):
    """Writes logs as TensorBoard event files (``keras.callbacks.TensorBoard``, the scalar parts).

    Like Keras 3: training scalars go to ``<log_dir>/train`` and validation scalars to
    ``<log_dir>/validation``, named ``epoch_<metric>`` each epoch (``val_`` stripped) and
    ``batch_<metric>`` every ``update_freq`` batches when ``update_freq`` is "batch" or an int; the
    learning rate is logged as ``epoch_learning_rate``. The files are written by ``tensorboardX``, a
    well-kept event-file writer, installed with ``pip install 'gpuflow[tensorboard]'``; TensorBoard
    itself reads them. Graphs, histograms, images and profiling are not written.

    Raises:
        ImportError: tensorboardX is not installed (with the install command).
        NotImplementedError: histogram_freq, write_images, embeddings_freq or profile_batch asked for.
    """

    _chief_only = True

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise ImportError("keras.callbacks.TensorBoard writes event files with tensorboardX: "
                              "pip install 'gpuflow[tensorboard]' (or pip install tensorboardX).") from None
        if histogram_freq or write_images or embeddings_freq or profile_batch:
            raise NotImplementedError("TensorBoard: histograms, images, embeddings and profiling are not supported "
                                      "yet; scalars are.")
        if update_freq != "epoch" and update_freq != "batch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive int. Received: {update_freq!r}")
        self.log_dir = str(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._step = 0

    def _writer(self, name):
        if name not in self._writers:
            import os
            from tensorboardX import SummaryWriter
            self._writers[name] = SummaryWriter(os.path.join(self.log_dir, name))
        return self._writers[name]

    def on_train_begin(self, logs=None):
        self._step = 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_freq != "epoch" and self._step % self.update_freq == 0:
            for k, v in (logs or {}).items():
                self._writer("train").add_scalar(f"batch_{k}", float(v), self._step)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.model is not None and getattr(self.model, "optimizer", None) is not None:
            logs.setdefault("learning_rate", float(self.model.optimizer.learning_rate.numpy()))
        for k, v in logs.items():
            which, name = ("validation", k[4:]) if k.startswith("val_") else ("train", k)
            self._writer(which).add_scalar(f"epoch_{name}", float(v), epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}


class BackupAndRestore(Callback):
    """Backs training up and resumes it after an interruption (``keras.callbacks.BackupAndRestore``).

    At the end of every epoch (``save_freq="epoch"``) or every ``save_freq`` batches, the model's weights
    and the optimizer's state go to ``backup_dir/latest.weights.h5`` and the position to
    ``backup_dir/training_metadata.json`` (Keras 3's files: ``{"epoch": ..., "batch": ...}``). A ``fit``
    that starts with a backup present loads it and continues from there: from the next epoch, and (a
    gpuflow addition to Keras, which restarts the epoch) from the next batch of an interrupted epoch,
    with the random generators as they were, so that shuffling and dropout draw what the uninterrupted
    run drew and the final weights are the same. The backup is deleted when training ends
    (``delete_checkpoint``). Under a strategy only worker 0 writes; every worker reads, so with several
    machines ``backup_dir`` must be on a shared file system.

    Args:
        backup_dir: a directory path (str or PathLike), created when needed.
        save_freq: "epoch", or a positive int: back up every that many batches.
        double_checkpoint: keep the previous backup as ``*.bkp`` too, used when the latest cannot be read.
        delete_checkpoint: delete ``backup_dir`` when training ends.

    Raises:
        ValueError: an empty ``backup_dir``; ``save_freq`` neither "epoch" nor a positive int; (at
            ``fit``) a model that is not built.
    """

    _WEIGHTS, _META = "latest.weights.h5", "training_metadata.json"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: save_freq={save_freq}. "
                             "Expected either 'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, self._WEIGHTS)
        self._meta_path = os.path.join(self.backup_dir, self._META)
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_meta_path = self._meta_path + ".bkp"
        self._current_epoch = 0
        self._batches_since_save = 0
        self._epoch_rng = None
        self._pending_rng = None

    # -- restore ---------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             "`fit()`. Call the model on data or give it an input shape first.")
        try:
            self._load()
        except (OSError, ValueError):  # unreadable (gpuflow says ValueError for a corrupt file, h5py OSError)
            if not os.path.exists(self._prev_weights_path):  # as Keras: fall back to the previous backup
                raise
            shutil.copy(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_meta_path):
                shutil.copy(self._prev_meta_path, self._meta_path)
            self._load()

    def _load(self):
        from ..distribute import keras_hooks
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)
        if not os.path.exists(self._meta_path):
            return
        with open(self._meta_path) as f:
            meta = json.load(f)
        self._current_epoch = self.model._initial_epoch = int(meta["epoch"])
        steps = int(meta.get("steps_done", 0))
        self.model._initial_step = steps
        if "rng_epoch" in meta:
            keras_hooks.set_rng_state(meta["rng_epoch"] if steps else meta["rng"])
            self._pending_rng = meta["rng"] if steps else None

    # -- back up ---------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        from ..distribute import keras_hooks
        self._current_epoch = epoch
        self._epoch_rng = keras_hooks.rng_state()

    def on_train_batch_begin(self, batch, logs=None):
        if self._pending_rng is not None:  # the first batch after a mid-epoch resume
            from ..distribute import keras_hooks
            keras_hooks.set_rng_state(self._pending_rng)
            self._pending_rng = None

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0, 0)

    def _save(self, epoch, batch, steps_done):
        from ..distribute import keras_hooks
        if not keras_hooks.is_chief():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path, prev in ((self._weights_path, self._prev_weights_path), (self._meta_path, self._prev_meta_path)):
                if os.path.exists(path):
                    shutil.copy(path, prev)
        self.model.save_weights(self._weights_path, overwrite=True)
        meta = {"epoch": epoch, "batch": batch, "steps_done": steps_done, "rng": keras_hooks.rng_state(),
                "rng_epoch": self._epoch_rng}
        tmp = self._meta_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(meta, f)
        os.replace(tmp, self._meta_path)  # a reader never sees half a file

    def on_train_end(self, logs=None):
        from ..distribute import keras_hooks
        self.model._initial_epoch, self.model._initial_step = None, 0
        if self.delete_checkpoint and keras_hooks.is_chief() and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
