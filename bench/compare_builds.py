#!/usr/bin/env python3
"""Two quench builds side by side in one run, 1 thread: the same models, measured back to back.

  bench/compare_builds.py OTHER_BUILD_DIR [--build build] [--rounds 5] [--seconds 1] [--markdown]

For a change that must not cost speed (a restructuring, another compiler flag), build the commit
before it elsewhere (e.g. `git worktree add ../base HEAD~1 && cmake -S ../base -B ../base/build`)
and compare: for each case, both builds run `quench bench --json` in turn within a round, so
they see the same machine load; the table gives the medians over rounds and the median of the
per-round ratios this/other (below 1: this build is faster). Standard library only.
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))


def fmnist(name):
    return os.path.join(ROOT, "models", "fmnist", name)


# (label, model, batch, sample shape or None)
CASES = (
    [(f"{m} FP32", fmnist(m + ".onnx"), b, None) for m in ["cnn", "resnet20", "mobilenetv2", "lstm", "vit"]
     for b in (1, 32)] +
    [(f"{m} INT8 (ORT QDQ)", fmnist(f"ort/{m}.ort_qdq.onnx"), b, None)
     for m in ["cnn", "resnet20", "mobilenetv2", "vit"] for b in (1, 32)] +
    [(f"{m} dynamic (ORT)", fmnist(f"ort/{m}.ort_dynamic.onnx"), b, None) for m in ["lstm", "vit"]
     for b in (1, 32)] +
    [(f"{m} 224 FP32", os.path.join(SHARED, "imagenet", m + ".onnx"), 1, "3,224,224")
     for m in ["resnet18", "mobilenet_v2"]] +
    [(f"{m} 224 INT8 (ORT QDQ)", os.path.join(SHARED, "imagenet", "ort", m + ".ort_qdq.onnx"), 1,
      "3,224,224") for m in ["resnet18", "mobilenet_v2"]] +
    # quench's own files, where bench/imagenet_peers.py has made them.
    [(f"{m} 224 INT8 (quench QDQ)", os.path.join(ROOT, "build", "bench-models",
                                                 m + ".quench_qdq.onnx"), 1, "3,224,224")
     for m in ["resnet18", "mobilenet_v2", "efficientnet_like"]])


def bench(quench, model, batch, shape, seconds):
    cmd = [quench, "bench", model, "--batch", str(batch), "--threads", "1", "--seconds",
           str(seconds), "--json"]
    if shape:
        cmd += ["--shape", shape]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ, OMP_WAIT_POLICY="passive")).stdout
    return json.loads(out.strip().splitlines()[-1])["median_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="the other build folder (holding its quench binary)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    this, other = os.path.join(a.build, "quench"), os.path.join(a.other, "quench")
    rows = []
    for label, model, batch, shape in CASES:
        if not os.path.exists(model):
            print(f"skipped {label}: {model} not found", file=sys.stderr)
            continue
        mine, theirs, ratios = [], [], []
        for _ in range(a.rounds):
            m = bench(this, model, batch, shape, a.seconds)
            t = bench(other, model, batch, shape, a.seconds)
            mine.append(m)
            theirs.append(t)
            ratios.append(m / t)
        row = (label, batch, statistics.median(mine), statistics.median(theirs),
               statistics.median(ratios))
        rows.append(row)
        print(f"{label} b{batch}: {row[2]:.3f} ms vs {row[3]:.3f} ms, ratio {row[4]:.2f}",
              file=sys.stderr, flush=True)
    if a.markdown:
        print("| case | batch | this build ms | other build ms | this / other |")
        print("| --- | --- | --- | --- | --- |")
        for label, batch, m, t, r in rows:
            print(f"| {label} | {batch} | {m:.3f} | {t:.3f} | {r:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
