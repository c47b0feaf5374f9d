"""``gpuflow parity``: a model's forward and backward pass on the NumPy reference and on the CUDA
backend (a GPU or the CPU emulator), compared layer by layer.

Both sides build the same model (the seed CNN, a ``.keras``/``.h5`` file, or a Python file's
``build_model(keras)``), get the same weights (the reference's, copied with ``set_weights``) and the
same input (uniform in [0, 1), seeded), and compute ``loss = sum(output * P)`` for a fixed
random ``P`` (seeded; a projection reaches every output, whatever the model's head). Layers run
in inference mode (``training=False``), so dropout and the like are the identity on both sides.

Recorded for every layer call, in execution order: its output (activation), the gradient of the
loss with respect to each of its inputs, and with respect to each of its trainable weights. The
calls are seen through a :func:`gpuflow.keras.layers.base.call_hook`, which also keeps the model
from running fused ops (so each layer's own output exists). Each
tensor pair passes when ``max|other - ref| <= atol + rtol * max|ref|`` (a norm-wise float32
tolerance: summation order differs between a BLAS GEMM and a kernel's tiles, so element-wise
relative differences of values near zero mean nothing). ``max rel`` in the report is
``max|other - ref| / max|ref|``.

The culprit named on failure is where the difference *starts*: the first layer in forward order
whose output fails; if every output passes, the first layer in backward order (from the loss
towards the input) with a failing input or weight gradient.

The backend under test is pluggable: :func:`run_parity` takes the reference and the other side
each as a device name (``"cpu"``, ``"emulator"``, ``"gpu"``) or as a *runner*, a function
``runner(build, weights, seed, batch_size) -> Trace``; :func:`device_runner` makes the runner of a
device, and the CLI asks :func:`runner_for`. Tests inject a runner whose NumPy primitives are
deliberately perturbed.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Trace", "Check", "ParityReport", "trace_model", "device_runner", "runner_for", "run_parity",
           "compare", "seed_cnn_builder", "model_builder", "DEFAULT_RTOL", "DEFAULT_ATOL"]

DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-6


@dataclass
class LayerCall:
    name: str
    cls: str
    outputs: list  # NumPy arrays
    input_grads: list  # NumPy arrays or None
    weight_grads: list  # (weight name, NumPy array or None)


@dataclass
class Trace:
    """What one side computed: per layer call, outputs and gradients (NumPy), plus weights and input."""
    calls: list
    weights: list
    x: np.ndarray
    device: str = ""


@dataclass
class Check:
    layer: str
    cls: str
    tensor: str  # "output", "d input", "d kernel", ...
    phase: str  # "forward" | "backward"
    shape: tuple
    max_abs: float
    max_rel: float
    scale: float
    ok: bool
    note: str = ""


@dataclass
class ParityReport:
    checks: list
    rtol: float
    atol: float
    reference: str
    other: str
    culprit: Check | None = None
    extra: dict = field(default_factory=dict)

    @property
    def passed(self):
        return self.culprit is None

    def table(self):
        headers = ["layer", "class", "tensor", "shape", "max abs", "max rel", "status"]
        rows, last = [], None
        for c in self.checks:
            first = c.layer != last
            last = c.layer
            rows.append([c.layer if first else "", c.cls if first else "", c.tensor, str(c.shape),
                         f"{c.max_abs:.1e}", f"{c.max_rel:.1e}", ("ok" if c.ok else "FAIL") + (
                             f" ({c.note})" if c.note else "")])
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
        fmt = lambda cells: "  ".join(format(v, f"<{w}") for v, w in zip(cells, widths)).rstrip()  # noqa: E731
        return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])

    def verdict(self):
        n_layers = len({c.layer for c in self.checks})
        if self.passed:
            worst = max(self.checks, key=lambda c: c.max_rel, default=None)
            at = f" (largest relative difference {worst.max_rel:.1e}: {worst.layer} {worst.tensor})" if worst else ""
            return (f"PASS: {n_layers} layers, {len(self.checks)} tensors within rtol {self.rtol:g}, "
                    f"atol {self.atol:g}{at}")
        c = self.culprit
        where = "the first output past the tolerance, in forward order" if c.phase == "forward" else \
            "every output agrees; the first gradient past the tolerance, from the loss backwards"
        return (f"FAIL: layer '{c.layer}' ({c.cls}): {c.tensor} differs by {c.max_abs:.2e} (relative "
                f"{c.max_rel:.2e}; allowed {self.atol:g} + {self.rtol:g} x {c.scale:.2e})"
                + (f" [{c.note}]" if c.note else "") + f" — {where}")

    def to_dict(self):
        return {"reference": self.reference, "other": self.other, "rtol": self.rtol, "atol": self.atol,
                "passed": self.passed, "culprit": None if self.culprit is None else self.culprit.layer,
                "checks": [dict(c.__dict__, shape=list(c.shape)) for c in self.checks], **self.extra}


# -- tracing ------------------------------------------------------------------------------------
def _leaves(model):
    return [layer for layer in model._flatten_layers() if not list(layer._flatten_layers())]


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _flat(v)]
    return [x]


def trace_model(model, seed=0, batch_size=4, x=None):
    """Runs ``model`` forward and backward on the current device and records every layer call.

    Args:
        model: a built gpuflow Keras model.
        seed: seeds the input (uniform [0, 1)) and the loss projection.
        x: optional NumPy input (then ``batch_size`` is ignored).

    Returns:
        A :class:`Trace` (NumPy arrays).
    """
    import gpuflow as gf
    from .bench.model import input_shape_of
    from .keras.layers.base import call_hook
    if x is None:
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 1, size=(batch_size,) + input_shape_of(model)).astype(np.float32)
    calls = []
    leaves = {id(layer) for layer in _leaves(model)}

    def record(layer, inputs, outputs):
        if id(layer) in leaves:
            calls.append((layer, _flat(inputs), _flat(outputs)))
    with gf.GradientTape() as tape:
        xt = gf.constant(x)
        tape.watch(xt)
        with call_hook(record):  # also keeps the model from fusing layers: each layer's output exists
            out = model(xt, training=False)
        outs = _flat(out)
        proj_rng = np.random.default_rng(seed + 1)
        loss = gf.add_n([gf.reduce_sum(o * gf.constant(proj_rng.standard_normal(tuple(o.shape))
                                                      .astype(o.dtype.as_numpy_dtype)))
                         for o in outs])
    seen = set()
    weights_per_call = []
    for layer, _, _ in calls:
        ws = [] if id(layer) in seen else list(layer.trainable_weights)
        seen.add(id(layer))
        weights_per_call.append(ws)
    sources = [[list(ins), ws] for (_, ins, _), ws in zip(calls, weights_per_call)]
    grads = tape.gradient(loss, sources)
    np_ = lambda t: None if t is None else np.array(t.numpy())  # noqa: E731
    records = []
    for (layer, _, outs_), (g_in, g_w), ws in zip(calls, grads, weights_per_call):
        records.append(LayerCall(layer.name, type(layer).__name__, [np_(o) for o in outs_],
                                 [np_(g) for g in g_in],
                                 [(str(getattr(w, "name", f"weight {i}")).split("/")[-1].split(":")[0], np_(g))
                                  for i, (w, g) in enumerate(zip(ws, g_w))]))
    return Trace(records, [np.array(w) for w in model.get_weights()], x)


def device_runner(device):
    """The runner of a gpuflow device: builds the model there, sets the weights, traces."""
    def run(build, weights, seed, batch_size):
        import gpuflow as gf
        with gf.device(device):
            model = build()
            if weights is not None:
                model.set_weights(weights)
            trace = trace_model(model, seed, batch_size)
        trace.device = device
        return trace
    run.device = device
    return run


def runner_for(device):
    """The runner for ``--device`` (``gpu`` or ``emulator``).

    Raises:
        gpuflow.DeviceUnavailableError: the device cannot be used here (the reason is in the message).
    """
    from .device import DeviceUnavailableError, probe_cuda, probe_emulator
    if device == "gpu":
        ok, why = probe_cuda()
        spec = "gpu:0"
    elif device == "emulator":
        ok, why = probe_emulator()
        spec = "emulator"
    elif device == "cpu":
        ok, why, spec = True, "", "cpu"
    else:
        raise ValueError(f"unknown device {device!r}; expected 'gpu' or 'emulator'")
    if not ok:
        raise DeviceUnavailableError(f"device '{device}' cannot be used: {why}")
    return device_runner(spec)


# -- comparing ------------------------------------------------------------------------------------
def _check(layer, cls, tensor, phase, ref, other, rtol, atol):
    if ref is None and other is None:
        return None
    if ref is None or other is None:
        return Check(layer, cls, tensor, phase, (), math.inf, math.inf, 0.0, False,
                     "missing on the " + ("reference" if ref is None else "other") + " side")
    ref = np.asarray(ref, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    if ref.shape != other.shape:
        return Check(layer, cls, tensor, phase, ref.shape, math.inf, math.inf, 0.0, False,
                     f"shape {other.shape} vs reference {ref.shape}")
    if ref.size == 0:
        return Check(layer, cls, tensor, phase, ref.shape, 0.0, 0.0, 0.0, True)
    scale = float(np.nanmax(np.abs(ref))) if np.isfinite(ref).any() else 0.0
    nan_mismatch = bool(np.any(np.isnan(ref) != np.isnan(other)))
    diff = np.abs(other - ref)
    finite = np.isfinite(diff)
    max_abs = float(diff[finite].max()) if finite.any() else 0.0
    if nan_mismatch or not finite[~np.isnan(ref)].all():
        max_abs = math.inf
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    ok = max_abs <= atol + rtol * scale
    note = "NaN/inf where the reference is finite" if max_abs == math.inf else ""
    return Check(layer, cls, tensor, phase, ref.shape, max_abs, max_rel, scale, ok, note)


def compare(ref, other, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, reference_name="cpu", other_name="other"):
    """Compares two traces; returns a :class:`ParityReport` with the culprit named (see module doc).

    Raises:
        ValueError: the traces are of different models (layer calls differ).
    """
    if [c.cls for c in ref.calls] != [c.cls for c in other.calls]:
        raise ValueError(f"the two sides ran different layers: {[c.cls for c in ref.calls]} vs "
                         f"{[c.cls for c in other.calls]}")
    per_call = []
    for a, b in zip(ref.calls, other.calls):
        fwd = []
        for i, (ra, rb) in enumerate(zip(a.outputs, b.outputs)):
            fwd.append(_check(a.name, a.cls, "output" if len(a.outputs) == 1 else f"output {i}", "forward", ra, rb,
                              rtol, atol))
        bwd = []
        for i, (ra, rb) in enumerate(zip(a.input_grads, b.input_grads)):
            bwd.append(_check(a.name, a.cls, "d input" if len(a.input_grads) == 1 else f"d input {i}", "backward",
                              ra, rb, rtol, atol))
        for (wn, ra), (_, rb) in zip(a.weight_grads, b.weight_grads):
            bwd.append(_check(a.name, a.cls, f"d {wn}", "backward", ra, rb, rtol, atol))
        per_call.append(([c for c in fwd if c], [c for c in bwd if c]))
    checks = [c for fwd, bwd in per_call for c in fwd + bwd]
    culprit = next((c for fwd, _ in per_call for c in fwd if not c.ok), None)
    if culprit is None:
        for _, bwd in reversed(per_call):
            bad = [c for c in bwd if not c.ok]
            if bad:
                # within a layer, a weight gradient is computed from the incoming gradient alone: name it first
                culprit = next((c for c in bad if not c.tensor.startswith("d input")), bad[0])
                break
    return ParityReport(checks, rtol, atol, reference_name, other_name, culprit)


# -- models -----------------------------------------------------------------------------------------
def seed_cnn_builder():
    """A zero-argument builder of the seed CNN (:func:`gpuflow.zoo.build_seed_cnn`) with gpuflow.keras."""
    import gpuflow as gf
    from .zoo import build_seed_cnn
    return lambda: build_seed_cnn(gf.keras)


def model_builder(spec):
    """A zero-argument builder for ``spec`` ("seed", a .keras/.h5 file, or a .py with build_model).

    Raises:
        gpuflow.bench.model.ModelSpecError: a missing or unloadable file (checked once here).
    """
    if spec in (None, "seed"):
        return seed_cnn_builder()
    import gpuflow as gf
    from .bench.model import build_model_for
    with gf.device("cpu"):
        build_model_for(spec, gf.keras, "gpuflow")  # fail early, with the file's problem
    return lambda: build_model_for(spec, gf.keras, "gpuflow")


def run_parity(build=None, *, reference="cpu", other="emulator", batch_size=4, seed=0, rtol=DEFAULT_RTOL,
               atol=DEFAULT_ATOL):
    """Runs the model on both sides and compares them.

    Args:
        build: zero-argument model builder (default: the seed CNN).
        reference, other: a device name or a runner (see the module docstring).

    Returns:
        A :class:`ParityReport`.
    """
    build = build or seed_cnn_builder()
    ref_run = reference if callable(reference) else device_runner(reference)
    other_run = other if callable(other) else runner_for(other)
    ref = ref_run(build, None, seed, batch_size)
    oth = other_run(build, ref.weights, seed, batch_size)

    def name(run, given):
        if getattr(run, "device", None):
            return run.device
        return given if isinstance(given, str) else getattr(given, "__name__", "custom")
    report = compare(ref, oth, rtol, atol, name(ref_run, reference), name(other_run, other))
    report.extra = {"batch_size": batch_size, "seed": seed, "input_shape": list(ref.x.shape)}
    return report


def write_json(report, path):
    with open(path, "w") as f:
        json.dump(report.to_dict(), f, indent=2, default=float)
