#!/usr/bin/env python3
"""`quench quantize --latency-aware` against plain INT8 and FP32, in quench and ONNX Runtime on the
same files, 1 thread, batch 1 (docs/benchmarks.md, issue 14).

  bench/latency_aware.py [--models cnn vit] [--rounds 5] [--seconds 1] [--calib-size 512]
                         [--quantize-args "--weights int4 --gptq"]

For each model: `quench quantize` plain static INT8 and with --latency-aware (both calibrated on
the same `fmnist:train` samples, --threads 1), written to build/bench-models/. Then, in each
round, every file is timed back to back in quench (`quench bench --json`) and in ONNX Runtime
(../shared/tools/peers/ort_peer.py bench), so that all see the same machine load; latencies are
medians over rounds, ratios the medians of the per-round ratios to the same runtime's FP32 (below
1: faster than FP32). Top-1 on the full fmnist:test is from `quench eval`. `--quantize-args` are
added to both quantize commands (a 4-bit model with GPTQ, say); the plain file is then labelled
"static" instead of "INT8".
"""
import argparse, shlex, json, os, statistics, subprocess, sys

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
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", nargs="+", default=["cnn", "vit"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--calib-size", type=int, default=512)
    ap.add_argument("--quantize-args", default="")
    a = ap.parse_args()
    plain = "static" if a.quantize_args else "INT8"
    quench = os.path.join(a.build, "quench")
    peer_py = subprocess.run([os.path.join(ROOT, "scripts", "python-peer.sh")],
                             capture_output=True, text=True).stdout.strip()
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for m in a.models:
        fp32 = os.path.join(ROOT, "models", "fmnist", m + ".onnx")
        files = {"FP32": fp32, plain: os.path.join(OUT, m + ".int8.onnx"),
                 "latency-aware": os.path.join(OUT, m + ".latency.onnx")}
        common = (["--calib", "fmnist:train", "--calib-size", str(a.calib_size), "--threads", "1"]
                  + shlex.split(a.quantize_args))
        last_json(subprocess.run([quench, "quantize", fp32, "-o", files[plain], "--json"] + common,
                                 capture_output=True, text=True))
        la = last_json(subprocess.run([quench, "quantize", fp32, "-o", files["latency-aware"],
                                       "--latency-aware", "--json"] + common,
                                      capture_output=True, text=True))
        kept = sum(u["kept_float"] for u in la["latency"]["units"])
        note = (f"{kept}/{len(la['latency']['units'])} units float, "
                f"{la['latency']['fallback_rounds']} fallback rounds"
                + (", FP32 written" if la["latency"]["fp32_written"] else ""))
        times = {(k, r): [] for k in files for r in ["quench", "ort"]}
        for _ in range(a.rounds):
            for k, f in files.items():
                q = last_json(subprocess.run([quench, "bench", f, "--threads", "1", "--seconds",
                                              str(a.seconds), "--json"],
                                             capture_output=True, text=True))
                o = last_json(subprocess.run([peer_py, PEER, "bench", f, "--threads", "1",
                                              "--seconds", str(a.seconds)],
                                             capture_output=True, text=True))
                times[(k, "quench")].append(q["median_ms"])
                times[(k, "ort")].append(o["median_ms"])
        for k, f in files.items():
            acc = last_json(subprocess.run([quench, "eval", f, "--threads", "1", "--json"],
                                           capture_output=True, text=True))["accuracy"]
            cells = []
            for r in ["quench", "ort"]:
                ratio = statistics.median(x / y for x, y in zip(times[(k, r)], times[("FP32", r)]))
                cells += [f"{statistics.median(times[(k, r)]):.3f}", f"{ratio:.2f}"]
            rows.append([m, k, f"{100 * acc:.2f}"] + cells + [note if k == "latency-aware" else ""])
    print("| model | file | top-1 % | quench ms | quench / FP32 | ORT ms | ORT / FP32 | choice |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
