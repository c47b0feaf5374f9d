"""``tf.distribute`` strategies: MirroredStrategy (one process, one replica) and MultiWorkerMirroredStrategy
(one process per worker under ``mpirun``/``srun``), over one :class:`~gpuflow.distribute.collectives.Collectives`.

Semantics follow TensorFlow 2.21 (``tensorflow/python/distribute/distribute_lib.py``,
``mirrored_strategy.py``, ``collective_all_reduce_strategy.py``): variables created in ``strategy.scope()``
are mirrored (each takes worker 0's initial value when it is created, so every worker must create the same
variables in the same order, as in TensorFlow; the Keras loops also copy worker 0's variables and random
state when they start); ``strategy.run(fn)`` runs ``fn`` once per replica (here: once, this worker's replica);
``optimizer.apply_gradients`` in a replica sums the gradients over the replicas (a loss made with
``tf.nn.compute_average_loss`` is already divided by the global batch, so the sum is the global mean).
Each worker holds one replica, so ``num_replicas_in_sync`` is the number of workers.
"""
from __future__ import annotations

import contextlib
import enum
import threading

import numpy as np

from .collectives import DEFAULT_BUCKET_BYTES, LocalCollectives

__all__ = ["ReduceOp", "CommunicationImplementation", "CommunicationOptions", "Strategy", "MirroredStrategy",
           "MultiWorkerMirroredStrategy", "InputContext", "ReplicaContext", "get_strategy", "has_strategy",
           "get_replica_context", "in_cross_replica_context", "shard_bounds", "STRATEGY_FLAGS", "strategy_from_flag"]


class ReduceOp(enum.Enum):
    """``tf.distribute.ReduceOp``: how values from the replicas are combined."""
    SUM = "SUM"
    MEAN = "MEAN"


class CommunicationImplementation(enum.Enum):
    """``tf.distribute.experimental.CommunicationImplementation``: AUTO (NCCL for GPU buffers when CuPy has
    it, else MPI), RING (MPI's algorithms, host buffers) or NCCL."""
    AUTO = "AUTO"
    RING = "RING"
    NCCL = "NCCL"


class CommunicationOptions:
    """``tf.distribute.experimental.CommunicationOptions``.

    Args:
        bytes_per_pack: gradients are packed into all-reduces of at most this many bytes (0: 25 MiB).
        timeout_seconds: the longest wait for one collective before the error that names the lost ranks
            (None: 300 s, or ``GPUFLOW_COLLECTIVE_TIMEOUT``; TensorFlow's None waits forever).
        implementation: a :class:`CommunicationImplementation`.

    Raises:
        ValueError: ``bytes_per_pack`` negative, ``timeout_seconds`` not positive, or an unknown implementation.
    """

    def __init__(self, bytes_per_pack=0, timeout_seconds=None, implementation=CommunicationImplementation.AUTO):
        if isinstance(bytes_per_pack, bool) or not isinstance(bytes_per_pack, (int, np.integer)) or bytes_per_pack < 0:
            raise ValueError(f"Expected `bytes_per_pack` to be a non-negative int. "
                             f"Received: bytes_per_pack={bytes_per_pack!r}")
        if timeout_seconds is not None and not (isinstance(timeout_seconds, (int, float)) and timeout_seconds > 0):
            raise ValueError(f"Expected `timeout_seconds` to be a positive number or None. "
                             f"Received: timeout_seconds={timeout_seconds!r}")
        if not isinstance(implementation, CommunicationImplementation):
            raise ValueError(f"Expected `implementation` to be a tf.distribute.experimental."
                             f"CommunicationImplementation. Received: implementation={implementation!r}")
        self.bytes_per_pack = int(bytes_per_pack)
        self.timeout_seconds = timeout_seconds
        self.implementation = implementation


_state = threading.local()


def _stack():
    if not hasattr(_state, "stack"):
        _state.stack = []
    return _state.stack


def shard_bounds(n, num_shards, index):
    """The rows ``[start, stop)`` of a batch of ``n`` that shard ``index`` of ``num_shards`` takes.

    Each shard takes ``ceil(n / num_shards)`` consecutive rows, the last ones fewer (a partial last batch
    leaves trailing shards short or empty, as TensorFlow's rebatching does).
    """
    per = -(-n // num_shards)
    start = min(index * per, n)
    return start, min(start + per, n)


class InputContext:
    """``tf.distribute.InputContext``: what a ``dataset_fn`` of ``distribute_datasets_from_function`` needs."""

    def __init__(self, num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=1):
        self.num_input_pipelines = num_input_pipelines
        self.input_pipeline_id = input_pipeline_id
        self.num_replicas_in_sync = num_replicas_in_sync

    def get_per_replica_batch_size(self, global_batch_size):
        """``global_batch_size // num_replicas_in_sync``.

        Raises:
            ValueError: the global batch does not split evenly.
        """
        if global_batch_size % self.num_replicas_in_sync:
            raise ValueError(f"The `global_batch_size` {global_batch_size} is not divisible by "
                             f"`num_replicas_in_sync` {self.num_replicas_in_sync}")
        return global_batch_size // self.num_replicas_in_sync


class ReplicaContext:
    """``tf.distribute.ReplicaContext``: the replica running ``strategy.run``'s function."""

    def __init__(self, strategy):
        self.strategy = strategy

    @property
    def num_replicas_in_sync(self):
        return self.strategy.num_replicas_in_sync

    @property
    def replica_id_in_sync_group(self):
        return self.strategy._collectives.rank

    def all_reduce(self, reduce_op, value):
        """The sum or mean of ``value`` (a Tensor, or a list/tuple of them) over the replicas; differentiable
        (the gradient of the sum is the sum of the gradients), as TensorFlow's."""
        reduce_op = _reduce_op(reduce_op)
        if isinstance(value, (list, tuple)):
            return type(value)(self.all_reduce(reduce_op, v) for v in value)
        from .ops import all_reduce_sum
        out = all_reduce_sum(value, self.strategy._collectives)
        return out / self.num_replicas_in_sync if reduce_op is ReduceOp.MEAN else out


def _reduce_op(op):
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.upper() in ("SUM", "MEAN"):
        return ReduceOp[op.upper()]
    raise ValueError(f"Expected `reduce_op` to be tf.distribute.ReduceOp.SUM or MEAN. Received: reduce_op={op!r}")


class Strategy:
    """``tf.distribute.Strategy``: a set of replicas in sync over a collectives implementation.

    Args:
        collectives: the :class:`~gpuflow.distribute.collectives.Collectives` joining the replicas.
        device: the device this worker's replica runs on (None: the current default device).
        bytes_per_pack: the gradient bucket size in bytes (0: 25 MiB).
    """

    def __init__(self, collectives, device=None, bytes_per_pack=0):
        self._collectives = collectives
        self._device = device
        self._bucket_bytes = bytes_per_pack or DEFAULT_BUCKET_BYTES

    @property
    def num_replicas_in_sync(self):
        """The number of replicas the gradients are reduced over (one per worker)."""
        return self._collectives.size

    @property
    def extended(self):
        return self

    @property
    def _host_collectives(self):
        """The collectives for host (NumPy) buffers: metrics, counts, objects (MPI when NCCL moves the gradients)."""
        return getattr(self, "_mpi", None) or self._collectives

    @property
    def worker_index(self):
        """This worker's rank (0 is the chief, which writes checkpoints and logs)."""
        return self._collectives.rank

    @property
    def cluster_resolver(self):
        """TensorFlow's ``strategy.cluster_resolver`` as multi-worker code reads it: ``task_type`` ("worker") and
        ``task_id`` (this worker's rank; worker 0 is the chief)."""
        import types
        return types.SimpleNamespace(task_type="worker", task_id=self._collectives.rank)

    @property
    def should_checkpoint(self):
        return self._collectives.rank == 0

    should_save_summary = should_checkpoint

    @contextlib.contextmanager
    def scope(self):
        """Makes this the current strategy (``get_strategy()``) and its device the current device.

        Raises:
            RuntimeError: inside the scope of a different strategy (TensorFlow's "Mixing different
                tf.distribute.Strategy objects").
        """
        stack = _stack()
        if stack and stack[-1][0] is not self:
            raise RuntimeError(f"Mixing different tf.distribute.Strategy objects: {self} is not {stack[-1][0]}.")
        with contextlib.ExitStack() as es:
            if self._device is not None:
                from ..device import device
                es.enter_context(device(self._device))
            stack.append((self, False))
            try:
                yield self
            finally:
                stack.pop()

    @contextlib.contextmanager
    def _replica(self):
        stack = _stack()
        with self.scope():
            stack.append((self, True))
            try:
                yield
            finally:
                stack.pop()

    def run(self, fn, args=(), kwargs=None, options=None):
        """Runs ``fn(*args, **kwargs)`` on this worker's replica, in a replica context: inside it
        ``get_replica_context()`` answers, ``optimizer.apply_gradients`` sums gradients over the replicas
        and ``tf.nn.compute_average_loss`` divides by the global batch. Returns ``fn``'s result (this
        replica's value: with one replica per worker, a per-replica value is the local one)."""
        with self._replica():
            return fn(*args, **(kwargs or {}))

    def reduce(self, reduce_op, value, axis=None):
        """Combines a per-replica ``value`` across replicas (``Strategy.reduce``), in cross-replica context.

        Args:
            reduce_op: ``ReduceOp.SUM`` or ``ReduceOp.MEAN`` (or "SUM"/"MEAN").
            value: a Tensor or array, this replica's value.
            axis: None to reduce across replicas only; an int to also reduce along that axis (MEAN then
                divides by the total length of the axis over every replica, as TensorFlow).

        Returns:
            A Tensor, the same on every worker.
        """
        reduce_op = _reduce_op(reduce_op)
        from ..ops.core import convert_to_tensor, wrap
        from ..ops import math_ops
        t = convert_to_tensor(value)
        divisor = float(self.num_replicas_in_sync)
        if axis is not None:
            divisor = float(self._host_collectives.all_reduce(np.array([float(t.shape[axis])]), "sum")[0])
            t = math_ops.reduce_sum(t, axis=axis)
        summed = self._collectives.all_reduce(t._data, "sum")
        if reduce_op is ReduceOp.MEAN:
            summed = t._backend.xp.asarray(summed / divisor, dtype=t._data.dtype)
        return wrap(summed, t)

    def gather(self, value, axis=0):
        """Every replica's ``value`` concatenated along ``axis`` (``Strategy.gather``)."""
        from ..ops.core import convert_to_tensor
        t = convert_to_tensor(value)
        xp = t._backend.xp
        parts = self._collectives.all_gather(xp.moveaxis(t._data, axis, 0) if axis else t._data)
        out = xp.concatenate(parts, axis=0)
        return convert_to_tensor(xp.moveaxis(out, 0, axis) if axis else out)

    def experimental_local_results(self, value):
        """This worker's values of a per-replica ``value``: a tuple of one."""
        return (value,)

    def experimental_distribute_dataset(self, dataset, options=None):
        """A dataset batched by the global batch size, each element split across replicas: iterating the
        result on a worker yields that worker's rows of every global batch (TensorFlow's auto-shard by
        data), the last partial batch split as :func:`shard_bounds` says."""
        return DistributedDataset(dataset, self)

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        """Calls ``dataset_fn(InputContext)`` on each worker; its batches are this worker's (per replica)."""
        ctx = InputContext(self._collectives.size, self._collectives.rank, self.num_replicas_in_sync)
        return dataset_fn(ctx)

    # -- used by the Keras loops ------------------------------------------------------------------
    def _local_batch(self, batch):
        """This replica's rows of a global batch (nested tuples/lists/dicts of arrays)."""
        if self.num_replicas_in_sync == 1:
            return batch
        n = _first_dim(batch)
        if n is None:
            return batch
        start, stop = shard_bounds(n, self.num_replicas_in_sync, self._collectives.rank)
        return _slice(batch, start, stop)

    def __repr__(self):
        return f"<{type(self).__name__} num_replicas_in_sync={self.num_replicas_in_sync}>"


def _first_dim(batch):
    if isinstance(batch, (tuple, list)):
        for b in batch:
            n = _first_dim(b)
            if n is not None:
                return n
        return None
    if isinstance(batch, dict):
        return _first_dim(list(batch.values()))
    shape = getattr(batch, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else None


def _slice(batch, start, stop):
    if batch is None:
        return None
    if isinstance(batch, (tuple, list)):
        return type(batch)(_slice(b, start, stop) for b in batch)
    if isinstance(batch, dict):
        return {k: _slice(v, start, stop) for k, v in batch.items()}
    return batch[start:stop]


class DistributedDataset:
    """``tf.distribute.DistributedDataset``: iterates this worker's share of every global batch."""

    def __init__(self, dataset, strategy):
        self._dataset = dataset
        self._strategy = strategy

    def __iter__(self):
        source = self._dataset.as_numpy_iterator() if hasattr(self._dataset, "as_numpy_iterator") else self._dataset
        from ..ops.core import convert_to_tensor
        for batch in source:
            local = self._strategy._local_batch(batch)
            yield _map(local, convert_to_tensor)


def _map(batch, fn):
    if isinstance(batch, (tuple, list)):
        return type(batch)(_map(b, fn) for b in batch)
    if isinstance(batch, dict):
        return {k: _map(v, fn) for k, v in batch.items()}
    return fn(batch)


class _DefaultStrategy(Strategy):
    """The strategy in effect outside any scope: one replica, no communication (TensorFlow's default)."""

    def __init__(self):
        super().__init__(LocalCollectives())

    def scope(self):
        return contextlib.nullcontext(self)


_DEFAULT = _DefaultStrategy()


class MirroredStrategy(Strategy):
    """``tf.distribute.MirroredStrategy``: synchronous training on the devices of one process.

    gpuflow runs one replica per process: ``devices`` names at most one device (None: the default
    device, a GPU when one answers, else the CPU, as TensorFlow falls back to the CPU as one replica).
    For several GPUs, run one process per GPU with :class:`MultiWorkerMirroredStrategy` under ``mpirun``.

    Args:
        devices: None, or a list of one device string ("/gpu:0", "GPU:0", "cpu", ...).
        cross_device_ops: accepted for compatibility and unused (one replica reduces nothing).

    Raises:
        ValueError: an unknown device string, or an empty list.
        NotImplementedError: more than one device.
    """

    def __init__(self, devices=None, cross_device_ops=None):
        from ..device import Device
        device = None
        if devices is not None:
            devices = [devices] if isinstance(devices, str) else list(devices)
            if not devices:
                raise ValueError(f"Expected `devices` to be None or a non-empty list. Received: devices={devices}")
            if len(set(map(str, devices))) > 1:
                raise NotImplementedError(
                    "MirroredStrategy over several devices in one process is not supported: gpuflow runs one "
                    "replica per process. Run one process per GPU with MultiWorkerMirroredStrategy under mpirun "
                    f"(`mpirun -np {len(devices)} gpuflow train --strategy multi_worker`). Received: devices={devices}")
            device = Device(str(devices[0]).replace("/job:localhost/replica:0/task:0", ""))
        super().__init__(LocalCollectives(), device)


class MultiWorkerMirroredStrategy(Strategy):
    """``tf.distribute.MultiWorkerMirroredStrategy``: one process per worker (``mpirun -np N``, ``srun``), each
    with one replica on its device, gradients all-reduced over MPI (host buffers) or NCCL (GPU buffers).

    The workers are MPI's ``COMM_WORLD`` (TensorFlow reads ``TF_CONFIG``; here the launcher says who is
    who). On a GPU each worker takes the GPU ``local rank % GPUs on the node``.

    Args:
        cluster_resolver: unused (the MPI launcher is the cluster resolver); must be None.
        communication_options: a :class:`CommunicationOptions` (gradient pack size, collective timeout,
            MPI or NCCL).

    Raises:
        ImportError: mpi4py is missing (``pip install 'gpuflow[distributed]'``), or NCCL was asked for and
            CuPy's NCCL is missing.
        ValueError: a ``cluster_resolver`` was given or the options are of the wrong type.
    """

    def __init__(self, cluster_resolver=None, communication_options=None):
        if cluster_resolver is not None:
            raise ValueError("gpuflow's MultiWorkerMirroredStrategy takes its cluster from the MPI launcher "
                             f"(mpirun/srun). Expected cluster_resolver=None. Received: {cluster_resolver!r}")
        options = communication_options or CommunicationOptions()
        if not isinstance(options, CommunicationOptions):
            raise ValueError("Expected `communication_options` to be a tf.distribute.experimental."
                             f"CommunicationOptions. Received: communication_options={options!r}")
        from .mpi import MPICollectives
        mpi = MPICollectives(timeout_seconds=options.timeout_seconds)
        from ..device import current_device
        device = current_device()
        collectives = mpi
        if device.kind == "gpu":
            device = _local_gpu(mpi)
            if options.implementation is not CommunicationImplementation.RING:
                collectives = _nccl_or_mpi(mpi, options, device)
        elif options.implementation is CommunicationImplementation.NCCL:
            raise ValueError(f"NCCL needs GPU buffers, but the device is {device}. Use "
                             "CommunicationImplementation.RING or AUTO on the CPU.")
        super().__init__(collectives, device, options.bytes_per_pack)
        self._mpi = mpi


def _local_gpu(mpi):
    from ..device import Device
    import cupy
    MPI = mpi._MPI
    local = mpi._comm.Split_type(MPI.COMM_TYPE_SHARED, key=mpi.rank)
    return Device(f"gpu:{local.Get_rank() % cupy.cuda.runtime.getDeviceCount()}")


def _nccl_or_mpi(mpi, options, device):
    from .nccl import NCCLCollectives
    try:
        import cupy
        with cupy.cuda.Device(device.index):
            return NCCLCollectives(mpi, options.timeout_seconds)
    except ImportError:
        if options.implementation is CommunicationImplementation.NCCL:
            raise
        return mpi


def _on_variable_created(variable):
    """Called by every new ``Variable``: inside the scope of a strategy with several replicas its initial value
    becomes worker 0's (TensorFlow broadcasts initial values in MultiWorkerMirroredStrategy), so every worker
    creating the same variables in the same order starts identical, in ``fit`` and in custom loops alike."""
    stack = _stack()
    if stack and stack[-1][0].num_replicas_in_sync > 1:
        variable._data[...] = stack[-1][0]._collectives.broadcast(variable._data, 0)


def get_strategy():
    """The strategy of the innermost ``strategy.scope()`` (or ``run``), else the default strategy (one replica)."""
    stack = _stack()
    return stack[-1][0] if stack else _DEFAULT


def has_strategy():
    """Whether a (non-default) strategy's scope is active."""
    return bool(_stack())


def in_cross_replica_context():
    """True inside a strategy's scope but outside ``strategy.run``."""
    stack = _stack()
    return bool(stack) and not stack[-1][1]


def get_replica_context():
    """The :class:`ReplicaContext` inside ``strategy.run`` (or outside any scope: the default replica);
    None in cross-replica context, as TensorFlow."""
    stack = _stack()
    if not stack:
        return ReplicaContext(_DEFAULT)
    strategy, in_replica = stack[-1]
    return ReplicaContext(strategy) if in_replica else None


STRATEGY_FLAGS = ("none", "mirrored", "multi_worker")


def strategy_from_flag(name):
    """The strategy a command-line flag names (``gpuflow train --strategy``): "none" (the default strategy, one
    replica), "mirrored" (:class:`MirroredStrategy`) or "multi_worker" (:class:`MultiWorkerMirroredStrategy`,
    one replica per process started by ``mpirun``).

    Raises:
        ValueError: another name.
        ImportError: "multi_worker" without mpi4py (the message says what to install).
    """
    if name == "none":
        return get_strategy()
    if name == "mirrored":
        return MirroredStrategy()
    if name == "multi_worker":
        return MultiWorkerMirroredStrategy()
    raise ValueError(f"Expected `strategy` to be one of {STRATEGY_FLAGS}. Received: strategy={name!r}")
