"""gpuflow serve, versions: hot reload under load, a corrupt version, version policies, labels, unloading."""
from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from gpuflow import serving

if serving.missing_modules():
    pytest.skip(f"the serve extra is not installed ({serving.INSTALL_HINT})", allow_module_level=True)

from gpuflow.serving.protos import model_server_config_pb2 as pb  # noqa: E402
from gpuflow.serving.server import serve_in_thread  # noqa: E402
from serving_utils import call, config, export, predict, rand, tiny_dense  # noqa: E402

X = rand(1, 3, seed=5)


def states(port, name):
    return {int(s["version"]): (s["state"], s["status"]["error_message"])
            for s in call(f"http://127.0.0.1:{port}/v1/models/{name}")[1]["model_version_status"]}


def answer(port, suffix=""):
    status, doc = predict(port, "m", {"instances": X.tolist()}, suffix)
    assert status == 200, doc
    return np.asarray(doc["predictions"])


def test_new_version_while_20_clients_send_requests(tmp_path):
    v1, v2 = tiny_dense(seed=1), tiny_dense(seed=2)
    want1, want2 = v1.predict(X, verbose=0), v2.predict(X, verbose=0)
    export(v1, tmp_path, 1)
    seen2, stop, results = threading.Event(), threading.Event(), []

    def client(port):
        for _ in range(200):  # bounded; stops once version 2 answered
            if stop.is_set():
                return
            status, doc = predict(port, "m", {"instances": X.tolist()})
            results.append(status)
            if status == 200 and np.allclose(doc["predictions"], want2, atol=1e-6):
                seen2.set()
            elif status == 200:
                assert np.allclose(doc["predictions"], want1, atol=1e-6)

    with serve_in_thread([config("m", tmp_path)], port=0, poll_wait_seconds=0.2) as server:
        threads = [threading.Thread(target=client, args=(server.rest_port,)) for _ in range(20)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        export(v2, tmp_path, 2)
        published = time.monotonic()
        assert seen2.wait(10), "version 2 never answered"
        took = time.monotonic() - published
        stop.set()
        for t in threads:
            t.join(30)
        assert results and set(results) == {200}, sorted(set(results))
        assert took < 5  # one poll interval (0.2 s) and the load, with room for a busy machine
        assert np.allclose(answer(server.rest_port), want2, atol=1e-6)
        deadline = time.monotonic() + 10  # version 1 leaves the latest-1 policy: unloaded, then END
        while states(server.rest_port, "m")[1][0] != "END" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert states(server.rest_port, "m") == {2: ("AVAILABLE", ""), 1: ("END", "")}
        assert predict(server.rest_port, "m", {"instances": X.tolist()}, "/versions/1")[0] == 404


def test_corrupt_version_keeps_the_old_one_serving(tmp_path):
    v1 = tiny_dense(seed=1)
    export(v1, tmp_path, 1)
    with serve_in_thread([config("m", tmp_path)], port=0, poll_wait_seconds=0) as server:
        (tmp_path / "2").mkdir()  # a directory with no .keras file yet is not a version yet
        server.manager.poll()
        assert set(states(server.rest_port, "m")) == {1}
        (tmp_path / "2" / "model.keras").write_bytes(b"not a zip file")
        server.manager.poll()
        st = states(server.rest_port, "m")
        assert st[1] == ("AVAILABLE", "") and st[2][0] == "END" and st[2][1], st
        doc = call(f"http://127.0.0.1:{server.rest_port}/v1/models/m/versions/2")[1]
        assert doc["model_version_status"][0]["status"]["error_code"] == "UNKNOWN"
        assert np.allclose(answer(server.rest_port), v1.predict(X, verbose=0), atol=1e-6)
        server.manager.poll()  # the same bad file is not tried again, and version 1 stays
        assert states(server.rest_port, "m")[1] == ("AVAILABLE", "")
        v2 = tiny_dense(seed=2)
        export(v2, tmp_path, 2)  # fixed in place: the changed file is loaded
        server.manager.poll()
        assert np.allclose(answer(server.rest_port), v2.predict(X, verbose=0), atol=1e-6)


@pytest.mark.parametrize("policy,available", [
    (None, {3}),
    (pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy(
        latest=pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy.Latest(num_versions=2)), {2, 3}),
    (pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy(
        all=pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy.All()), {1, 2, 3}),
    (pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy(
        specific=pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy.Specific(versions=[1, 2])), {1, 2}),
])
def test_version_policies_and_labels(tmp_path, policy, available):
    models = {v: tiny_dense(seed=v) for v in (1, 2, 3)}
    for v, m in models.items():
        export(m, tmp_path, v)
    cfg = config("m", tmp_path, version_labels={"stable": 1, "canary": 2})
    if policy is not None:
        cfg.model_version_policy.CopyFrom(policy)
    with serve_in_thread([cfg], port=0, poll_wait_seconds=0) as server:
        port = server.rest_port
        assert {v for v, (s, _) in states(port, "m").items() if s == "AVAILABLE"} == available
        assert np.allclose(answer(port), models[max(available)].predict(X, verbose=0), atol=1e-6)
        for v in (1, 2, 3):
            code = predict(port, "m", {"instances": X.tolist()}, f"/versions/{v}")[0]
            assert code == (200 if v in available else 404)
        for label, v in (("stable", 1), ("canary", 2)):
            if v in available:
                assert np.allclose(answer(port, f"/labels/{label}"), models[v].predict(X, verbose=0), atol=1e-6)
                assert call(f"http://127.0.0.1:{port}/v1/models/m/labels/{label}")[1]["model_version_status"][0][
                    "version"] == str(v)
            else:
                assert predict(port, "m", {"instances": X.tolist()}, f"/labels/{label}")[0] == 404


def test_removed_version_is_unloaded(tmp_path):
    for v in (1, 2):
        export(tiny_dense(seed=v), tmp_path, v)
    all_policy = pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy(
        all=pb.FileSystemStoragePathSourceConfig.ServableVersionPolicy.All())
    with serve_in_thread([config("m", tmp_path, model_version_policy=all_policy)], port=0,
                         poll_wait_seconds=0) as server:
        shutil.rmtree(tmp_path / "2")
        server.manager.poll()
        deadline = time.monotonic() + 10
        while states(server.rest_port, "m")[2][0] != "END" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert states(server.rest_port, "m") == {2: ("END", ""), 1: ("AVAILABLE", "")}
        assert np.allclose(answer(server.rest_port), tiny_dense(seed=1).predict(X, verbose=0), atol=1e-6)


class _Slow:
    """A loaded model whose calls take 0.5 s."""

    def __init__(self, model):
        self.model, self.inputs, self.outputs = model, model.inputs, model.outputs

    def __call__(self, x, training=False):
        time.sleep(0.5)
        return self.model(x, training=training)


def test_stopping_drains_requests_in_flight(tmp_path):
    from gpuflow.keras.models import load_model
    export(tiny_dense(seed=1), tmp_path, 1)
    results = []
    with serve_in_thread([config("m", tmp_path)], port=0, poll_wait_seconds=0,
                         load_model=lambda path: _Slow(load_model(path, compile=False))) as server:
        t = threading.Thread(target=lambda: results.append(predict(server.rest_port, "m",
                                                                   {"instances": X.tolist()})[0]))
        t.start()
        time.sleep(0.2)  # the request is in the model when the server is told to stop
    t.join(20)
    assert results == [200]
