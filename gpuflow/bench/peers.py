"""The peers: PyTorch and Keras (TensorFlow), measured in the same run as gpuflow.

Like with like:

* **Shapes, dtype, data.** The same NumPy inputs (:func:`gpuflow.bench.ops.make_inputs`).
* **Layout.** gpuflow is NHWC. PyTorch runs ``channels_last`` by default (NHWC in memory, the
  layout its oneDNN/cuDNN kernels prefer for it); ``--torch-layout nchw`` gives its default
  contiguous NCHW. TensorFlow runs NHWC.
* **Threads.** The same intra-op thread count for everyone (``torch.set_num_threads``,
  ``tf.config.threading.set_intra_op_parallelism_threads``, NumPy's BLAS through its C API).
* **Precision.** PyTorch's TF32 (cuBLAS matmul and cuDNN convolution) and TensorFlow's
  ``enable_tensor_float_32_execution`` follow ``--tf32``, as gpuflow's own TF32 flag does (default off:
  FP32 everywhere); each row states the precision used, and the roofline takes that precision's peak.
  In float16 and bfloat16 every framework gets 16-bit tensors: PyTorch's cuDNN/cuBLAS (GPU) or oneDNN
  (CPU) 16-bit kernels with FP32 accumulation, the kernels ``torch.autocast`` runs for convolution and
  matmul (the precision ``fp16`` / ``bf16``); TensorFlow's kernels for that dtype. An op a peer has no
  kernel for in that dtype on that device is ``unsupported`` (:func:`is_unsupported`), never estimated.
* **The op.** Each peer runs its own kernel for exactly the pass measured:
  ``aten::convolution_backward`` with an output mask for one gradient, ``max_pool2d_with_indices``
  (the training forward) and its backward, ``addmm`` + in-place ReLU, ``threshold_backward`` and
  two GEMMs for the Dense backward; TensorFlow's ``Conv2DBackpropInput``/``Conv2DBackpropFilter``,
  ``MaxPoolGrad``, ``AvgPoolGrad`` and ``ReluGrad`` inside ``tf.function``.

A peer that does not import is reported as "not installed", never estimated. PyTorch runs in
this process; Keras runs in the interpreter given by ``--keras-python`` (TensorFlow often lives
in its own virtual environment) through :mod:`gpuflow.bench.worker`, which prints one
``@@result`` JSON line and ``@@progress`` lines that the progress bar relays.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import warnings

import numpy as np

from .specs import OPS
from .timing import WallClock, TorchEventClock

__all__ = ["PeerUnavailable", "PeerNotInstalled", "Unsupported", "is_unsupported", "TorchOps", "TFOps",
           "set_torch_tf32", "run_worker", "worker_env", "TorchSeedCNN"]


class PeerUnavailable(Exception):
    """A peer that imports but cannot run here (e.g. no CUDA build)."""
    status = "unavailable"


class PeerNotInstalled(PeerUnavailable):
    status = "not installed"


class Unsupported(Exception):
    """The peer has no equivalent of this op at this shape or dtype (reported per row)."""


# How PyTorch and TensorFlow say they have no kernel for a dtype on a device.
_NO_KERNEL = ("not implemented for", "no registered", "could not find device for node", "no opkernel",
              "not supported for")


def is_unsupported(exc):
    """Whether ``exc`` (raised preparing or running an op) says the framework has no kernel for it: an
    :class:`Unsupported`, ``NotImplementedError``, PyTorch's ``"... not implemented for 'BFloat16'"``, or
    TensorFlow's ``NotFoundError`` / ``InvalidArgumentError`` naming no registered kernel."""
    if isinstance(exc, (Unsupported, NotImplementedError)):
        return True
    text = str(exc).lower()
    return any(k in text for k in _NO_KERNEL)


# -- PyTorch ---------------------------------------------------------------------------------
def import_torch():
    try:
        import torch
    except ImportError as e:
        raise PeerNotInstalled(f"PyTorch is not installed in {sys.executable} ({e})") from None
    return torch


def set_torch_tf32(torch, on):
    """Allows or forbids TF32 in cuBLAS matmul and cuDNN convolution; returns the setting applied."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # PyTorch >= 2.9
            torch.backends.cuda.matmul.fp32_precision = "tf32" if on else "ieee"
            torch.backends.cudnn.conv.fp32_precision = "tf32" if on else "ieee"
        except (AttributeError, RuntimeError, TypeError, ValueError):
            torch.backends.cuda.matmul.allow_tf32 = bool(on)
            torch.backends.cudnn.allow_tf32 = bool(on)
    return bool(on)


def torch_info(torch, device, tf32, layout):
    info = {"status": "ok", "version": torch.__version__, "threads": torch.get_num_threads(), "layout":
            "NHWC (channels_last)" if layout == "channels_last" else "NCHW", "in_process": True}
    if device == "gpu":
        info.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    device_name=torch.cuda.get_device_name(0), tf32=bool(tf32))
    else:
        info.update(tf32=None, mkldnn=bool(torch.backends.mkldnn.is_available()))
    return info


class TorchOps:
    """PyTorch's kernels for the ops of :mod:`gpuflow.bench.specs`."""

    framework = "torch"

    def __init__(self, device, dtype, threads, tf32=False, layout="channels_last"):
        torch = import_torch()
        self.torch = torch
        if device == "gpu":
            if not torch.cuda.is_available():
                raise PeerUnavailable(f"PyTorch {torch.__version__} sees no CUDA device")
            self.dev = torch.device("cuda:0")
            self.clock = TorchEventClock(torch)
            set_torch_tf32(torch, tf32)
        else:
            self.dev = torch.device("cpu")
            self.clock = WallClock()
        torch.set_num_threads(int(threads))
        self.device, self.dtype, self.tf32, self.layout = device, dtype, tf32, layout
        self._info = torch_info(torch, device, tf32, layout)

    def info(self):
        return dict(self._info)

    def precision(self, op, dtype):
        return _peer_precision(self.device, self.tf32, op, dtype)

    def _tensor(self, a):
        """A NumPy array as a CPU tensor of the same dtype (bfloat16: ml_dtypes' bits reinterpreted)."""
        a = np.ascontiguousarray(a)
        if a.dtype.name == "bfloat16":
            return self.torch.from_numpy(a.view(np.uint16)).view(self.torch.bfloat16)
        return self.torch.from_numpy(a)

    # NHWC NumPy -> torch (N, C, H, W) logical tensor in the chosen memory layout
    def _act(self, a):
        t = self._tensor(a).permute(0, 3, 1, 2)
        fmt = self.torch.channels_last if self.layout == "channels_last" else self.torch.contiguous_format
        return t.contiguous(memory_format=fmt).to(self.dev)

    def _kernel(self, w):  # (kh, kw, C, F) -> (F, C, kh, kw)
        t = self._tensor(w).permute(3, 2, 0, 1)
        fmt = self.torch.channels_last if self.layout == "channels_last" else self.torch.contiguous_format
        return t.contiguous(memory_format=fmt).to(self.dev)

    def _mat(self, a):
        return self._tensor(a).to(self.dev)

    def prepare(self, op, shape, data):
        torch = self.torch
        aten = torch.ops.aten
        kind = OPS[op][0]
        if kind == "conv":
            t, b, l, r = shape.pads
            x, w, dy = self._act(data["x"]), self._kernel(data["w"]), self._act(data["dy"])
            if (t, l) != (b, r):  # PyTorch pads symmetrically: pad the input once, outside the timing
                x = torch.nn.functional.pad(x, (l, r, t, b))
                fmt = torch.channels_last if self.layout == "channels_last" else torch.contiguous_format
                x = x.contiguous(memory_format=fmt)
                padding = [0, 0]
            else:
                padding = [t, l]
            stride = [shape.sh, shape.sw]
            if op == "conv2d_fwd":
                return lambda: aten.convolution(x, w, None, stride, padding, [1, 1], False, [0, 0], 1)
            mask = [True, False, False] if op == "conv2d_bwd_data" else [False, True, False]
            return lambda: aten.convolution_backward(dy, x, w, None, stride, padding, [1, 1], False, [0, 0], 1, mask)
        if kind == "pool":
            k, s = [shape.kh, shape.kw], [shape.sh, shape.sw]
            t, b, l, r = shape.pads
            if (t, l) == (b, r):
                padding, ceil = [t, l], False
            elif t == 0 and l == 0:
                padding, ceil = [0, 0], True  # padding only at the end: PyTorch's ceil_mode
            else:
                raise Unsupported(f"PyTorch pooling has no padding {shape.pads} (top, bottom, left, right)")
            if 2 * max(padding) > min(k):
                raise Unsupported(f"PyTorch pooling needs padding <= half the window; got {padding} for {k}")
            x, dy = self._act(data["x"]), self._act(data["dy"])
            if op.startswith("max"):
                y, idx = aten.max_pool2d_with_indices(x, k, s, padding, [1, 1], ceil)
                if tuple(y.shape[2:]) != shape.out_hw:
                    raise Unsupported(f"PyTorch gives a {tuple(y.shape[2:])} output, gpuflow {shape.out_hw}")
                if op == "max_pool_fwd":
                    return lambda: aten.max_pool2d_with_indices(x, k, s, padding, [1, 1], ceil)
                return lambda: aten.max_pool2d_with_indices_backward(dy, x, k, s, padding, [1, 1], ceil, idx)
            if op == "avg_pool_fwd":
                return lambda: aten.avg_pool2d(x, k, s, padding, ceil, False, None)
            return lambda: aten.avg_pool2d_backward(dy, x, k, s, padding, ceil, False, None)
        if kind == "dense":
            x, w, bias, dy = (self._mat(data[k]) for k in ("x", "w", "b", "dy"))
            if op == "dense_relu_fwd":
                return lambda: torch.relu_(torch.addmm(bias, x, w))
            y = torch.relu_(torch.addmm(bias, x, w))
            wt, xt = w.t(), x.t()

            def bwd():
                dz = aten.threshold_backward(dy, y, 0)
                return torch.mm(dz, wt), torch.mm(xt, dz), dz.sum(0)
            return bwd
        a, b = self._mat(data["a"]), self._mat(data["b"])
        return lambda: torch.mm(a, b)


def _tensor_ops():
    from .ops import TENSOR_OPS
    return TENSOR_OPS


def _peer_precision(device, tf32, op, dtype):
    """A peer's precision: the dtype's own (fp64, fp16, bf16: 16-bit kernels accumulating in float32), or for
    float32 TF32 where it is on, on a GPU, for an op cuDNN/cuBLAS runs on the tensor cores."""
    from .specs import PRECISIONS
    if dtype != "float32":
        return PRECISIONS[dtype]
    return "tf32" if device == "gpu" and tf32 and op in _tensor_ops() else "fp32"


# -- TensorFlow (the Keras peer; runs inside the worker) ------------------------------------
def import_tf():
    try:
        import tensorflow as tf
        import keras
    except ImportError as e:
        raise PeerNotInstalled(f"Keras/TensorFlow is not installed in {sys.executable} ({e})") from None
    return tf, keras


def setup_tf(tf, device, threads, tf32):
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
    except RuntimeError:
        pass  # already initialised
    try:
        tf.config.experimental.enable_tensor_float_32_execution(bool(tf32))
    except Exception:
        pass
    if device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise PeerUnavailable(f"TensorFlow {tf.__version__} sees no GPU")
    return "/GPU:0" if device == "gpu" else "/CPU:0"


def tf_sync(tf):
    sync = getattr(getattr(tf.test, "experimental", None), "sync_devices", None)
    return sync if sync is not None else (lambda: None)


class TFOps:
    framework = "keras"

    def __init__(self, device, threads, tf32=False):
        tf, keras = import_tf()
        self.tf, self.keras = tf, keras
        self.device, self.tf32 = device, tf32
        self.devname = setup_tf(tf, device, threads, tf32)
        self.clock = WallClock(tf_sync(tf) if device == "gpu" else None)
        self._info = {"status": "ok", "version": keras.__version__, "tensorflow": tf.__version__,
                      "backend": keras.backend.backend(), "threads": int(threads), "layout": "NHWC",
                      "tf32": bool(tf32) if device == "gpu" else None, "python": sys.executable,
                      "in_process": False}

    def info(self):
        return dict(self._info)

    def precision(self, op, dtype):
        return _peer_precision(self.device, self.tf32, op, dtype)

    def prepare(self, op, shape, data):
        tf = self.tf
        raw = tf.raw_ops
        with tf.device(self.devname):
            d = {k: tf.constant(v) for k, v in data.items()}
        kind = OPS[op][0]

        def fn(f, *args):
            g = tf.function(f, jit_compile=False)

            def call():
                with tf.device(self.devname):
                    return g(*args)
            call()  # trace outside the timing
            return call
        if kind == "conv":
            t, b, l, r = shape.pads
            strides = [1, shape.sh, shape.sw, 1]
            explicit = [0, 0, t, b, l, r, 0, 0]
            x_shape = tf.constant(shape.x_shape, dtype=tf.int32)
            w_shape = tf.constant(shape.w_shape, dtype=tf.int32)
            if op == "conv2d_fwd":
                return fn(lambda x, w: raw.Conv2D(input=x, filter=w, strides=strides, padding="EXPLICIT",
                                                  explicit_paddings=explicit), d["x"], d["w"])
            if op == "conv2d_bwd_data":
                return fn(lambda w, dy: raw.Conv2DBackpropInput(input_sizes=x_shape, filter=w, out_backprop=dy,
                                                                strides=strides, padding="EXPLICIT",
                                                                explicit_paddings=explicit), d["w"], d["dy"])
            return fn(lambda x, dy: raw.Conv2DBackpropFilter(input=x, filter_sizes=w_shape, out_backprop=dy,
                                                             strides=strides, padding="EXPLICIT",
                                                             explicit_paddings=explicit), d["x"], d["dy"])
        if kind == "pool":
            ksize, strides, pad = [1, shape.kh, shape.kw, 1], [1, shape.sh, shape.sw, 1], shape.padding.upper()
            if op == "max_pool_fwd":
                return fn(lambda x: raw.MaxPool(input=x, ksize=ksize, strides=strides, padding=pad), d["x"])
            if op == "max_pool_bwd":
                with tf.device(self.devname):
                    y = raw.MaxPool(input=d["x"], ksize=ksize, strides=strides, padding=pad)
                return fn(lambda x, y_, dy: raw.MaxPoolGrad(orig_input=x, orig_output=y_, grad=dy, ksize=ksize,
                                                            strides=strides, padding=pad), d["x"], y, d["dy"])
            if op == "avg_pool_fwd":
                return fn(lambda x: raw.AvgPool(value=x, ksize=ksize, strides=strides, padding=pad), d["x"])
            x_shape = tf.constant(shape.x_shape, dtype=tf.int32)
            return fn(lambda dy: raw.AvgPoolGrad(orig_input_shape=x_shape, grad=dy, ksize=ksize, strides=strides,
                                                 padding=pad), d["dy"])
        if kind == "dense":
            if op == "dense_relu_fwd":
                return fn(lambda x, w, b: tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w), b)), d["x"], d["w"], d["b"])
            with tf.device(self.devname):
                y = tf.nn.relu(tf.nn.bias_add(tf.matmul(d["x"], d["w"]), d["b"]))

            def bwd(x, w, y_, dy):
                dz = raw.ReluGrad(gradients=dy, features=y_)
                return tf.matmul(dz, w, transpose_b=True), tf.matmul(x, dz, transpose_a=True), tf.reduce_sum(dz, 0)
            return fn(bwd, d["x"], d["w"], y, d["dy"])
        return fn(lambda a, b: tf.matmul(a, b), d["a"], d["b"])


# -- PyTorch twin of the seed CNN -----------------------------------------------------------
def TorchSeedCNN(torch, layout="channels_last"):
    """The seed CNN in PyTorch, initialised as Keras initialises it (Glorot-uniform kernels, zero
    biases). In channels_last layout the flatten is in NHWC order, as Keras's Flatten."""
    nn = torch.nn

    class SeedCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.fc1 = nn.Linear(1600, 128)
            self.fc2 = nn.Linear(128, 10)
            for m in (self.conv1, self.conv2, self.fc1, self.fc2):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

        def forward(self, x):
            F = nn.functional
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if layout == "channels_last" else x.flatten(1)
            return self.fc2(F.relu(self.fc1(x)))
    return SeedCNN()


# -- subprocess workers ------------------------------------------------------------------------
_PATH_DIR = None


def _gpuflow_path_dir():
    """A folder holding only a link to this gpuflow package, for another interpreter's PYTHONPATH
    (adding this interpreter's site-packages there would mix two Pythons' packages)."""
    global _PATH_DIR
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if _PATH_DIR is None or not os.path.exists(os.path.join(_PATH_DIR, "gpuflow")):
        d = tempfile.mkdtemp(prefix="gpuflow-bench-path-")
        try:
            os.symlink(pkg, os.path.join(d, "gpuflow"))
            _PATH_DIR = d
        except OSError:
            _PATH_DIR = os.path.dirname(pkg)
    return _PATH_DIR


def worker_env(framework, threads, device):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GPUFLOW_NUM_THREADS"):
        env[var] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([_gpuflow_path_dir()] + [p for p in [env.get("PYTHONPATH")] if p])
    if framework == "gpuflow":
        env["GPUFLOW_DEVICE"] = "gpu" if device == "gpu" else device
    if device != "gpu" and framework == "keras":
        env["CUDA_VISIBLE_DEVICES"] = ""  # TensorFlow on the CPU must not take the GPU
    return env


def run_worker(framework, python, job, *, threads, device, progress=None):
    """Runs ``python -m gpuflow.bench.worker`` with ``job`` (a dict) for ``framework``.

    Returns:
        The worker's result dict; on a crash, ``{"status": "failed", "detail": last stderr line}``.
    """
    python = python or sys.executable
    job = dict(job, framework=framework)
    try:
        proc = subprocess.Popen([python, "-m", "gpuflow.bench.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=worker_env(framework, threads, device))
    except OSError as e:
        return {"status": "not installed", "detail": f"cannot run {python}: {e}"}
    tail = []

    def read_stderr():
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.startswith("@@progress "):
                if progress is not None:
                    progress.note(line[len("@@progress "):])
            elif line.strip():
                tail.append(line)
                del tail[:-20]
    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        proc.stdin.write(json.dumps(job))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    out = proc.stdout.read()  # stderr is drained by the reader thread meanwhile
    proc.wait()
    reader.join(timeout=5)
    proc.stdout.close()
    proc.stderr.close()
    for line in reversed(out.splitlines()):
        if line.startswith("@@result "):
            return json.loads(line[len("@@result "):])
    last = tail[-1] if tail else f"exit status {proc.returncode}, no output"
    return {"status": "failed", "detail": f"{framework} worker ({python}) crashed: {last}"}
