#!/usr/bin/env python3
"""bf16 and fp16 files against the FP32 model in quench, batch 32, side by side in one run.

  bench/half_speed.py [--models cnn,resnet20,mobilenetv2,vit] [--types bf16] [--rounds 5]
                      [--seconds 1] [--batch 32] [--markdown]

For each model and type: `quench quantize MODEL --mode TYPE` into build/bench-models/, then, each
round, `quench bench --compare FP32 FILE --threads 1` twice: as the session chooses (bfloat16
products on oneDNN's kernels where the CPU's bfloat16 dot product outruns float32 FMA, eq. (158))
and with QUENCH_BF16_PRODUCTS=0 (the same file computed by the float32 kernels). Prints the median
over rounds of each file's time over the FP32 model's time of the same run, and the CPU (its
model name and bfloat16-related flags).
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATED = os.path.join(ROOT, "build", "bench-models")


def cpu_description():
    """Model name and the bfloat16-related flags of /proc/cpuinfo (Linux)."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return "unknown CPU"
    name = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags")), [])
    have = [f for f in ("avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name} ({' '.join(have) or 'no AVX-512'})"


def bench_ratio(quench, fp32, path, batch, seconds, env):
    cmd = [quench, "bench", "--compare", fp32, path, "--batch", str(batch), "--threads", "1",
           "--seconds", str(seconds), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out.strip().splitlines()[-1])["results"]
    return r[1]["median_ms"] / r[0]["median_ms"], r[0]["median_ms"], r[1]["median_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="cnn,resnet20,mobilenetv2,vit")
    ap.add_argument("--types", default="bf16")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    os.makedirs(GENERATED, exist_ok=True)
    cpu = cpu_description()
    print(cpu, file=sys.stderr)
    rows = []
    for m in a.models.split(","):
        src = os.path.join(ROOT, "models", "fmnist", m + ".onnx")
        for t in a.types.split(","):
            out = os.path.join(GENERATED, f"{m}.{t}.onnx")
            subprocess.run([a.quench, "quantize", src, "-o", out, "--mode", t], check=True,
                           stdout=subprocess.DEVNULL)
            chosen, forced_float, fp32_ms, half_ms = [], [], [], []
            for _ in range(a.rounds):
                r, f, h = bench_ratio(a.quench, src, out, a.batch, a.seconds, dict(os.environ))
                chosen.append(r)
                fp32_ms.append(f)
                half_ms.append(h)
                env = dict(os.environ, QUENCH_BF16_PRODUCTS="0")
                forced_float.append(bench_ratio(a.quench, src, out, a.batch, a.seconds, env)[0])
            row = {"model": m, "type": t, "fp32_ms": statistics.median(fp32_ms),
                   "half_ms": statistics.median(half_ms), "ratio": statistics.median(chosen),
                   "ratio_float32_kernels": statistics.median(forced_float)}
            rows.append(row)
            print(row, file=sys.stderr)
    if a.markdown:
        print(f"| model | type | FP32 ms | {a.types} ms | time / FP32 | "
              "time / FP32, float32 kernels |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['model']} | {r['type']} | {r['fp32_ms']:.2f} | {r['half_ms']:.2f} | "
                  f"{r['ratio']:.2f} | {r['ratio_float32_kernels']:.2f} |")
    print(json.dumps({"batch": a.batch, "rounds": a.rounds, "cpu": cpu, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
