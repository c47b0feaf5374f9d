"""The JSON summary of ``benchmarks/gpu_check.sh``: one record per stage, rewritten after each stage.

Usage (by the script; Python's standard library only, so it runs before anything is known to work)::

    python _gpu_check_summary.py start SUMMARY --mode gpu|emulator --log LOG [--note TEXT ...]
    python _gpu_check_summary.py add SUMMARY --name NAME --command CMD --rc N --seconds S
                                             [--result FILE] [--junit FILE] [--need-gpu-tests]
    python _gpu_check_summary.py finish SUMMARY     # exit status 1 if any stage failed

The summary (``summary.json``) holds ``mode``, ``started``/``finished`` (UTC, ISO 8601), ``log``,
``notes``, ``stages`` (each: ``name``, ``command``, ``exit_code``, ``seconds``, ``result`` (a file
under the output folder, or null) and ``ok``) and, once finished, ``ok`` (every stage ok).
A pytest stage given ``--junit`` also records its test counts, and the number of tests that ran on
the real GPU (test ids with the ``gpu`` parameter); ``--need-gpu-tests`` fails the stage when none
did, so a GPU run whose device tests were all skipped is not reported as a pass.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import xml.etree.ElementTree as ET


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _save(path, summary):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def junit_counts(path):
    """Counts of a pytest JUnit XML file: tests, failures (and errors), skipped, and how many of the
    test cases whose id has the ``gpu`` parameter (``test_x[gpu-...]``) passed or were skipped."""
    counts = dict(tests=0, failed=0, skipped=0, gpu_passed=0, gpu_skipped=0)
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        on_gpu = "[gpu]" in name or "[gpu-" in name
        counts["tests"] += 1
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
            counts["gpu_skipped"] += on_gpu
        else:
            counts["gpu_passed"] += on_gpu
    return counts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("start")
    s.add_argument("summary")
    s.add_argument("--mode", choices=("gpu", "emulator"), required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--note", action="append", default=[])
    a = sub.add_parser("add")
    a.add_argument("summary")
    a.add_argument("--name", required=True)
    a.add_argument("--command", required=True)
    a.add_argument("--rc", type=int, required=True)
    a.add_argument("--seconds", type=float, required=True)
    a.add_argument("--result")
    a.add_argument("--junit")
    a.add_argument("--need-gpu-tests", action="store_true")
    f = sub.add_parser("finish")
    f.add_argument("summary")
    args = p.parse_args(argv)

    if args.action == "start":
        _save(args.summary, dict(mode=args.mode, started=_now(), finished=None, log=os.path.basename(args.log),
                                 notes=args.note, stages=[], ok=None))
        return 0
    summary = _load(args.summary)
    if args.action == "add":
        folder = os.path.dirname(os.path.abspath(args.summary))
        result = args.result or args.junit  # a pytest stage's result is its JUnit file
        result = result if result and os.path.exists(result) else None
        stage = dict(name=args.name, command=args.command, exit_code=args.rc, seconds=round(args.seconds, 2),
                     result=os.path.relpath(result, folder) if result else None, ok=args.rc == 0)
        if args.junit and os.path.exists(args.junit):
            stage["tests"] = counts = junit_counts(args.junit)
            if args.need_gpu_tests and counts["gpu_passed"] == 0:
                stage["ok"] = False
                stage["why"] = "no test ran on the GPU (every [gpu] case skipped or absent)"
                print(f"gpu_check: stage {args.name} failed: {stage['why']}")
        summary["stages"].append(stage)
        _save(args.summary, summary)
        return 0
    summary["finished"] = _now()
    summary["ok"] = bool(summary["stages"]) and all(st["ok"] for st in summary["stages"])
    _save(args.summary, summary)
    failed = [st["name"] for st in summary["stages"] if not st["ok"]]
    print(f"gpu_check: {len(summary['stages']) - len(failed)}/{len(summary['stages'])} stages ok"
          + (f"; failed: {', '.join(failed)}" if failed else "") + f" (summary: {args.summary})")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
