#!/usr/bin/env python3
"""Weight-only blockwise 4-bit (com.microsoft MatMulNBits): file size and top-1 accuracy.

  bench/nbits_accuracy.py [--models vit,lstm] [--groups 32,64,128] [--limit N] [--markdown]

For each model and block size: `quench quantize MODEL --weight-only --weights int4 --group-size B`
into build/bench-models/, the file size against the FP32 file, and top-1 on the Fashion-MNIST test
set (all 10,000 images unless --limit) of the FP32 model (quench and ONNX Runtime) and of the
MatMulNBits file in ONNX Runtime and in quench, 1 thread.
"""
import argparse, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))
GENERATED = os.path.join(ROOT, "build", "bench-models")


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="vit,lstm")
    ap.add_argument("--groups", default="32,64,128")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    os.makedirs(GENERATED, exist_ok=True)
    limit = ["--limit", str(a.limit)] if a.limit else []

    def quench_acc(path):
        cmd = [a.quench, "eval", path, "--batch", "500", "--threads", "1", "--json"]
        return 100.0 * run_json(cmd + limit)["accuracy"]

    def ort_acc(path):
        return 100.0 * run_json([a.python, a.peer, "accuracy", path, "--threads", "1"] + limit)["accuracy"]

    rows = []
    for m in a.models.split(","):
        src = os.path.join(ROOT, "models", "fmnist", m + ".onnx")
        fp32_q, fp32_o = quench_acc(src), ort_acc(src)
        for g in a.groups.split(","):
            out = os.path.join(GENERATED, f"{m}.w4g{g}.onnx")
            q = run_json([a.quench, "quantize", src, "-o", out, "--weight-only", "--weights", "int4",
                          "--group-size", g, "--json"])
            row = {"model": m, "group": int(g), "fp32_quench": fp32_q, "fp32_ort": fp32_o, "ort": ort_acc(out), "quench": quench_acc(out),
                   "layers": q["quantized_nodes"], "size_ratio": os.path.getsize(out) / os.path.getsize(src)}
            rows.append(row)
            print(f"{row}", file=sys.stderr)
    if a.markdown:
        print("| model | block | MatMulNBits nodes | FP32 (quench) | FP32 (ORT) | int4 (ORT) | int4 (quench) | Δ vs FP32 ORT | size / FP32 |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['model']} | {r['group']} | {r['layers']} | {r['fp32_quench']:.2f} | {r['fp32_ort']:.2f} | "
                  f"{r['ort']:.2f} | {r['quench']:.2f} | {r['ort'] - r['fp32_ort']:+.2f} | {r['size_ratio']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
