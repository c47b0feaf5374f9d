"""Regenerates the speed tables of README.md from the recorded results in benchmarks/results/.

The README's speed section is never typed by hand: it is the text between the markers

    <!-- bench:start -->
    <!-- bench:end -->

which this script replaces with tables built from every ``benchmarks/results/*.json`` that
validates against gpuflow's result schema (the newest file per suite, device and model). Each
table row names the run it comes from (date, commit), so every figure can be traced to its file.

Usage:
    python benchmarks/update_readme.py            # rewrite README.md
    python benchmarks/update_readme.py --check    # exit 1 if README.md is out of date (for CI)
    python benchmarks/update_readme.py --print    # print the section only

Exit status: 0 done (or up to date), 1 out of date (--check), 2 no markers / no README.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from gpuflow.bench import report as _report  # noqa: E402
from gpuflow.bench.schema import validate  # noqa: E402

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def load_results(folder):
    """Valid result documents in ``folder`` (invalid files are skipped with a warning), with their file names."""
    docs = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"update_readme: skipping {path}: {e}", file=sys.stderr)
            continue
        errors = validate(doc)
        if errors:
            print(f"update_readme: skipping {path}: {errors[0]}", file=sys.stderr)
            continue
        doc["_file"] = os.path.relpath(path, ROOT) if path.startswith(ROOT) else os.path.basename(path)
        docs.append(doc)
    return docs


def _latest(docs):
    """The newest document per (suite, device kind, device name, model)."""
    best = {}
    for d in docs:
        dev = d["environment"]["device"]
        key = (d["suite"], dev["kind"], dev.get("name"), _report.blas_kernel(d["environment"]),
               (d.get("model") or {}).get("name"))
        if key not in best or d["environment"]["date"] > best[key]["environment"]["date"]:
            best[key] = d
    return [best[k] for k in sorted(best, key=lambda k: tuple(str(p) for p in k))]


def _where(doc):
    env = doc["environment"]
    dev = env["device"]
    name = dev.get("name") or dev["kind"]
    if dev["kind"] == "gpu":
        return f"{dev['kind']}: {name}"
    kernel = _report.blas_kernel(env)
    return f"{dev['kind']}: {name}" + (f", {kernel}" if kernel else "") + f" ({env['threads']} threads)"


def _run(doc):
    env = doc["environment"]
    commit = (env.get("git_commit") or "no git")[:7] + ("+" if env.get("git_dirty") else "")
    return f"{env['date'][:10]}, {commit}, [{os.path.basename(doc['_file'])}]({doc['_file']})"


def _versions(doc, framework):
    if framework == "gpuflow":
        return f"gpuflow {doc['environment']['gpuflow']}"
    p = doc["peers"].get(framework, {})
    return f"{framework} {p.get('version', '')}".strip()


def model_section(docs):
    rows = []
    for d in docs:
        for r in d["results"]:
            if r["status"] != "ok":
                rows.append([_where(d), r["framework"], r["status"], "", "", "", "", "", _run(d)])
                continue
            epoch = _report._num(r["epoch_s"]) + (" (est.)" if r["epoch_source"] == "estimated" else "")
            rows.append([_where(d), _versions(d, r["framework"]), _report.fmt_ms(r["step"]["median_s"]),
                         _report._num(r["samples_per_s"], ".0f"), epoch, _report.fmt_bytes(r.get("peak_memory_bytes")),
                         "-" if r.get("accuracy") is None else f"{r['accuracy']:.4f}",
                         _report._ratio(r.get("ratio_gpuflow_over_peer")), _run(d)])
    if not rows:
        return []
    d0 = docs[0]
    head = (f"**Training step** ({d0['model']['name']}, batch {d0['data']['batch_size']}, "
            f"{d0['data']['kind'].replace('_', '-')}; median of repeated steps after warm-up; gpuflow/peer above 1 "
            "means gpuflow is slower)")
    table = _report._table(["device", "framework", "ms/step", "samples/s", "s/epoch", "peak memory", "accuracy",
                            "gpuflow/peer", "run"], rows, ["<", "<", ">", ">", ">", ">", ">", ">", "<"], True)
    return [head, "", table, ""]


def ops_section(doc):
    peers = [p for p in doc["settings"]["peers"] if doc["peers"].get(p, {}).get("status") == "ok"]
    by_case = {}
    for r in doc["results"]:
        by_case.setdefault((r["op"], r["shape"]), {})[r["framework"]] = r
    headers = ["op", "shape", "gpuflow ms", "GFLOP/s", "roofline"]
    for p in peers:
        headers += [f"{p} ms", f"gpuflow/{p}"]
    rows = []
    for (op, shape), fw in by_case.items():
        g = fw.get("gpuflow")
        if g is None or g["status"] != "ok":
            rows.append([op, shape, g["status"] if g else "-", "", ""] + ["", ""] * len(peers))
            continue
        row = [op, shape, _report.fmt_ms(g["median_s"]), _report._num(g["gflops"]),
               _report._pct(g["roofline_fraction"])]
        for p in peers:
            r = fw.get(p)
            ok = r is not None and r["status"] == "ok"
            row += [_report.fmt_ms(r["median_s"]) + (" (tf32)" if r.get("precision") == "tf32" else "") if ok
                    else (r["status"] if r else "-"), _report._ratio(r.get("ratio_gpuflow_over_peer")) if ok else ""]
        rows.append(row)
    peak = doc["peak"]
    versions = ", ".join(_versions(doc, p) for p in peers) or "no peer"
    head = (f"**Ops on {_where(doc)}**, {doc['settings']['dtype']} ({versions}; "
            f"roofline against {peak['label']}, {peak['source']}; {_run(doc)})")
    return [head, "", _report._table(headers, rows, ["<", "<"] + [">"] * (len(headers) - 2), True), ""]


def section(docs):
    latest = _latest(docs)
    lines = [START, "<!-- generated by benchmarks/update_readme.py from benchmarks/results/*.json: "
                    "edit those, not this -->", ""]
    models = [d for d in latest if d["suite"] == "model"]
    lines += model_section(models)
    for d in latest:
        if d["suite"] == "ops":
            lines += ops_section(d)
    if not latest:
        lines += ["No recorded results yet: see benchmarks/README.md.", ""]
    lines.append(END)
    return "\n".join(lines)


def replace(text, new_section):
    i, j = text.find(START), text.find(END)
    if i < 0 or j < i:
        return None
    return text[:i] + new_section + text[j + len(END):]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    p.add_argument("--check", action="store_true", help="exit 1 if the README is out of date; write nothing")
    p.add_argument("--print", action="store_true", help="print the generated section; write nothing")
    args = p.parse_args(argv)
    new = section(load_results(args.results))
    if args.print:
        print(new)
        return 0
    try:
        with open(args.readme) as f:
            text = f.read()
    except OSError as e:
        print(f"update_readme: error: {e}", file=sys.stderr)
        return 2
    updated = replace(text, new)
    if updated is None:
        print(f"update_readme: error: {args.readme} has no '{START}' ... '{END}' section; add the two markers "
              "where the speed tables belong", file=sys.stderr)
        return 2
    if args.check:
        if updated != text:
            print(f"update_readme: {args.readme} is out of date; run python benchmarks/update_readme.py",
                  file=sys.stderr)
            return 1
        return 0
    if updated != text:
        with open(args.readme, "w") as f:
            f.write(updated)
        print(f"update_readme: rewrote the speed section of {args.readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
