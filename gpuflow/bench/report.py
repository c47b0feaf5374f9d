"""Benchmark documents (the JSON of :mod:`gpuflow.bench.schema`) and their tables: plain text a
person reads at a glance, or Markdown (``--markdown``; also what ``benchmarks/update_readme.py``
puts in the README)."""
from __future__ import annotations

import json
import os

from .schema import SCHEMA_ID, check
from .specs import PRECISIONS

__all__ = ["make_document", "write_json", "ops_table", "model_table", "render", "fmt_ms", "fmt_bytes"]


def make_document(suite, command, environment, settings, peers, results, **extra):
    doc = {"schema": SCHEMA_ID, "suite": suite, "command": command, "environment": environment,
           "settings": settings, "peers": peers, "results": results}
    doc.update(extra)
    return doc


def write_json(doc, path):
    """Validates ``doc`` and writes it (``-`` = stdout). Raises ValueError if it does not validate."""
    check(doc)
    text = json.dumps(doc, indent=2, default=float) + "\n"
    if path == "-":
        import sys
        sys.stdout.write(text)
        return
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# -- formatting --------------------------------------------------------------------------------
def fmt_ms(seconds):
    if seconds is None:
        return "-"
    v = seconds * 1e3
    for limit, spec in ((100, ".0f"), (10, ".1f"), (1, ".2f"), (0.1, ".3f")):
        if v >= limit:
            return format(v, spec)
    return format(v, ".4f")


def _num(v, spec=".1f"):
    if v is None:
        return "-"
    if abs(v) >= 10000:
        return format(v, ",.0f")
    if 0 < abs(v) < 1:
        return format(v, ".2g")
    return format(v, spec)


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if unit == "GiB" else f"{n / scale:.0f} {unit}"
    return f"{n} B"


def _pct(v):
    return "-" if v is None else (f"{100 * v:.0f}%" if v >= 0.1 else f"{100 * v:.1f}%")


def _ratio(v):
    return "" if v is None else (f"{v:.2f}x" if v >= 0.1 else f"{v:.2g}x")


def _table(headers, rows, aligns, markdown):
    if markdown:
        out = ["| " + " | ".join(headers) + " |",
               "|" + "|".join(("---:" if a == ">" else ":---") for a in aligns) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(format(c, f"{a}{w}") for c, a, w in zip(cells, aligns, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


_OPENBLAS_CORES = ("Prescott", "Katmai", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Haswell",
                   "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Atom", "Barcelona", "Bulldozer",
                   "Piledriver", "Steamroller", "Excavator", "NeoverseN1", "NeoverseN2", "NeoverseV1", "ArmV8",
                   "CortexA57", "CortexA72", "A64FX", "POWER9", "POWER10")


def blas_kernel(env):
    """The BLAS kernel family a result ran, e.g. ``"OpenBLAS SkylakeX"`` (read from the OpenBLAS config
    string in ``env["blas"]["config"]``), else the library name or ``None``. The kernel, not the CPU's
    marketing name, decides CPU speed and the last bits of results: "AMD EPYC" names both Zen 2 (Haswell
    kernels) and Zen 4 (SkylakeX kernels)."""
    blas = env.get("blas") or {}
    words = (blas.get("config") or "").split()
    core = next((w for w in words if w in _OPENBLAS_CORES), None)
    if core:
        return f"OpenBLAS {core}"
    return blas.get("library")


def _device_line(doc):
    env, s = doc["environment"], doc["settings"]
    dev = env["device"]
    blas = env["blas"]
    blas_txt = " ".join(str(p) for p in (blas.get("library"), blas.get("version")) if p) or "unknown BLAS"
    if blas.get("threads"):
        blas_txt += f", {blas['threads']} threads"
    where = dev.get("name") or dev["kind"]
    if dev["kind"] != "gpu" and blas_kernel(env):
        where += f", {blas_kernel(env)} kernels"
    if dev["kind"] == "gpu":
        where += (f" (sm_{dev.get('compute_capability', '?').replace('.', '')}, driver {dev.get('driver') or '?'}, "
                  f"CUDA {dev.get('cuda_runtime') or '?'}, CuPy {dev.get('cupy', '?')})")
    return (f"{dev['kind']}: {where} · {s['threads']} threads · {s['dtype']} · NumPy {env['numpy']} "
            f"({blas_txt})")


def _peer_line(doc):
    parts = []
    for name in doc["settings"]["peers"]:
        p = doc["peers"].get(name, {"status": "failed", "detail": "no result"})
        if p["status"] != "ok":
            parts.append(f"{name}: {p['status']}" + (f" ({p['detail']})" if p.get("detail") else ""))
            continue
        bits = [f"{name} {p.get('version', '?')}"]
        if name == "keras" and p.get("tensorflow"):
            bits[0] += f" (TensorFlow {p['tensorflow']})"
        extra = []
        if p.get("layout"):
            extra.append(p["layout"])
        if p.get("threads"):
            extra.append(f"{p['threads']} threads")
        extra.append("TF32 n/a on the CPU" if p.get("tf32") is None else f"TF32 {'on' if p['tf32'] else 'off'}")
        parts.append(bits[0] + " [" + ", ".join(extra) + "]")
    return "peers: " + (" · ".join(parts) if parts else "none")


def _stamp(doc):
    env = doc["environment"]
    commit = (env.get("git_commit") or "no git")[:10] + (" (local changes)" if env.get("git_dirty") else "")
    return f"gpuflow {env['gpuflow']} · git {commit} · {env['date']}"


def ops_table(doc, markdown=False):
    headers = ["op", "shape", "framework", "median ms", "IQR ms", "GFLOP/s", "GB/s", "roofline", "gpuflow/peer"]
    aligns = ["<", "<", "<", ">", ">", ">", ">", ">", ">"]
    rows, last, foot = [], None, []
    for r in doc["results"]:
        key = (r["op"], r["shape"])
        first = key != last
        last = key
        lead = [r["op"] if first or markdown else "", r["shape"] if first or markdown else ""]
        precision = r.get("precision")  # shown where it is not the dtype's own (tf32; fp32 for widened 16-bit inputs)
        name = r["framework"] + (f" ({precision})" if precision and precision != PRECISIONS[r["dtype"]] else "")
        if r["status"] != "ok":
            foot.append(f"{r['op']} {r['shape']} · {r['framework']}: {r['status']}: {r.get('detail') or ''}")
            rows.append(lead + [name, r["status"] + f" [{len(foot)}]", "", "", "", "", ""])
            continue
        rows.append(lead + [name, fmt_ms(r["median_s"]), fmt_ms(r["iqr_s"]), _num(r["gflops"]), _num(r["gbs"]),
                            _pct(r["roofline_fraction"]), _ratio(r.get("ratio_gpuflow_over_peer"))])
    peak = doc["peak"]
    own = PRECISIONS[doc["settings"]["dtype"]]
    rates = [own] + [p for p in ("fp32", "tf32") if p != own and peak.get(f"{p}_gflops")]
    peak_txt = (f"peak ({peak['source']}): {peak['label']}: "
                + ", ".join(f"{_num(peak[f'{p}_gflops'])} GFLOP/s {p}" if peak.get(f"{p}_gflops")
                            else f"{p} rate unknown" for p in rates)
                + f", {_num(peak.get('bandwidth_gbs'))} GB/s" + (f" [{peak['method']}]" if peak.get("method") else ""))
    notes = [f"gpuflow bench ops — {_device_line(doc)}", _peer_line(doc), peak_txt,
             "median of repeats after warm-up; IQR = spread; roofline = max(FLOPs/peak, bytes/bandwidth) / median; "
             "gpuflow/peer = gpuflow time / peer time (above 1: gpuflow is slower)", _stamp(doc)]
    return _with_notes(notes, _table(headers, rows, aligns, markdown), markdown, foot)


def model_table(doc, markdown=False):
    headers = ["framework", "version", "ms/step", "IQR ms", "samples/s", "s/epoch", "peak memory", "accuracy",
               "gpuflow/peer"]
    aligns = ["<", "<", ">", ">", ">", ">", ">", ">", ">"]
    rows, foot = [], []
    for r in doc["results"]:
        if r["status"] != "ok":
            foot.append(f"{r['framework']}: {r['status']}: {r.get('detail') or ''}")
            rows.append([r["framework"], r["status"] + f" [{len(foot)}]", "", "", "", "", "", "", ""])
            continue
        epoch = _num(r["epoch_s"]) + (" (est.)" if r["epoch_source"] == "estimated" else "")
        acc = "-" if r.get("accuracy") is None else f"{r['accuracy']:.4f}"
        mem = fmt_bytes(r.get("peak_memory_bytes"))
        if r.get("peak_memory_kind", "").startswith("peak RSS"):
            mem += " RSS"
        name = r["framework"] + ("" if "graph" not in r else " (graph)" if r["graph"] == "on" else " (eager)")
        rows.append([name, r.get("version", "?"), fmt_ms(r["step"]["median_s"]),
                     fmt_ms(r["step"]["iqr_s"]), _num(r["samples_per_s"], ".0f"), epoch, mem, acc,
                     _ratio(r.get("ratio_gpuflow_over_peer"))])
    m, d = doc["model"], doc["data"]
    notes = [f"gpuflow bench model — {m['name']} ({m['params']:,} parameters, input {tuple(m['input_shape'])}) — "
             f"{_device_line(doc)}", _peer_line(doc),
             f"data: {d.get('note', d['kind'])}; {d['samples']} samples/epoch, batch {d['batch_size']}, "
             f"{d['epochs']} measured epoch(s)",
             "ms/step: median training step (forward, backward, Adam) after warm-up; IQR = spread; "
             "s/epoch (est.) = median step x steps per epoch; gpuflow/peer = gpuflow step time / peer step time "
             "(above 1: gpuflow is slower)", _stamp(doc)]
    if doc["settings"].get("mixed_precision"):  # what each framework ran
        notes.insert(3, "mixed precision: " + ", ".join(f"{r['framework']} {r['policy']}" for r in doc["results"]
                                                        if r.get("policy")))
    return _with_notes(notes, _table(headers, rows, aligns, markdown), markdown, foot)


def _with_notes(notes, table, markdown, foot=()):
    foot = [f"[{i}] {f}" for i, f in enumerate(foot, 1)]
    if markdown:
        return "\n".join([f"**{notes[0]}**", ""] + [f"- {n}" for n in notes[1:]] + ["", table]
                         + ([""] + [f"{f}  " for f in foot] if foot else []))
    return "\n".join(notes[:1] + ["  " + n for n in notes[1:]] + ["", table] + ([""] + foot if foot else []))


def render(doc, markdown=False):
    return ops_table(doc, markdown) if doc["suite"] == "ops" else model_table(doc, markdown)
