#!/usr/bin/env python3
"""The GRU of `quench quantize --mode dynamic`: FP32 vs dynamic int8 in quench vs ONNX Runtime,
1 thread, side by side in one run.

  bench/dynamic_gru.py [--rounds 5] [--seconds 1] [--skip-accuracy] [--skip-speed] [--markdown]

Models (made into build/bench-models/ on first use): `gru`, the Fashion-MNIST GRU classifier of
bench/train_gru.py (hidden 64, forward, linear_before_reset 0; trained with numpy, a few minutes),
and `gru_bidir_lbr1`, the random-weight bidirectional GRU with linear_before_reset 1 of
tests/e2e/test_dynamic_ort.py (hidden 32). Each is quantized by `quench quantize --mode dynamic`:
the GRU weight only (int8 W and R behind DequantizeLinear), which ONNX Runtime runs as the float
GRU on dequantized weights and quench as its integer GRU (docs/quantization.md, eqs.
(136)-(138)); the linear head becomes MatMulInteger in both.

Speed (bench/compare_ort.py's method: the four runs of a batch size measured back to back within
a round; latencies are medians over rounds, ratios medians of per-round ratios) at batch 1 and 32:
quench FP32, quench dynamic, ONNX Runtime FP32, ONNX Runtime on the dynamic file.
Accuracy: top-1 on the full Fashion-MNIST test set in batches of 500, FP32 and dynamic, in both.
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))
GENERATED = os.path.join(ROOT, "build", "bench-models")
BATCH = 500


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def models(a):
    """{name: (fp32 path, dynamic path)}, made on first use."""
    os.makedirs(GENERATED, exist_ok=True)
    out = {}
    for name in a.models.split(","):
        fp32 = os.path.join(GENERATED, name + ".onnx")
        if not os.path.exists(fp32):
            if name == "gru":
                subprocess.run([a.python, os.path.join(ROOT, "bench", "train_gru.py"), fp32, "--epochs", "3",
                                "--batch", "256"], check=True)
            elif name == "gru_bidir_lbr1":
                from test_dynamic_ort import gru_model  # noqa: E402
                gru_model(fp32, "bidirectional", 1)
            else:
                sys.exit(f"unknown model {name}")
        dynamic = os.path.join(GENERATED, name + ".quench_dynamic.onnx")
        subprocess.run([a.quench, "quantize", fp32, "-o", dynamic, "--mode", "dynamic"], check=True,
                       stdout=subprocess.DEVNULL)
        out[name] = (fp32, dynamic)
    return out


def bench(a, runner, path, batch):
    if runner == "quench":
        cmd = [a.quench, "bench", path, "--json"]
    else:
        cmd = [a.python, a.peer, "bench", path]
    cmd += ["--batch", str(batch), "--threads", str(a.threads), "--shape", "1,28,28", "--seconds",
            str(a.seconds)]
    return run_json(cmd)["median_ms"]


def speed_rows(a, paths):
    runs = [("quench", "fp32"), ("quench", "dynamic"), ("ort", "fp32"), ("ort", "dynamic")]
    rows = []
    for name, (fp32, dynamic) in paths.items():
        for batch in (1, 32):
            times = {run: [] for run in runs}
            for r in range(a.rounds):
                for runner, kind in runs:
                    times[(runner, kind)].append(bench(a, runner, fp32 if kind == "fp32" else dynamic, batch))
                print(f"round {r + 1}/{a.rounds} {name} b{batch}: " +
                      ", ".join(f"{k[0]} {k[1]} {v[-1]:.3f}" for k, v in times.items()), file=sys.stderr)

            def ratio(x, y):
                return statistics.median(p / q for p, q in zip(times[x], times[y]))
            rows.append({"model": name, "batch": batch,
                         **{f"{k[0]}_{k[1]}_ms": statistics.median(v) for k, v in times.items()},
                         "quench_dynamic_vs_fp32": ratio(("quench", "dynamic"), ("quench", "fp32")),
                         "quench_dynamic_vs_ort_dynamic": ratio(("quench", "dynamic"), ("ort", "dynamic")),
                         "quench_fp32_vs_ort_fp32": ratio(("quench", "fp32"), ("ort", "fp32"))})
    return rows


def accuracy_rows(a, paths):
    rows = []
    for name, (fp32, dynamic) in paths.items():
        row = {"model": name}
        for kind, path in (("fp32", fp32), ("dynamic", dynamic)):
            row[f"quench_{kind}"] = 100.0 * run_json([a.quench, "eval", path, "--data", "fmnist:test", "--batch",
                                                      str(BATCH), "--threads", str(a.threads), "--json"])["accuracy"]
            row[f"ort_{kind}"] = 100.0 * run_json([a.python, a.peer, "accuracy", path, "--threads",
                                                   str(a.threads)])["accuracy"]
        rows.append(row)
        print(f"accuracy {name}: {row}", file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="gru,gru_bidir_lbr1")
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    paths = models(a)
    speed = [] if a.skip_speed else speed_rows(a, paths)
    acc = [] if a.skip_accuracy else accuracy_rows(a, paths)
    if a.markdown and speed:
        print("| model | batch | quench FP32 ms | quench dynamic ms | ORT FP32 ms | ORT dynamic file ms | "
              "quench dyn / quench FP32 | quench dyn / ORT dyn | quench FP32 / ORT FP32 |")
        print("| --- " * 9 + "|")
        for r in speed:
            print(f"| {r['model']} | {r['batch']} | {r['quench_fp32_ms']:.3f} | {r['quench_dynamic_ms']:.3f} | "
                  f"{r['ort_fp32_ms']:.3f} | {r['ort_dynamic_ms']:.3f} | {r['quench_dynamic_vs_fp32']:.2f} | "
                  f"{r['quench_dynamic_vs_ort_dynamic']:.2f} | {r['quench_fp32_vs_ort_fp32']:.2f} |")
        print()
    if a.markdown and acc:
        print("| model | FP32, quench | dynamic, quench | Δ | FP32, ORT | dynamic file, ORT | Δ |")
        print("| --- " * 7 + "|")
        for r in acc:
            print(f"| {r['model']} | {r['quench_fp32']:.2f} | {r['quench_dynamic']:.2f} | "
                  f"{r['quench_dynamic'] - r['quench_fp32']:+.2f} | {r['ort_fp32']:.2f} | {r['ort_dynamic']:.2f} | "
                  f"{r['ort_dynamic'] - r['ort_fp32']:+.2f} |")
    print(json.dumps({"threads": a.threads, "rounds": a.rounds, "speed": speed, "accuracy": acc}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
