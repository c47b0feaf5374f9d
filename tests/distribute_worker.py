"""Training cases for the tf.distribute tests, and the script tests/test_distribute_mpi.py runs under
``mpiexec -n 2``: ``python distribute_worker.py MODE OUT_DIR``. Each case takes a strategy (None: none) and
returns arrays to compare; the script writes them to OUT_DIR/<case>-<rank>.npz. The same functions run in
the test process for the one-process references."""
import contextlib
import os
import signal
import sys
import time

import numpy as np

import gpuflow as tf
from gpuflow import keras


def _scope(strategy):
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 1)).astype(np.float32)
    return x, (x[:, :4].sum(axis=(1, 2, 3)) > x[:, 4:].sum(axis=(1, 2, 3))).astype(np.int32) + 2 * (x[:, 0, 0, 0] > 0)


def _weights(model):
    return {f"w{i}": w for i, w in enumerate(model.get_weights())}


def cnn_case(strategy, batch_size=16):
    """A small seed-CNN-like model through fit/evaluate/predict (Adam, shuffled, validated)."""
    keras.utils.set_random_seed(1)
    x, y = _images(64)
    xv, yv = _images(20, seed=1)
    with _scope(strategy):
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(4)])
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=True, verbose=0, validation_data=(xv, yv))
    ev = model.evaluate(xv, yv, batch_size=8, verbose=0)
    pred = model.predict(xv, batch_size=6, verbose=0)
    return {**_weights(model), "loss": np.array(hist.history["loss"]), "acc": np.array(hist.history["accuracy"]),
            "val_loss": np.array(hist.history["val_loss"]), "eval": np.array(ev), "pred": pred}


def sync_bn_case(strategy, batch_size=16):
    """Conv -> BatchNormalization(synchronized=True) -> Dense, SGD: the statistics of the global batch."""
    keras.utils.set_random_seed(2)
    x, y = _images(32)
    with _scope(strategy):
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3),
                                  keras.layers.BatchNormalization(synchronized=True, momentum=0.5),
                                  keras.layers.Flatten(), keras.layers.Dense(4)])
        model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return _weights(model)


def custom_loop_case(strategy, global_batch=16):
    """strategy.run over experimental_distribute_dataset with tf.nn.compute_average_loss and SGD; each worker
    seeds differently: the variables created in the scope take worker 0's initial values."""
    keras.utils.set_random_seed(3 + (strategy.worker_index if strategy is not None else 0))
    x, y = _images(48)
    with _scope(strategy):
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
        optimizer = keras.optimizers.SGD(0.2)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)

    def step(xb, yb):
        with tf.GradientTape() as tape:
            per_example = keras.losses.sparse_categorical_crossentropy(yb, model(xb, training=True), from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = []
    for _ in range(2):
        if strategy is None:
            losses += [float(step(xb, yb).numpy()) for xb, yb in dataset]
        else:
            for xb, yb in strategy.experimental_distribute_dataset(dataset):
                per_replica = strategy.run(step, args=(xb, yb))
                losses.append(float(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica).numpy()))
    return {**_weights(model), "losses": np.array(losses)}


class _KillAt(keras.callbacks.Callback):
    """SIGKILLs this process (as a lost machine) at the start of batch ``batch`` of epoch ``epoch``, on ``rank``."""

    def __init__(self, rank, epoch, batch):
        super().__init__()
        self.rank, self.at, self.epoch = rank, (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at and tf.distribute.get_strategy().worker_index == self.rank:
            os.kill(os.getpid(), signal.SIGKILL)


def backup_case(strategy, backup_dir, kill=None, batch_size=8):
    """fit with BackupAndRestore(save_freq=2 batches); ``kill=(rank, epoch, batch)`` kills a worker there."""
    keras.utils.set_random_seed(4)
    x, y = _images(48)
    with _scope(strategy):
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                                  keras.layers.Flatten(), keras.layers.Dropout(0.3), keras.layers.Dense(4)])
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callbacks = [keras.callbacks.BackupAndRestore(backup_dir, save_freq=2)]
    if kill is not None:
        callbacks.append(_KillAt(*kill))
    model.fit(x, y, batch_size=batch_size, epochs=3, shuffle=True, verbose=0, callbacks=callbacks)
    return _weights(model)


def collectives_case():
    from gpuflow.distribute.mpi import MPICollectives
    c = MPICollectives(timeout_seconds=30)
    r = c.rank
    gathered = c.all_gather(np.full((r + 1, 2), r, dtype=np.float32))
    many = c.all_reduce_many([np.full(3, r + 1.0), np.ones((2, 2), np.float32)], "mean", bucket_bytes=8)
    c.barrier()
    return dict(sum=c.all_reduce(np.arange(3.0) + r), mean=c.all_reduce(np.full(2, float(r)), "mean"),
                bcast=c.broadcast(np.arange(3) * (r + 1), root=1), gather0=gathered[0], gather1=gathered[1],
                many0=many[0], many1=many[1], obj=np.array(c.broadcast_object({"rank": r}, root=1)["rank"]))


def hang_case():
    """Rank 1 stops answering (as a hung or unreachable worker); rank 0 must fail naming it."""
    from gpuflow.distribute.mpi import MPICollectives
    c = MPICollectives(timeout_seconds=2)
    c.barrier()
    if c.rank == 1:
        time.sleep(120)
    c.all_reduce(np.ones(4))


def main(mode, out):
    if mode == "hang":
        return hang_case()
    from mpi4py import MPI
    rank = MPI.COMM_WORLD.Get_rank()

    def save(name, arrays):
        np.savez(os.path.join(out, f"{name}-{rank}.npz"), **arrays)
    if mode == "train":
        save("collectives", collectives_case())
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        save("cnn", cnn_case(strategy))
        save("sync_bn", sync_bn_case(strategy))
        save("custom", custom_loop_case(strategy))
        save("uninterrupted", backup_case(strategy, os.path.join(out, "backup-uninterrupted")))
    elif mode in ("kill", "resume"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        save("resumed", backup_case(strategy, os.path.join(out, "backup"), kill=(1, 1, 3) if mode == "kill" else None))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
