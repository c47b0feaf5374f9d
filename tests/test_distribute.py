"""tf.distribute without MPI: bucketing, the one-process strategy, the API's errors, compute_average_loss,
and the NCCL collectives' bootstrap and call sequence against a fake ``cupy.cuda.nccl`` (never run on a GPU
here). The multi-process tests are in test_distribute_mpi.py."""
import ctypes
import types

import numpy as np
import pytest

import gpuflow as tf
from gpuflow import distribute
from gpuflow.distribute.collectives import LocalCollectives, plan_buckets
from gpuflow.distribute.nccl import NCCLCollectives, nccl_dtype
from gpuflow.distribute.strategy import shard_bounds


def test_plan_buckets_packs_in_order_by_dtype_and_size():
    f4, f8 = np.dtype("float32"), np.dtype("float64")
    items = [(40, f4), (40, f4), (40, f8), (30, f4), (200, f4), (8, f8)]
    assert plan_buckets(items, 100) == [[0, 1], [2, 5], [3], [4]]
    assert plan_buckets(items, 10 ** 9) == [[0, 1, 3, 4], [2, 5]]
    with pytest.raises(ValueError, match=r"bucket_bytes.*Received: bucket_bytes=0"):
        plan_buckets(items, 0)


class _SumOfTwo(LocalCollectives):
    """A fake world of two identical ranks: all_reduce doubles, and counts its calls."""
    size = 2

    def __init__(self):
        self.calls = []

    def all_reduce(self, array, op="sum"):
        self.calls.append(array.size)
        return array * 2 if op == "sum" else array


def test_all_reduce_many_uses_one_message_per_bucket_and_restores_shapes():
    c = _SumOfTwo()
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, np.float32), np.ones(2, np.float64)]
    out = c.all_reduce_many(arrays, "sum", bucket_bytes=1024)
    assert c.calls == [10, 2]  # the two float32 arrays in one message
    for a, o in zip(arrays, out):
        assert o.shape == a.shape and o.dtype == a.dtype
        np.testing.assert_array_equal(o, a * 2)
    with pytest.raises(ValueError, match="Received: op='max'"):
        c.all_reduce_many(arrays, "max")


def test_shard_bounds_split_full_and_partial_batches():
    assert [shard_bounds(8, 2, r) for r in range(2)] == [(0, 4), (4, 8)]
    assert [shard_bounds(3, 2, r) for r in range(2)] == [(0, 2), (2, 3)]
    assert [shard_bounds(1, 2, r) for r in range(2)] == [(0, 1), (1, 1)]


def test_strategy_scope_run_reduce_and_contexts():
    s = tf.distribute.MirroredStrategy()
    assert s.num_replicas_in_sync == 1 and not tf.distribute.has_strategy()
    assert tf.distribute.get_replica_context() is not None  # the default replica
    with s.scope():
        assert tf.distribute.has_strategy() and tf.distribute.get_strategy() is s
        assert tf.distribute.get_replica_context() is None and tf.distribute.in_cross_replica_context()
        ctx_id = s.run(lambda: tf.distribute.get_replica_context().replica_id_in_sync_group)
        assert ctx_id == 0
        assert (s.cluster_resolver.task_type, s.cluster_resolver.task_id) == ("worker", 0)
        assert s.extended.should_checkpoint
        assert float(s.reduce(tf.distribute.ReduceOp.SUM, tf.constant([1.0, 2.0]), axis=0).numpy()) == 3.0
        assert float(s.reduce("MEAN", tf.constant([1.0, 2.0]), axis=0).numpy()) == 1.5
        with pytest.raises(RuntimeError, match="Mixing different"):
            with tf.distribute.MirroredStrategy().scope():
                pass
    assert tf.distribute.get_strategy() is not s
    with pytest.raises(ValueError, match="Received: reduce_op='max'"):
        s.reduce("max", tf.constant(1.0))


def test_mirrored_strategy_devices():
    assert tf.distribute.MirroredStrategy(devices=["/cpu:0"]).num_replicas_in_sync == 1
    with pytest.raises(NotImplementedError, match="one process per GPU.*Received: devices="):
        tf.distribute.MirroredStrategy(devices=["/gpu:0", "/gpu:1"])
    with pytest.raises(ValueError, match="Received: devices=\\[\\]"):
        tf.distribute.MirroredStrategy(devices=[])


def test_communication_options_errors():
    with pytest.raises(ValueError, match="Received: bytes_per_pack=-1"):
        tf.distribute.experimental.CommunicationOptions(bytes_per_pack=-1)
    with pytest.raises(ValueError, match="Received: timeout_seconds=0"):
        tf.distribute.experimental.CommunicationOptions(timeout_seconds=0)


def test_multi_worker_without_mpi4py_says_what_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_mpi(name, *args, **kwargs):
        if name.startswith("mpi4py"):
            raise ImportError("No module named 'mpi4py'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_mpi)
    with pytest.raises(ImportError, match=r"pip install 'gpuflow\[distributed\]'"):
        tf.distribute.MultiWorkerMirroredStrategy()


def test_distribute_dataset_one_replica_yields_whole_batches():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(10.0), np.arange(10))).batch(4)
    s = tf.distribute.MirroredStrategy()
    shapes = [tuple(x.shape) for x, _ in s.experimental_distribute_dataset(ds)]
    assert shapes == [(4,), (4,), (2,)]


def test_compute_average_loss():
    per_example = tf.constant([1.0, 2.0, 3.0, 6.0])
    assert float(tf.nn.compute_average_loss(per_example).numpy()) == 3.0
    assert float(tf.nn.compute_average_loss(per_example, global_batch_size=8).numpy()) == 1.5
    w = tf.constant([1.0, 0.0, 1.0, 0.5])
    assert float(tf.nn.compute_average_loss(per_example, sample_weight=w, global_batch_size=4).numpy()) == 1.75
    assert tf.nn.compute_average_loss(per_example).dtype == tf.float32
    with pytest.raises(ValueError, match="at least rank 1"):
        tf.nn.compute_average_loss(tf.constant(1.0))
    with pytest.raises(TypeError, match="global_batch_size must be an int"):
        tf.nn.compute_average_loss(per_example, global_batch_size=8.0)
    with pytest.raises(ValueError, match="must be positive"):
        tf.nn.compute_average_loss(per_example, global_batch_size=0)
    with tf.distribute.MirroredStrategy().scope():
        with pytest.raises(RuntimeError, match="cross replica context"):
            tf.nn.compute_average_loss(per_example)


# -- NCCL against fakes (not run on a GPU) ------------------------------------------------------------------
class _DevArray(np.ndarray):
    """A host array posing as a cupy.ndarray: ``.data.ptr`` is its address."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)


def _fake_cupy():
    as_dev = lambda a: np.asarray(a).view(_DevArray)  # noqa: E731
    stream = types.SimpleNamespace(ptr=1234, done=True, synchronize=lambda: None)
    return types.SimpleNamespace(
        ascontiguousarray=lambda a: as_dev(np.ascontiguousarray(a)), empty_like=lambda a: as_dev(np.empty_like(a)),
        zeros=lambda shape, dtype: as_dev(np.zeros(shape, dtype)),
        empty=lambda shape, dtype: as_dev(np.empty(shape, dtype)),
        cuda=types.SimpleNamespace(get_current_stream=lambda: stream))


def _view(ptr, count, dtype):
    dtype = np.dtype(dtype)
    return np.frombuffer((ctypes.c_char * (count * dtype.itemsize)).from_address(ptr), dtype=dtype)


class _FakeNccl:
    """``cupy.cuda.nccl`` for a world of ``size`` ranks that all hold the same data as this one."""
    NCCL_SUM = "sum"
    NCCL_FLOAT32, NCCL_FLOAT64, NCCL_INT32, NCCL_INT64 = "f32", "f64", "i32", "i64"
    NCCL_INT8 = NCCL_UINT8 = NCCL_UINT32 = NCCL_UINT64 = NCCL_FLOAT16 = "other"
    _np = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64}

    def __init__(self):
        self.created = []
        self.calls = []
        nccl = self

        class NcclCommunicator:
            def __init__(self, size, uid, rank):
                nccl.created.append((size, uid, rank))
                self.size = size

            def allReduce(self, send, recv, count, dtype, op, stream):
                nccl.calls.append(("allReduce", count, dtype, op, stream))
                _view(recv, count, self_np(dtype))[:] = _view(send, count, self_np(dtype)) * self.size

            def bcast(self, buf, count, dtype, root, stream):
                nccl.calls.append(("bcast", count, dtype, root, stream))

            def allGather(self, send, recv, count, dtype, stream):
                nccl.calls.append(("allGather", count, dtype, stream))
                for r in range(self.size):
                    _view(recv + r * count * np.dtype(self_np(dtype)).itemsize, count, self_np(dtype))[:] = \
                        _view(send, count, self_np(dtype))
        self_np = self._np.__getitem__
        self.NcclCommunicator = NcclCommunicator

    def get_unique_id(self):
        return tuple(range(128))


class _Bootstrap:
    def __init__(self, rank, size):
        self.rank, self.size, self.sent = rank, size, []

    def broadcast_object(self, obj, root=0):
        self.sent.append((obj, root))
        return tuple(range(128))  # what rank 0 drew

    def all_gather(self, array):
        return [array] * self.size


@pytest.mark.parametrize("rank", [0, 1])
def test_nccl_bootstrap_draws_the_id_on_rank_0_and_broadcasts_it(rank):
    nccl, boot = _FakeNccl(), _Bootstrap(rank, 2)
    NCCLCollectives(boot, nccl=nccl, cupy=_fake_cupy())
    assert boot.sent == [(tuple(range(128)) if rank == 0 else None, 0)]
    assert nccl.created == [(2, tuple(range(128)), rank)]


def test_nccl_collectives_call_nccl_with_pointers_counts_and_types():
    nccl = _FakeNccl()
    c = NCCLCollectives(_Bootstrap(1, 2), nccl=nccl, cupy=_fake_cupy())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(c.all_reduce(x), x * 2)
    np.testing.assert_array_equal(c.all_reduce(x, "mean"), x)
    out = c.all_reduce_many([x, np.ones(3, np.float64)], bucket_bytes=1 << 20)
    np.testing.assert_array_equal(out[0], x * 2)
    parts = c.all_gather(x)
    assert len(parts) == 2 and all(np.array_equal(p, x) for p in parts)
    c.broadcast(x, root=1)
    assert [call[:3] for call in nccl.calls] == [
        ("allReduce", 6, "f32"), ("allReduce", 6, "f32"), ("allReduce", 6, "f32"), ("allReduce", 3, "f64"),
        ("allGather", 6, "f32"), ("bcast", 6, "f32")]
    assert nccl.calls[-1][3] == 1 and nccl.calls[0][4] == 1234  # root, stream
    with pytest.raises(TypeError, match="Received: dtype=bool"):
        nccl_dtype(nccl, np.bool_)


def test_strategy_flags():
    from gpuflow.distribute.strategy import strategy_from_flag
    assert strategy_from_flag("none") is tf.distribute.get_strategy()
    assert isinstance(strategy_from_flag("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match="Received: strategy='ps'"):
        strategy_from_flag("ps")


def test_train_strategy_flag_is_checked(capsys):
    from gpuflow import cli
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--strategy", "parameter_server"])
    assert e.value.code == 2
    assert "argument --strategy: invalid choice: 'parameter_server'" in capsys.readouterr().err


def test_gather_and_local_results_with_one_replica():
    s = tf.distribute.MirroredStrategy()
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(s.gather(x, axis=1).numpy(), x.numpy())
    assert s.experimental_local_results(x) == (x,)


def _nccl_gpu():
    try:
        import cupy
        from cupy.cuda import nccl  # noqa: F401
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no NCCL in it, or no driver/device
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _nccl_gpu(), reason="needs CuPy with NCCL and a GPU")
def test_nccl_collectives_on_one_gpu():
    """The real NCCL path, one rank on one GPU (the same checks as the MPI collectives' test)."""
    import cupy
    c = NCCLCollectives(LocalCollectives())
    x = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
    cupy.testing.assert_array_equal(c.all_reduce(x), x)
    cupy.testing.assert_array_equal(c.all_reduce(x, "mean"), x)
    cupy.testing.assert_array_equal(c.broadcast(x), x)
    out = c.all_reduce_many([x, cupy.ones(3, cupy.float64)], bucket_bytes=16)
    cupy.testing.assert_array_equal(out[0], x)
    assert out[1].dtype == cupy.float64
    parts = c.all_gather(x)
    assert len(parts) == 1
    cupy.testing.assert_array_equal(parts[0], x)
    c.barrier()


def test_a_worker_takes_its_rows_of_nested_batches():
    class Rank1Of2(LocalCollectives):
        rank, size = 1, 2
    s = distribute.Strategy(Rank1Of2())
    x, y = {"a": np.arange(7), "b": np.arange(7) * 10}, np.arange(7) * 100
    (lx, ly) = s._local_batch((x, y))
    np.testing.assert_array_equal(lx["a"], [4, 5, 6])
    np.testing.assert_array_equal(lx["b"], [40, 50, 60])
    np.testing.assert_array_equal(ly, [400, 500, 600])
    assert s._local_batch((np.arange(1), None))[0].shape == (0,)  # a partial batch: this worker's share is empty
