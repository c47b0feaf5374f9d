"""Packaging: what ``pip install`` puts where, read from pyproject.toml and checked against the tree.

Building a wheel takes too long for the suite; these tests check the configuration that decides the
wheel's contents, and the run-time lookup of the CUDA C sources in an installed layout.
"""
from __future__ import annotations

import fnmatch
import importlib.resources
import pathlib
import shutil
import subprocess
import sys

import pytest
from packaging.requirements import Requirement  # a dependency of pytest

from gpuflow.backend import kernels

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomllib (3.11+) or tomli")

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_h5py_is_a_base_dependency():
    """As in Keras: model.save("m.keras") works after a plain pip install (no extra needed)."""
    base = {r.name: r for r in map(Requirement, PYPROJECT["project"]["dependencies"])}
    assert set(base) == {"numpy", "h5py"} and base["h5py"].marker is None
    assert PYPROJECT["project"]["optional-dependencies"]["h5"] == []  # kept so 'gpuflow[h5]' still resolves


def test_every_package_on_disk_is_installed():
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "gpuflow").rglob("__init__.py")}
    assert set(SETUPTOOLS["packages"]) == on_disk | {"gpuflow.cuda_kernels"}


def test_kernel_sources_are_package_data():
    assert SETUPTOOLS["package-dir"] == {"gpuflow.cuda_kernels": "cuda_kernels"}
    patterns = SETUPTOOLS["package-data"]["gpuflow.cuda_kernels"]
    sources = sorted(p.name for p in (ROOT / "cuda_kernels").iterdir() if p.suffix in (".cu", ".cuh"))
    assert "common.cuh" in sources and "conv2d.cu" in sources, sources
    missed = [s for s in sources if not any(fnmatch.fnmatch(s, pat) for pat in patterns)]
    assert not missed, f"cuda_kernels/ files left out of the wheel by package-data {patterns}: {missed}"
    assert "data-files" not in SETUPTOOLS  # the old sys.prefix/share copy, not found after pip install --target


@pytest.fixture
def installed_layout(tmp_path, monkeypatch):
    """``site/gpuflow`` as pip installs it: the kernel sources inside the package; importlib.resources
    answers for it. No source checkout beside it."""
    package = tmp_path / "site" / "gpuflow"
    shutil.copytree(ROOT / "cuda_kernels", package / "cuda_kernels")
    monkeypatch.delenv("GPUFLOW_KERNEL_DIR", raising=False)
    monkeypatch.setattr(importlib.resources, "files", {"gpuflow": package}.__getitem__)
    return package


def test_kernel_dir_finds_the_package_data(installed_layout):
    folder = kernels.kernel_dir()
    assert folder == str(installed_layout / "cuda_kernels")
    assert len(kernels._headers_hash()) == 16  # the headers are read from the same folder


def test_kernel_dir_falls_back_to_a_source_checkout(installed_layout):
    shutil.move(str(installed_layout / "cuda_kernels"), str(installed_layout.parent / "cuda_kernels"))
    assert kernels.kernel_dir() == str(installed_layout.parent / "cuda_kernels")


def test_kernel_dir_missing_sources_names_the_places(installed_layout):
    shutil.rmtree(installed_layout / "cuda_kernels")
    with pytest.raises(FileNotFoundError) as info:
        kernels.kernel_dir()
    msg = str(info.value)
    assert str(installed_layout / "cuda_kernels") in msg and "GPUFLOW_KERNEL_DIR" in msg, msg


def test_kernel_dir_override(installed_layout, tmp_path, monkeypatch):
    other = tmp_path / "mine"
    shutil.copytree(ROOT / "cuda_kernels", other)
    monkeypatch.setenv("GPUFLOW_KERNEL_DIR", str(other))
    assert kernels.kernel_dir() == str(other)
    monkeypatch.setenv("GPUFLOW_KERNEL_DIR", str(tmp_path))  # set but wrong: an error, not a silent fallback
    with pytest.raises(FileNotFoundError, match=r"Received: GPUFLOW_KERNEL_DIR="):
        kernels.kernel_dir()


def test_python_m_gpuflow_runs_the_cli():
    assert PYPROJECT["project"]["scripts"] == {"gpuflow": "gpuflow.cli:main"}  # the script and -m: one main
    r = subprocess.run([sys.executable, "-m", "gpuflow", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage:") and "train" in r.stdout, r.stdout


@pytest.mark.parametrize("platform, machine, wheels", [
    ("linux", "x86_64", True), ("linux", "aarch64", True), ("win32", "AMD64", True),
    ("darwin", "arm64", False), ("darwin", "x86_64", False), ("linux", "ppc64le", False), ("win32", "ARM64", False),
])
def test_test_extra_installs_the_nvrtc_wheels_only_where_they_exist(platform, machine, wheels):
    reqs = {r.name: r for r in map(Requirement, PYPROJECT["project"]["optional-dependencies"]["test"])}
    env = {"sys_platform": platform, "platform_machine": machine}
    for name in ("cuda-bindings", "nvidia-cuda-nvrtc"):
        assert reqs[name].marker is not None and reqs[name].marker.evaluate(env) is wheels, (name, env)
    serve = [Requirement(r).name for r in PYPROJECT["project"]["optional-dependencies"]["serve"]]
    assert [name for name, r in reqs.items() if r.marker is None] == ["pytest", *serve, "tensorboardX", "Pillow",
                                                                      "ml-dtypes"]


def test_license_file_matches_the_declared_license():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    # setuptools refuses License classifiers beside a license expression, and reads it from 77 on.
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    (setuptools,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert setuptools.name == "setuptools" and not setuptools.specifier.contains("76.0")
    assert set(project["urls"]) == {"Homepage", "Documentation", "Issues", "Source"}
