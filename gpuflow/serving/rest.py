"""TF Serving's REST API on aiohttp.

- ``GET /v1/models/NAME[/versions/V | /labels/L]``: the model's version status
  (``{"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {...}}]}``).
- ``GET /v1/models/NAME[/versions/V | /labels/L]/metadata``: ``{"model_spec": {...}, "metadata":
  {"signature_def": {"signature_def": {"serving_default": {"inputs": ..., "outputs": ...}}}}}``.
- ``POST /v1/models/NAME[/versions/V | /labels/L]:predict`` with the row format
  ``{"signature_name": "serving_default", "instances": [...]}`` -> ``{"predictions": [...]}`` or the
  columnar format ``{"inputs": ...}`` -> ``{"outputs": ...}``. A model with one input takes plain values
  per instance (or ``{"NAME": value}``); several inputs take ``{"NAME": value, ...}`` per instance (row) or
  as ``inputs`` (columnar). One output answers with plain values; several with objects keyed by output
  name. Binary strings are ``{"b64": "..."}`` in both directions.
- ``GET /monitoring/prometheus/metrics``: see :mod:`gpuflow.serving.metrics`.

Errors are ``{"error": "..."}`` with status 400 (malformed JSON, wrong shape or dtype, unknown input
name), 404 (unknown model, version, label or path), 413 (a body over ``max_body_bytes``).
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import re
import time

import numpy as np
import orjson
from aiohttp import web

from . import messages, tensors
from .protos import model_pb2
from .tensors import ServingError, invalid

log = logging.getLogger("gpuflow.serving")
_SPEC = r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
_GET = re.compile(_SPEC + r"(?P<metadata>/metadata)?")
_POST = re.compile(_SPEC + r":(?P<method>\w+)")


def _error(status, message):
    return web.json_response({"error": message}, status=status)


class RestApi:
    """The aiohttp application of one server: ``manager`` (a :class:`~gpuflow.serving.manager.Manager`),
    ``runner`` (a :class:`~gpuflow.serving.batching.Runner`), ``metrics`` (a
    :class:`~gpuflow.serving.metrics.Metrics`)."""

    def __init__(self, manager, runner, metrics, max_body_bytes=64 << 20):
        self.manager, self.runner, self.metrics = manager, runner, metrics
        self.max_body_bytes = max_body_bytes
        self.app = web.Application(client_max_size=max_body_bytes)
        self.app.router.add_get("/monitoring/prometheus/metrics", self.prometheus)
        self.app.router.add_route("*", "/{path:.*}", self.dispatch)

    async def prometheus(self, request):
        body, content_type = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def dispatch(self, request):
        path = request.path
        try:
            if request.method == "GET" and (m := _GET.fullmatch(path)):
                return await self.get(m)
            if request.method == "POST" and (m := _POST.fullmatch(path)):
                return await self.predict(request, m)
            raise ServingError("NOT_FOUND", f"Malformed request: {request.method} {path}")
        except ServingError as e:
            return _error(e.http_status, e.message)
        except (ConnectionError, asyncio.CancelledError):
            raise  # the client went away (mid-body, say): nothing to answer
        except Exception as e:  # a model that fails on these inputs: this request's error only
            log.exception("%s %s failed", request.method, path)
            return _error(500, f"{type(e).__name__}: {e}")

    async def get(self, m):
        name, version, label = m["name"], m["version"], m["label"]
        if not m["metadata"]:
            return web.json_response(messages.to_dict(messages.status_response(self.manager, name, version, label)))
        with self.manager.acquire(name, version, label) as servable:
            spec = messages.to_dict(messages.model_spec(model_pb2.ModelSpec(), servable))
            sigs = messages.to_dict(messages.signature_def_map(servable))
        return web.json_response({"model_spec": spec, "metadata": {"signature_def": sigs}})

    async def _body(self, request):
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise ServingError("RESOURCE_EXHAUSTED", f"Request body of {request.content_length} bytes is over the "
                                                     f"limit of {self.max_body_bytes} bytes (--max_body_bytes)")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ServingError("RESOURCE_EXHAUSTED", f"Request body is over the limit of {self.max_body_bytes} "
                                                     f"bytes (--max_body_bytes)") from None
        return body

    async def predict(self, request, m):
        start = time.perf_counter()
        name, status = m["name"], "INVALID_ARGUMENT"
        try:
            if m["method"] != "predict":
                raise invalid(f"gpuflow serves the predict method only (a serving_default predict signature). "
                              f"Received: :{m['method']}")
            body = await self._body(request)
            with self.manager.acquire(name, m["version"], m["label"]) as servable:
                fast = _fast_decode(body, servable.signature)
                if fast is not None:
                    signature_name, row_format, arrays = fast
                else:
                    doc = _loads(body)
                    if not isinstance(doc, dict):
                        raise invalid(f"Expected a JSON object with \"instances\" or \"inputs\". "
                                      f"Received: {type(doc).__name__}")
                    signature_name, row_format = doc.get("signature_name", ""), _row_format(doc)
                    arrays = _decode(doc["instances"] if row_format else doc["inputs"], servable.signature,
                                     row_format)
                messages.check_signature_name(signature_name)
                inputs, rows = servable.signature.check_inputs(arrays)
                outputs = await self.runner.run(servable, inputs, rows)
            status = "OK"
            return web.Response(body=_dumps(_encode(outputs, row_format), outputs), content_type="application/json")
        except ServingError as e:
            status = e.code
            raise
        except Exception:
            status = "INTERNAL"
            raise
        finally:
            known = name if name in self.manager.model_names else "<unknown>"
            self.metrics.record(known, "predict", status, time.perf_counter() - start)


# A request whose only fields are a plain numeric array (any nesting) under "instances" or "inputs" and an
# optional signature_name: the common single-input request, decoded without building its nested lists.
_NUMERIC = rb"(\[[-+.eE0-9\s,\[\]]*\])"
_SIGNATURE = rb'\s*"signature_name"\s*:\s*"([A-Za-z0-9_./-]*)"\s*'
_FAST = re.compile(rb'\s*\{(?:' + _SIGNATURE + rb',)?\s*"(instances|inputs)"\s*:\s*' + _NUMERIC +
                   rb'\s*(?:,' + _SIGNATURE + rb')?\}\s*')
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[],")


@functools.lru_cache(maxsize=64)
def _skeleton(shape):
    """The brackets and commas of a JSON array of ``shape`` (numbers and spaces removed)."""
    if len(shape) == 1:
        return b"[" + b"," * (shape[0] - 1) + b"]"
    return b"[" + b",".join([_skeleton(shape[1:])] * shape[0]) + b"]"


def _fast_decode(body, signature):
    """``(signature_name, row_format, {input name: array})`` of a single-input float request that is one
    numeric array (see ``_FAST``), ~5x faster than parsing nested lists; None for any other request (the
    general path decodes it, with its errors). The array's brackets must be exactly those of an array of
    shape ``(rows, *input shape[1:])``, and its numbers valid JSON numbers."""
    if len(signature.inputs) != 1:
        return None
    spec = signature.inputs[0]
    inner = spec.shape[1:]
    if spec.dtype.kind != "f" or any(d is None for d in inner):
        return None
    m = _FAST.fullmatch(body)
    if m is None:
        return None
    text = m.group(3)
    try:
        values = np.array(orjson.loads(b"[" + text.translate(None, b"[]") + b"]"), dtype=np.float64)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return None
    row = math.prod(inner)
    if values.ndim != 1 or not values.size or not row or values.size % row:
        return None
    shape = (values.size // row, *inner)
    if text.translate(None, _NOT_BRACKETS) != _skeleton(shape):
        return None
    name = (m.group(1) or m.group(4) or b"").decode()
    return name, m.group(2) == b"instances", {spec.name: values.astype(spec.dtype).reshape(shape)}


def _loads(body):
    """The JSON document of a request body: orjson (a 7 KB image parses ~3x faster than with json), and json
    for what orjson refuses but TF Serving reads (NaN, Infinity).

    Raises:
        ServingError: INVALID_ARGUMENT, "JSON Parse error: ..." as TF Serving words it.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise invalid(f"JSON Parse error: {e}") from None


def _dumps(doc, arrays):
    """The response body: orjson, or json when an output holds NaN or infinity (orjson would write null;
    TF Serving writes NaN, Infinity)."""
    if all(a.dtype.kind not in "fc" or np.isfinite(a).all() for a in arrays.values()):
        return orjson.dumps(doc)
    return json.dumps(doc, separators=(",", ":")).encode()


def _row_format(doc):
    has_rows, has_cols = "instances" in doc, "inputs" in doc
    if has_rows == has_cols:
        raise invalid('Expected exactly one of "instances" (row format) and "inputs" (columnar format). Received: '
                      + ("both" if has_rows else f"keys {sorted(doc)}"))
    return has_rows


def _named(value):
    return isinstance(value, dict) and set(value) != {"b64"}


def _decode(value, signature, row_format):
    """dict input name -> array of a request's "instances" or "inputs" value."""
    specs = signature.inputs
    if row_format:
        if not isinstance(value, list) or not value:
            raise invalid("Expected \"instances\" to be a non-empty list. Received: "
                          + (f"{type(value).__name__}" if not isinstance(value, list) else "an empty list"))
        if not any(_named(v) for v in value):
            if len(specs) != 1:
                raise invalid(f"The model takes inputs {[s.name for s in specs]}: each instance must be an "
                              f"object keyed by input name")
            return {specs[0].name: tensors.from_json(value, specs[0].dtype, specs[0].name)}
        if not all(_named(v) and v.keys() == value[0].keys() for v in value):
            raise invalid("Expected every instance to be an object with the same input names")
        return {k: tensors.from_json([v[k] for v in value], _dtype(signature, k), k) for k in value[0]}
    if _named(value):
        return {k: tensors.from_json(v, _dtype(signature, k), k) for k, v in value.items()}
    if len(specs) != 1:
        raise invalid(f"The model takes inputs {[s.name for s in specs]}: \"inputs\" must be an object keyed by "
                      f"input name")
    return {specs[0].name: tensors.from_json(value, specs[0].dtype, specs[0].name)}


def _dtype(signature, name):
    spec = signature.input_names.get(name)
    if spec is None:
        raise invalid(f"Expected inputs {[s.name for s in signature.inputs]}. Received: unknown input {name!r}")
    return spec.dtype


def _encode(outputs, row_format):
    values = {k: tensors.to_json(v) for k, v in outputs.items()}
    if not row_format:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    rows = len(next(iter(values.values())))
    return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(rows)]}
