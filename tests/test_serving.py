"""gpuflow serve, REST API: predictions equal model.predict (row and columnar formats, a two-input
two-output model), status and metadata documents, error codes, the model config file, Model.export,
and `gpuflow serve` without the extra. Everything on 127.0.0.1 with ephemeral ports."""
from __future__ import annotations

import json
import os
import socket
import urllib.request

import numpy as np
import pytest

from gpuflow import serving

if serving.missing_modules():
    pytest.skip(f"the serve extra is not installed ({serving.INSTALL_HINT})", allow_module_level=True)

from gpuflow import cli  # noqa: E402
from gpuflow.serving import config as serving_config  # noqa: E402
from gpuflow.serving.server import serve_in_thread  # noqa: E402
from serving_utils import call, config, export, predict, rand, tiny_dense, two_in_two_out  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server with 'dense' (Input x (3,) -> Dense y (2,)) and 'pair' (two inputs, two outputs)."""
    base = tmp_path_factory.mktemp("models")
    dense, pair = tiny_dense(), two_in_two_out()
    export(dense, base / "dense", 1)
    export(pair, base / "pair", 1)
    with serve_in_thread([config("dense", base / "dense"), config("pair", base / "pair")], port=0,
                         poll_wait_seconds=0, max_body_bytes=4096) as server:
        yield server, dense, pair


def test_row_and_columnar_formats_equal_predict(served):
    server, dense, _ = served
    x = rand(5, 3)
    want = dense.predict(x, verbose=0)
    status, doc = predict(server.rest_port, "dense", {"signature_name": "serving_default", "instances": x.tolist()})
    assert status == 200 and np.allclose(doc["predictions"], want, atol=1e-6)
    status, doc = predict(server.rest_port, "dense", {"inputs": x.tolist()})
    assert status == 200 and np.allclose(doc["outputs"], want, atol=1e-6)
    status, doc = predict(server.rest_port, "dense", {"instances": [{"x": r} for r in x.tolist()]})
    assert status == 200 and np.allclose(doc["predictions"], want, atol=1e-6)
    status, doc = predict(server.rest_port, "dense", {"inputs": {"x": x.tolist()}}, suffix="/versions/1")
    assert status == 200 and np.allclose(doc["outputs"], want, atol=1e-6)


def test_two_inputs_two_outputs(served):
    server, _, pair = served
    a, b = rand(4, 3, seed=1), rand(4, 2, seed=2)
    o1, o2 = pair.predict([a, b], verbose=0)
    status, doc = predict(server.rest_port, "pair",
                          {"instances": [{"a": ra, "b": rb} for ra, rb in zip(a.tolist(), b.tolist())]})
    assert status == 200 and len(doc["predictions"]) == 4
    assert np.allclose([p["o1"] for p in doc["predictions"]], o1, atol=1e-6)
    assert np.allclose([p["o2"] for p in doc["predictions"]], o2, atol=1e-6)
    status, doc = predict(server.rest_port, "pair", {"inputs": {"a": a.tolist(), "b": b.tolist()}})
    assert status == 200 and set(doc["outputs"]) == {"o1", "o2"}
    assert np.allclose(doc["outputs"]["o1"], o1, atol=1e-6) and np.allclose(doc["outputs"]["o2"], o2, atol=1e-6)


def test_status_and_metadata_documents(served):
    port = served[0].rest_port
    status, doc = call(f"http://127.0.0.1:{port}/v1/models/dense")
    assert status == 200 and doc == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    assert call(f"http://127.0.0.1:{port}/v1/models/dense/versions/1")[1] == doc
    status, doc = call(f"http://127.0.0.1:{port}/v1/models/pair/metadata")
    assert status == 200 and doc["model_spec"] == {"name": "pair", "version": "1", "signature_name": ""}
    sig = doc["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert {k: (v["dtype"], [d["size"] for d in v["tensor_shape"]["dim"]]) for k, v in sig["inputs"].items()} == {
        "a": ("DT_FLOAT", ["-1", "3"]), "b": ("DT_FLOAT", ["-1", "2"])}
    assert {k: [d["size"] for d in v["tensor_shape"]["dim"]] for k, v in sig["outputs"].items()} == {
        "o1": ["-1", "2"], "o2": ["-1", "1"]}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/monitoring/prometheus/metrics", timeout=10) as r:
        text = r.read().decode()
    assert ':tensorflow:serving:request_count_total{api="predict",model_name="dense",status="OK"}' in text
    assert ":tensorflow:serving:batch_size_bucket" in text


@pytest.mark.parametrize("path,body,code,words", [
    ("dense", None, 400, "JSON Parse error"),
    ("dense", {"instances": [[1.0, 2.0]]}, 400, "expects shape (None, 3)"),
    ("dense", {"instances": [[1.0, 2.0, 3.0], [1.0]]}, 400, "rows of equal length"),
    ("dense", {"instances": [["a", "b", "c"]]}, 400, "list of numbers"),
    ("dense", {"inputs": {"z": [[1.0, 2.0, 3.0]]}}, 400, "unknown input 'z'"),
    ("dense", {"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]}, 400, "exactly one of"),
    ("dense", {"signature_name": "other", "instances": [[1, 2, 3]]}, 400, 'name: "other" not found'),
    ("pair", {"instances": [[1, 2, 3]]}, 400, "object keyed by input name"),
    ("pair", {"inputs": {"a": [[1, 2, 3]]}}, 400, "missing: ['b']"),
    ("nope", {"instances": [[1, 2, 3]]}, 404, "Servable not found for request: Latest(nope)"),
    ("dense/versions/7", {"instances": [[1, 2, 3]]}, 404, "Specific(dense, 7)"),
    ("dense/labels/stable", {"instances": [[1, 2, 3]]}, 404, "label: stable"),
    ("dense", {"instances": [[0.5] * 3] * 400}, 413, "over the limit of 4096 bytes"),
])
def test_bad_requests_get_their_codes(served, path, body, code, words):
    port = served[0].rest_port
    status, doc = call(f"http://127.0.0.1:{port}/v1/models/{path}:predict", raw=b"{bad" if body is None else None,
                       body=body)
    assert status == code and words in doc["error"], doc
    assert predict(port, "dense", {"instances": [[1, 2, 3]]})[0] == 200  # the server goes on serving


def test_unknown_paths_are_404(served):
    port = served[0].rest_port
    for path in ("/v1/models/dense:explain", "/v2/models/dense", "/v1/models/dense/versions/x"):
        status, doc = call(f"http://127.0.0.1:{port}{path}", body={} if ":" in path else None)
        assert status in (400, 404) and "error" in doc, (path, status, doc)


def test_client_disconnecting_mid_body(served):
    port = served[0].rest_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /v1/models/dense:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2000\r\n\r\n{\"instances\": [[1, 2")
    assert predict(port, "dense", {"instances": [[1, 2, 3]]})[0] == 200


def test_model_config_file_text_and_json(tmp_path):
    text = tmp_path / "models.config"
    text.write_text('model_config_list { config { name: "a" base_path: "/m/a" model_platform: "tensorflow" '
                    'model_version_policy { latest { num_versions: 2 } } '
                    'version_labels { key: "stable" value: 1 } } config { name: "b" base_path: "/m/b" } }')
    cfg = serving_config.load_config_file(str(text)).model_config_list.config
    assert [c.name for c in cfg] == ["a", "b"] and cfg[0].model_version_policy.latest.num_versions == 2
    assert dict(cfg[0].version_labels) == {"stable": 1}
    js = tmp_path / "models.json"
    js.write_text(json.dumps({"model_config_list": {"config": [
        {"name": "a", "base_path": "/m/a", "model_version_policy": {"specific": {"versions": ["1", 3]}}}]}}))
    cfg = serving_config.load_config_file(str(js)).model_config_list.config
    assert list(cfg[0].model_version_policy.specific.versions) == [1, 3]
    bad = tmp_path / "bad.config"
    bad.write_text('model_config_list { config { name: "a" } }')
    with pytest.raises(ValueError, match="needs a name and a base_path"):
        serving_config.load_config_file(str(bad))
    bad.write_text('model_config_list { config { nme: "a" } }')
    with pytest.raises(ValueError, match="not a ModelServerConfig"):
        serving_config.load_config_file(str(bad))


def test_export_layout_and_formats(tmp_path):
    model = tiny_dense()
    model.export(tmp_path / "m" / "3", verbose=False)
    assert os.listdir(tmp_path / "m" / "3") == ["model.keras"]
    from gpuflow import keras
    x = rand(2, 3)
    assert np.allclose(keras.models.load_model(tmp_path / "m" / "3" / "model.keras").predict(x, verbose=0),
                       model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="SavedModel needs TensorFlow.*Received: format='tf_saved_model'"):
        model.export(tmp_path / "s", format="tf_saved_model")
    with pytest.raises(ValueError, match="Received: format='onnx'"):
        model.export(tmp_path / "s", format="onnx")


def test_serve_without_the_extra_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setattr(serving, "missing_modules", lambda: ["aiohttp"])
    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--model_base_path", "/nowhere"])
    assert e.value.code == 2 and "pip install 'gpuflow[serve]'" in capsys.readouterr().err


def test_serve_needs_a_model(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve"])
    assert "Expected --model_base_path" in capsys.readouterr().err


def test_the_test_extra_installs_the_serve_extra():
    """CI installs '.[test]': the serving tests must run there, not skip."""
    import pathlib
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    from packaging.requirements import Requirement
    extras = tomllib.loads((pathlib.Path(__file__).parent.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(extras["serve"]) <= set(extras["test"])
    assert {Requirement(r).name for r in extras["serve"]} == {"aiohttp", "grpcio", "protobuf", "prometheus-client",
                                                              "orjson"}


def test_nan_in_and_out_as_tf_serving_writes_it(served):
    """orjson refuses NaN; the server falls back to json both ways, so NaN reads and writes as TF Serving's."""
    port = served[0].rest_port
    status, doc = call(f"http://127.0.0.1:{port}/v1/models/dense:predict", raw=b'{"instances": [[NaN, 1.0, 2.0]]}')
    assert status == 200 and np.isnan(doc["predictions"]).all()


@pytest.mark.parametrize("body,taken", [
    (b'{"instances": [[1, 2.5, -3e-2], [4, 5, 6]]}', True),
    (b'{"signature_name": "serving_default", "instances": [[1, 2, 3]]}', True),
    (b' { "inputs" : [ [ 1.0 , 2 , 3 ] ] , "signature_name":"" } ', True),
    (b'{"instances": [[1, 2, 3], [4, 5]]}', False),  # ragged: the general path reports it
    (b'{"instances": [[1, 2, 3, 4, 5, 6]]}', False),  # 6 values, but the brackets of shape (1, 6)
    (b'{"instances": [[1, 2], [3, 4], [5, 6]]}', False),  # 6 values as (3, 2)
    (b'{"instances": [[+1, 2, 3]]}', False),  # not JSON
    (b'{"instances": [[1, 2, 3]], "other": 1}', False),  # another field
    (b'{"instances": [{"x": [1, 2, 3]}]}', False),  # named
])
def test_fast_json_path_agrees_with_the_general_one(body, taken):
    """Single-input numeric requests skip building nested lists; what they decode to is what the general
    path decodes, and anything else is left to the general path."""
    from gpuflow.serving import rest
    from gpuflow.serving.manager import Signature, TensorSpec
    sig = Signature([TensorSpec("x", np.dtype("float32"), (None, 3))], [])
    fast = rest._fast_decode(body, sig)
    assert (fast is not None) == taken
    if taken:
        doc = json.loads(body)
        name, row_format, arrays = fast
        assert name == doc.get("signature_name", "") and row_format == ("instances" in doc)
        want = rest._decode(doc["instances"] if row_format else doc["inputs"], sig, row_format)
        assert arrays["x"].dtype == np.float32 and np.array_equal(arrays["x"], want["x"])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "int8", "bool", "float16",
                                   "complex64"])
def test_tensor_proto_round_trip(dtype):
    from gpuflow.serving import tensors
    from gpuflow.serving.protos import tensor_pb2
    x = (np.arange(6).reshape(2, 3) % 2).astype(dtype) if dtype == "bool" else np.arange(6).reshape(2, 3).astype(dtype)
    proto = tensors.to_tensor_proto(x, tensor_pb2.TensorProto())
    back = tensors.from_tensor_proto(tensor_pb2.TensorProto.FromString(proto.SerializeToString()))
    assert back.dtype == x.dtype and np.array_equal(back, x)


def test_tensor_proto_typed_values_and_strings():
    from gpuflow.serving import tensors
    from gpuflow.serving.protos import tensor_pb2
    p = tensor_pb2.TensorProto(dtype=1, float_val=[7.0])  # one value fills the shape, as TensorFlow reads it
    p.tensor_shape.dim.add().size = 3
    assert np.array_equal(tensors.from_tensor_proto(p), np.full(3, 7, np.float32))
    h = tensor_pb2.TensorProto(dtype=19, half_val=np.array([1.5, -2], np.float16).view(np.uint16).tolist())
    h.tensor_shape.dim.add().size = 2
    assert np.array_equal(tensors.from_tensor_proto(h), np.array([1.5, -2], np.float16))
    s = tensors.to_tensor_proto(np.array([b"ab", b"\xff"], dtype=object), tensor_pb2.TensorProto())
    assert s.dtype == 7 and list(s.string_val) == [b"ab", b"\xff"]
    assert list(tensors.from_tensor_proto(s)) == [b"ab", b"\xff"]
    p.float_val.extend([1.0, 2.0, 3.0])
    with pytest.raises(tensors.ServingError, match="holds 3 values. Received: 4"):
        tensors.from_tensor_proto(p)


def test_json_b64_strings_both_ways():
    from gpuflow.serving import tensors
    a = tensors.from_json([{"b64": "aGVsbG8="}, {"b64": "/w=="}], object)
    assert list(a) == [b"hello", b"\xff"]
    assert tensors.to_json(a) == [{"b64": "aGVsbG8="}, {"b64": "/w=="}]
    with pytest.raises(tensors.ServingError, match="list of numbers for dtype float32"):
        tensors.from_json([{"b64": "aGVsbG8="}], np.float32)  # binary data for a float input
    with pytest.raises(tensors.ServingError, match="not valid base64"):
        tensors.from_json([{"b64": "!!"}], object)
