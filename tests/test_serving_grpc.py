"""gpuflow serve, gRPC API through the generated stubs: Predict (tensor_content and typed values),
GetModelMetadata, GetModelStatus, error codes; and SIGTERM on `python -m gpuflow serve`."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from gpuflow import serving

if serving.missing_modules():
    pytest.skip(f"the serve extra is not installed ({serving.INSTALL_HINT})", allow_module_level=True)

import grpc  # noqa: E402
from gpuflow.serving import tensors  # noqa: E402
from gpuflow.serving.protos import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,  # noqa: E402
                                    predict_pb2, prediction_service_pb2_grpc)
from gpuflow.serving.server import serve_in_thread  # noqa: E402
from serving_utils import call, config, export, predict, rand, tiny_dense, two_in_two_out  # noqa: E402


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    base = tmp_path_factory.mktemp("grpc")
    dense, pair = tiny_dense(seed=4), two_in_two_out()
    export(dense, base / "dense", 1)
    export(pair, base / "pair", 1)
    with serve_in_thread([config("dense", base / "dense"), config("pair", base / "pair")], rest_api_port=0,
                         poll_wait_seconds=0) as server:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            yield (prediction_service_pb2_grpc.PredictionServiceStub(channel),
                   model_service_pb2_grpc.ModelServiceStub(channel), dense, pair)


def test_predict_equals_model_predict(stubs):
    predict_stub, _, dense, pair = stubs
    x = rand(3, 3, seed=7)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "dense"
    tensors.to_tensor_proto(x, request.inputs["x"])
    response = predict_stub.Predict(request, timeout=20)
    assert response.model_spec.name == "dense" and response.model_spec.version.value == 1
    assert np.allclose(tensors.from_tensor_proto(response.outputs["y"]), dense.predict(x, verbose=0), atol=1e-6)
    a, b = rand(2, 3, seed=8), rand(2, 2, seed=9)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "pair"
    request.model_spec.version.value = 1
    for name, v in (("a", a), ("b", b)):  # typed values instead of tensor_content, as older clients send
        request.inputs[name].dtype = 1
        request.inputs[name].tensor_shape.dim.add().size = v.shape[0]
        request.inputs[name].tensor_shape.dim.add().size = v.shape[1]
        request.inputs[name].float_val.extend(v.ravel().tolist())
    request.output_filter.append("o2")
    response = predict_stub.Predict(request, timeout=20)
    assert list(response.outputs) == ["o2"]
    assert np.allclose(tensors.from_tensor_proto(response.outputs["o2"]), pair.predict([a, b], verbose=0)[1],
                       atol=1e-6)


def test_metadata_and_status(stubs):
    predict_stub, model_stub, _, _ = stubs
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "pair"
    response = predict_stub.GetModelMetadata(request, timeout=20)
    sigs = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(sigs)
    sig = sigs.signature_def["serving_default"]
    assert sorted(sig.inputs) == ["a", "b"] and sorted(sig.outputs) == ["o1", "o2"]
    assert [d.size for d in sig.inputs["a"].tensor_shape.dim] == [-1, 3] and sig.inputs["a"].dtype == 1
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "dense"
    status = model_stub.GetModelStatus(request, timeout=20).model_version_status
    assert [(s.version, s.state, s.status.error_code) for s in status] == [
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)]


def test_errors_have_grpc_codes(stubs):
    predict_stub = stubs[0]
    cases = [("nope", {"x": rand(1, 3)}, grpc.StatusCode.NOT_FOUND),
             ("dense", {"x": rand(1, 4)}, grpc.StatusCode.INVALID_ARGUMENT),
             ("dense", {"z": rand(1, 3)}, grpc.StatusCode.INVALID_ARGUMENT)]
    for name, inputs, code in cases:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = name
        for k, v in inputs.items():
            tensors.to_tensor_proto(v, request.inputs[k])
        with pytest.raises(grpc.RpcError) as e:
            predict_stub.Predict(request, timeout=20)
        assert e.value.code() == code
    bad = predict_pb2.PredictRequest()
    bad.model_spec.name = "dense"
    bad.inputs["x"].dtype = 1
    bad.inputs["x"].tensor_shape.dim.add().size = 2
    bad.inputs["x"].tensor_content = b"\0" * 7  # not 2 float32s
    with pytest.raises(grpc.RpcError) as e:
        predict_stub.Predict(bad, timeout=20)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "needs 8 bytes" in e.value.details()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigkill_mid_load_then_restart_then_sigterm_drains_and_exits_0(tmp_path):
    export(tiny_dense(seed=5), tmp_path, 1)
    rest, grpc_port = _free_port(), _free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "gpuflow", "serve", "--model_name", "m", "--model_base_path", str(tmp_path),
           "--rest_api_port", str(rest), "--port", str(grpc_port), "--rest_api_host", "127.0.0.1"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(0.5)  # starting up: importing, loading the model
    first.kill()
    first.wait(30)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else ""
            try:
                if call(f"http://127.0.0.1:{rest}/v1/models/m")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        assert predict(rest, "m", {"instances": rand(1, 3).tolist()})[0] == 200
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, out
        assert "stopping" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
