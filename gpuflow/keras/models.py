"""Models: ``Model`` (training loop, subclassing and functional API) and ``Sequential``.

The training loop follows Keras 3's ``Trainer``: ``fit`` iterates epochs and
batches, ``train_step`` runs the forward pass under a ``GradientTape``, applies
the optimizer and returns the metric logs; ``test_step`` and ``predict_step``
likewise. Logs are running averages over the epoch, with keys sorted (as Keras
3's ``pythonify_logs``), and ``fit`` returns a ``History``.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import warnings

import numpy as np

from ..autodiff import GradientTape
from ..ops import array_ops as _a, math_ops as _m
from ..ops.core import convert_to_tensor
from ..tensor import Tensor
from . import fusion as _fusion, losses as _losses, metrics as _metrics, optimizers as _optimizers
from .. import device as _device, nest as _nest
from ..backend import cpu_workers as _cpu_workers
from ._checks import check_real
from .callbacks import CallbackList
from ..distribute import keras_hooks as _dist
from .layers.base import Layer, KerasTensor
from .layers.core import Input, InputLayer
from .utils.py_dataset import PyDataset

__all__ = ["Model", "Sequential", "load_model", "model_from_json", "save_model", "clone_model"]


# -- data handling -----------------------------------------------------------------
def _to_array(x, arg):
    """``x`` (an argument of fit/evaluate/predict, named ``arg``) as a host array with a leading samples axis, or
    several (a list of arrays, or a dict of them keyed by input or output name, as Keras 3) as :class:`_Inputs`.

    Raises:
        ValueError: an unrecognized type, or a scalar (no samples axis; Keras fails on it deep inside).
        TypeError: strings (see :func:`..losses.check_numeric`).
    """
    if x is None or isinstance(x, _Inputs):
        return x
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], (np.ndarray, Tensor)):
        parts = [_to_array(a, f"{arg}[{i}]") for i, a in enumerate(x)]
        _check_cardinality(**{f"{arg}[{i}]": a for i, a in enumerate(parts)})
        return _Inputs(parts)
    if isinstance(x, dict):
        parts = {k: _to_array(a, f"{arg}[{k!r}]") for k, a in x.items()}
        _check_cardinality(**{f"{arg}[{k!r}]": a for k, a in parts.items()})
        return _Inputs(list(parts.values()), list(parts))
    a = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype == object:
        raise ValueError(f"Unrecognized data type for `{arg}`: expected a NumPy array or a Tensor. "
                         f"Received: {type(x).__name__}")
    _losses.check_numeric(a, arg)
    if a.ndim == 0:
        raise ValueError(f"`{arg}` must be an array whose first axis indexes the samples (rank >= 1). Received: "
                         f"{arg}={a.item()!r} with shape () (a scalar, not a batch of samples).")
    return a


class _Inputs:
    """Several arrays (one per model input or output; named by ``keys`` when given as a dict) sliced together along
    the sample axis."""

    def __init__(self, arrays, keys=None):
        self.arrays, self.keys = arrays, keys

    def __getitem__(self, key):
        return _Inputs([a[key] for a in self.arrays], self.keys)

    def __len__(self):
        return len(self.arrays[0])


def _plain(x):
    if isinstance(x, _Inputs):
        return dict(zip(x.keys, x.arrays)) if x.keys is not None else list(x.arrays)
    return x


def _check_cardinality(**arrays):
    sizes = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(sizes.values())) > 1:
        detail = "".join(f"'{k}' sizes: {n}\n" for k, n in sizes.items())
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of samples."
                         + detail)
    return next(iter(sizes.values()), 0)


def _class_weights(class_weight):
    """``class_weight`` as ``{class id (int): weight (float)}`` (Keras 3's checks).

    Raises:
        ValueError: not a dict-like mapping, or a key that is not an integer class id.
    """
    if not hasattr(class_weight, "items") or not hasattr(class_weight, "get"):
        raise ValueError("`class_weight` must be a dict-like mapping of class indices to weights. Received: "
                         f"class_weight={class_weight} of type {type(class_weight)}.")
    weights = {}
    for key, value in class_weight.items():
        try:
            weights[int(key)] = float(value)
        except (TypeError, ValueError):
            raise ValueError("`class_weight` must be a dictionary with integer keys representing class indices. "
                             f"Received an invalid key: {key!r} of type {type(key)}.") from None
    return weights


def _class_sample_weight(y, weights, sample_weight):
    """The sample weights ``weights`` (from :func:`_class_weights`) give the targets ``y`` (Keras 3's
    ``class_weight_to_sample_weights``): a class id is ``y`` rounded, the argmax of one-hot targets or the one
    column of (N, 1) targets; a class not in ``weights`` weighs 1.

    Returns:
        float32 array of ``y``'s shape less its last axis when that axis holds classes (one-hot or one column).

    Raises:
        ValueError: ``sample_weight`` given too, or several targets (a model with several outputs), as Keras;
            no targets.
    """
    if sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if y is None:
        raise ValueError("`class_weight` weighs samples by their targets, but none were given (y=None).")
    if isinstance(y, (list, tuple, _Inputs)):
        raise ValueError("`class_weight` is only supported for Models with a single output.")
    y = np.asarray(y.numpy() if isinstance(y, Tensor) else y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
    ids = np.round(y).astype(np.int64)
    out = np.ones(ids.shape, dtype=np.float32)
    for c, w in weights.items():
        out[ids == c] = w
    return out

def _unpack(data):
    if isinstance(data, tuple):
        return (data + (None, None))[:3]
    return data, None, None


def _pythonify(logs, backend=None):
    """Logs as sorted Python floats; nested dicts (a ``compile_metrics`` result) are flattened, as Keras 3.

    On a backend that keeps training steps on the device (``backend``, or the CUDA backend of a tensor in the
    logs: ``sync_free``), every device value comes over in one device-to-host copy (``backend.fetch``), which
    also reports the checks the steps deferred to it (a label out of range raises there)."""
    flat = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            flat.update(v)
        else:
            flat[k] = v
    backend = backend or next((v.backend for v in flat.values()
                               if isinstance(v, Tensor) and getattr(v.backend, "sync_free", False)), None)
    if backend is not None:
        keys = [k for k, v in flat.items() if isinstance(v, Tensor) and v.backend is backend]
        fetched = dict(zip(keys, backend.fetch([flat[k]._data for k in keys])))
        flat.update({k: np.squeeze(v) for k, v in fetched.items()})
    return {k: _pythonify_value(flat[k]) for k in sorted(flat)}


def _pythonify_value(value):
    """A Python float, or a NumPy array for a metric with several values (``Recall(thresholds=[...])``, per-class
    ``F1Score``), which Keras 3 logs as the array."""
    a = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
    return float(a.reshape(-1)[0]) if a.size == 1 else a


def _sync_free_backend(model):
    """The backend of the model's weights when it keeps training steps on the device (CUDA), ready for a loop:
    its kernels compiled (``prepare_kernels``: before the first step, not inside it) and no deferred check
    left from a loop that an exception ended (``discard_deferred``); else None."""
    backend = next((w.backend for w in model.weights), None)
    if not getattr(backend, "sync_free", False):
        return None
    backend.prepare_kernels()
    backend.discard_deferred()
    return backend


#: The modules of the built-in layers whose inference call is safe to run on two threads at once: they read their
#: weights and keep no per-call state (losses, RNG draws, recurrent states) in inference.
_PAIRABLE_MODULES = frozenset(f"gpuflow.keras.layers.{m}" for m in (
    "core", "conv", "conv1d", "conv3d", "conv_transpose", "depthwise", "pooling", "pooling1d", "pooling_global",
    "reshaping", "merging", "normalization", "activation_layers"))


def _pairable_backend(model, callbacks):
    """The NumPy backend of the model's weights when ``predict`` may run two of its batches at once
    (:meth:`.backend.numpy_backend.NumpyBackend.map_batches`: the same bytes, faster for small batches), else
    None. Only for what cannot tell the difference: a Sequential or functional model (not a subclass) of
    built-in layers of ``_PAIRABLE_MODULES`` in their own classes, without activity regularizers or a mixed
    policy (whose call swaps the layer's weights for cast ones); no callbacks of the caller's (they see each
    batch begin before it is computed otherwise), no profiler, layer call hook or multi-worker strategy (all per
    thread)."""
    from ..backend.numpy_backend import NumpyBackend
    from ..distribute.strategy import get_strategy
    from .. import profiler
    from .layers.base import call_hooks_active
    if callbacks or profiler.active() is not None or call_hooks_active() or get_strategy().num_replicas_in_sync > 1:
        return None
    backend = next((w.backend for w in model.weights), None)
    if type(backend) is not NumpyBackend:
        return None
    for layer in [model, *model._flatten_layers()]:
        if type(layer) not in (Sequential, Functional) and type(layer).__module__ not in _PAIRABLE_MODULES:
            return None
        if (getattr(layer, "activity_regularizer", None) is not None or "_deferred_restores" in layer.__dict__
                or layer.compute_dtype != layer.variable_dtype):
            return None
    return backend


def _step_scope(backend, label):
    """Around one step: on a sync-free backend, the checks made on the device are deferred to the next host
    contact and name ``label`` (the step); elsewhere nothing."""
    return backend.deferred_checks(label) if backend is not None else contextlib.nullcontext()


def _check_jit_compile(value):
    if value not in ("auto", True, False):
        raise ValueError(f"Expected `jit_compile` to be 'auto', True or False. Received: jit_compile={value!r}")
    return value


#: Input signatures (shapes and dtypes of a batch) whose training step a model captures for replay: the full
#: batch and the last partial one, with room to spare; a batch of yet another signature runs eagerly.
MAX_STEP_GRAPHS = 4


def _batch_leaves(batch):
    """``(arrays, spec)``: the host arrays of a batch ``(x, y[, sample_weight])`` (each part an array, a list of
    arrays or None) and its structure, or ``(None, None)`` for a batch of another kind (Tensors, dicts)."""
    arrays, spec = [], []
    for part in batch:
        parts = part if isinstance(part, list) else [part]
        if part is not None and not all(isinstance(a, np.ndarray) and a.dtype != object for a in parts):
            return None, None
        spec.append(None if part is None else len(parts) if isinstance(part, list) else -1)
        arrays.extend(parts if part is not None else [])
    return arrays, tuple(spec)


def _batch_from(arrays, spec):
    """The batch of :func:`_batch_leaves` rebuilt from its ``arrays``."""
    it = iter(arrays)
    return tuple(None if n is None else next(it) if n == -1 else [next(it) for _ in range(n)] for n in spec)


def _metric_objects(metrics, out):
    """The metrics and the metrics they hold (a compile wrapper's), whose attributes a step rebinds."""
    for m in metrics:
        if m not in out:
            out.append(m)
            held = [v for value in vars(m).values() for v in (value if isinstance(value, (list, tuple)) else [value])]
            _metric_objects([v for v in held if hasattr(v, "update_state") and hasattr(v, "reset_state")], out)
    return out


def _executions(batches, steps_per_execution):
    """``(first step, last step, [(step, batch), ...])`` for each run of ``steps_per_execution`` batches: the
    loops call the batch hooks once per run, around its steps, as Keras does with ``steps_per_execution``."""
    run = []
    for step, batch in enumerate(batches):
        run.append((step, batch))
        if len(run) == steps_per_execution:
            yield run[0][0], step, run
            run = []
    if run:
        yield run[0][0], run[-1][0], run


def _nan_message(value, where, deferred=False):
    return (f"fit: the loss became {value} at {where}"
            + (" (found on the device, reported at the next host contact)" if deferred else "")
            + ". Check the learning rate, the inputs and the labels; keras.callbacks.TerminateOnNaN stops "
              "training when this happens.")


def _int_arg(value, arg, minimum=1, optional=True):
    """An integer argument of fit/evaluate/predict (``epochs``, ``batch_size``, ``steps``...), as an int.

    Keras 3 documents these as "Integer" (or None) but does not check them: ``epochs=2.7`` or ``"3"`` fail inside
    ``range()``, ``epochs=-1`` trains nothing, ``batch_size=2.7`` fails while slicing. Here bools, floats (even
    integral ones, which Keras's ``range()`` refuses too) and strings are refused up front, naming the argument.

    Raises:
        ValueError: not an integer (None allowed when ``optional``), or below ``minimum``.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"`{arg}` must be {kind}{' or None' if optional else ''}. Received: {arg}={value!r}")
    return int(value)


def _verbosity(verbose):
    """Keras's ``verbose``: "auto" (= 1), 0 silent, 1 progress bar, 2 one line per epoch; True/False are taken as
    1/0, as Keras compares them. Keras silently prints nothing for other values; they are refused here.

    Raises:
        ValueError: any other value.
    """
    if not isinstance(verbose, (str, int, np.integer)) or verbose not in ("auto", 0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return 1 if verbose == "auto" else int(verbose)


def _validation_split(value):
    """Keras's "float between 0 and 1" (its ``train_validation_split`` fails on a string only at ``1.0 - value``
    and slices nonsense for values outside); 0 means no split, 1 would leave no training data. None and False are
    no split too, as Keras tests ``if validation_split``.

    Raises:
        ValueError: not a real number in [0, 1), None or False.
    """
    if value is None or value is False:
        return 0.0
    return check_real(value, "validation_split", 0, 1, high_open=True)


def _should_validate(epoch, validation_freq):
    """Keras 3's ``_should_eval``: an int n validates every n epochs, a list on the (1-based) epochs it names."""
    if isinstance(validation_freq, (list, tuple)):
        return epoch + 1 in validation_freq
    return (epoch + 1) % validation_freq == 0


def _check_validation_freq(value):
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, np.integer)) for v in value):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError("Expected `validation_freq` to be a list or int (a positive number of epochs). "
                         f"Received: validation_freq={value!r} of the type {type(value)}.")
    return int(value)


def _is_iterable_data(x):
    """A Dataset, generator or iterator (not an array, Tensor, list or tuple of arrays)."""
    from ..data import Dataset
    if isinstance(x, Dataset):
        return True
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not isinstance(x, (np.ndarray, Tensor, list, tuple,
                                                                                     dict, str)))


class _DataAdapter:
    """Turns the inputs of fit/evaluate/predict into batches ``(x, y, sample_weight)`` per epoch
    (Keras 3's data adapters): arrays are sliced (shuffled each epoch when asked), a Dataset is
    re-read each epoch, a generator is consumed where the last epoch stopped."""

    def __init__(self, x, y, sample_weight, batch_size, steps, shuffle, what, class_weight=None):
        self._what = what
        self._limit = steps
        # training batches only: a validation split of this data is made unweighted, as Keras splits first
        self._class_weight = None if class_weight is None else _class_weights(class_weight)
        if isinstance(x, PyDataset):  # batches by index, in shuffled order when asked (Keras 3)
            x = x.as_dataset(shuffle=bool(shuffle))
        if _is_iterable_data(x):
            if y is not None or sample_weight is not None:
                raise ValueError(f"{what}: when `x` is a dataset or generator, `y` and `sample_weight` must not be "
                                 "passed; the dataset yields (x, y[, sample_weight]) tuples.")
            if batch_size is not None:
                warnings.warn(f"{what}: `batch_size` is ignored for a dataset or generator input; batch the "
                              "dataset itself.", stacklevel=3)
            from ..data import Dataset
            self._dataset = x if isinstance(x, Dataset) else None
            self._iterator = None if self._dataset is not None else iter(x)
            card = int(self._dataset.cardinality()) if self._dataset is not None else -2
            self.steps = steps if steps is not None else (card if card >= 0 else None)
            if self.steps is None and card == -1:
                raise ValueError(f"{what}: the dataset is infinite (repeat()); pass steps_per_epoch / steps.")
            self._peeked = None
            self.arrays = None
            return
        self._dataset = self._iterator = None
        x, y, sw = _to_array(x, "x"), _to_array(y, "y"), _to_array(sample_weight, "sample_weight")
        self.n = _check_cardinality(x=x, y=y, sample_weight=sw)
        if self._class_weight is not None:
            _class_sample_weight(y, {}, sw)  # its errors (sample_weight too, several targets) before any step
        if self.n == 0:
            raise ValueError(f"{what}: the input data is empty.")
        self.arrays = (x, y, sw)
        self.batch_size = batch_size or 32
        self.shuffle = shuffle
        self._set_steps()

    def _set_steps(self):
        full = math.ceil(self.n / self.batch_size)
        self.steps = full if self._limit is None else min(full, self._limit)

    def split_off(self, fraction, batch_size, steps):
        """Holds out the last ``fraction`` of array data for validation (Keras's validation_split)."""
        if self.arrays is None:
            raise ValueError("`validation_split` is only supported for Tensors or NumPy arrays, not for a dataset "
                             "or generator.")
        split = int(math.floor(self.n * (1.0 - fraction)))
        x, y, sw = self.arrays
        cut = lambda a, sl: None if a is None else a[sl]  # noqa: E731
        val = _DataAdapter(x[split:], cut(y, slice(split, None)), cut(sw, slice(split, None)),
                           batch_size or self.batch_size, steps, False, "validation_split")
        self.arrays = (x[:split], cut(y, slice(None, split)), cut(sw, slice(None, split)))
        self.n = split
        if self.n == 0:
            raise ValueError(f"validation_split={fraction} leaves no training data.")
        self._set_steps()
        return val

    def peek_x(self):
        """A small batch of inputs, to build the model before training."""
        if self.arrays is not None:
            return _plain(self.arrays[0][:1])
        if self._dataset is not None:
            return _unpack(_as_tuple(next(iter(self._dataset.as_numpy_iterator()))))[0]
        if self._peeked is None:
            self._peeked = next(self._iterator)
        return _unpack(_as_tuple(self._peeked))[0]

    def epoch(self):
        """The batches of one epoch, ``(x, y[, sample_weight])``; with ``class_weight``, ``sample_weight`` from it."""
        for batch in self._batches():
            if self._class_weight is not None:
                x, y, sw = _unpack(batch)
                batch = (x, y, _class_sample_weight(y, self._class_weight, sw))
            yield _dist.local_batch(batch)  # under a tf.distribute strategy: this worker's rows

    def _batches(self):
        if self.arrays is not None:
            x, y, sw = self.arrays
            order = np.random.permutation(self.n) if self.shuffle else np.arange(self.n)
            for step in range(self.steps):
                idx = order[step * self.batch_size:(step + 1) * self.batch_size]
                batch = tuple(None if a is None else _plain(a[idx]) for a in (x, y, sw))
                yield batch[:3 if sw is not None else 2 if y is not None else 1]
            return
        source = self._dataset.as_numpy_iterator() if self._dataset is not None else self._iterator
        if self._peeked is not None:
            source = itertools.chain([self._peeked], source)
            self._peeked = None
        for step, element in enumerate(source):
            yield _as_tuple(element)
            if self._limit is not None and step + 1 >= self._limit:
                return


def _as_tuple(element):
    if isinstance(element, tuple):
        return element
    if isinstance(element, list) and len(element) in (2, 3):
        return tuple(element)
    return (element,)


def _standardize_input(x, expected, model_name):
    """Keras 3's functional-input standardisation: a missing or extra trailing size-1 axis is
    added or dropped (so (N, 28, 28) images feed an Input((28, 28, 1))); any other mismatch of
    rank or of a known dimension is an error naming the model and both shapes."""
    if expected is None or not hasattr(x, "shape"):
        return x
    shape = tuple(x.shape)
    if len(shape) == len(expected) - 1 and expected[-1] == 1:
        x = _a.expand_dims(x, -1)
    elif len(shape) == len(expected) + 1 and shape[-1] == 1:
        x = _a.squeeze(x, -1)
    got = tuple(x.shape)
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected[1:], got[1:])):
        want = "(" + ", ".join(str(d) for d in expected) + ")"
        raise ValueError(f"Invalid input shape for model '{model_name}'. Expected shape {want}, but input has "
                         f"incompatible shape {shape}")
    return x


class _MultiOutputLoss:
    """``compile(loss=[...] or {...}, loss_weights=...)`` for a model with several outputs: the total loss is
    ``sum(weight_i * loss_i(y_i, y_pred_i))`` over the outputs that have a loss (Keras's rule); a dict is keyed
    by output name (:func:`_output_keys`), and so may ``y`` be.

    Raises:
        ValueError: a list of the wrong length, a dict key that names no output, or a model with one output.
    """

    def __init__(self, model, loss, loss_weights):
        names = _output_keys(model)
        n = len(names)

        def per_output(value, what, default):
            if value is None:
                return [default] * n
            if isinstance(value, dict):
                unknown = sorted(set(value) - set(names))
                if unknown:
                    raise ValueError(f"compile: `{what}` names unknown outputs {unknown}. Expected keys among "
                                     f"the output layer names {names}.")
                return [value.get(k, None if what == "loss" else default) for k in names]
            if isinstance(value, (list, tuple)):
                if len(value) != n:
                    raise ValueError(f"compile: `{what}` must have one entry per output. Expected: {n} "
                                     f"(outputs {names}). Received: {len(value)}")
                return list(value)
            return [value] * n
        if n < 2 and isinstance(loss, (list, tuple, dict)) and len(loss) != max(n, 1):
            raise ValueError(f"compile: a list/dict `loss` needs a model with that many outputs. Received "
                             f"{len(loss)} losses for {max(n, 1)} output(s).")
        self.names = names or ["output"]
        self.fns = [None if l is None else _losses.get(l) for l in per_output(loss, "loss", None)] if n else \
            [_losses.get(loss[0] if isinstance(loss, (list, tuple)) else loss)]
        self.weights = per_output(loss_weights, "loss_weights", 1.0) if n else [
            (loss_weights[0] if isinstance(loss_weights, (list, tuple)) else loss_weights) or 1.0]
        self.name = "loss"

    def __call__(self, y, y_pred, sample_weight=None):
        ys, preds = _per_output(y, self.names, "y"), _per_output(y_pred, self.names, "y_pred")
        if len(ys) != len(preds):
            raise ValueError(f"The model has {len(preds)} output(s) but {len(ys)} target array(s) were given.")
        total, self.last_terms = None, []
        for name, fn, w, t, p, sw in zip(self.names, self.fns, self.weights, ys, preds,
                                         _sample_weights(sample_weight, self.names, len(preds))):
            if fn is None:
                continue
            term = fn(t, p, sw)
            self.last_terms.append((name, term))  # unweighted, logged as "<output>_loss" (Keras 3)
            term = term * float(w)
            total = term if total is None else total + term
        return total


class _CompileMetrics(_metrics.Metric):
    """Keras 3's ``compile_metrics``: the ``metrics=`` and ``weighted_metrics=`` of compile as one Metric, built on
    the first batch (``"accuracy"`` needs the shapes), each logged under the name it was given ("mae", "acc").
    ``metrics`` see no sample weights; ``weighted_metrics`` see ``sample_weight`` (class_weight's too). A weighted
    metric whose name an earlier one holds is logged as ``"weighted_<name>"`` (Keras 3's ``CompileMetrics.result``);
    with several outputs, names take the ``"<output name>_"`` prefix."""

    def __init__(self, identifiers, weighted=None, output_names=None, output_keys=None):
        super().__init__(name="compile_metrics")
        self._output_names = output_names  # a model with several outputs: one list of identifiers per output
        per_output = (lambda ids: [list(i) for i in ids]) if output_names else (lambda ids: [list(ids)])
        self._ids, self._weighted_ids = per_output(identifiers or []), per_output(weighted or [])
        if output_names:  # one list per output, also for an output without metrics
            self._ids = self._ids or [[] for _ in output_names]
            self._weighted_ids = self._weighted_ids or [[] for _ in output_names]
        self._keys = output_keys or []  # how a dict of targets or predictions is read
        self.metrics = None
        self._built = None  # [(output index, metric, weighted)]

    def _entries(self):
        """``[(output index, identifier, weighted)]``: the unweighted metrics, then the weighted ones."""
        return [(k, m, weighted) for weighted, per_output in ((False, self._ids), (True, self._weighted_ids))
                for k, ids in enumerate(per_output) for m in ids]

    def _names(self, entries):
        """The logged name of each ``(output index, base name, weighted)``."""
        taken, names = set(), []
        for k, base, weighted in entries:
            prefix = f"{self._output_names[k]}_" if self._output_names else ""
            name = prefix + base
            if weighted and name in taken:
                name = f"{prefix}weighted_{base}"
            taken.add(name)
            names.append(name)
        return names

    def update_state(self, y_true, y_pred, sample_weight=None):
        ys = _per_output(y_true, self._keys, "y") if self._output_names or isinstance(y_true, dict) else [y_true]
        preds = _per_output(y_pred, self._keys, "y_pred") if self._output_names or isinstance(y_pred, dict) \
            else [y_pred]
        if self.metrics is None:
            built = []
            for k, m, weighted in self._entries():
                metric = _metrics.get(m, ys[k], preds[k])
                if isinstance(m, str):
                    metric.name = m
                built.append((k, metric, weighted))
            for (_, metric, _), name in zip(built, self._names([(k, m.name, w) for k, m, w in built])):
                metric.name = name
            self._built, self.metrics = built, [m for _, m, _ in built]
        sws = _sample_weights(sample_weight, self._keys, len(preds))
        for k, m, weighted in self._built:
            m.update_state(ys[k], preds[k], sws[k] if weighted else None)

    def names(self):
        if self.metrics is None:
            return self._names([(k, m if isinstance(m, str) else getattr(m, "name", "metric"), w)
                                for k, m, w in self._entries()])
        return [m.name for m in self.metrics]

    def result(self):
        return {m.name: m.result() for m in self.metrics or []}

    def reset_state(self):
        for m in self.metrics or []:
            m.reset_state()


def _keras_tensors(value):
    """Whether ``value`` is a KerasTensor or a non-empty list/tuple/dict of them (a functional ``inputs``)."""
    items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
    return bool(items) and all(isinstance(v, KerasTensor) for v in items)


def _output_keys(model):
    """The name of each output of a functional model, in ``outputs`` order: the keys (sorted: the flattened order)
    of a dict of outputs, else the output layer names; [] for a model without a graph (subclassed, Sequential)."""
    struct = getattr(model, "_out_struct", None)
    if isinstance(struct, dict) and _keras_tensors(struct):
        return sorted(struct)
    return [_layer_name(o) for o in getattr(model, "_outputs", None) or []]


def _per_output(value, names, what):
    """``value`` (``y``, ``y_pred``: one array, a list with one per output, or a dict keyed by the output ``names``)
    as a list in output order.

    Raises:
        ValueError: a dict that lacks a key of ``names``.
    """
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing or not names:
            raise ValueError(f"`{what}` as a dict needs one entry per model output, keyed by output name. Expected "
                             f"keys: {names}. Received: keys={list(value)}")
        return [value[n] for n in names]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _sample_weights(sample_weight, names, n):
    """The sample weights of each of ``n`` outputs: ``sample_weight`` per output (a dict keyed by the output
    ``names``, or a list), else the same for every output (Keras 3's ``CompileLoss``/``CompileMetrics``)."""
    if isinstance(sample_weight, (dict, list, tuple)):
        return _per_output(sample_weight, names, "sample_weight")
    return [sample_weight] * n


def node_inputs(layer, args):
    """A node's inputs ``args`` (a flat list, as the node records them) for ``layer``: for a nested functional model
    built on a dict of inputs, that dict (keyed in flattened order), which its call reads by key."""
    struct = getattr(layer, "_in_struct", None)
    if isinstance(struct, dict) and _keras_tensors(struct) and isinstance(args, list) and len(args) == len(struct):
        return dict(zip(sorted(struct), args))
    return args


def _flat_outputs(outputs):
    """A call's outputs as the list its KerasTensors index: a dict (a nested model's dict of outputs) flattened."""
    return _nest.flatten(outputs) if isinstance(outputs, dict) else outputs


def _layer_name(t):
    """The name of the layer that made the KerasTensor ``t`` (an ``Input``'s name for an input)."""
    return t._history[0].name if t._history else t.name


def _output_names(model):
    """The output names (:func:`_output_keys`) of a functional model with several outputs, else None."""
    names = _output_keys(model)
    return names if len(names) > 1 else None


def _metrics_per_output(metrics, names, arg="metrics"):
    """``compile(metrics=...)`` (or ``weighted_metrics=``, named ``arg``) of a model with several outputs as one list
    per output (Keras 3: a dict keyed by output name, or a list with one entry -- a metric or a list of them -- per
    output).

    Raises:
        ValueError: another structure, or a dict key that names no output (Keras's message).
    """
    def as_list(entry):
        return [] if entry is None else list(entry) if isinstance(entry, (list, tuple)) else [entry]
    if isinstance(metrics, dict):
        unknown = sorted(set(metrics) - set(names))
        if not unknown:
            return [as_list(metrics.get(n)) for n in names]
    elif isinstance(metrics, (list, tuple)) and len(metrics) == len(names):
        return [as_list(m) for m in metrics]
    raise ValueError(f"Invalid `{arg}`. `{arg}` should contain metrics objects and either be a dict or a list "
                     f"matching the output names of the functional model {names} or match the output structure of "
                     f"the model: {['X'] * len(names)}.\nReceived: {arg}={metrics}")


_FUNCTIONAL_SUBCLASSES = {}


class Model(Layer):
    """A layer with training: ``compile``, ``fit``, ``evaluate``, ``predict`` (``keras.Model``).

    Three ways to build one, as in Keras: subclass it and write ``call``;
    ``Model(inputs, outputs)`` from ``keras.Input`` tensors (functional API);
    or use :class:`Sequential`.
    """

    def __new__(cls, *args, **kwargs):
        if (args or "inputs" in kwargs) and not issubclass(cls, (Functional, Sequential)):
            if cls is Model:
                return super().__new__(Functional)
            if not _keras_tensors(kwargs.get("inputs", args[0] if args else None)):
                return super().__new__(cls)  # a subclass with its own arguments (``VAE(encoder, decoder)``)
            # A subclass called functional-style, ``MyModel(inputs, outputs)`` (Keras's "customizing
            # fit" pattern): its methods (train_step...) over a Functional graph, as Keras injects it.
            functional_cls = _FUNCTIONAL_SUBCLASSES.get(cls)
            if functional_cls is None:
                functional_cls = _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, Functional),
                                                                    {"__module__": cls.__module__,
                                                                     "__qualname__": cls.__qualname__})
            return super().__new__(functional_cls)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        trainable = kwargs.pop("trainable", True)
        name = kwargs.pop("name", None)
        dtype = kwargs.pop("dtype", None)
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._loss_fn = None
        self._metric_ids, self._weighted_metric_ids, self._loss_weights = [], [], None
        self._compiled_metrics = None
        self._loss_tracker = None
        self._distribute_strategy = _dist.get_strategy()  # as Keras 3: fit/evaluate/predict run in its scope
        self._steps_per_execution = 1
        self._jit_compile, self.run_eagerly, self._step_graphs, self._graphs_warned = "auto", False, {}, set()

    # -- compile -----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configures training (``keras.Model.compile``).

        Args:
            optimizer: name ("adam", "sgd", "rmsprop") or Optimizer instance.
            loss: name, Loss instance or function ``fn(y_true, y_pred)``.
            steps_per_execution: a positive int N: fit/evaluate call the batch callbacks once per N steps
                (with the first and the last step of the run, as Keras), and on a CUDA backend the N steps
                run with no host contact between them (each one replayed, see ``jit_compile``).
            run_eagerly: True runs every step eagerly (no replay), as Keras's debugging switch.
            jit_compile: ``"auto"`` (default) or True: on the CUDA backend, ``fit`` captures its training step
                once per batch shape (the full batch, the last partial one; at most ``MAX_STEP_GRAPHS``) and
                replays it (a CUDA graph: :mod:`gpuflow.backend.graph`) when every input has a static shape
                (arrays); what cannot be replayed (random draws such as Dropout's, a value read on the host inside
                the step, a distribution strategy) runs eagerly, ``model.graph_status()`` says why (True also
                warns, once per batch shape). As in Keras's compiled step, Python side effects inside the step
                (appending to a list) happen when it runs eagerly or is captured, not at each replay; state
                belongs in variables or metric attributes. False: every step eager. No effect on the CPU
                backend, nor on evaluate/predict.
            metrics: list of names ("accuracy" resolved from the data shapes as
                Keras does), Metric instances or functions; for several outputs, a dict keyed by output name (the
                keys of a dict of outputs, else the output layer names) or a list with one entry per output.
                These metrics ignore sample weights (Keras 3).
            weighted_metrics: as ``metrics``, computed with the sample weights (``sample_weight``, or those of
                ``class_weight``); one whose name a ``metrics`` entry already holds is logged as
                ``"weighted_<name>"`` (Keras 3.15's ``CompileMetrics``).
            loss, loss_weights: for several outputs also a dict keyed by output name or a list per output.
            auto_scale_loss: when the model's dtype policy is ``"mixed_float16"``, wrap the optimizer in a
                :class:`~gpuflow.keras.optimizers.LossScaleOptimizer` (dynamic loss scaling), as Keras 3.

        Raises:
            ValueError: unknown optimizer, loss or metric names; a per-output dict or list that does not match
                the outputs.
            TypeError: ``metrics`` / ``weighted_metrics`` not a list, tuple (or dict for several outputs).
        """
        steps_per_execution = _int_arg(steps_per_execution, "steps_per_execution", optional=False)
        # Resolve everything first, so a failing compile leaves the model as it was.
        output_names = _output_names(self)
        if (output_names or isinstance(loss, (dict, list, tuple)) or loss_weights is not None
                or isinstance(getattr(self, "_out_struct", None), dict)):
            loss_fn = _MultiOutputLoss(self, loss, loss_weights)
        else:
            loss_fn = _losses.get(loss)
        metric_lists = []  # (metrics, weighted_metrics), each one list per output for several outputs
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                raise TypeError(f"Expected `{arg}` argument to be a list, tuple, or dict. Received instead: "
                                f"{arg}={value} of type {type(value)}")
            if output_names:
                metric_lists.append(_metrics_per_output(value, output_names, arg) if value else None)
            else:  # one output: all apply to it (a dict's values by sorted key, as Keras's tree.flatten)
                metric_lists.append(_nest.flatten(value) if isinstance(value, dict) else list(value or []))
            for m in _nest.flatten(metric_lists[-1]):
                if isinstance(m, str) and m.lower() not in ("accuracy", "acc"):  # fail now, not at the first batch
                    _metrics.get(m)
        self.optimizer = _optimizers.get(optimizer)
        if (auto_scale_loss and self.dtype_policy.name == "mixed_float16"
                and not isinstance(self.optimizer, _optimizers.LossScaleOptimizer)):
            self.optimizer = _optimizers.LossScaleOptimizer(self.optimizer, name="loss_scale_optimizer")
            self.optimizer.wrapped_by_compile = True  # the compile config names the optimizer given, as Keras
        self.loss = loss
        self._loss_fn = loss_fn
        self._loss_weights = loss_weights
        self._metric_ids = dict(metrics) if isinstance(metrics, dict) else list(metrics or [])
        self._weighted_metric_ids = (dict(weighted_metrics) if isinstance(weighted_metrics, dict)
                                     else list(weighted_metrics or []))
        self._compiled_metrics = (_CompileMetrics(*metric_lists, output_names=output_names,
                                                  output_keys=_output_keys(self))
                                  if any(metric_lists) else None)
        self._loss_tracker = _metrics.Mean(name="loss")
        _check_jit_compile(jit_compile)
        self._steps_per_execution = steps_per_execution
        self._jit_compile, self.run_eagerly = jit_compile, bool(run_eagerly)
        self._step_graphs, self._graphs_warned = {}, set()
        _sync_free_backend(self)  # a built model on the CUDA backend: its kernels compile now
        # Keras 3 logs each output's unweighted loss as "<output name>_loss" for a model with several outputs (in the
        # loss dict's order for a dict of outputs)
        order = [n for n in loss if n in output_names] if output_names and isinstance(loss, dict) and isinstance(
            self._out_struct, dict) else output_names or []
        self._output_loss_trackers = {n: _metrics.Mean(name=f"{n}_loss") for n in order
                                      if loss_fn.fns[loss_fn.names.index(n)] is not None}
        self.compiled = True

    @property
    def jit_compile(self):
        """``"auto"``, True or False: whether ``fit`` replays its training step (see :meth:`compile`); settable."""
        return self._jit_compile

    @jit_compile.setter
    def jit_compile(self, value):
        self._jit_compile = _check_jit_compile(value)

    @property
    def input_dtype(self):
        """The dtype ``__call__`` converts floating inputs to. As Keras 3, a Sequential or functional model does not
        cast them to its compute dtype (its layers do, each to its own; under ``mixed_float16`` integer ids
        must not pass through float16): it keeps its variable dtype (float32 under a mixed policy). A subclassed
        model casts to its compute dtype, as any layer."""
        return self.variable_dtype if isinstance(self, (Sequential, Functional)) else self.compute_dtype

    def _assert_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model (for {what}).")

    @property
    def metrics(self):
        out = []
        if self._loss_tracker is not None:
            out.append(self._loss_tracker)
        if self._compiled_metrics is not None:
            out.append(self._compiled_metrics)
        return out + list(getattr(self, "_output_loss_trackers", {}).values())

    @property
    def distribute_strategy(self):
        """The tf.distribute strategy the model was created in (Keras's; its loops run in its scope)."""
        return self._distribute_strategy

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in ``layers`` (``keras.Model.get_layer``).

        Raises:
            ValueError: neither or both given, an index out of range, or an unknown name.
        """
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    # -- steps ---------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss plus any ``add_loss`` losses (the loss tracker is updated by the step, as Keras 3)."""
        terms = []
        if self._loss_fn is not None:
            if y is None:
                raise ValueError(f"The compiled loss {getattr(self._loss_fn, 'name', self._loss_fn)!r} needs targets, "
                                 "but y=None. Pass `y` to fit/evaluate, or compile with loss=None and use add_loss().")
            terms.append(self._loss_fn(y, y_pred, sample_weight))
        terms.extend(convert_to_tensor(l) for l in self.losses)
        if not terms:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        loss = terms[0]
        for t in terms[1:]:
            loss = loss + t
        return _dist.scale_loss(loss)  # / num_replicas_in_sync, as Keras 3 (the optimizer sums over replicas)

    def _track_loss(self, loss, y_pred):
        if self._loss_tracker is not None:
            if isinstance(y_pred, (list, tuple, dict)):
                y_pred = _nest.flatten(y_pred)[0]
            n = y_pred.shape[0] if y_pred is not None and y_pred.ndim else 1
            self._loss_tracker.update_state(_dist.unscale_loss(loss), sample_weight=n)
            trackers = getattr(self, "_output_loss_trackers", {})
            for name, term in (getattr(self._loss_fn, "last_terms", ()) if trackers else ()):
                trackers[name].update_state(term, sample_weight=n)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics and returns the current logs."""
        if self._compiled_metrics is not None:
            # `metrics=` are unweighted in Keras 3, `weighted_metrics=` see the sample weights
            self._compiled_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """The current value of every metric; the compiled ones listed individually, as Keras 3."""
        logs = {}
        with _dist.reduced_metrics(self.metrics):  # summed over the replicas of a strategy
            results = [m.result() for m in self.metrics]
        for m, r in zip(self.metrics, results):
            if isinstance(r, dict):
                logs.update(r)
            else:
                logs[m.name] = r
        return logs

    def _train_step_graph(self, backend, batch):
        """The :class:`~gpuflow.backend.graph.StepGraph` that runs the training step on batches of ``batch``'s
        signature (captured and replayed), or None: the step runs eagerly (see ``compile(jit_compile=...)``)."""
        if (backend is None or self._jit_compile is False or self.run_eagerly
                or getattr(self._distribute_strategy, "num_replicas_in_sync", 1) > 1):
            return None
        arrays, spec = _batch_leaves(batch)
        if arrays is None:
            return None
        key = (spec, tuple((a.shape, a.dtype.str) for a in arrays))
        graph = self._step_graphs.get(key)
        if graph is None and len(self._step_graphs) < MAX_STEP_GRAPHS:
            graph = backend.capture_step(
                lambda arrays: self.train_step(_batch_from(arrays, spec)),
                state=lambda: list({id(v): v for v in self.variables + self.optimizer.variables}.values()),
                watch=lambda: _metric_objects(self.metrics, []) + [o for o in (
                    self.optimizer, getattr(self.optimizer, "inner_optimizer", None)) if o is not None])
            if graph is not None:
                self._step_graphs[key] = graph
        return graph

    def _run_step_graph(self, graph, batch):
        """The training step on ``batch`` through ``graph``; with ``jit_compile=True`` a warning, once per batch
        shape, when the step cannot be replayed (``"auto"`` leaves the reason to :meth:`graph_status`)."""
        logs = graph(_batch_leaves(batch)[0])
        if graph.phase == "eager" and self._jit_compile is True and graph not in self._graphs_warned:
            self._graphs_warned.add(graph)
            warnings.warn(f"compile(jit_compile=True): the training step runs eagerly on this batch shape: "
                          f"{graph.reason}.", RuntimeWarning, stacklevel=3)
        return logs

    def graph_status(self):
        """How ``fit``'s training step runs on each batch signature: ``{signature: status}``, the status
        ``"replayed N times"``, ``"warm-up"`` / ``"capture"`` (the next step), or ``"eager: <why>"``. Empty
        when no step was captured (the CPU backend, ``jit_compile=False``, ``run_eagerly=True``)."""
        out = {}
        for (_, shapes), g in self._step_graphs.items():
            name = ", ".join(f"{np.dtype(d).name}{list(s)}" for s, d in shapes)
            out[name] = (f"replayed {g.replays} times" if g.phase == "replay"
                         else f"eager: {g.reason}" if g.phase == "eager" else g.phase)
        return out

    def train_step(self, data):
        """One optimisation step on a batch ``(x, y[, sample_weight])``; returns logs."""
        x, y, sample_weight = _unpack(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
            scaled = self.optimizer.scale_loss(loss)  # a LossScaleOptimizer's dynamic scale; else loss itself
        self._track_loss(loss, y_pred)
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = _unpack(data)
        y_pred = self(x, training=False)
        self._track_loss(self.compute_loss(x, y, y_pred, sample_weight, training=False), y_pred)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        x, _, _ = _unpack(data)
        return self(x, training=False)

    # -- loops -----------------------------------------------------------------------
    @_dist.in_model_strategy
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Trains for ``epochs`` epochs (``keras.Model.fit``) and returns a ``History``.

        Args:
            x, y: NumPy arrays or Tensors with the same number of samples (lists of them for several inputs or
                outputs, or dicts keyed by input name / output name, sliced and shuffled together); or ``x``
                a ``gpuflow.data.Dataset`` / Python generator of ``(x, y[, sample_weight])``
                batches, whose parts may be dicts too (then ``y`` is not given; a dataset is re-read every epoch).
            batch_size: samples per step for arrays, a positive int (32 by default).
            epochs: the index of the last epoch, an int >= 0 (0 trains nothing, as Keras);
                with ``initial_epoch`` (int >= 0), epochs ``initial_epoch .. epochs - 1`` run.
            validation_split: a float in [0, 1): the fraction of the array data, taken
                from the end before shuffling, held out for validation (as Keras).
            validation_data: ``(x_val, y_val[, sample_weight])`` or a Dataset.
            validation_freq: validate every n epochs (a positive int), or on the
                1-based epochs of a list (as Keras).
            class_weight: optional ``{class id: weight}``; each training sample is
                weighted by its class (from integer, (N, 1) or one-hot targets; 1 for a
                class not named), as Keras. Not with ``sample_weight``, nor for a model
                with several outputs. The validation data is not weighted.
            verbose: "auto" (= 1), 0 silent, 1 progress bar, 2 one line per epoch.

        Raises:
            RuntimeError: if the model is not compiled.
            ValueError: mismatched sample counts; an argument of the wrong type or out of
                its range (named, with the value received).

        Warns:
            RuntimeWarning: when the loss first becomes NaN or infinite, naming
            the epoch and step.
        """
        self._assert_compiled("training")
        if x is None:
            raise ValueError("fit: `x` must be given (arrays, Tensors, a Dataset or a generator).")
        batch_size = _int_arg(batch_size, "batch_size")
        epochs = _int_arg(epochs, "epochs", minimum=0, optional=False)  # 0 is Keras's no-op fit
        initial_epoch = _int_arg(initial_epoch, "initial_epoch", minimum=0, optional=False)
        verbose_val = _verbosity(verbose)
        validation_split = _validation_split(validation_split)
        validation_steps = _int_arg(validation_steps, "validation_steps")
        validation_batch_size = _int_arg(validation_batch_size, "validation_batch_size") or batch_size
        validation_freq = _check_validation_freq(validation_freq)
        data = _DataAdapter(x, y, sample_weight, batch_size, _int_arg(steps_per_epoch, "steps_per_epoch"),
                            shuffle, "fit", class_weight)
        self._check_class_ids(data, "y")
        val = None
        if validation_data is not None:
            vd = validation_data
            vx, vy, vsw = (vd, None, None) if _is_iterable_data(vd) else _unpack(tuple(vd))
            val = _DataAdapter(vx, vy, vsw, validation_batch_size, validation_steps, False, "validation_data")
            self._check_class_ids(val, "validation_data y")
        elif validation_split:
            val = data.split_off(validation_split, validation_batch_size, validation_steps)
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose_val != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=data.steps)
        self.stop_training = False
        if not self.built:
            self(data.peek_x(), training=False)
        cbs.on_train_begin()
        # where BackupAndRestore resumes (Keras 3's model._initial_epoch; and the batches already trained)
        initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch
        skip = getattr(self, "_initial_step", 0)
        logs = step_logs = {}
        nan_reported = []  # where the loss first became NaN or infinite, once reported
        # On a sync-free (CUDA) backend the steps make no host contact: the logs come to the host when a
        # callback or the live progress bar asks (at most ~10 times a second), else once per epoch; the loss
        # is checked on the device and a NaN reported at the next host contact, naming its step.
        backend = _sync_free_backend(self)

        def report_nan(value, where):
            nan_reported.append(where)
            warnings.warn(_nan_message(value, where, deferred=True), RuntimeWarning, stacklevel=5)

        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            for begin, end, run in _executions(data.epoch(), self._steps_per_execution):
                if end < skip:  # resumed inside this epoch: the backup holds these batches
                    continue
                cbs.on_train_batch_begin(begin)
                for step, batch in run:
                    where = f"epoch {epoch + 1}, step {step + 1} (batch {step})"
                    with _step_scope(backend, where):
                        graph = self._train_step_graph(backend, batch)
                        step_logs = self._run_step_graph(graph, batch) if graph is not None else self.train_step(batch)
                        loss = step_logs.get("loss")
                        if backend is not None and not nan_reported and isinstance(loss, Tensor):
                            backend.defer_check("fit: non-finite loss", ~backend.xp.isfinite(loss._data),
                                                loss._data, report_nan)
                logs = None
                if backend is None or cbs.wants_batch_logs("on_train_batch_end", end):
                    logs = _pythonify(step_logs, backend)
                    if not nan_reported and not math.isfinite(logs.get("loss", 0.0)):
                        nan_reported.append(where)
                        warnings.warn(_nan_message(logs["loss"], where), RuntimeWarning, stacklevel=2)
                cbs.on_train_batch_end(end, logs)
                if self.stop_training:
                    break
            skip = 0
            epoch_logs = dict(logs) if logs is not None else _pythonify(step_logs, backend)
            if val is not None and _should_validate(epoch, validation_freq):
                val_logs = self._evaluate_loop(val, None, f"validation after epoch {epoch + 1}")
                # as Keras 3: the (sorted) training logs, then the (sorted) validation logs
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training:
                break
        if epochs > 0 and self.optimizer is not None:  # Keras 3: use_ema's weights take their moving averages
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(logs)
        self.history = cbs.history
        return cbs.history

    def _check_class_ids(self, data, arg):
        """The targets of every sparse categorical cross-entropy output must be whole numbers (Keras would truncate
        1.5 to 1): checked once, on the host arrays, rather than per step on the device. Datasets and generators
        are checked per batch by the loss, where the batch is on the host (the NumPy backend)."""
        if data.arrays is None or data.arrays[1] is None:
            return
        multi = isinstance(self._loss_fn, _MultiOutputLoss)
        ys = _per_output(_plain(data.arrays[1]), self._loss_fn.names if multi else [], arg)
        fns = self._loss_fn.fns if multi else [self._loss_fn]
        for i, (fn, y) in enumerate(zip(fns, ys)):
            if _losses.expects_class_ids(fn):
                by_name = isinstance(data.arrays[1], _Inputs) and data.arrays[1].keys is not None
                _losses.check_class_ids(y, arg if len(ys) == 1 else f"{arg}[{self._loss_fn.names[i]!r}]" if by_name
                                        else f"{arg}[{i}]")

    def _evaluate_loop(self, data, cbs, what="evaluate"):
        """The test steps over ``data`` (batch hooks once per ``steps_per_execution`` steps); the last logs as
        Python floats. On a sync-free (CUDA) backend they come to the host only when a callback or the live
        progress bar asks, and at the end (see :meth:`fit`)."""
        self.reset_metrics()
        backend = _sync_free_backend(self)
        logs = step_logs = {}
        for begin, end, run in _executions(data.epoch(), self._steps_per_execution):
            if cbs:
                cbs.on_test_batch_begin(begin)
            for step, batch in run:
                with _step_scope(backend, f"{what}, step {step + 1} (batch {step})"):
                    step_logs = self.test_step(batch)
            logs = None
            if backend is None or (cbs and cbs.wants_batch_logs("on_test_batch_end", end)):
                logs = _pythonify(step_logs, backend)
            if cbs:
                cbs.on_test_batch_end(end, logs)
        return logs if logs is not None else _pythonify(step_logs, backend)

    @_dist.in_model_strategy
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on data (``keras.Model.evaluate``); inputs as for :meth:`fit`.

        Returns:
            The loss (a float) when no metrics are compiled, else the list
            ``[loss, *metrics]`` in ``metrics_names`` order, or a dict with
            ``return_dict=True``.

        Raises:
            RuntimeError: if the model is not compiled.
            ValueError: as :meth:`fit` for the data, ``batch_size`` / ``steps`` (positive ints or None)
                and ``verbose``.
        """
        self._assert_compiled("evaluation")
        data = _DataAdapter(x, y, sample_weight, _int_arg(batch_size, "batch_size"),
                            _int_arg(steps, "steps"), False, "evaluate")
        self._check_class_ids(data, "y")
        verbose_val = _verbosity(verbose)
        cbs = CallbackList(callbacks, add_progbar=verbose_val != 0, model=self, verbose=verbose_val, epochs=1,
                           steps=data.steps)
        cbs.on_test_begin()
        logs = self._evaluate_loop(data, cbs)
        cbs.on_test_end(logs)
        if not logs:
            raise ValueError("evaluate: the input is empty.")
        if return_dict:
            return logs
        return self._flatten_logs(logs)

    @_dist.in_model_strategy
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x`` as a NumPy array (a list of arrays for several outputs, a dict of them for a dict of
        outputs), computed in batches (``keras.Model.predict``). ``x`` as for :meth:`fit` (a dict keyed by input
        name too).

        Raises:
            ValueError: ``x`` a scalar or of an unrecognized type; ``batch_size`` / ``steps`` not positive ints
                or None; ``verbose`` not "auto", 0, 1 or 2.
            TypeError: ``x`` of strings.
        """
        data = _DataAdapter(x, None, None, _int_arg(batch_size, "batch_size"), _int_arg(steps, "steps"),
                            False, "predict")
        verbose_val = _verbosity(verbose)
        cbs = CallbackList(callbacks, add_progbar=verbose_val != 0, model=self, verbose=verbose_val, epochs=1,
                           steps=data.steps)
        cbs.on_predict_begin()
        outs = []
        # On a sync-free (CUDA) backend the outputs stay on the device until the end: one copy per output.
        backend = _sync_free_backend(self)
        host = (lambda t: t) if backend is not None else (lambda t: t.numpy() if isinstance(t, Tensor) else t)
        pairs = _pairable_backend(self, callbacks)
        if pairs is not None:  # the CPU may run two batches at once: the callbacks (a progress bar) follow in order
            dev = _device.current_device()

            def step_fn(batch):
                with _device.device(dev):  # (the device scope is per thread)
                    return self.predict_step(batch)
            remote = None
            if _cpu_workers.enabled() and len(getattr(self, "inputs", None) or ()) == 1:  # a helper may take it
                from .helper_predict import RemoteForward
                remote = RemoteForward(self, step_fn)
            results = pairs.map_batches(step_fn, data.epoch(), (id(self), "predict", getattr(data, "batch_size", None)),
                                        remote)
        for step, batch in enumerate(data.epoch() if pairs is None else results):
            cbs.on_predict_batch_begin(step)
            if pairs is not None:
                out = batch
            else:
                with _step_scope(backend, f"predict, step {step + 1} (batch {step})"):
                    out = self.predict_step(batch)
            structure = out
            outs.append([host(o) for o in _nest.flatten(out)] if _nest.is_nested(out) else host(out))
            cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        if backend is not None:
            backend.fetch([])  # the checks the steps deferred (an Embedding's index range): one copy if any
        if not outs:
            raise ValueError("predict: the input is empty.")

        def concatenate(parts):
            if backend is not None and all(isinstance(p, Tensor) and p.backend is backend for p in parts):
                return backend.to_numpy(backend.xp.concatenate([p._data for p in parts], axis=0))
            return np.concatenate([p.numpy() if isinstance(p, Tensor) else p for p in parts], axis=0)
        outs = _dist.gather_batches(outs)  # under a strategy, every worker's rows
        if isinstance(outs[0], list):  # several outputs: a list of arrays (a dict for a dict of outputs), as Keras
            arrays = [concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
            return _nest.pack_sequence_as(structure, arrays) if isinstance(structure, dict) else arrays
        return concatenate(outs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics). ``class_weight`` as in :meth:`fit`."""
        self._assert_compiled("training")
        self.reset_metrics()
        x, y = _plain(_to_array(x, "x")), _plain(_to_array(y, "y"))
        sample_weight = _plain(_to_array(sample_weight, "sample_weight"))
        if class_weight is not None:
            sample_weight = _class_sample_weight(y, _class_weights(class_weight), sample_weight)
        batch = (x, y, sample_weight)
        backend = _sync_free_backend(self)
        graph = self._train_step_graph(backend, batch)  # replayed as in fit (the step Keras compiles for both)
        if graph is None:
            logs = _pythonify(self.train_step(batch))
        else:
            with _step_scope(backend, "train_on_batch"):
                logs = self._run_step_graph(graph, batch)
            logs = _pythonify(logs, backend)
        return logs if return_dict else self._flatten_logs(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("evaluation")
        self.reset_metrics()
        logs = _pythonify(self.test_step((_plain(_to_array(x, "x")), _plain(_to_array(y, "y")),
                                          _plain(_to_array(sample_weight, "sample_weight")))))
        return logs if return_dict else self._flatten_logs(logs)

    def predict_on_batch(self, x):
        out = self.predict_step((_plain(_to_array(x, "x")),))
        if isinstance(out, dict):
            return _nest.map_structure(lambda o: o.numpy(), out)
        return [o.numpy() for o in out] if isinstance(out, (list, tuple)) else out.numpy()

    def _flatten_logs(self, logs):
        """``logs`` as ``evaluate`` returns them, in Keras 3's order (``_flatten_metrics_in_order``): the loss, the
        per-output losses, the compiled metrics, the other metrics of ``self.metrics`` (a subclass overriding it),
        then any other key in sorted order; a single value alone."""
        names = (["loss"] + [t.name for t in getattr(self, "_output_loss_trackers", {}).values()]
                 + (self._compiled_metrics.names() if self._compiled_metrics is not None else []))
        names += [m.name for m in self.metrics if m is not self._compiled_metrics and m.name not in names]
        values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # -- summary ---------------------------------------------------------------------
    def _summary_rows(self):
        from .utils.summary_utils import format_output_shapes
        rows = []
        for layer in self.layers:
            shape = getattr(layer, "_summary_output_shape", None)
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         "?" if shape is None else format_output_shapes(shape),
                         layer.count_params() if layer.built else "0 (unbuilt)"))
        return rows

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Prints Keras 3's summary table: layers, output shapes, parameter counts.

        Totals count the optimizer's variables too once they exist, as Keras 3 does.
        """
        from .utils.summary_utils import print_summary
        weights = self.weights
        trainable = sum(int(np.prod(w.shape)) for w in self.trainable_weights)
        non_trainable = sum(int(np.prod(w.shape)) for w in weights) - trainable
        opt = self._optimizer_param_count()
        print_summary(self.name, self._summary_rows(), trainable + non_trainable + (opt or 0), trainable,
                      non_trainable, print_fn=print_fn, line_length=line_length, positions=positions,
                      show_trainable=show_trainable, optimizer_params=opt,
                      sequential_like=not isinstance(self, Functional) or self._sequential_like())

    # save/to_json/save_weights/load_weights delegate to gpuflow.keras.saving, imported when called: saving
    # imports this module (see the note above load_model below).
    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves architecture, weights, compile settings and optimizer state as a Keras 3 ``.keras`` file.

        Same arguments and errors as :func:`gpuflow.keras.saving.save_model` (``include_optimizer`` for a
        legacy ``.h5``; an unknown keyword argument is a ValueError)."""
        from .saving import save_model
        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def to_json(self, **kwargs):
        """The model's architecture as Keras's JSON (``keras.models.model_from_json`` reads it)."""
        from .saving import model_to_json
        return model_to_json(self, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Saves weights in Keras 3's ``.weights.h5`` layout (see :mod:`gpuflow.keras.saving`)."""
        from .saving import save_weights
        save_weights(self, filepath, overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights written by gpuflow or Keras (``.weights.h5``, ``.keras``, legacy ``.h5``) into
        this (built) model; ``by_name=True`` matches legacy ``.h5`` layers by name."""
        from .saving import load_weights
        load_weights(self, filepath, skip_mismatch, by_name=kwargs.pop("by_name", False))

    def _optimizer_param_count(self):
        if self.optimizer is None or not self.optimizer.built:
            return None
        return sum(int(np.prod(v.shape)) for v in self.optimizer.variables)

    def export(self, filepath, format="keras", verbose=None):
        """Writes the model for serving as one version of a model: creates the directory ``filepath`` (and
        its parents; an existing one is kept) and saves the model in it as ``filepath/model.keras``.

        ``gpuflow serve --model_base_path BASE`` serves ``BASE/<version>/model.keras``, so
        ``model.export("BASE/3")`` publishes version 3 (the ``.keras`` file is written atomically, so a
        server polling BASE never loads half a file). Keras 3's ``export`` writes a TensorFlow SavedModel
        by default (``format="tf_saved_model"``: a TensorFlow graph and variables that TF Serving loads);
        gpuflow has no TensorFlow graph, so it exports the Keras 3 ``.keras`` archive of :meth:`save`, which
        ``gpuflow serve`` and Keras's ``load_model`` read.

        Args:
            filepath: the version directory to write (str or path-like).
            format: ``"keras"``, the only format gpuflow exports.
            verbose: print where the model was written (default True, as Keras).

        Raises:
            ValueError: ``format`` other than ``"keras"`` (``"tf_saved_model"`` needs TensorFlow), or the model
                cannot be saved (see :meth:`save`).
        """
        import os
        if format != "keras":
            why = (" A TensorFlow SavedModel needs TensorFlow; gpuflow exports the .keras file that `gpuflow "
                   "serve` loads." if format == "tf_saved_model" else "")
            raise ValueError(f"Model.export: expected format='keras'.{why} Received: format={format!r}")
        filepath = os.fspath(filepath)
        os.makedirs(filepath, exist_ok=True)
        self.save(os.path.join(filepath, "model.keras"))
        if verbose is None or verbose:
            print(f"Saved artifact at '{filepath}'.")


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _node_kwargs(t):
    """The non-input arguments of the call that made the KerasTensor ``t`` (``{}`` if none): static options, further
    positional arguments (``_args``) and an explicit ``mask``, whose KerasTensors the node reads as well (Keras 3's
    node arguments)."""
    return t._history[3] if len(t._history) > 3 else {}


def _node_reads(t, ins):
    """The KerasTensors the node that made ``t`` reads: its inputs ``ins``, then those among its call arguments."""
    extra = [v for value in _node_kwargs(t).values() for v in _as_list(value) if isinstance(v, KerasTensor)]
    return ([] if ins is None else _as_list(ins)) + extra


def _fill_node_kwargs(kwargs, memo):
    """``kwargs`` with each KerasTensor (also inside a list) replaced by its value in ``memo`` (id -> value)."""
    def fill(v):
        if isinstance(v, (list, tuple)):
            return type(v)(fill(x) for x in v)
        return memo[id(v)] if isinstance(v, KerasTensor) else v
    return {k: fill(v) for k, v in kwargs.items()}


def _shapes(x):
    """The shape of a KerasTensor, or a tuple of shapes for several."""
    return tuple(x.shape) if isinstance(x, KerasTensor) else tuple(tuple(t.shape) for t in x)


class Sequential(Model):
    """A linear stack of layers (``keras.Sequential``).

    Args:
        layers: optional list of layers; a ``keras.Input`` (or ``InputLayer``) first,
            ``input_shape=`` on the first layer, or a first layer that is a functional
            or built Sequential model with one input, builds the model at once.
        name: model name ("sequential", "sequential_1", ...).

    Raises:
        ValueError: adding something that is not a layer, or a duplicate layer name.
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._stack = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        """Appends a layer (or a ``keras.Input``) to the stack."""
        if isinstance(layer, KerasTensor) and layer._history and isinstance(layer._history[0], InputLayer):
            layer = layer._history[0]
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential model. "
                             f"Received: {layer} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("Sequential model: an Input or InputLayer can only be the first layer. "
                                 f"Received: {layer.name} after {[l.name for l in self._stack]}")
            self._input_layer = layer
        else:
            for existing in self._stack:
                if existing.name == layer.name:
                    raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                                     f"'{layer.name}' is already the name of a layer in this model. Update the "
                                     "`name` argument to pass a unique name.")
            self._stack.append(layer)
            self._layers.append(layer)
        self.built = False
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        """Removes the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self._layers.remove(layer)
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    @property
    def layers(self):
        return list(self._stack)

    def _declared_input_shape(self):
        """The batch shape to build for: the Input's, the first layer's ``input_shape=`` argument, or (Keras 3's
        ``_maybe_rebuild``) the ``input_shape`` of a first layer that has one, a functional or built Sequential
        model with a single input; else None."""
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if not self._stack:
            return None
        first = self._stack[0]
        if first._batch_input_shape is not None:
            return first._batch_input_shape
        shape = getattr(first, "input_shape", None) if isinstance(first, (Functional, Sequential)) else None
        return shape if isinstance(shape, tuple) else None

    def _maybe_rebuild(self):
        shape = self._declared_input_shape()
        if shape is not None and self._stack:
            self.build(shape)

    def build(self, input_shape=None):
        """Builds every layer for ``input_shape`` (batch axis included) by calling the stack on a KerasTensor,
        as Keras 3 does: this records each layer's output shape and the graph behind ``inputs``/``outputs``.
        The declared ``keras.Input`` is the graph's input when its shape matches, else a new ``InputLayer``."""
        if input_shape is None:
            input_shape = self._declared_input_shape()
            if input_shape is None:
                raise ValueError("You must provide an `input_shape` argument to build a Sequential model "
                                 "without an Input.")
        shape = (None,) + tuple(input_shape[1:])
        x = inputs = self._graph_input(shape)
        for layer in self._stack:
            x = layer(x)
            layer._summary_output_shape = _shapes(x)
        self._graph = (inputs, x)
        self.built = True

    def _graph_input(self, shape):
        """The KerasTensor the stack is built on: the declared Input, the one made by an earlier build, or a new
        ``InputLayer(batch_shape=shape)`` (Keras 3 prepends one to a Sequential built without an Input)."""
        for t in (self._input_layer.output if self._input_layer is not None else None,
                  getattr(self, "_auto_input", None)):
            if t is not None and tuple(t.shape[1:]) == shape[1:]:
                return t
        dtype = self._stack[0].compute_dtype if self._stack else self.compute_dtype  # Keras: the compute dtype
        self._auto_input = InputLayer(batch_shape=shape, dtype=dtype).output
        return self._auto_input

    def _built_graph(self, what):
        if not self.built or getattr(self, "_graph", None) is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet.")
        return self._graph

    def compute_output_shape(self, input_shape):
        if not self.built:
            self.build(input_shape)
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:  # [x] for the one input, as Keras 3 takes it
            inputs = inputs[0]
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        """Runs the layers in order; the pairs :func:`gpuflow.keras.fusion.plan` picks (a Conv2D and the
        MaxPooling2D after it) run as one fused op with the same result and gradients."""
        x = _standardize_input(inputs, self._declared_input_shape(), self.name)
        stack, i = self._stack, 0
        fused = _fusion.plan(stack, {k: k + 1 for k in range(len(stack) - 1)})
        while i < len(stack):
            if i in fused:
                x = _fusion.call_pair(stack[i], stack[i + 1], x, training)
                i += 2
                continue
            x = stack[i](x, training=training)
            i += 1
        return x

    # -- Keras 3's functional attributes: the graph of the built stack ------------------
    @property
    def inputs(self):
        """``[input KerasTensor]`` of the built model (AttributeError, as Keras, before it is built)."""
        return [self._built_graph("inputs")[0]]

    @property
    def outputs(self):
        """The output KerasTensors of the built model, as a list (AttributeError before it is built)."""
        return _as_list(self._built_graph("outputs")[1])

    @property
    def input_shape(self):
        """The input shape, batch axis included, e.g. ``(None, 784)`` (AttributeError before it is built)."""
        return self._built_graph("input shape")[0].shape

    @property
    def output_shape(self):
        """The output shape, batch axis included, e.g. ``(None, 10)``; a list of shapes for a last layer with
        several outputs (AttributeError before it is built)."""
        out = self._built_graph("output shape")[1]
        return _shapes(out) if isinstance(out, KerasTensor) else list(_shapes(out))

    @property
    def input(self):
        """The input KerasTensor: that of the model's first call on KerasTensors, as Keras 3, else (where Keras 3
        raises) that of the built stack, as tf.keras 2, so ``Model(seq.input, head(seq.output))`` works.

        Raises:
            AttributeError: if the model is neither built nor called (Keras's message).
        """
        if "_first_node" in self.__dict__ or not self.built:
            return Layer.input.fget(self)
        return self.inputs[0]

    @property
    def output(self):
        """The output KerasTensor(s), chosen as for :attr:`input`."""
        if "_first_node" in self.__dict__ or not self.built:
            return Layer.output.fget(self)
        out = self.outputs
        return out[0] if len(out) == 1 else out

    def get_config(self):
        layers = []
        if self._input_layer is not None:
            layers.append({"module": "keras.layers", "class_name": "InputLayer",
                           "config": self._input_layer.get_config(), "registered_name": None})
        for layer in self._stack:
            layers.append({"module": "keras.layers", "class_name": type(layer).__name__,
                           "config": layer.get_config(), "registered_name": None})
        return {"name": self.name, "trainable": self.trainable, "dtype": super().get_config()["dtype"],
                "layers": layers}

    @classmethod
    def from_config(cls, config):
        """Rebuilds a Sequential from ``get_config()`` (layers by class name from ``keras.layers``)."""
        from . import layers as _layers_module
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            name = entry["class_name"]
            layer_cls = getattr(_layers_module, name, None) or {"Sequential": Sequential}.get(name)
            if layer_cls is None:
                raise ValueError(f"Sequential.from_config: unknown layer class {name!r}. Received: {entry}")
            model.add(layer_cls.from_config(entry["config"]))
        return model


class Functional(Model):
    """A model defined by ``Model(inputs, outputs)`` on ``keras.Input`` tensors.

    The graph is recovered from the outputs' histories and run in topological
    order; a layer used twice (shared layer) is called once per use.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        # a KerasTensor, a list/tuple or a dict of them (nested too), flattened as Keras 3's tree.flatten: dicts by
        # sorted key
        self._in_struct = inputs
        self._out_struct = outputs
        self._inputs, self._outputs = _nest.flatten(inputs), _nest.flatten(outputs)
        for what, struct, flat in (("inputs", inputs, self._inputs), ("outputs", outputs, self._outputs)):
            for t in flat:
                if not isinstance(t, KerasTensor):
                    raise ValueError(f"All `{what}` values must be KerasTensors. Received: {what}={struct} including "
                                     f"invalid value {t} of type {type(t)}")
        if isinstance(inputs, dict):
            for k, v in inputs.items():
                if k != _layer_name(v):
                    warnings.warn("When providing `inputs` as a dict, all keys in the dict must match the names of "
                                  f"the corresponding tensors. Received key '{k}' mapping to value {v} which has name "
                                  f"'{_layer_name(v)}'. Change the tensor name to '{k}' (via "
                                  f"`Input(..., name='{k}')`)", stacklevel=3)
        self._nodes = []
        seen = set()
        input_ids = {id(t) for t in self._inputs}

        def visit(t):
            if id(t) in seen or id(t) in input_ids:
                return
            seen.add(id(t))
            if t._history is None or t._history[1] is None:
                raise ValueError(f"Model(inputs, outputs): the output depends on an input that is not in "
                                 f"`inputs`: {t}")
            layer, ins = t._history[:2]
            for i in _node_reads(t, ins):
                visit(i)
            self._nodes.append((layer, ins, t))
        for o in self._outputs:
            visit(o)
        for layer in map_graph(self)[0]:  # Keras 3's order: layers by depth, InputLayers first
            if layer not in self._layers and not getattr(layer, "_keras_operation", False):
                self._layers.append(layer)
        for t in self._inputs:
            t._history[0]._summary_output_shape = t.shape
        for layer, _, out in self._nodes:
            layer._summary_output_shape = out.shape
        self.built = True

    # -- Keras 3's functional attributes -----------------------------------------------
    @property
    def inputs(self):
        """The input KerasTensors, as a flat list."""
        return list(self._inputs)

    @property
    def outputs(self):
        """The output KerasTensors, as a flat list."""
        return list(self._outputs)

    @property
    def input(self):
        """The ``inputs`` given to the constructor, in their structure (a KerasTensor, a list or a dict of them)."""
        return _nest.map_structure(lambda t: t, self._in_struct)

    @property
    def output(self):
        """The ``outputs`` given to the constructor, in their structure (a KerasTensor, a list or a dict of them)."""
        return _nest.map_structure(lambda t: t, self._out_struct)

    @property
    def output_names(self):
        """The names of the layers that make the outputs, in ``outputs`` order (Keras 3's ``output_names``)."""
        return [_layer_name(t) for t in self._outputs]

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._flat_inputs(inputs), *args, **kwargs)

    def _symbolic_call(self, inputs, *args, **kwargs):
        """Called on KerasTensors (nested in another model): a dict of outputs is made as the flat list of
        KerasTensors each with its index (a node's outputs), then returned as the dict."""
        if not isinstance(self._out_struct, dict):
            return super()._symbolic_call(inputs, *args, **kwargs)
        self._flat_output_shapes = True
        try:
            flat = super()._symbolic_call(inputs, *args, **kwargs)
        finally:
            del self._flat_output_shapes
        return _nest.pack_sequence_as(self._out_struct, flat)

    def _flat_inputs(self, inputs):
        """``inputs`` in the structure the model was built on (Keras 3's ``_standardize_inputs``): a dict is read by
        the dict keys of ``inputs=`` or, for a list or a single input, by the ``Input`` names (extra keys are left
        out, with a warning); a list in flattened order (a dict's sorted keys). Returns a list for several inputs.

        Raises:
            ValueError: a key missing from a dict (Keras's message); a list for a dict of inputs whose keys are not
                in sorted order (which the list's order could not follow).
        """
        struct = self._in_struct
        if isinstance(inputs, dict):
            if not _keras_tensors(struct):  # a nested structure: Keras's tree.flatten order
                return _nest.flatten(inputs)
            names = sorted(struct) if isinstance(struct, dict) else [_layer_name(t) for t in self._inputs]
            for name in names:
                if name not in inputs:
                    raise ValueError(f'Missing data for input "{name}". You passed a data dictionary with keys '
                                     f"{list(inputs.keys())}. Expected the following keys: {names}")
            extra = [k for k in inputs if k not in names]
            if extra:
                warnings.warn(f"Model '{self.name}': the input keys {extra} name no input and are ignored. Expected "
                              f"the keys {names}.", stacklevel=3)
            return [inputs[n] for n in names] if len(names) > 1 else inputs[names[0]]
        if isinstance(struct, dict) and isinstance(inputs, (list, tuple)) and list(struct) != sorted(struct):
            raise ValueError("The structure of `inputs` doesn't match the expected structure.\nExpected: "
                             f"{ {k: _layer_name(v) for k, v in struct.items()} }\nReceived: inputs=a list of "
                             f"{len(inputs)} values (pass a dict, or a list in sorted key order {sorted(struct)})")
        return inputs

    @property
    def input_shape(self):
        """The input shape, batch axis included (``(None, 28, 28, 1)``); a list of shapes for several inputs."""
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        """The output shape, batch axis included (``(None, 10)``); a list of shapes for several outputs."""
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def call(self, inputs, training=None):
        values = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != len(self._inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self._inputs)} input(s). Received: {len(values)}")
        memo = {id(k): _standardize_input(v, k.shape, self.name) for k, v in zip(self._inputs, values)}
        calls = {}  # one call per (layer, inputs): a multi-output layer's KerasTensors share it
        fused = _fusion.plan([layer for layer, _, _ in self._nodes], self._sole_readers())
        skipped = set(fused.values())
        for node, (layer, ins, out) in enumerate(self._nodes):
            if node in skipped:
                continue
            key = (id(layer), id(ins), id(_node_kwargs(out)) if len(out._history) > 3 else None)
            if key not in calls:
                args = [memo[id(i)] for i in ins] if isinstance(ins, (list, tuple)) else memo[id(ins)]
                if node in fused:  # this node and its only reader as one op; this node's output is never needed
                    reader_layer, _, reader_out = self._nodes[fused[node]]
                    memo[id(reader_out)] = _fusion.call_pair(layer, reader_layer, args, training)
                    continue
                kwargs = _fill_node_kwargs(_node_kwargs(out), memo)
                calls[key] = layer(node_inputs(layer, args), *kwargs.pop("_args", ()), training=training, **kwargs)
            index = out._history[2] if len(out._history) > 2 else None
            memo[id(out)] = calls[key] if index is None else _flat_outputs(calls[key])[index]
        return self._packed_outputs([memo[id(o)] for o in self._outputs])

    def _packed_outputs(self, flat):
        """``flat`` (one value per output, in ``outputs`` order) in the structure of ``outputs=``: a dict for a dict,
        a list for a list or tuple (as before), else the one value."""
        if isinstance(self._out_struct, KerasTensor):
            return flat[0]
        return list(flat) if isinstance(self._out_struct, (list, tuple)) else _nest.pack_sequence_as(self._out_struct,
                                                                                                     flat)

    def _convert_input(self, x):
        if isinstance(x, (list, tuple)):
            return [Layer._convert_input(self, v) for v in x]
        return Layer._convert_input(self, x)

    def _sole_readers(self):
        """{node index: index of its only reader} for single-input nodes whose output is read by exactly one
        single-input node and is not a model output: the pairs :func:`gpuflow.keras.fusion.plan` may fuse."""
        pairs = getattr(self, "_pairs_cache", None)
        if pairs is None:
            readers = {}
            for index, (_, ins, out) in enumerate(self._nodes):
                for t in _node_reads(out, ins):
                    readers.setdefault(id(t), []).append(index)
            outputs = {id(o) for o in self._outputs}
            pairs = {}
            for index, (_, ins, out) in enumerate(self._nodes):
                r = readers.get(id(out), [])
                if (len(r) == 1 and id(out) not in outputs and not isinstance(ins, (list, tuple))
                        and self._nodes[r[0]][1] is out):
                    pairs[index] = r[0]
            self._pairs_cache = pairs
        return pairs

    def _sequential_like(self):
        """Keras 3's test for printing a functional model as a plain stack: one input, one output,
        every layer called once on one tensor, and no tensor feeding two layers."""
        if len(self._inputs) != 1 or len(self._outputs) != 1:
            return False
        consumers, layers_seen = {}, set()
        for layer, ins, _ in self._nodes:
            if isinstance(ins, (list, tuple)) or id(layer) in layers_seen:
                return False
            layers_seen.add(id(layer))
            consumers[id(ins)] = consumers.get(id(ins), 0) + 1
        return all(c == 1 for c in consumers.values())

    def _summary_rows(self):
        rows = super()._summary_rows()
        if self._sequential_like():
            return rows
        inbound = {}
        for layer, ins, _ in self._nodes:
            srcs = ins if isinstance(ins, (list, tuple)) else [ins]
            names = [f"{t._history[0].name}[0][{t._history[2] if len(t._history) > 2 else 0}]" for t in srcs]
            inbound.setdefault(id(layer), []).extend(names)
        return [row + (", ".join(inbound.get(id(layer), [])) or "-",) for row, layer in zip(rows, self.layers)]

    def compute_output_shape(self, input_shape):
        shapes = [o.shape for o in self._outputs]
        return shapes if getattr(self, "_flat_output_shapes", False) else self._packed_outputs(shapes)


def map_graph(model):
    """Keras 3's ``map_graph`` (``keras/src/ops/function.py``) on a functional model: its layers and nodes in order.

    Used to list ``model.layers`` and by saving, whose configs and weight paths follow this order.

    Args:
        model: a :class:`Functional` model (its inputs, outputs and name are read).

    Returns:
        ``(layers, nodes)``: the layers sorted by depth from the outputs (deepest first, so InputLayers lead),
        ties in first-traversal order, exactly Keras's ``model.layers``; and, per ``id(layer)``, that layer's
        output KerasTensors in topological order (one per node of the layer).

    Raises:
        ValueError: a tensor without layer history, or a cycle (naming the model).
    """
    inputs, outputs = list(model.inputs), list(model.outputs)
    finished, in_progress, order, op_index = set(), set(), [], {}
    input_ids = {id(t) for t in inputs}

    def visit(t):
        if id(t) in finished:
            return
        history = getattr(t, "_history", None)
        if not history:
            raise ValueError(f"Functional model '{model.name}': a tensor has no layer history: {t}")
        layer, ins = history[0], history[1]
        if id(t) in input_ids and not isinstance(layer, InputLayer):
            finished.add(id(t))
            return
        if id(t) in in_progress:
            raise ValueError(f"Functional model '{model.name}': tensor {t} from layer '{layer.name}' is part of a cycle.")
        op_index.setdefault(id(layer), (len(op_index), layer))
        in_progress.add(id(t))
        if ins is not None and id(t) not in input_ids:
            for i in _node_reads(t, ins):
                visit(i)
        in_progress.discard(id(t))
        finished.add(id(t))
        order.append(t)

    for o in outputs:
        visit(o)
    in_graph = {id(t) for t in order}
    node_depth, op_depth = {}, {}
    for t in reversed(order):
        layer, ins = t._history[0], t._history[1]
        d = max(node_depth.setdefault(id(t), 0), op_depth.get(id(layer), 0))
        op_depth[id(layer)] = node_depth[id(t)] = d
        if ins is not None and id(t) not in input_ids:
            for p in _node_reads(t, ins):
                if id(p) in in_graph:
                    node_depth[id(p)] = max(d + 1, node_depth.get(id(p), 0))
    for t in inputs:  # inputs no output depends on still belong to the model
        layer = t._history[0] if getattr(t, "_history", None) else None
        if layer is not None and id(layer) not in op_depth:
            op_depth[id(layer)] = 0
            op_index[id(layer)] = (-1, layer)
            order.insert(0, t)
    layers = sorted((op_index[k][1] for k in op_depth), key=lambda l: (-op_depth[id(l)], op_index[id(l)][0]))
    nodes = {}
    for t in order:
        nodes.setdefault(id(t._history[0]), []).append(t)
    return layers, nodes


# gpuflow.keras.saving imports this module (it builds and inspects models); the saving entry points below and
# Model.save/to_json/save_weights/load_weights import it when called, so no import cycle exists at load time.
def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a ``.keras`` file (Keras 3 layout) or a legacy Keras 2 ``.h5`` model (``keras.models.load_model``)."""
    from .saving import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None):
    """Rebuilds a model from :meth:`Model.to_json` output (``keras.models.model_from_json``)."""
    from .saving import model_from_json as _from_json
    return _from_json(json_string, custom_objects=custom_objects)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves ``model`` (``keras.models.save_model``): see :func:`gpuflow.keras.saving.save_model`."""
    from .saving import save_model as _save
    return _save(model, filepath, overwrite=overwrite, zipped=zipped, **kwargs)


# -- keras.models.clone_model (Keras 3.15's keras/src/models/cloning.py) ----------------------------------------
def _clone_function(clone_function, call_function, recursive, cache):
    """``clone_function`` (default: ``layer.__class__.from_config(layer.get_config())``) memoised per layer, so a
    shared layer stays shared in the copy, and applied to nested Sequential/Functional models when ``recursive``."""
    if clone_function is None:
        def clone_function(layer):
            if isinstance(layer, Functional):  # Keras rebuilds it from its graph config: new layers, same graph
                return _clone_functional(layer, _clone_function(None, None, False, {}), None, None)
            return layer.__class__.from_config(layer.get_config())

    def wrapped(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(layer, clone_function=clone_function, recursive=True, cache=cache,
                                               **({} if isinstance(layer, Sequential) else
                                                  {"call_function": call_function}))
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]
    return wrapped


def _single_input(input_tensors):
    if isinstance(input_tensors, (list, tuple)):
        if len(input_tensors) != 1:
            raise ValueError("Argument `input_tensors` must contain a single tensor.")
        input_tensors = input_tensors[0]
    if not isinstance(input_tensors, KerasTensor):
        raise ValueError(f"Argument `input_tensors` must be a KerasTensor. Received invalid value: "
                         f"input_tensors={input_tensors}")
    return input_tensors


def _copy_compile(model, clone):
    if getattr(model, "compiled", False):
        from .saving.serialization import Ctx, compile_config_of, compile_from_config
        config = compile_config_of(model)
        if config is not None:
            compile_from_config(clone, config, Ctx())
    return clone


def _clone_sequential(model, clone_function, input_tensors):
    new_layers = [clone_function(layer) for layer in model.layers]
    ref = model._input_layer
    if input_tensors is not None:
        new_layers = [_single_input(input_tensors)] + new_layers
    elif ref is not None:
        new_layers = [Input(batch_shape=ref.batch_shape, dtype=ref.dtype, name=ref.name)] + new_layers
    elif model._declared_input_shape() is not None:  # a first layer's input_shape= (Keras makes it an InputLayer)
        new_layers = [Input(batch_shape=model._declared_input_shape())] + new_layers
    return _copy_compile(model, Sequential(new_layers, name=model.name, trainable=model.trainable))


def _clone_functional(model, clone_function, input_tensors, call_function):
    if input_tensors is not None:
        given = _nest.flatten(input_tensors)  # a dict by sorted key, as the model's inputs
        if len(given) != len(model.inputs):
            raise ValueError(f"Argument `input_tensors` must have the same number of tensors as the model's "
                             f"inputs ({len(model.inputs)}). Received: {len(given)}")
        for t in given:
            _single_input(t)
        new_inputs = given
    else:
        new_inputs = []
        for t in model.inputs:
            layer = t._history[0]
            new_inputs.append(Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)
                              if isinstance(layer, InputLayer) else Input(batch_shape=t.shape, dtype=t.dtype))
    memo = {id(old): new for old, new in zip(model.inputs, new_inputs)}
    calls = {}
    for layer, ins, out in model._nodes:  # topological order
        kwargs = _node_kwargs(out)
        key = (id(layer), id(ins), id(kwargs))
        if key not in calls:
            args = [memo[id(i)] for i in ins] if isinstance(ins, (list, tuple)) else memo[id(ins)]
            if getattr(layer, "_keras_operation", False):  # a keras.ops node: the op again, on the new tensors
                calls[key] = layer.replay(args)
            else:
                new_layer = clone_function(layer)
                filled = _fill_node_kwargs(kwargs, memo)
                args = node_inputs(new_layer, args)
                calls[key] = (call_function(new_layer, args, **filled) if call_function is not None
                              else new_layer(args, **filled))
        result = calls[key]
        index = out._history[2] if len(out._history) > 2 else None
        memo[id(out)] = (_flat_outputs(result)[index] if index is not None and isinstance(result, (list, tuple, dict))
                         else result)
    def packed(struct, flat):  # in the structure of the original's inputs= / outputs= (a list, a dict...)
        return _nest.pack_sequence_as(struct, flat) if _nest.is_nested(struct) else flat[0]
    inputs = packed(model._in_struct, list(new_inputs))
    outputs = packed(model._out_struct, [memo[id(o)] for o in model.outputs])
    return _copy_compile(model, Functional(inputs, outputs, name=model.name, trainable=model.trainable))


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A copy of ``model``'s architecture with new layers: the weights are newly initialised, not copied
    (``keras.models.clone_model``). A compiled model's copy is compiled with the same settings (new optimizer).

    Args:
        model: a Sequential, a functional ``Model(inputs, outputs)``, or a subclassed model (then rebuilt from its
            ``get_config()``).
        input_tensors: KerasTensors (``keras.Input``) to build the copy on, instead of new inputs of the same shape.
        clone_function: ``fn(layer) -> layer`` making each layer of the copy; default
            ``layer.__class__.from_config(layer.get_config())``. Called once per layer, so shared layers stay shared.
        call_function: functional models only: ``fn(layer, *args, **kwargs)`` making each node of the copy; default
            ``layer(*args, **kwargs)``.
        recursive: also clone the layers inside nested Sequential/functional models with ``clone_function``.

    Raises:
        ValueError: an unknown keyword argument; ``call_function`` with a Sequential; ``clone_function``,
            ``input_tensors`` or ``call_function`` with a subclassed model; ``input_tensors`` that are not
            KerasTensors or not one per input (Keras's messages).
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs.keys())}")
    cache = {} if cache is None else cache
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("`call_function` argument is not supported with Sequential models.  In a Sequential "
                             "model, layers aren't called at model-construction time (they're merely listed). Use "
                             "`call_function` with Functional models only. Received model of type "
                             f"'{model.__class__.__name__}', with call_function={call_function}")
        return _clone_sequential(model, _clone_function(clone_function, None, recursive, cache), input_tensors)
    if isinstance(model, Functional):
        return _clone_functional(model, _clone_function(clone_function, call_function, recursive, cache),
                                 input_tensors, call_function)
    if clone_function or input_tensors:
        raise ValueError("Arguments `clone_function` and `input_tensors` are only supported for Sequential models or "
                         f"Functional models. Received model of type '{model.__class__.__name__}', with "
                         f"clone_function={clone_function} and input_tensors={input_tensors}")
    if call_function is not None:
        raise ValueError("Argument `call_function` is only supported for Functional models. Received model of type "
                         f"'{model.__class__.__name__}', with call_function={call_function}")
    from .saving import deserialize_keras_object, serialize_keras_object  # noqa: F811
    return deserialize_keras_object(serialize_keras_object(model),
                                    custom_objects={model.__class__.__name__: model.__class__})
