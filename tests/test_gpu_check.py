"""benchmarks/gpu_check.sh, the one-shot GPU check: its --emulator mode end to end (every stage in the
summary, exit 0, the result files there), its fail-fast on a machine without nvidia-smi, and the
summary helper's rule that a GPU run whose [gpu] test cases all skipped is not a pass."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gpuflow.device import probe_emulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_check.sh")
HELPER = os.path.join(ROOT, "benchmarks", "_gpu_check_summary.py")
STAGES = ["versions", "pytest-gpu", "bench-ops-tf32-off", "bench-ops-tf32-on", "bench-ops-bf16", "bench-ops-fp16",
          "bench-model"]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "GPUFLOW_DEVICE"}
    env.update(PYTHON=sys.executable, **extra)
    return env


@pytest.mark.skipif(not probe_emulator()[0], reason=f"emulator: {probe_emulator()[1]}")
def test_emulator_mode_runs_every_stage_and_writes_the_summary_and_results(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(["bash", SCRIPT, "--emulator", str(out)], env=_env(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "emulator" and summary["ok"] is True and summary["finished"]
    assert [st["name"] for st in summary["stages"]] == STAGES
    for st in summary["stages"]:
        assert st["exit_code"] == 0 and st["ok"] and st["seconds"] >= 0 and st["command"], st
        if st["name"] != "versions":
            assert st["result"] and (out / st["result"]).is_file(), st
    results = {st["name"]: st["result"] for st in summary["stages"]}
    assert results["bench-model"].startswith("model-seed_cnn-emulator-")
    for name in ("bench-ops-tf32-off", "bench-ops-tf32-on", "bench-ops-bf16", "bench-ops-fp16", "bench-model"):
        bench = json.loads((out / results[name]).read_text())
        assert bench["results"] and all(r["status"] == "ok" for r in bench["results"]), name
    for tag, dtype in (("bf16", "bfloat16"), ("fp16", "float16")):  # the dense forward on the 16-bit tensor cores
        assert results[f"bench-ops-{tag}"].endswith(f"-tiny-{tag}.json")
        bench = json.loads((out / results[f"bench-ops-{tag}"]).read_text())
        assert bench["settings"]["dtype"] == dtype
        assert {r["op"]: r["precision"] for r in bench["results"]} == {"dense_relu_fwd": tag, "dense_relu_bwd": "fp32"}
    tests = summary["stages"][1]["tests"]
    assert tests["tests"] > 0 and tests["failed"] == 0
    log = (out / "gpu_check.log").read_text()
    assert "=== bench-model: exit 0" in log and "--graph both" in log
    assert any("graph-replayed" in note for note in summary["notes"])
    model_rows = json.loads((out / results["bench-model"]).read_text())["results"]
    assert [r["graph"] for r in model_rows] == ["off", "on"]
    assert list(model_rows[1]["graph_status"].values())[0].startswith("replayed"), model_rows[1]


def test_without_nvidia_smi_it_exits_at_once_with_a_one_line_reason(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = subprocess.run(["/bin/bash", SCRIPT, str(tmp_path / "out")], env=_env(PATH=str(empty)),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("gpu_check: no nvidia-smi on PATH") and "--emulator" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_without_an_output_folder_it_prints_the_usage():
    proc = subprocess.run(["bash", SCRIPT, "--emulator"], env=_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stderr.startswith("gpu_check: usage:")


def _junit(path, names_and_outcomes):
    cases = "".join(f'<testcase classname="t" name="{name}">{"<skipped/>" if outcome == "skipped" else ""}</testcase>'
                    for name, outcome in names_and_outcomes)
    path.write_text(f'<testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>')


@pytest.mark.parametrize("gpu_outcome, ok", [("skipped", False), ("passed", True)])
def test_a_gpu_pytest_stage_whose_gpu_cases_all_skipped_fails(tmp_path, gpu_outcome, ok):
    summary, xml = tmp_path / "summary.json", tmp_path / "pytest-gpu.xml"
    _junit(xml, [("test_a[emulator-x]", "passed"), ("test_a[gpu-x]", gpu_outcome), ("test_b[gpu]", "skipped")])
    run = lambda *a: subprocess.run([sys.executable, HELPER, *a], capture_output=True, text=True)  # noqa: E731
    assert run("start", str(summary), "--mode", "gpu", "--log", str(tmp_path / "log")).returncode == 0
    assert run("add", str(summary), "--name", "pytest-gpu", "--command", "pytest -m gpu", "--rc", "0",
               "--seconds", "1.5", "--junit", str(xml), "--need-gpu-tests").returncode == 0
    finish = run("finish", str(summary))
    stage = json.loads(summary.read_text())["stages"][0]
    assert stage["tests"]["gpu_passed"] == (gpu_outcome == "passed")
    assert stage["tests"]["gpu_skipped"] == 1 + (gpu_outcome == "skipped")
    assert stage["ok"] is ok and stage["result"] == "pytest-gpu.xml"
    assert finish.returncode == (0 if ok else 1) and ("failed: pytest-gpu" in finish.stdout) != ok


@pytest.mark.skipif(not probe_emulator()[0], reason=f"emulator: {probe_emulator()[1]}")
def test_ops_bench_sets_gpuflow_tf32_as_asked_and_labels_the_tensor_core_rows(monkeypatch):
    """--tf32 off must time gpuflow's FP32 kernels (its CUDA backend runs TF32 by default on sm_80+), and a
    row run on the tensor cores in TF32 says so (its roofline is the TF32 peak's)."""
    import gpuflow
    from gpuflow.backend import kernels
    from gpuflow.backend.tensor_cores import TensorCoreKernels
    from gpuflow.bench import ops, specs
    from gpuflow.device import Device, backend_for
    be = backend_for(Device("emulator"))
    monkeypatch.setattr(be, "tensor_cores", TensorCoreKernels(loader=kernels.emulator_loader, sm_count=be.sm_count))
    monkeypatch.setattr(gpuflow.config, "_tensor_float_32", True)  # restored after the test
    seen = []
    monkeypatch.setattr(be.tensor_cores.kernels, "launch", lambda f, entry, *a: seen.append(entry))
    cases = [("dense_relu_fwd", specs.parse_shape("4x8->4")), ("dense_relu_bwd", specs.parse_shape("4x8->4"))]
    for tf32, want in ((False, "fp32"), (True, "tf32")):
        rows, _, _ = ops.run_ops(cases, device="emulator", tf32=tf32, max_time=0.01, warmup=0, repeat=1, quick=True)
        assert [(r["op"], r["precision"]) for r in rows] == [("dense_relu_fwd", want), ("dense_relu_bwd", "fp32")]
        assert bool(seen) == tf32 and gpuflow.config.experimental.tensor_float_32_execution_enabled()
