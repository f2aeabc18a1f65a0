#!/usr/bin/env python3
"""quench sensitivity and quantize --max-drop on the CNN with small data: the JSON fields and
counts, the evaluation bound, and the refusals (labels missing, unwritable output checked first,
--val without --max-drop). Needs only the Python standard library."""
import argparse, json, math, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
USAGE, IO, BUDGET_NOT_MET = 2, 5, 8  # docs/cli.md
SMALL = ["--calib", "fmnist:train", "--calib-size", "32", "--threads", "2"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    quench = os.path.join(ap.parse_args().build, "quench")
    failures = []

    def check(label, ok, detail=""):
        print(("ok      " if ok else "FAILED  ") + label + (f": {detail}" if not ok else ""))
        if not ok:
            failures.append(label)

    def run(args):
        return subprocess.run([quench] + args, capture_output=True, text=True)

    p = run(["sensitivity", CNN, "--val", "fmnist:test", "--limit", "48", "--json"] + SMALL)
    ok = p.returncode == 0
    if ok:
        j = json.loads(p.stdout.strip().splitlines()[-1])
        units = j["units"]
        only = [u["only_quantized"] for u in units]
        ok = (j["metric"] == "top1" and len(units) >= 5
              and all({"name", "nodes", "only_quantized", "all_but_this"} <= set(u) for u in units)
              and only == sorted(only) and j["evaluations"] == 2 + 2 * len(units)
              and 0 <= j["all_quantized"] <= 1 and 0 <= j["baseline_fp32"] <= 1)
    check("sensitivity --json fields, ranking and evaluation count", ok, p.stderr[-300:])

    p = run(["sensitivity", CNN, "--val", "random:16:1x28x28", "--bits", "w4a8", "--json"] + SMALL)
    ok = p.returncode == 0
    if ok:
        j = json.loads(p.stdout.strip().splitlines()[-1])
        ok = j["metric"] == "sqnr_db" and j["baseline_fp32"] is None and len(j["units"]) >= 5
    check("sensitivity without labels scores output SQNR", ok, p.stderr[-300:])

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "amp.onnx")
        p = run(["quantize", CNN, "-o", out, "--weights", "int4", "--max-drop", "0.3", "--val",
                 "fmnist:test", "--val-limit", "64", "--json"] + SMALL)
        ok = p.returncode in (0, BUDGET_NOT_MET) and os.path.exists(out)
        if ok:
            j = json.loads(p.stdout.strip().splitlines()[-1])
            n = j["units"]
            bound = 2 + math.ceil(math.log2(n))
            meets = j["top1"] >= j["fp32_top1"] - 0.003 - 1e-12
            ok = (j["search_bound"] == bound and j["evaluations"] <= 1 + (2 + n) + bound
                  and j["budget_met"] == meets == (p.returncode == 0)
                  and len(j["kept_units"]) <= n and j["kept_at"] == "8-bit weights")
        check("quantize --max-drop: budget, kept units, evaluation bound", ok,
              p.stdout[-300:] + p.stderr[-300:])

        p = run(["quantize", CNN, "-o", out, "--max-drop", "0.3", "--val", "random:16:1x28x28"]
                + SMALL)
        check("--max-drop refuses unlabeled --val", p.returncode == USAGE and "no labels" in p.stderr,
              p.stderr[-300:])
        p = run(["quantize", CNN, "-o", os.path.join(tmp, "no", "dir", "x.onnx"), "--max-drop",
                 "0.3", "--val", "fmnist:test"] + SMALL)
        check("--max-drop checks the output path first", p.returncode == IO
              and "sensitivity" not in p.stderr, p.stderr[-300:])
        p = run(["quantize", CNN, "-o", out, "--val", "fmnist:test"] + SMALL)
        check("--val without --max-drop", p.returncode == USAGE and "--max-drop" in p.stderr,
              p.stderr[-300:])
    if failures:
        print(f"{len(failures)} case(s) failed: {', '.join(failures)}")
        return 1
    print("sensitivity and --max-drop behave")
    return 0


if __name__ == "__main__":
    sys.exit(main())
