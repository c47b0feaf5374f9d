"""The ``gpuflow`` command: ``gpuflow train`` (the seed CNN on Fashion-MNIST), ``gpuflow info``,
``gpuflow bench ops|model`` (speed against PyTorch and Keras, see :mod:`gpuflow.bench`) and
``gpuflow parity`` (the CUDA backend against the NumPy reference, see :mod:`gpuflow.parity`).

Bad arguments exit with status 2 and a one-line error, as argparse does, without the usage (``--help``
shows it); ``train`` checks its arguments (the ``--save`` path included) before any training.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import re
import shlex
import sys
import tempfile
import time
import warnings


def _version():
    """gpuflow's version: the installed distribution's, else the package's ``__version__`` (a source tree)."""
    from importlib import metadata
    try:
        return metadata.version("gpuflow")
    except metadata.PackageNotFoundError:
        from . import __version__
        return __version__


def _int_in(low, high=None, what=None):
    """An argparse type: an int from ``low`` to ``high`` (None: no bound), or the error
    "expected <what>, got ..." (``what`` defaults to "an integer from <low> to <high>")."""
    what = what or f"an integer from {low} to {high}"

    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < low or (high is not None and v > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
        return v
    return parse


_positive_int = _int_in(1, what="a positive integer")
_non_negative_int = _int_in(0, what="a non-negative integer")
_seed = _int_in(0, 2**32 - 1)  # NumPy's seeding range, which keras.utils.set_random_seed uses


def _positive_float(text):
    """An argparse type: a finite number > 0 (not nan, not inf)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text}")
    return v


def _device_arg(*kinds, any_gpu=True):
    """An argparse type for ``--device``: what ``GPUFLOW_DEVICE`` takes (:func:`gpuflow.device.parse_device_request`),
    limited to ``kinds`` (of auto, cpu, gpu, emulator). Returns ``"auto"``, ``"cpu"``, ``"emulator"`` and, for a
    GPU, ``"gpu:N"``, or ``"gpu"`` where ``any_gpu`` is False (commands that run on GPU 0 only)."""
    def parse(text):
        from .device import parse_device_request
        try:
            dev = parse_device_request(text, "--device")
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        kind = dev.kind if dev is not None else "auto"
        if kind not in kinds:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(kinds)}. Received: --device {text}")
        if kind != "gpu":
            return kind
        if any_gpu:
            return str(dev)
        if dev.index != 0:
            raise argparse.ArgumentTypeError(f"this command runs on GPU 0; choose the GPU with "
                                             f"CUDA_VISIBLE_DEVICES={dev.index} and --device gpu. Received: --device {text}")
        return "gpu"
    return parse


_SAVE_SUFFIXES = (".weights.h5", ".keras", ".h5", ".hdf5")


def _check_save_path(parser, path):
    """Exits 2 unless ``path`` can take the trained model: a ``.weights.h5`` (``save_weights``) or
    ``.keras`` / legacy ``.h5``/``.hdf5`` (``save``) name in an existing folder this process can write in (for a
    symbolic link, the folder of its target, where the save writes)."""
    received = f"Received: --save {path}"
    if not path.endswith(_SAVE_SUFFIXES):
        parser.error(f"argument --save: expected a path ending in .weights.h5 (weights), or .keras or .h5 "
                     f"(the whole model). {received}")
    if importlib.util.find_spec("h5py") is None:
        parser.error(f"argument --save: needs h5py, which is not installed (pip install h5py). {received}")
    folder = os.path.dirname(os.path.realpath(path))  # a save through a symbolic link writes the link's target
    if os.path.isdir(path):
        parser.error(f"argument --save: {path} is a folder; expected a file name. {received}")
    if not os.path.isdir(folder):
        parser.error(f"argument --save: no such folder {folder}. {received}")
    try:
        with tempfile.TemporaryFile(dir=folder):  # what the save will do: create a file there
            pass
    except OSError as e:
        parser.error(f"argument --save: cannot write in {folder} ({e.strerror}). {received}")


def _check_num_threads(parser):
    """Exits 2 with one line when ``GPUFLOW_NUM_THREADS`` is set but not a positive integer, or
    ``GPUFLOW_CPU_PROCESSES`` not a non-negative one (the NumPy backend would raise it at its first op, as a
    traceback, after the data is loaded)."""
    from .backend.cpu_runtime import num_threads
    from .backend.cpu_workers import processes
    try:
        processes(num_threads())
    except ValueError as e:
        parser.error(str(e))


def _load_fashion_mnist(parser, subset):
    """Fashion-MNIST as float32 (N, 28, 28, 1) images in [0, 1] and uint8 labels: the first ``subset`` training
    images and ``subset // 6`` test images (all when None). Exits 2 if ``subset`` exceeds the training set."""
    from .keras.datasets import fashion_mnist
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    if subset:
        if subset > len(x_train):
            parser.error(f"argument --subset: expected at most {len(x_train)}, the size of the Fashion-MNIST "
                         f"training set. Received: --subset {subset}")
        x_train, y_train = x_train[:subset], y_train[:subset]
        x_test, y_test = x_test[:max(subset // 6, 1)], y_test[:max(subset // 6, 1)]
    prep = lambda x: (x.astype("float32") / 255.0)[..., None]  # noqa: E731
    return (prep(x_train), y_train), (prep(x_test), y_test)


def _terminate_on_nan(keras):
    """``keras.callbacks.TerminateOnNaN`` that also records where it stopped: ``.at`` is ``(epoch, batch, loss)``
    (0-based) after a NaN or infinite loss, else None."""
    class TerminateOnNaN(keras.callbacks.TerminateOnNaN):
        at = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            if self.model.stop_training and self.at is None:
                self.at = (self.epoch, batch, logs["loss"])
    return TerminateOnNaN()


def cmd_train(args):
    parser = args._parser
    if args.save is not None:
        _check_save_path(parser, args.save)
    import gpuflow as tf
    from . import device as dev_mod
    keras = tf.keras
    try:
        device = dev_mod.set_default_device(args.device, "--device") if args.device else dev_mod.default_device()
    except (dev_mod.DeviceUnavailableError, ValueError) as e:
        parser.error(str(e))
    _check_num_threads(parser)
    try:
        (x_train, y_train), (x_test, y_test) = _load_fashion_mnist(parser, args.subset)
    except (OSError, ValueError) as e:  # no copy and no network, or a corrupt file (the message names it)
        print(f"gpuflow train: error: {e}", file=sys.stderr)
        return 1
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    try:
        strategy = tf.distribute.strategy.strategy_from_flag(args.strategy)
    except ImportError as e:  # multi_worker without mpi4py: the message says what to install
        print(f"gpuflow train: error: {e}", file=sys.stderr)
        return 1
    chief = strategy.worker_index == 0  # under mpirun, worker 0 alone prints and saves
    say = print if chief else (lambda *a, **k: None)
    say(f"gpuflow {_version()} on {device} ({dev_mod.default_device_reason()}); "
        f"Fashion-MNIST: {len(x_train)} train / {len(x_test)} test images"
        + (f"; {strategy.num_replicas_in_sync} replica(s) ({args.strategy})" if args.strategy != "none" else ""))
    from .zoo import build_seed_cnn
    with strategy.scope():
        model = build_seed_cnn(keras)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    if args.verbose and chief:
        model.summary()
    stop_on_nan = _terminate_on_nan(keras)  # unlike fit's default: NaN weights are worth neither time nor a file
    start = time.perf_counter()
    with warnings.catch_warnings():  # NumPy's overflow warnings and fit's NaN warning: the line below says it once
        warnings.simplefilter("ignore", RuntimeWarning)
        backup = [keras.callbacks.BackupAndRestore(args.backup_dir)] if args.backup_dir else []
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose,
                  callbacks=[stop_on_nan, *backup])
    train_s = time.perf_counter() - start
    if stop_on_nan.at is not None:
        epoch, batch, loss = stop_on_nan.at
        print(f"gpuflow train: error: the loss became {loss} at epoch {epoch + 1}, step {batch + 1}; training stopped "
              f"there{' and nothing was saved' if args.save is not None else ''} (a lower --learning-rate may help)",
              file=sys.stderr)
        return 1
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    say(f"Test accuracy: {acc:.4f} (loss {loss:.4f}) after {args.epochs} epoch(s) at batch size "
        f"{args.batch_size}; training took {train_s:.1f} s ({train_s / args.epochs:.1f} s/epoch)")
    if args.save is not None and chief:
        weights_only = args.save.endswith(".weights.h5")
        try:
            model.save_weights(args.save) if weights_only else model.save(args.save)
        except OSError as e:  # the checks before training passed; the disk filled up, the folder went away...
            print(f"gpuflow train: error: could not save to {args.save}: {e}", file=sys.stderr)
            return 1
        print(f"Saved {'weights' if weights_only else 'the model'} to {args.save}")
    return 0


def _split_requirements(requires):
    """Splits ``Requires-Dist`` lines (``importlib.metadata.requires``) into the base dependencies and
    the optional packages: ``(["numpy", ...], {"tensorboardX": ["tensorboard", "test"], ...})``, in order.

    Where the ``packaging`` library is importable, requirements whose environment markers exclude this
    platform or Python (``tomli; python_version < '3.11'``) are left out; without it they are listed."""
    try:  # evaluates environment markers (python_version, platform_machine...) where available
        from packaging.requirements import Requirement
    except ImportError:
        Requirement = None
    base, optional = [], {}
    for line in requires:
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line).group(1)
        extras = re.findall(r"""\bextra\s*==\s*["']([^"']+)["']""", line)
        if Requirement is not None:
            marker = Requirement(line).marker
            extras = [e for e in extras if marker is None or marker.evaluate({"extra": e})]
            if not extras and marker is not None and not marker.evaluate({"extra": ""}):
                continue  # not for this platform / Python
        if not extras:
            base += [name] if name not in base else []
        for extra in extras:
            optional.setdefault(name, []).extend([extra] if extra not in optional.get(name, []) else [])
    return base, {name: extras for name, extras in optional.items() if name not in base}


def _print_packages():
    """The required and optional packages from gpuflow's installed metadata, with the versions found."""
    from importlib import metadata

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"
    try:
        base, optional = _split_requirements(metadata.requires("gpuflow") or [])
    except metadata.PackageNotFoundError:
        print("Packages: unknown (gpuflow's package metadata is not installed: pip install .)")
        return
    print("Required packages: " + ", ".join(f"{name} {version(name)}" for name in base))
    print("Optional packages (pip install 'gpuflow[EXTRA]'):")
    width = max(map(len, optional), default=0)
    for name, extras in optional.items():
        print(f"  {name:<{width}}  {version(name):<14} in " + ", ".join(f"gpuflow[{e}]" for e in extras))


def cmd_serve(args):
    """``gpuflow serve``: see :mod:`gpuflow.serving`. A missing extra or a bad model config is a one-line error."""
    from . import serving
    try:
        return serving.main(args)
    except (ImportError, ValueError, OSError) as e:
        args._parser.error(str(e))


def cmd_info(args):
    import numpy as np
    from . import device as dev_mod
    print(f"gpuflow {_version()}")
    print(f"Python {platform.python_version()} on {platform.platform()}")
    print(f"NumPy {np.__version__}")
    try:  # info must always print something useful
        dev = dev_mod.default_device()
    except Exception as e:
        print(f"Default device: unavailable ({e})")
    else:
        print(f"Default device: {dev}")
        try:
            print(f"Backend: {dev_mod.backend_for(dev).name}")
        except Exception as e:  # e.g. a GPUFLOW_NUM_THREADS the NumPy backend refuses
            print(f"Backend: unavailable ({e})")
        print(f"Why: {dev_mod.default_device_reason()}")
    ok, why = dev_mod.probe_cuda()
    print(f"CUDA: {'available' if ok else 'not available'} ({why})")
    if ok:
        import cupy
        rt = cupy.cuda.runtime
        name = rt.getDeviceProperties(0)["name"]
        print(f"GPU 0: {name.decode() if isinstance(name, bytes) else name}; CUDA runtime {rt.runtimeGetVersion()}, "
              f"driver {rt.driverGetVersion()}; CuPy {cupy.__version__}")
    ok, why = dev_mod.probe_emulator()
    print(f"Emulator (GPUFLOW_DEVICE=emulator): {'available' if ok else 'not available'} ({why})")
    from .backend.cupy_backend import kernel_cache_line
    print(kernel_cache_line())
    from .backend.nvrtc_check import headers_line  # the headers the tensor-core kernels compile with
    print(headers_line())
    _print_packages()
    return 0


# -- bench and parity ----------------------------------------------------------------------------
class _OneLineParser(argparse.ArgumentParser):
    """Errors as one line, ``gpuflow bench ops: error: ...``, exit status 2 (argparse's status)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _shape_arg(text):
    from .bench.specs import parse_shape, ShapeError
    try:
        return parse_shape(text)
    except ShapeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _ops_arg(text):
    from .bench.specs import parse_ops
    try:
        return parse_ops(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _peers_arg(text):
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if names in ([], ["none"]):
        return []
    aliases = {"torch": "torch", "pytorch": "torch", "keras": "keras", "tensorflow": "keras", "tf": "keras"}
    bad = [n for n in names if n not in aliases]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown peer {bad[0]!r}; expected a comma-separated subset of "
                                         "torch,keras (or none)")
    out = []
    for n in names:
        if aliases[n] not in out:
            out.append(aliases[n])
    return out


def _check_device(parser, device):
    """Exits 2 with the reason when ``device`` cannot be used here."""
    from .device import DeviceUnavailableError, resolve_device_request
    try:
        resolve_device_request(device, "--device")
    except DeviceUnavailableError as e:
        parser.error(str(e))


def _apply_threads(threads):
    """One intra-op thread count for gpuflow's NumPy backend, NumPy's BLAS and the peers."""
    from .bench import env
    threads = threads or env.default_threads()
    os.environ["GPUFLOW_NUM_THREADS"] = str(threads)  # read when the NumPy backend loads (not yet loaded)
    env.set_blas_threads(threads)
    return threads


def _check_keras_python(parser, args):
    if "keras" in args.peers and not (os.path.isfile(args.keras_python) and os.access(args.keras_python, os.X_OK)):
        parser.error(f"--keras-python {args.keras_python}: no such executable")


def _settings(args, threads, **extra):
    return {"device": args.device, "dtype": args.dtype, "threads": threads, "warmup": args.warmup,
            "repeat": args.repeat, "max_time_s": args.max_time, "tf32": args.tf32 == "on",
            "torch_layout": args.torch_layout, "peers": list(args.peers), "seed": args.seed, **extra}


def _emit(doc, args):
    from .bench import report
    if args.json:
        try:
            report.write_json(doc, args.json)
        except ValueError as e:  # a document that does not match the schema is a bug: say so loudly
            print(f"gpuflow bench: internal error: {e}", file=sys.stderr)
            return 1
    if args.json != "-":
        print(report.render(doc, markdown=args.markdown))
        if args.json:
            print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


def cmd_bench_ops(args):
    parser = args._parser
    from .bench.specs import OPS, numpy_dtype, standard_shapes
    _check_device(parser, args.device)
    _check_keras_python(parser, args)
    try:
        numpy_dtype(args.dtype)
    except ImportError as e:
        parser.error(f"--dtype {args.dtype}: {e}")
    ops = args.op or list(OPS)
    if args.shape:
        shapes = args.shape
        if args.op:
            kinds = {s.kind for s in shapes}
            missing = [o for o in ops if OPS[o][0] not in kinds]
            if missing:
                parser.error(f"no --shape fits op {missing[0]} (it takes a {OPS[missing[0]][0]} shape); "
                             "give one, or leave that op out of --op")
        shape_set = "custom"
    else:
        shape_set = "tiny" if args.device == "emulator" else ("quick" if args.quick else "standard")
        shapes = standard_shapes(shape_set, args.device)
    cases = [(op, s) for op in ops for s in shapes if OPS[op][0] == s.kind]
    if not cases:
        parser.error("no --shape fits any op given by --op")
    threads = _apply_threads(args.threads)
    from .bench import env, ops as ops_suite, report
    from .bench.progress import Progress
    max_time = args.max_time if args.max_time is not None else (0.5 if args.quick else 2.0)
    n_peer_steps = len(cases) * (1 + ("torch" in args.peers)) + ("keras" in args.peers)
    progress = Progress(n_peer_steps + 1, enabled=not args.no_progress, title="bench ops: ")
    try:
        environment = env.capture(args.device, threads)
        results, peers, peak = ops_suite.run_ops(
            cases, device=args.device, dtype=args.dtype, peers=args.peers, keras_python=args.keras_python,
            warmup=args.warmup, repeat=args.repeat, max_time=max_time, tf32=args.tf32 == "on", threads=threads,
            layout=args.torch_layout, progress=progress, seed=args.seed, quick=args.quick)
    finally:
        progress.close()
    args.max_time = max_time
    doc = report.make_document("ops", args._command, environment, _settings(args, threads, shape_set=shape_set),
                               peers, results, peak=peak)
    rc = _emit(doc, args)
    not_ok = [r for r in results if r["framework"] == "gpuflow" and r["status"] != "ok"]
    for r in not_ok:
        print(f"gpuflow bench ops: {r['op']} {r['shape']} {r['status']}: {r.get('detail', '')}", file=sys.stderr)
    # exit 1 for a failed op; an unsupported one (bfloat16 pooling on CuPy, which has no bfloat16) is a result
    return rc or (1 if any(r["status"] == "failed" for r in not_ok) else 0)


def cmd_bench_model(args):
    parser = args._parser
    _check_device(parser, args.device)
    _check_keras_python(parser, args)
    spec = args.model or "seed"
    if spec != "seed":
        if not os.path.exists(spec):
            parser.error(f"--model {spec}: no such file")
        if not spec.endswith((".keras", ".h5", ".hdf5", ".py")) and not os.path.isdir(spec):
            parser.error(f"--model {spec}: expected a .keras or .h5 model file, or a .py file defining build_model()")
    if args.mixed_precision == "mixed_bfloat16":
        from .bench.specs import numpy_dtype
        try:
            numpy_dtype("bfloat16")
        except ImportError as e:
            parser.error(f"--mixed-precision mixed_bfloat16: {e}")
    threads = _apply_threads(args.threads)
    from .bench import env, model as model_suite, report
    from .bench.progress import Progress
    max_time = args.max_time if args.max_time is not None else 10.0
    both = args.graph == "both" and args.device != "cpu"  # two gpuflow runs
    progress = Progress(2 + len(args.peers) + both, enabled=not args.no_progress, title="bench model: ")
    try:
        environment = env.capture(args.device, threads)
        rows, peers, info, data = model_suite.run_model(
            spec, device=args.device, peers=args.peers, keras_python=args.keras_python, batch_size=args.batch_size,
            warmup=args.warmup, repeat=args.repeat, max_time=max_time, epochs=args.epochs, samples=args.samples,
            data=args.data, threads=threads, tf32=args.tf32 == "on", layout=args.torch_layout, seed=args.seed,
            progress=progress, mixed_precision=args.mixed_precision, graph=args.graph)
    except model_suite.ModelSpecError as e:
        progress.close()
        parser.error(str(e))
    finally:
        progress.close()
    args.max_time = max_time
    doc = report.make_document("model", args._command, environment,
                               _settings(args, threads, mixed_precision=args.mixed_precision), peers, rows,
                               model=info, data=data)
    rc = _emit(doc, args)
    if rows[0]["status"] != "ok":
        print(f"gpuflow bench model: gpuflow {rows[0]['status']}: {rows[0].get('detail', '')}", file=sys.stderr)
        return rc or 1
    return rc


def cmd_parity(args):
    parser = args._parser
    from . import parity
    from .device import DeviceUnavailableError, probe_cuda, probe_emulator
    device = args.device
    if device == "auto":
        ok_gpu, why_gpu = probe_cuda()
        ok_emu, why_emu = probe_emulator()
        if not (ok_gpu or ok_emu):
            parser.error(f"no CUDA backend to check: gpu: {why_gpu}; emulator: {why_emu}")
        device = "gpu" if ok_gpu else "emulator"
    if args.model and not os.path.exists(args.model):
        parser.error(f"--model {args.model}: no such file")
    _check_num_threads(parser)  # the NumPy reference runs on the CPU backend
    try:
        runner = parity.runner_for(device)
    except DeviceUnavailableError as e:
        parser.error(str(e))
    from .bench.model import ModelSpecError
    try:
        build = parity.model_builder(args.model)
    except ModelSpecError as e:
        parser.error(str(e))
    name = os.path.basename(args.model) if args.model else "seed CNN"
    print(f"gpuflow parity — {name}, batch {args.batch_size}, seed {args.seed}: cpu (NumPy reference) vs {device}",
          flush=True)
    report = parity.run_parity(build, reference="cpu", other=runner, batch_size=args.batch_size, seed=args.seed,
                               rtol=args.tolerance, atol=args.atol)
    print("pass when max|other - ref| <= atol + rtol * max|ref|, per tensor (float32 tolerance)\n")
    print(report.table())
    print()
    print(report.verdict())
    if args.json:
        parity.write_json(report, args.json)
    return 0 if report.passed else 1


def _add_common_bench_args(p, default_peers="torch,keras"):
    p.add_argument("--device", type=_device_arg("cpu", "gpu", "emulator", any_gpu=False), default="cpu",
                   help="gpuflow's device: cpu (NumPy backend), gpu (CUDA kernels on GPU 0; CUDA_VISIBLE_DEVICES picks "
                        "another), emulator (CUDA kernels on the CPU emulator); peers run on the CPU or the GPU to "
                        "match (default cpu)")
    p.add_argument("--peers", type=_peers_arg, default=_peers_arg(default_peers), metavar="LIST",
                   help=f"peers measured in the same run: a subset of torch,keras, or none (default {default_peers})")
    p.add_argument("--keras-python", default=os.environ.get("GPUFLOW_BENCH_KERAS_PYTHON", sys.executable),
                   metavar="PATH", help="Python interpreter with Keras/TensorFlow (a separate virtual environment; "
                                        "default: $GPUFLOW_BENCH_KERAS_PYTHON, else this Python)")
    p.add_argument("--repeat", type=_positive_int, default=None,
                   help="timed samples per measurement (default: adaptive, within --max-time)")
    p.add_argument("--warmup", type=_non_negative_int, default=None,
                   help="untimed calls first (default: time-boxed, 1 to 3)")
    p.add_argument("--max-time", type=_positive_float, default=None, metavar="SECONDS",
                   help="time budget per measurement for the adaptive modes")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="intra-op threads for every framework (default: the CPUs this process may use)")
    p.add_argument("--tf32", choices=["on", "off"], default="off",
                   help="allow TF32 on a GPU in every framework: PyTorch's cuDNN/cuBLAS, TensorFlow and gpuflow's "
                        "tensor-core kernels (default off: FP32 everywhere); stated in the output")
    p.add_argument("--torch-layout", choices=["channels_last", "nchw"], default="channels_last",
                   help="PyTorch's memory layout (default channels_last, i.e. NHWC like gpuflow)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the inputs and weights (default 0)")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="write the result as JSON (gpuflow/bench/result.schema.json); '-' writes it to stdout "
                        "instead of the table")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def _add_bench_and_parity(sub, argv):
    command = "gpuflow " + shlex.join(argv)
    b = sub.add_parser("bench", help="compare speed with PyTorch and Keras: ops or a whole model",
                       description="Benchmarks against PyTorch and Keras, measured in the same run.")
    bsub = b.add_subparsers(dest="suite", required=True, metavar="{ops,model}")
    o = bsub.add_parser("ops", help="conv2d fwd/bwd, pooling fwd/bwd, fused Dense+ReLU fwd/bwd, matmul",
                        description="Each op at standard shapes (or --shape): median time, GFLOP/s, GB/s, fraction "
                                    "of the roofline, and the ratio to each peer.")
    o.add_argument("--op", type=_ops_arg, default=None, metavar="OPS",
                   help="comma-separated ops or families (conv2d, pool, max_pool, avg_pool, dense, all); "
                        "default all")
    o.add_argument("--shape", type=_shape_arg, action="append", default=None, metavar="SPEC",
                   help="a shape to run instead of the standard set (repeatable): 'NxHxWxC->F KxK [sS] "
                        "[same|valid]' (conv), 'NxHxWxC KxK [sS] [same|valid]' (pool), 'MxK->N' (dense), "
                        "'MxKxN' (matmul)")
    o.add_argument("--quick", action="store_true",
                   help="the seed CNN's shapes only and a 0.5 s budget per measurement")
    o.add_argument("--dtype", choices=["float32", "float64", "float16", "bfloat16"], default="float32",
                   help="the inputs' dtype for every framework (default float32). float16 and bfloat16 run gpuflow's "
                        "16-bit path (the tensor-core kernels with float32 accumulation on a GPU and the emulator; on "
                        "the CPU the NumPy backend, bfloat16 through ml-dtypes; on a GPU bfloat16 only the "
                        "convolutions and the dense forward) and the peers' 16-bit kernels")
    _add_common_bench_args(o)
    o.set_defaults(func=cmd_bench_ops, _parser=o, _command=command)
    m = bsub.add_parser("model", help="a whole training step and epoch: the seed CNN, a .keras file or a .py file",
                        description="Seconds per training step and per epoch, samples/s, peak memory and accuracy.")
    m.add_argument("--model", default=None, metavar="FILE",
                   help="a .keras/.h5 model, or a .py file defining build_model(keras) (default: the seed CNN)")
    m.add_argument("--batch-size", type=_positive_int, default=128, help="default 128")
    m.add_argument("--epochs", type=_non_negative_int, default=0,
                   help="full epochs to time and train before measuring test accuracy (default 0: step timing "
                        "only, epoch time estimated)")
    m.add_argument("--samples", type=_positive_int, default=None,
                   help="training samples per epoch (default 60000, all of Fashion-MNIST)")
    m.add_argument("--data", choices=["auto", "fashion_mnist", "synthetic"], default="auto",
                   help="auto: Fashion-MNIST when it fits the model and is installed, else synthetic")
    m.add_argument("--dtype", choices=["float32"], default="float32",
                   help="float32, the inputs' and variables' dtype (--mixed-precision computes in 16 bits)")
    m.add_argument("--mixed-precision", choices=["mixed_float16", "mixed_bfloat16"], default=None,
                   help="the Keras dtype policy for gpuflow and Keras (float32 variables, 16-bit compute, loss scaling "
                        "for mixed_float16) and torch.autocast in that dtype for PyTorch (with a GradScaler for "
                        "float16); default none: float32")
    m.add_argument("--graph", choices=["on", "off", "both"], default="on",
                   help="gpuflow's training step on the CUDA backend: replayed from a captured CUDA graph (on, the "
                        "default, as compile(jit_compile='auto')), eager (off), or both, one row each")
    _add_common_bench_args(m)
    m.set_defaults(func=cmd_bench_model, _parser=m, _command=command)
    p = sub.add_parser("parity", help="check the CUDA backend (GPU or emulator) against the NumPy reference, "
                                      "layer by layer",
                       description="Runs a model forward and backward on the NumPy reference and on the CUDA "
                                   "backend with the same inputs and weights; exits 1 naming the first layer past "
                                   "the tolerance.")
    p.add_argument("--model", default=None, metavar="FILE",
                   help="a .keras/.h5 model, or a .py file defining build_model(keras) (default: the seed CNN)")
    p.add_argument("--device", type=_device_arg("auto", "gpu", "emulator", any_gpu=False), default="auto",
                   help="the CUDA backend to check: gpu (GPU 0; CUDA_VISIBLE_DEVICES picks another) or emulator "
                        "(default auto: gpu if one answers, else the emulator)")
    p.add_argument("--tolerance", type=_positive_float, default=1e-4, metavar="RTOL",
                   help="relative tolerance against the largest reference magnitude of each tensor (default 1e-4)")
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (default 1e-6)")
    p.add_argument("--batch-size", type=_positive_int, default=4, help="default 4")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the input, the loss projection (default 0)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the comparison as JSON")
    p.set_defaults(func=cmd_parity, _parser=p)


def make_parser(argv=None):
    p = _OneLineParser(prog="gpuflow", description="gpuflow: train the seed CNN, show device info, "
                                "benchmark against PyTorch and Keras, check the CUDA backend's parity.")
    p.add_argument("--version", action="version", version=f"gpuflow {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the seed CNN on Fashion-MNIST and report test accuracy")
    t.add_argument("--epochs", type=_positive_int, default=10, help="training epochs (default 10)")
    t.add_argument("--batch-size", type=_positive_int, default=128, help="batch size (default 128)")
    t.add_argument("--learning-rate", type=_positive_float, default=1e-3, help="Adam learning rate (default 1e-3)")
    t.add_argument("--device", type=_device_arg("auto", "cpu", "gpu", "emulator"), default=None,
                   help="auto, cpu, gpu, gpu:N or emulator, as GPUFLOW_DEVICE takes them (default: GPUFLOW_DEVICE, "
                        "else auto)")
    t.add_argument("--subset", type=_positive_int, default=None, help="train on the first N images only")
    t.add_argument("--seed", type=_seed, default=None, help="random seed for reproducible runs (0 to 2**32 - 1)")
    t.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1 if sys.stdout.isatty() else 2,
                   help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 on a terminal, else 2)")
    t.add_argument("--strategy", choices=["none", "mirrored", "multi_worker"], default="none",
                   help="tf.distribute strategy: none, mirrored (one replica) or multi_worker (one replica per "
                        "process: `mpirun -np 2 gpuflow train --strategy multi_worker`; --batch-size is the global "
                        "batch). Default none")
    t.add_argument("--backup-dir", metavar="DIR", default=None,
                   help="back up every epoch to DIR (keras.callbacks.BackupAndRestore): the same command resumes an "
                        "interrupted run")
    t.add_argument("--save", metavar="PATH", default=None,
                   help="save the trained weights (PATH.weights.h5) or the whole model (PATH.keras, legacy PATH.h5); "
                        "checked before training")
    t.set_defaults(func=cmd_train, _parser=t)
    i = sub.add_parser("info", help="show the backend, device, versions in use and the optional packages found")
    i.set_defaults(func=cmd_info)
    _add_bench_and_parity(sub, list(sys.argv[1:] if argv is None else argv))
    from .serving.config import add_arguments as add_serve_arguments
    s = sub.add_parser("serve", help="serve models over TF Serving's REST and gRPC APIs (needs gpuflow[serve])")
    add_serve_arguments(s).set_defaults(func=cmd_serve, _parser=s)
    return p


def main(argv=None):
    args = make_parser(argv).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
