"""What the Keras loops (``fit``/``evaluate``/``predict``, the optimizer, callbacks, layers) call under a
strategy. Each function is the identity with one replica, so the loops keep one code path.

The rules, as TensorFlow 2.21 with Keras 3:
  * a model remembers the strategy it was created in (``model.distribute_strategy``) and its loops run
    in that strategy's scope;
  * each worker takes its rows of every global batch (:meth:`Strategy._local_batch`);
  * the compiled loss is divided by the number of replicas (``scale_loss``) and the optimizer sums the
    gradients over the replicas: the mean of the per-replica mean losses' gradients;
  * metrics (and the loss tracker) are summed over the replicas before any result is read;
  * variables start from worker 0's values, and so do the random generators (so that shuffling and
    dropout agree on every worker, and a backup restores the same state everywhere);
  * predictions are gathered, so every worker returns the whole ``predict`` output.
"""
from __future__ import annotations

import contextlib
import copy
import functools

import numpy as np

from .strategy import get_strategy

__all__ = ["in_model_strategy", "local_batch", "scale_loss", "unscale_loss", "aggregate_gradients",
           "reduced_metrics", "gather_batches", "sync_model", "is_chief", "sync_moments", "rng_state",
           "set_rng_state"]


def _multi():
    s = get_strategy()
    return s if s.num_replicas_in_sync > 1 else None


def in_model_strategy(method):
    """Decorates ``fit``/``evaluate``/``predict``: runs them in the scope of the strategy the model was created in."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        strategy = getattr(self, "_distribute_strategy", None) or get_strategy()
        with strategy.scope():
            return method(self, *args, **kwargs)
    return wrapper


def is_chief():
    """Whether this worker writes checkpoints, logs and progress bars (worker 0; always, without a strategy)."""
    return get_strategy()._collectives.rank == 0


def local_batch(batch):
    """This worker's rows of a global batch."""
    return get_strategy()._local_batch(batch)


def scale_loss(loss):
    """``loss / num_replicas_in_sync`` (Keras 3's ``scale_loss_for_distribution``)."""
    s = _multi()
    return loss if s is None else loss * (1.0 / s.num_replicas_in_sync)


def unscale_loss(loss):
    """Undoes :func:`scale_loss` (for the loss tracker)."""
    s = _multi()
    return loss if s is None else loss * float(s.num_replicas_in_sync)


def aggregate_gradients(grads):
    """The sum over replicas of each gradient (backend arrays, in order), bucketed into few all-reduces."""
    s = _multi()
    if s is None:
        return grads
    return s._collectives.all_reduce_many(grads, "sum", s._bucket_bytes)


# -- metrics --------------------------------------------------------------------------------
def _state_names(metric):
    """The attributes ``reset_state`` assigns: the metric's state (totals, counts, confusion matrices)."""
    names = []
    probe = copy.deepcopy(metric)  # a shallow copy would reset the metrics it holds

    class Probe(type(metric)):
        def __setattr__(self, name, value):
            names.append(name)
            object.__setattr__(self, name, value)
    probe.__class__ = Probe
    probe.reset_state()
    return list(dict.fromkeys(names))


def _leaves(metric, out):
    """(object, attribute) of every numeric state value of ``metric`` and of the metrics it holds."""
    for name in _state_names(metric):
        value = getattr(metric, name)
        if isinstance(value, (bool, np.bool_)) or value is None:
            continue
        if isinstance(value, (int, float, np.number)) or (isinstance(value, np.ndarray) and value.dtype.kind in "iuf"):
            out.append((metric, name))
    for value in vars(metric).values():
        for m in value if isinstance(value, (list, tuple)) else [value]:
            if hasattr(m, "reset_state") and hasattr(m, "update_state") and m is not metric:
                _leaves(m, out)
    return out


@contextlib.contextmanager
def reduced_metrics(metrics):
    """Within it, every metric's state is its sum over the replicas (TensorFlow's SUM-aggregated metric
    variables); the local state is put back on exit. One all-reduce for all of them."""
    s = _multi()
    if s is None:
        yield
        return
    leaves = []
    for m in metrics:
        _leaves(m, leaves)
    saved = [getattr(obj, name) for obj, name in leaves]
    flat = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in saved]) if saved else np.zeros(0)
    total = s._host_collectives.all_reduce(flat, "sum")
    start = 0
    for (obj, name), v in zip(leaves, saved):
        size = np.size(v)
        part = total[start:start + size]
        start += size
        if isinstance(v, np.ndarray):
            object.__setattr__(obj, name, part.reshape(v.shape).astype(v.dtype))
        else:
            object.__setattr__(obj, name, type(v)(part[0]))
    try:
        yield
    finally:
        for (obj, name), v in zip(leaves, saved):
            object.__setattr__(obj, name, v)


def gather_batches(outs):
    """``predict``'s per-batch outputs (arrays, or lists of arrays) of this worker -> the whole batches,
    every worker's rows in rank order (TensorFlow's ``_multi_worker_concat``)."""
    s = _multi()
    if s is None:
        return outs
    c = s._host_collectives

    def gather(a):
        return np.concatenate([np.asarray(p) for p in c.all_gather(np.ascontiguousarray(a))], axis=0)
    return [[gather(a) for a in o] if isinstance(o, list) else gather(o) for o in outs]


# -- start state ----------------------------------------------------------------------------
def _get(rng):
    """A generator's state, JSON-serialisable: a ``Generator``'s bit-generator dict or a ``RandomState``'s tuple."""
    if hasattr(rng, "bit_generator"):
        return {"generator": rng.bit_generator.state}
    if not hasattr(rng, "get_state"):
        return None  # CuPy's RandomState keeps its state on the device: not saved (a backup resumes its draws anew)
    kind, keys, pos, has_gauss, cached = rng.get_state()
    return {"random_state": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def _set(rng, state):
    if "generator" in state:
        rng.bit_generator.state = state["generator"]
    else:
        kind, keys, pos, has_gauss, cached = state["random_state"]
        rng.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def rng_state():
    """The random generators' state: NumPy's global one and every gpuflow backend's (JSON-serialisable)."""
    from ..device import _backends
    backends = {str(dev): _get(b._rng) for dev, b in _backends.items() if hasattr(b, "_rng")}
    backends = {dev: state for dev, state in backends.items() if state is not None}
    return {"numpy": _get(np.random.mtrand._rand), "backends": backends}


def set_rng_state(state):
    """Restores :func:`rng_state`'s value (backends not created yet are skipped)."""
    from ..device import _backends
    _set(np.random.mtrand._rand, state["numpy"])
    for dev, b in _backends.items():
        if str(dev) in state["backends"] and hasattr(b, "_rng"):
            _set(b._rng, state["backends"][str(dev)])


def sync_model(model):
    """Worker 0's variables (weights, and the optimizer's once it has any) and random state on every worker."""
    s = _multi()
    if s is None or not getattr(model, "built", False):
        return
    variables = list(model.variables)
    opt = getattr(model, "optimizer", None)
    if opt is not None and hasattr(opt, "variables"):
        variables += [v for v in opt.variables if all(v is not w for w in variables)]
    values = s._collectives.broadcast_many([v._data for v in variables], 0, s._bucket_bytes)
    for v, value in zip(variables, values):
        v._data[...] = value
    set_rng_state(s._host_collectives.broadcast_object(rng_state(), 0))


# -- layers ---------------------------------------------------------------------------------
def sync_moments(x, axes):
    """Mean and biased variance of ``x`` over ``axes`` and over every replica's batch (TensorFlow's
    SyncBatchNormalization: all-reduced sums of ``x`` and ``x**2`` and of the count, then
    ``variance = E[x**2] - E[x]**2``); differentiable. With one replica, :func:`gpuflow.nn.moments`."""
    from ..ops import nn_ops, math_ops, array_ops
    s = _multi()
    if s is None:
        return nn_ops.moments(x, axes)
    from .ops import all_reduce_sum
    count = float(np.prod([x.shape[a] for a in axes]))
    local = array_ops.concat([math_ops.reduce_sum(x, axis=axes), math_ops.reduce_sum(math_ops.square(x), axis=axes)],
                             axis=0)
    total = all_reduce_sum(local, s._collectives)
    n = float(s._host_collectives.all_reduce(np.array([count]), "sum")[0])
    channels = int(local.shape[0]) // 2
    mean = total[:channels] / n
    variance = total[channels:] / n - math_ops.square(mean)
    return mean, variance
