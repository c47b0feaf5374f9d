"""The model suite of ``gpuflow bench model``: a whole training step, an epoch, memory and accuracy.

The model is the seed CNN (default), a ``.keras``/``.h5`` file, or a Python file defining
``build_model(keras)`` (called with ``gpuflow.keras``, or with Keras itself for the Keras peer) or
``build_model()`` (gpuflow only). It is compiled the same way everywhere: Adam (learning rate
1e-3, epsilon 1e-7), sparse categorical cross-entropy (binary for one output unit), from logits
unless the last layer has a softmax/sigmoid activation, and the accuracy metric.

Each framework runs in its own subprocess (:mod:`gpuflow.bench.worker`), one after the other, so
that its peak memory is its own, with the same thread count, batch and data:

* **step time**: ``train_on_batch`` (Keras, gpuflow) or ``zero_grad/forward/loss/backward/step``
  (PyTorch) on one fixed batch; warm-up, then the median and IQR of repeated steps, timed with the
  wall clock and a device synchronize before each reading (a step's host overhead is real cost). On the
  CUDA backend gpuflow's step is replayed (a captured CUDA graph, ``compile(jit_compile="auto")``) with
  ``graph="on"``, run eagerly with ``"off"``, and both (two gpuflow rows, each with its ``graph``) with
  ``"both"``; a row's ``graph_status`` says whether the replay happened (``Model.graph_status()``);
* **samples/s** = batch size / median step time;
* **epoch time**: measured (median over ``--epochs`` full passes over the training set, shuffled)
  when ``--epochs`` > 0, else estimated as median step time x steps per epoch, and marked so;
* **peak memory**: on the CPU the process's peak resident set (``getrusage``) and its resident set
  before the data and model were created; on a GPU CuPy's memory-pool high-water mark (bytes the
  pool holds: it only grows while the run lasts), PyTorch's ``max_memory_reserved``, TensorFlow's
  ``get_memory_info(...)["peak"]``;
* **accuracy** on the test set after the ``--epochs`` passes, with real data (Fashion-MNIST) only.

The PyTorch twin exists for the seed CNN only (a custom model has no PyTorch translation: that
row says "unsupported"); the Keras peer loads the same ``.keras`` file or calls the same
``build_model(keras)``.

**Mixed precision** (``mixed_precision="mixed_float16" | "mixed_bfloat16"``): gpuflow and Keras set
``keras.mixed_precision.set_global_policy`` before the model is built (a ``.keras`` file keeps the
policies saved with its layers), so ``compile`` wraps the optimizer in a ``LossScaleOptimizer`` for
``mixed_float16`` as Keras does; PyTorch runs its forward and loss under ``torch.autocast`` in that dtype,
with a ``GradScaler`` for float16 (PyTorch's AMP recipe). Each row's ``policy`` says what ran. CuPy without
bfloat16 support cannot hold bfloat16 arrays, so gpuflow's ``mixed_bfloat16`` on a GPU is then
"unsupported".
"""
from __future__ import annotations

import importlib.util
import inspect
import math
import os
import sys
import time

import numpy as np

from . import env as _env
from .timing import measure, WallClock

__all__ = ["ModelSpecError", "inspect_model", "decide_data", "run_model", "build_model_for", "run_model_job",
           "input_shape_of"]

SYNTHETIC_CAP_BYTES = 512 << 20


class ModelSpecError(ValueError):
    """The model to benchmark cannot be found or built (a bad ``--model``)."""


def _load_py(path):
    name = "gpuflow_bench_user_model"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelSpecError(f"cannot import {path} as a Python file")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fn = getattr(mod, "build_model", None)
    if not callable(fn):
        raise ModelSpecError(f"{path} defines no build_model(); define build_model(keras) returning a model")
    return fn


def build_model_for(spec, keras, framework):
    """Builds (or loads) the model ``spec`` with the ``keras`` module of ``framework``.

    Raises:
        ModelSpecError: a missing file, a file gpuflow cannot load, a build_model that fails.
        peers.Unsupported: the model has no version for this framework.
    """
    from .peers import Unsupported
    if spec == "seed":
        from ..zoo import build_seed_cnn
        return build_seed_cnn(keras)
    if not os.path.exists(spec):
        raise ModelSpecError(f"model file not found: {spec}")
    if spec.endswith(".py"):
        fn = _load_py(spec)
        try:
            takes_keras = len(inspect.signature(fn).parameters) >= 1
        except (TypeError, ValueError):
            takes_keras = False
        if takes_keras:
            return fn(keras)
        if framework != "gpuflow":
            raise Unsupported(f"build_model() in {spec} takes no `keras` argument, so it cannot build a "
                              f"{framework} twin; define build_model(keras) to compare")
        return fn()
    if framework == "gpuflow":
        try:
            from ..keras.saving import load_model
        except (ImportError, AttributeError) as e:
            raise ModelSpecError(f"this gpuflow build cannot load model files "
                                 f"(gpuflow.keras.saving.load_model: {e}); use --model file.py with build_model()")
        try:
            return load_model(spec, compile=False)
        except (OSError, ValueError, KeyError, TypeError, NotImplementedError, ImportError) as e:
            raise ModelSpecError(f"gpuflow cannot load {spec}: {e}") from None
    return keras.saving.load_model(spec, compile=False)


def input_shape_of(model):
    """The model's input shape without the batch axis, e.g. (28, 28, 1) (the first input's, for several).

    Raises:
        ModelSpecError: the model declares no input shape.
    """
    shape = getattr(model, "input_shape", None)
    if shape is None and getattr(model, "inputs", None):
        shape = model.inputs[0].shape
    if isinstance(shape, list):
        shape = shape[0]
    if shape is None:
        raise ModelSpecError("the model has no declared input shape; give its first layer keras.Input(shape=...)")
    return tuple(int(d) for d in tuple(shape)[1:])


def _probabilities(model):
    act = getattr(model.layers[-1], "activation", None) if getattr(model, "layers", None) else None
    name = getattr(act, "__name__", str(act or "")).lower()
    return "softmax" in name or "sigmoid" in name


def _compile(model, keras, classes, **kwargs):
    logits = not _probabilities(model)
    loss = (keras.losses.BinaryCrossentropy(from_logits=logits) if classes == 1
            else keras.losses.SparseCategoricalCrossentropy(from_logits=logits))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7), loss=loss, metrics=["accuracy"],
                  **kwargs)


def inspect_model(spec):
    """Builds the model once with gpuflow on the CPU: name, input shape, classes, parameters.

    Raises:
        ModelSpecError: see :func:`build_model_for`.
    """
    import gpuflow as gf
    with gf.device("cpu"):
        try:
            model = build_model_for(spec, gf.keras, "gpuflow")
        except ModelSpecError:
            raise
        except Exception as e:
            raise ModelSpecError(f"cannot build the model from {spec}: {type(e).__name__}: {e}") from None
        shape = input_shape_of(model)
        out = model(np.zeros((1,) + shape, dtype=np.float32))
        classes = int(out.shape[-1])
        return {"name": "seed_cnn" if spec == "seed" else os.path.basename(spec), "spec": spec,
                "input_shape": list(shape), "classes": classes, "params": int(model.count_params())}


def decide_data(data, info):
    """("fashion_mnist" | "synthetic", note). Real data fits a 28x28x1 input with 10 classes.

    Raises:
        ModelSpecError: ``--data fashion_mnist`` asked for but unusable.
    """
    fits = tuple(info["input_shape"]) in ((28, 28, 1), (28, 28)) and info["classes"] == 10
    if data == "synthetic":
        return "synthetic", "synthetic data (asked for)"
    if not fits:
        if data == "fashion_mnist":
            raise ModelSpecError(f"Fashion-MNIST (28x28x1, 10 classes) does not fit the model's input "
                                 f"{tuple(info['input_shape'])} / {info['classes']} outputs")
        return "synthetic", "synthetic data (the model's input is not 28x28x1 with 10 classes)"
    try:
        from ..keras.datasets import fashion_mnist
        fashion_mnist.load_data()
    except (FileNotFoundError, OSError) as e:
        if data == "fashion_mnist":
            raise ModelSpecError(f"Fashion-MNIST is not available: {e}") from None
        return "synthetic", f"synthetic data (Fashion-MNIST not available: {str(e).splitlines()[0][:120]})"
    return "fashion_mnist", "Fashion-MNIST"


# -- in the worker -----------------------------------------------------------------------------
def _progress(msg):
    print("@@progress " + msg, file=sys.stderr, flush=True)


def _data(job, input_shape):
    """(x, y, x_test, y_test) as float32 NHWC in [0, 1] and int64 labels (test None if synthetic)."""
    batch, samples, classes = job["batch_size"], job["samples"], job["classes"]
    if job["data"] == "fashion_mnist":
        from ..keras.datasets import fashion_mnist
        (x, y), (xt, yt) = fashion_mnist.load_data()
        prep = lambda a: (a.astype("float32") / 255.0).reshape((len(a),) + tuple(input_shape))  # noqa: E731
        return prep(x[:samples]), y[:samples].astype("int64"), prep(xt), yt.astype("int64")
    rng = np.random.default_rng(job.get("seed", 0))
    per = 4 * int(np.prod(input_shape))
    n = samples if job["epochs"] > 0 else 4 * batch
    n = max(batch, min(n, SYNTHETIC_CAP_BYTES // per))
    x = rng.uniform(0, 1, size=(n,) + tuple(input_shape)).astype("float32")
    y = rng.integers(0, max(classes, 2), size=n).astype("int64")
    return x, y, None, None


def _timing(job):
    return dict(warmup=job.get("warmup"), repeat=job.get("repeat"), max_time=job.get("max_time", 10.0),
                min_repeat=5, max_repeat=200, min_sample_s=0.0,
                on_sample=lambda i, n: _progress(f"step {i}" + (f"/{n}" if n else "")))


def _common(job, stats, epoch_times, acc, n_train, n_test):
    steps = math.ceil(job["samples"] / job["batch_size"])
    med = stats["median_s"]
    return {"status": "ok", "step": stats, "samples_per_s": job["batch_size"] / med if med else None,
            "steps_per_epoch": steps, "epoch_times_s": epoch_times,
            "epoch_s": float(np.median(epoch_times)) if epoch_times else med * steps,
            "epoch_source": "measured" if epoch_times else "estimated", "accuracy": acc,
            "train_samples": n_train, "test_samples": n_test}


def _keras_like(job, keras, framework, sync, seed_fn):
    """The gpuflow and Keras workers: the same Keras API."""
    rss0 = _env.current_rss_bytes()
    seed_fn(job.get("seed", 0))
    if job.get("mixed_precision"):
        keras.mixed_precision.set_global_policy(job["mixed_precision"])
    model = build_model_for(job["model"], keras, framework)
    shape = input_shape_of(model)
    # gpuflow's step replayed or eager (graph on/off); the Keras peer keeps its own default
    _compile(model, keras, job["classes"], **({"jit_compile": job.get("graph") != "off"} if framework == "gpuflow"
                                              else {}))
    x, y, xt, yt = _data(job, shape)
    b = job["batch_size"]
    xb, yb = x[:b], y[:b]
    _progress("warm-up")

    def step():
        model.train_on_batch(xb, yb)
    if framework == "gpuflow" and job.get("graph") == "on":
        for _ in range(3):  # untimed: the replay's warm-up (two eager steps, the first makes the state) and capture
            step()
    stats = measure(step, clock=WallClock(sync), **_timing(job))
    epochs = []
    if job["epochs"]:
        model.fit(xb, yb, batch_size=b, epochs=1, verbose=0)  # fit's own warm-up (Keras traces its loop)
        sync()
    for e in range(job["epochs"]):
        _progress(f"epoch {e + 1}/{job['epochs']}")
        t = time.perf_counter()
        model.fit(x, y, batch_size=b, epochs=1, verbose=0, shuffle=True)
        sync()
        epochs.append(time.perf_counter() - t)
    acc = None
    if job["epochs"] > 0 and xt is not None:
        _progress("evaluating")
        res = model.evaluate(xt, yt, batch_size=1000, verbose=0)
        acc = float(res[1]) if isinstance(res, (list, tuple)) else None
    out = _common(job, stats, epochs, acc, len(x), None if xt is None else len(xt))
    out.update(params=int(model.count_params()), rss_before_bytes=rss0, policy=model.dtype_policy.name)
    if framework == "gpuflow" and job.get("graph"):
        out.update(graph=job["graph"], graph_status=model.graph_status())
    return out


def _worker_gpuflow(job):
    import gpuflow as gf
    from .. import config
    from ..device import default_device, backend_for
    dev = default_device()
    be = backend_for(dev)
    # --tf32 applies to gpuflow too: its CUDA backend runs float32 convolutions and Dense on the tensor cores in
    # TF32 while TensorFlow's flag is on (the default), so "off" must turn it off to compare FP32 with FP32.
    config.enable_tensor_float_32_execution(bool(job.get("tf32", False)))
    if job.get("mixed_precision") == "mixed_bfloat16" and dev.kind == "gpu":
        from .ops import holds_bfloat16
        from .peers import Unsupported
        if not holds_bfloat16(be.xp):
            raise Unsupported("mixed_bfloat16 on a GPU: this CuPy has no bfloat16 dtype (gpuflow runs bfloat16 on "
                              "the CPU and the emulator)")
    out = _keras_like(job, gf.keras, "gpuflow", be.synchronize, gf.keras.utils.set_random_seed)
    out["info"] = {"status": "ok", "version": gf.__version__, "backend": be.name, "device": str(dev),
                   "tf32": bool(job.get("tf32")) if dev.kind == "gpu" else None}
    out["version"] = gf.__version__
    if dev.kind == "gpu":
        import cupy
        from ..backend.graph import pool_bytes
        # the default pool and the private pools of the captured steps (graph="on")
        out["peak_memory_bytes"] = int(cupy.get_default_memory_pool().total_bytes()) + pool_bytes()
        out["peak_memory_kind"] = "CuPy memory pool high-water mark"
    else:
        out["peak_memory_bytes"], out["peak_memory_kind"] = _env.peak_rss_bytes(), "peak RSS (process)"
    return out


def _worker_keras(job):
    from .peers import import_tf, setup_tf, tf_sync
    tf, keras = import_tf()
    setup_tf(tf, job["device"], job["threads"], job.get("tf32", False))
    sync = tf_sync(tf) if job["device"] == "gpu" else (lambda: None)
    out = _keras_like(job, keras, "keras", sync, keras.utils.set_random_seed)
    out["version"] = keras.__version__
    out["info"] = {"status": "ok", "version": keras.__version__, "tensorflow": tf.__version__,
                   "backend": keras.backend.backend(), "threads": job["threads"], "python": sys.executable,
                   "tf32": bool(job.get("tf32")) if job["device"] == "gpu" else None}
    if job["device"] == "gpu":
        out["peak_memory_bytes"] = int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
        out["peak_memory_kind"] = "TensorFlow GPU peak"
    else:
        out["peak_memory_bytes"], out["peak_memory_kind"] = _env.peak_rss_bytes(), "peak RSS (process)"
    return out


def _worker_torch(job):
    from .peers import import_torch, set_torch_tf32, torch_info, TorchSeedCNN, Unsupported, PeerUnavailable
    torch = import_torch()
    if job["model"] != "seed":
        raise Unsupported("only the seed CNN has a PyTorch twin; a custom model cannot be translated")
    layout = job.get("layout", "channels_last")
    gpu = job["device"] == "gpu"
    if gpu and not torch.cuda.is_available():
        raise PeerUnavailable(f"PyTorch {torch.__version__} sees no CUDA device")
    torch.set_num_threads(int(job["threads"]))
    if gpu:
        set_torch_tf32(torch, job.get("tf32", False))
    dev = torch.device("cuda:0" if gpu else "cpu")
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    rss0 = _env.current_rss_bytes()
    torch.manual_seed(job.get("seed", 0))
    model = TorchSeedCNN(torch, layout).to(dev).to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    policy = job.get("mixed_precision")
    amp_dtype = {"mixed_float16": torch.float16, "mixed_bfloat16": torch.bfloat16}.get(policy)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp_dtype == torch.float16)  # a no-op unless float16

    def autocast():
        return torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None)
    x, y, xt, yt = _data(job, (28, 28, 1))

    def to_t(a):
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous(memory_format=fmt).to(dev)
    X, Y = to_t(x), torch.from_numpy(y).to(dev)
    b = job["batch_size"]
    xb, yb = X[:b], Y[:b]

    def step(xb_=xb, yb_=yb):
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(model(xb_), yb_)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    _progress("warm-up")
    stats = measure(step, clock=WallClock(sync), **_timing(job))
    epochs = []
    for e in range(job["epochs"]):
        _progress(f"epoch {e + 1}/{job['epochs']}")
        t = time.perf_counter()
        perm = torch.randperm(len(X), device=dev)
        for i in range(0, len(X), b):
            idx = perm[i:i + b]
            step(X[idx].contiguous(memory_format=fmt), Y[idx])
        sync()
        epochs.append(time.perf_counter() - t)
    acc = None
    if job["epochs"] > 0 and xt is not None:
        _progress("evaluating")
        XT, YT = to_t(xt), torch.from_numpy(yt).to(dev)
        with torch.no_grad(), autocast():
            pred = torch.cat([model(XT[i:i + 1000]).argmax(1) for i in range(0, len(XT), 1000)])
        acc = float((pred == YT).float().mean())
    out = _common(job, stats, epochs, acc, len(x), None if xt is None else len(xt))
    out.update(version=torch.__version__, params=int(sum(p.numel() for p in model.parameters())),
               rss_before_bytes=rss0, info=torch_info(torch, job["device"], job.get("tf32"), layout),
               policy=(f"{policy} (torch.autocast {str(amp_dtype).replace('torch.', '')}"
                       + (" + GradScaler)" if scaler.is_enabled() else ")")) if policy else "float32")
    out["info"]["in_process"] = False
    if gpu:
        out["peak_memory_bytes"] = int(torch.cuda.max_memory_reserved())
        out["peak_memory_kind"] = "PyTorch caching allocator, peak reserved"
    else:
        out["peak_memory_bytes"], out["peak_memory_kind"] = _env.peak_rss_bytes(), "peak RSS (process)"
    return out


def run_model_job(job):
    """Worker entry for a model job (in the framework's own process)."""
    return {"gpuflow": _worker_gpuflow, "torch": _worker_torch, "keras": _worker_keras}[job["framework"]](job)


# -- in the parent -----------------------------------------------------------------------------
def run_model(spec, *, device="cpu", peers=(), keras_python=None, batch_size=128, warmup=None, repeat=None,
              max_time=10.0, epochs=0, samples=None, data="auto", threads=None, tf32=False,
              layout="channels_last", seed=0, progress=None, mixed_precision=None, graph="on"):
    """Runs the model suite; returns (rows, peers_info, model_info, data_info).

    ``graph``: gpuflow's step on the CUDA backend replayed ("on"), eager ("off") or both, two gpuflow rows
    (see the module docstring); the ratios are taken against the replayed row when there is one. Ignored on
    the CPU (its rows have no ``graph``).

    ``mixed_precision``: None (float32) or "mixed_float16" / "mixed_bfloat16" (see the module docstring).

    Raises:
        ModelSpecError: the model cannot be built, or the data asked for is unusable.
    """
    from .peers import run_worker
    threads = threads or _env.default_threads()
    if progress is not None:
        progress.step("building the model")
    info = inspect_model(spec)
    kind, note = decide_data(data, info)
    if samples is None:
        samples = 60000
    data_info = {"kind": kind, "note": note, "samples": samples, "batch_size": batch_size, "epochs": epochs}
    job = {"kind": "model", "model": spec, "device": device, "batch_size": batch_size, "warmup": warmup,
           "repeat": repeat, "max_time": max_time, "epochs": epochs, "samples": samples, "data": kind,
           "classes": info["classes"], "threads": threads, "tf32": tf32, "layout": layout, "seed": seed,
           "mixed_precision": mixed_precision}
    rows, peers_info = [], {}
    modes = (None,) if device == "cpu" else ("off", "on") if graph == "both" else (graph,)  # no graphs on the CPU
    runs = [("gpuflow", g) for g in modes] + [(fw, None) for fw in peers]
    for fw, mode in runs:
        if progress is not None:
            progress.step(f"{fw}{'' if mode is None else f' (graph {mode})'} · {info['name']} · batch {batch_size}")
        python = keras_python if fw == "keras" else sys.executable
        out = run_worker(fw, python, dict(job, graph=mode) if mode else job, threads=threads, device=device,
                         progress=progress)
        row = {"framework": fw, "status": out.get("status", "failed")}
        for k in ("detail", "version", "params", "step", "samples_per_s", "steps_per_epoch", "epoch_s",
                  "epoch_source", "epoch_times_s", "accuracy", "train_samples", "test_samples",
                  "peak_memory_bytes", "peak_memory_kind", "rss_before_bytes", "policy", "graph", "graph_status"):
            if k in out:
                row[k] = out[k]
        rows.append(row)
        if fw != "gpuflow":
            peers_info[fw] = out.get("info") or {"status": row["status"], "detail": out.get("detail")}
    ref = [r for r in rows if r["framework"] == "gpuflow"][-1]  # the replayed row with graph="both"
    base = ref.get("step", {}).get("median_s") if ref["status"] == "ok" else None
    for r in rows:
        r["ratio_gpuflow_over_peer"] = (base / r["step"]["median_s"] if r["framework"] != "gpuflow" and base
                                        and r["status"] == "ok" else None)
    return rows, peers_info, info, data_info
