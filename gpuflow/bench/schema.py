"""The JSON schema of ``gpuflow bench --json`` results, and a small validator for it.

The schema (JSON Schema 2020-12) is written here as a Python dict, the one source of truth; the
file ``gpuflow/bench/result.schema.json`` is the same schema for other tools
(``python -m gpuflow.bench.schema > gpuflow/bench/result.schema.json`` rewrites it; a test checks
that the two agree). The validator implements the keywords the schema uses (``type``, ``enum``,
``const``, ``properties``, ``required``, ``additionalProperties``, ``items``, ``minimum``,
``maximum``, ``pattern``, ``$ref``, ``allOf``, ``anyOf``, ``if``/``then``), so that NumPy stays
gpuflow's only dependency; ``jsonschema``, where installed, accepts the same documents.
"""
from __future__ import annotations

import json
import re
import sys

__all__ = ["SCHEMA", "SCHEMA_ID", "validate", "check"]

SCHEMA_ID = "gpuflow-bench/1"

_NUM_OR_NULL = {"type": ["number", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_STR_OR_NULL = {"type": ["string", "null"]}


def _n(desc, minimum=0):
    return {"type": "number", "minimum": minimum, "description": desc}


_STATS = {
    "median_s": _n("median seconds per call (per training step in the model suite)"),
    "q1_s": _n("first quartile, seconds per call"),
    "q3_s": _n("third quartile, seconds per call"),
    "iqr_s": _n("interquartile range q3 - q1, seconds: the spread"),
    "min_s": _n("fastest sample, seconds per call"),
    "mean_s": _n("mean, seconds per call"),
    "repeats": {"type": "integer", "minimum": 1, "description": "timed samples"},
    "number": {"type": "integer", "minimum": 1, "description": "back-to-back calls per sample"},
    "warmup": {"type": "integer", "minimum": 0, "description": "untimed calls before the samples"},
    "clock": {"enum": ["wall", "cuda_events"],
              "description": "wall: perf_counter with a device synchronize; cuda_events: CUDA events"},
}
_STATS_REQUIRED = ["median_s", "q1_s", "q3_s", "iqr_s", "min_s", "repeats", "number", "warmup", "clock"]

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gpuflow bench result",
    "description": "One run of `gpuflow bench ops` or `gpuflow bench model --json FILE`: the machine and "
                   "software it ran on, the settings, and one result row per measured case and framework. "
                   "Times are seconds, rates GFLOP/s and GB/s (1e9), memory bytes.",
    "type": "object",
    "anyOf": [{"$ref": "#/$defs/opsDocument"}, {"$ref": "#/$defs/modelDocument"}],
    "$defs": {
        "common": {
            "type": "object",
            "required": ["schema", "suite", "command", "environment", "settings", "peers", "results"],
            "properties": {
                "schema": {"const": SCHEMA_ID, "description": "format name and version"},
                "suite": {"enum": ["ops", "model"]},
                "command": {"type": "string", "description": "the command line that produced this file"},
                "environment": {"$ref": "#/$defs/environment"},
                "settings": {"$ref": "#/$defs/settings"},
                "peers": {"type": "object", "additionalProperties": {"$ref": "#/$defs/peer"},
                          "description": "each peer asked for (torch, keras): measured, or why not"},
                "results": {"type": "array"},
            },
        },
        "opsDocument": {"allOf": [{"$ref": "#/$defs/common"}, {
            "required": ["peak"],
            "properties": {"suite": {"const": "ops"}, "peak": {"$ref": "#/$defs/peak"},
                           "results": {"type": "array", "items": {"$ref": "#/$defs/opsResult"}}}}]},
        "modelDocument": {"allOf": [{"$ref": "#/$defs/common"}, {
            "required": ["model", "data"],
            "properties": {"suite": {"const": "model"}, "model": {"$ref": "#/$defs/model"},
                           "data": {"$ref": "#/$defs/data"},
                           "results": {"type": "array", "items": {"$ref": "#/$defs/modelResult"}}}}]},
        "environment": {
            "type": "object",
            "required": ["date", "git_commit", "gpuflow", "python", "numpy", "blas", "cpu", "cpu_count", "threads",
                         "device"],
            "properties": {
                "date": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d",
                         "description": "start of the run, ISO 8601, UTC"},
                "git_commit": {**_STR_OR_NULL, "description": "commit of the gpuflow checkout (null: not a checkout)"},
                "git_dirty": {"type": ["boolean", "null"], "description": "tracked files had local changes"},
                "gpuflow": {"type": "string"}, "python": {"type": "string"}, "platform": {"type": "string"},
                "numpy": {"type": "string"},
                "cpu": {"type": "string", "description": "CPU model"},
                "cpu_vector_extensions": {"type": "array", "items": {"type": "string"},
                                          "description": "SIMD extensions of the CPU (/proc/cpuinfo flags)"},
                "cpu_count": {"type": "integer", "minimum": 1},
                "threads": {"type": "integer", "minimum": 1,
                            "description": "intra-op threads given to every framework"},
                "blas": {"type": "object", "required": ["library", "threads"], "properties": {
                    "library": _STR_OR_NULL, "version": _STR_OR_NULL, "config": _STR_OR_NULL,
                    "threads": _INT_OR_NULL, "path": _STR_OR_NULL}},
                "device": {"type": "object", "required": ["kind", "name"], "properties": {
                    "kind": {"enum": ["cpu", "gpu", "emulator"]},
                    "name": {"type": "string", "description": "CPU model or CUDA device name"},
                    "compute_capability": {"type": "string"}, "memory_bytes": {"type": "integer"},
                    "driver": _STR_OR_NULL, "cuda_driver": _STR_OR_NULL, "cuda_runtime": _STR_OR_NULL,
                    "cupy": {"type": "string"}}},
            },
        },
        "settings": {
            "type": "object",
            "required": ["device", "dtype", "threads", "warmup", "repeat", "max_time_s", "tf32", "peers"],
            "properties": {
                "device": {"enum": ["cpu", "gpu", "emulator"]},
                "dtype": {"enum": ["float32", "float64", "float16", "bfloat16"]},
                "threads": {"type": "integer", "minimum": 1},
                "warmup": {**_INT_OR_NULL, "description": "null: time-boxed (1 to 3 calls)"},
                "repeat": {**_INT_OR_NULL, "description": "null: adaptive within max_time_s"},
                "max_time_s": _n("time budget per measurement in the adaptive modes"),
                "tf32": {"type": "boolean", "description": "TF32 allowed for PyTorch and TensorFlow on a GPU"},
                "torch_layout": {"enum": ["channels_last", "nchw"]},
                "peers": {"type": "array", "items": {"enum": ["torch", "keras"]}},
                "shape_set": {"type": "string"}, "seed": {"type": "integer"},
                "mixed_precision": {"enum": [None, "mixed_float16", "mixed_bfloat16"],
                                    "description": "model suite: the Keras dtype policy (torch.autocast for PyTorch); "
                                                   "null: float32"},
            },
        },
        "peer": {
            "type": "object", "required": ["status"],
            "properties": {
                "status": {"enum": ["ok", "not installed", "unavailable", "failed", "unsupported"]},
                "version": {"type": "string"}, "detail": _STR_OR_NULL,
                "tf32": {"type": ["boolean", "null"]}, "threads": {"type": "integer"},
                "layout": {"type": "string"},
            },
        },
        "peak": {
            "type": "object", "required": ["label", "source", "fp32_gflops", "bandwidth_gbs"],
            "description": "the roofline's peak: datasheet (GPU table), measured (CPU, in this run) or unknown",
            "properties": {
                "label": {"type": "string"}, "source": {"enum": ["datasheet", "measured", "unknown"]},
                "fp32_gflops": _NUM_OR_NULL, "tf32_gflops": _NUM_OR_NULL, "fp64_gflops": _NUM_OR_NULL,
                "fp16_gflops": _NUM_OR_NULL, "bf16_gflops": _NUM_OR_NULL,
                "bandwidth_gbs": _NUM_OR_NULL, "method": {"type": "string"},
            },
        },
        "opsResult": {
            "type": "object",
            "required": ["op", "shape", "kind", "dtype", "framework", "flops", "bytes", "status"],
            "properties": {
                "op": {"enum": ["conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter", "max_pool_fwd", "max_pool_bwd",
                                "avg_pool_fwd", "avg_pool_bwd", "dense_relu_fwd", "dense_relu_bwd", "matmul"]},
                "shape": {"type": "string", "description": "in the --shape grammar, e.g. '128x28x28x32->64 3x3 same'"},
                "kind": {"enum": ["conv", "pool", "dense", "matmul"]},
                "dtype": {"enum": ["float32", "float64", "float16", "bfloat16"]},
                "framework": {"enum": ["gpuflow", "torch", "keras"]},
                "flops": {"type": "integer", "minimum": 0, "description": "floating-point operations of one call"},
                "bytes": {"type": "integer", "minimum": 0, "description": "minimum bytes one call must move"},
                "status": {"enum": ["ok", "failed", "unsupported"]},
                "detail": {"type": "string"},
                **_STATS,
                "precision": {"enum": ["fp32", "tf32", "fp16", "bf16", "fp64"], "description":
                              "the arithmetic run: fp16/bf16 = 16-bit operands, float32 accumulation (16-bit "
                              "kernels); fp32 = float32 kernels (for 16-bit inputs: widened, result rounded back)"},
                "gflops": {**_NUM_OR_NULL, "description": "flops / median / 1e9"},
                "gbs": {**_NUM_OR_NULL, "description": "bytes / median / 1e9"},
                "roofline_fraction": {**_NUM_OR_NULL, "description":
                                      "max(flops/peak rate, bytes/bandwidth) / median; null: peak unknown"},
                "bound": {"enum": ["compute", "memory", None]},
                "ratio_gpuflow_over_peer": {**_NUM_OR_NULL, "description":
                                            "gpuflow's median / this peer's median (above 1: gpuflow slower); "
                                            "null on gpuflow's own rows"},
            },
            "if": {"properties": {"status": {"const": "ok"}}},
            "then": {"required": _STATS_REQUIRED + ["precision", "gflops", "gbs", "roofline_fraction"]},
        },
        "model": {
            "type": "object", "required": ["name", "input_shape", "classes", "params"],
            "properties": {"name": {"type": "string"}, "spec": {"type": "string"},
                           "input_shape": {"type": "array", "items": {"type": "integer"}},
                           "classes": {"type": "integer", "minimum": 1}, "params": {"type": "integer", "minimum": 0}},
        },
        "data": {
            "type": "object", "required": ["kind", "samples", "batch_size", "epochs"],
            "properties": {"kind": {"enum": ["fashion_mnist", "synthetic"]}, "note": {"type": "string"},
                           "samples": {"type": "integer", "minimum": 1,
                                       "description": "training samples per epoch"},
                           "batch_size": {"type": "integer", "minimum": 1},
                           "epochs": {"type": "integer", "minimum": 0}},
        },
        "modelResult": {
            "type": "object", "required": ["framework", "status"],
            "properties": {
                "framework": {"enum": ["gpuflow", "torch", "keras"]},
                "status": {"enum": ["ok", "failed", "not installed", "unavailable", "unsupported"]},
                "detail": {"type": "string"}, "version": {"type": "string"},
                "params": {"type": "integer", "minimum": 0},
                "policy": {"type": "string", "description": "the dtype policy the model ran (PyTorch: the autocast)"},
                "step": {"type": "object", "required": _STATS_REQUIRED, "properties": _STATS,
                         "description": "seconds per training step"},
                "samples_per_s": _n("batch size / median step time"),
                "steps_per_epoch": {"type": "integer", "minimum": 1},
                "epoch_s": _n("median measured epoch, or median step x steps per epoch (see epoch_source)"),
                "epoch_source": {"enum": ["measured", "estimated"]},
                "epoch_times_s": {"type": "array", "items": {"type": "number", "minimum": 0}},
                "accuracy": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                             "description": "test accuracy after the epochs (real data only)"},
                "train_samples": {"type": "integer"}, "test_samples": _INT_OR_NULL,
                "peak_memory_bytes": _INT_OR_NULL, "peak_memory_kind": {"type": "string"},
                "rss_before_bytes": _INT_OR_NULL,
                "ratio_gpuflow_over_peer": {**_NUM_OR_NULL, "description":
                                            "gpuflow's median step / this peer's (above 1: gpuflow slower)"},
            },
            "if": {"properties": {"status": {"const": "ok"}}},
            "then": {"required": ["step", "samples_per_s", "epoch_s", "epoch_source", "peak_memory_bytes"]},
        },
    },
}


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _resolve(ref, root):
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, got {ref}")
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _validate(v, s, root, path, errors):
    if "$ref" in s:
        _validate(v, _resolve(s["$ref"], root), root, path, errors)
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_TYPES[t](v) for t in types):
            errors.append(f"{path}: expected {' or '.join(types)}, got {type(v).__name__} {v!r:.60}")
            return
    if "const" in s and v != s["const"]:
        errors.append(f"{path}: expected {s['const']!r}, got {v!r:.60}")
    if "enum" in s and v not in s["enum"]:
        errors.append(f"{path}: {v!r:.60} is not one of {s['enum']}")
    if _TYPES["number"](v):
        if "minimum" in s and v < s["minimum"]:
            errors.append(f"{path}: {v} is below the minimum {s['minimum']}")
        if "maximum" in s and v > s["maximum"]:
            errors.append(f"{path}: {v} is above the maximum {s['maximum']}")
    if isinstance(v, str) and "pattern" in s and not re.search(s["pattern"], v):
        errors.append(f"{path}: {v!r:.60} does not match {s['pattern']}")
    if isinstance(v, dict):
        for key in s.get("required", []):
            if key not in v:
                errors.append(f"{path}: missing required property {key!r}")
        props = s.get("properties", {})
        for key, sub in props.items():
            if key in v:
                _validate(v[key], sub, root, f"{path}.{key}", errors)
        extra = s.get("additionalProperties", True)
        for key in v:
            if key not in props:
                if extra is False:
                    errors.append(f"{path}: unexpected property {key!r}")
                elif isinstance(extra, dict):
                    _validate(v[key], extra, root, f"{path}.{key}", errors)
    if isinstance(v, list) and "items" in s:
        for i, item in enumerate(v):
            _validate(item, s["items"], root, f"{path}[{i}]", errors)
    for sub in s.get("allOf", []):
        _validate(v, sub, root, path, errors)
    if "anyOf" in s:
        branches = []
        for sub in s["anyOf"]:
            e = []
            _validate(v, sub, root, path, e)
            if not e:
                break
            branches.append(e)
        else:
            errors.extend(min(branches, key=len))
    if "if" in s:
        e = []
        _validate(v, s["if"], root, path, e)
        if not e and "then" in s:
            _validate(v, s["then"], root, path, errors)
        elif e and "else" in s:
            _validate(v, s["else"], root, path, errors)


def validate(document, schema=None):
    """Validates ``document`` against the schema; returns a list of error strings (empty: valid)."""
    schema = schema or SCHEMA
    errors = []
    _validate(document, schema, schema, "$", errors)
    return errors


def check(document):
    """Raises ValueError listing the first errors if ``document`` does not validate."""
    errors = validate(document)
    if errors:
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ValueError("benchmark result does not match the schema: " + "; ".join(errors[:5]) + more)


def main():
    json.dump(SCHEMA, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
