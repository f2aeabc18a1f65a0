#!/usr/bin/env python3
"""vit FP32 vs static INT8 at batch 1 and 32, 1 thread: two quench builds (before/after a change,
e.g. main's and a branch's) and ONNX Runtime on the same two files (docs/benchmarks.md, the
INT8 vit's float Erf).

  bench/erf_gelu.py --before ../main/build/quench [--after build/quench] [--rounds 5]
                    [--seconds 1] [--batches 1 32]

The INT8 file is `quench quantize models/fmnist/vit.onnx --calib fmnist:train` by the *before*
build, written to build/bench-models/vit.int8.onnx, so that both builds run the same file. In each
round every (runtime, file, batch) is timed back to back (`quench bench --json`,
../shared/tools/peers/ort_peer.py bench), so that all see the same machine load; latencies are
medians over rounds, ratios the medians of the per-round INT8 / FP32 ratios of the same runtime.
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.environ.get("QUENCH_ORT_PEER",
                      os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))
OUT = os.path.join(ROOT, "build", "bench-models")


def last_json(p):
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(p.args)}\n{p.stderr[-800:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="the quench binary before the change")
    ap.add_argument("--after", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--no-ort", action="store_true")
    a = ap.parse_args()
    peer_py = subprocess.run([os.path.join(ROOT, "scripts", "python-peer.sh")],
                             capture_output=True, text=True).stdout.strip()
    os.makedirs(OUT, exist_ok=True)
    files = {"FP32": os.path.join(ROOT, "models", "fmnist", "vit.onnx"),
             "INT8": os.path.join(OUT, "vit.int8.onnx")}
    p = subprocess.run([a.before, "quantize", files["FP32"], "-o", files["INT8"], "--calib",
                        "fmnist:train", "--threads", "1", "--json"], capture_output=True, text=True)
    last_json(p)
    runtimes = {"quench before": [a.before, "bench"], "quench after": [a.after, "bench"]}
    if not a.no_ort:
        runtimes["ORT"] = [peer_py, PEER, "bench"]
    times = {}
    for _ in range(a.rounds):
        for b in a.batches:
            for r, cmd in runtimes.items():
                for k, f in files.items():
                    extra = ["--json"] if r != "ORT" else []
                    q = last_json(subprocess.run(cmd + [f, "--batch", str(b), "--threads", "1",
                                                        "--seconds", str(a.seconds)] + extra,
                                                 capture_output=True, text=True))
                    times.setdefault((r, k, b), []).append(q["median_ms"])
    print("| runtime | batch | FP32 ms | INT8 ms | INT8 / FP32 |")
    print("| --- | --- | --- | --- | --- |")
    for b in a.batches:
        for r in runtimes:
            fp, q8 = times[(r, "FP32", b)], times[(r, "INT8", b)]
            ratio = statistics.median(x / y for x, y in zip(q8, fp))
            print(f"| {r} | {b} | {statistics.median(fp):.3f} | {statistics.median(q8):.3f} | "
                  f"{ratio:.2f} |")


if __name__ == "__main__":
    main()
