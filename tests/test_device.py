"""Device model: parsing, default-device rules, scopes, and refusing a GPU that is not there."""
import subprocess
import sys

import pytest

import gpuflow as tf
from gpuflow.device import (Device, DeviceUnavailableError, probe_cuda, parse_device_request,
                            resolve_device_request)

HAS_CUDA = probe_cuda()[0]


@pytest.mark.parametrize("spec, kind, index", [
    ("cpu", "cpu", 0), ("CPU:0", "cpu", 0), ("/CPU:0", "cpu", 0), ("/device:GPU:1", "gpu", 1), ("gpu", "gpu", 0),
    ("/job:localhost/replica:0/task:0/device:GPU:0", "gpu", 0), ("gpu:3", "gpu", 3),
])
def test_device_parsing(spec, kind, index):
    d = Device(spec)
    assert (d.kind, d.index) == (kind, index)


@pytest.mark.parametrize("spec", ["tpu", "gpu:x", "", "/CPU:0/extra"])
def test_bad_device_spec_names_it(spec):
    with pytest.raises(ValueError, match="Unknown device") as e:
        Device(spec)
    assert repr(spec) in str(e.value)


def test_reference_scope_runs_ops_on_the_reference_backend():
    from gpuflow.backend.reference import ReferenceBackend
    with tf.device("reference") as dev:
        a = tf.constant([[1.0, 2.0]])
        y = tf.matmul(a, tf.constant([[3.0], [4.0]]))
    assert dev == Device("reference") and str(dev) == "reference"
    assert y.device == a.device == dev and isinstance(y._backend, ReferenceBackend)
    assert y.numpy().tolist() == [[11.0]]  # small integers: exact


def test_env_reference_is_honoured_and_explained():
    r = _run("from gpuflow.device import default_device as dd, default_device_reason as why; print(dd(), '|', why())",
             GPUFLOW_DEVICE="reference")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("reference | GPUFLOW_DEVICE=reference (the slow reference primitives")


def test_a_registered_kind_parses_and_gets_its_backend(monkeypatch):
    import gpuflow.device as device_module
    from gpuflow.backend.reference import ReferenceBackend
    made = []
    monkeypatch.setitem(device_module._FACTORIES, "plain", lambda dev: made.append(dev) or ReferenceBackend())
    monkeypatch.setattr(device_module, "_backends", {})
    dev = Device("/device:PLAIN:2")
    assert (dev.kind, dev.index) == ("plain", 2)
    assert device_module.backend_for(dev) is device_module.backend_for(dev) and made == [dev]  # created once
    with pytest.raises(ValueError, match="lower case letters"):
        device_module.register_backend("gpu-2", lambda dev: None)


def test_import_gpuflow_device_is_the_module_and_calling_it_is_tf_device():
    import types

    import gpuflow.device as device_module
    assert isinstance(device_module, types.ModuleType) and device_module.Device is Device
    assert tf.device is device_module is sys.modules["gpuflow.device"]
    with tf.device("/CPU:0") as dev:  # TensorFlow's context manager, as before
        assert device_module.current_device() == dev == Device("cpu")
    with pytest.raises(ValueError, match="Unknown device"):
        with tf.device("tpu"):
            pass


def test_cpu_scope_places_tensors():
    with tf.device("/CPU:0") as dev:
        t = tf.constant([1.0, 2.0])
    assert t.device == dev == Device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a working CUDA device")
def test_gpu_scope_without_gpu_is_an_error_not_a_fallback():
    with pytest.raises(DeviceUnavailableError, match="gpu:0"):
        with tf.device("/GPU:0"):
            pass


def _run(code, **env):
    import os
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a working CUDA device")
def test_env_gpu_without_gpu_raises_clearly():
    r = _run("import gpuflow as tf; tf.constant(1.0)", GPUFLOW_DEVICE="gpu")
    assert r.returncode != 0
    assert "DeviceUnavailableError" in r.stderr and "GPUFLOW_DEVICE=gpu" in r.stderr


def test_env_cpu_is_honoured_and_explained():
    r = _run("from gpuflow.device import default_device as dd, default_device_reason as why; print(dd(), '|', why())",
             GPUFLOW_DEVICE="cpu")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cpu | GPUFLOW_DEVICE=cpu"


def test_env_unknown_value_is_rejected():
    r = _run("import gpuflow as tf; tf.constant(1.0)", GPUFLOW_DEVICE="tpu")
    assert r.returncode != 0 and "GPUFLOW_DEVICE" in r.stderr and "'tpu'" in r.stderr


def test_import_does_not_touch_cuda():
    r = _run("import sys, gpuflow; import gpuflow.keras; print('cupy' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("request_, expected", [
    ("auto", None), ("", None), (" AUTO ", None), ("cpu", Device("cpu")), ("/CPU:0", Device("cpu")),
    ("gpu", Device("gpu:0")), ("gpu:2", Device("gpu:2")), ("/device:GPU:1", Device("gpu:1")),
    ("emulator", Device("emulator")), ("reference", Device("reference")), ("/device:REFERENCE:0", Device("reference")),
])
def test_device_requests_as_gpuflow_device_and_dash_dash_device_take_them(request_, expected):
    assert parse_device_request(request_) == expected


@pytest.mark.parametrize("source", ["GPUFLOW_DEVICE", "--device"])
def test_unknown_device_request_names_where_it_came_from(source):
    with pytest.raises(ValueError, match="Unknown device") as e:
        parse_device_request("tpu", source)
    assert f"{source}='tpu'" in str(e.value)


def test_a_tensorflow_cpu_string_in_the_request_means_the_cpu_not_a_gpu():
    assert resolve_device_request("/CPU:0") == (Device("cpu"), "GPUFLOW_DEVICE=/CPU:0")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a working CUDA device")
def test_gpu_that_cannot_start_tells_only_an_environment_user_to_unset_the_variable():
    with pytest.raises(DeviceUnavailableError) as env_err:
        resolve_device_request("gpu:1", "GPUFLOW_DEVICE")
    with pytest.raises(DeviceUnavailableError) as flag_err:
        resolve_device_request("gpu:1", "--device")
    assert "GPUFLOW_DEVICE=gpu:1 asks for a GPU" in str(env_err.value) and "Unset GPUFLOW_DEVICE" in str(env_err.value)
    assert "--device gpu:1 asks for a GPU" in str(flag_err.value)
    assert "GPUFLOW_DEVICE" not in str(flag_err.value)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_index_past_the_device_count_is_refused():
    import cupy
    n = cupy.cuda.runtime.getDeviceCount()
    with pytest.raises(DeviceUnavailableError, match=f"there is no gpu:{n}"):
        resolve_device_request(f"gpu:{n}", "--device")
