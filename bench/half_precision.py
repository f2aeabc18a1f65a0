#!/usr/bin/env python3
"""quench quantize --mode fp16 / bf16 on every bundled model: file size and top-1 accuracy.

  bench/half_precision.py [--models cnn,resnet20,mobilenetv2,lstm,vit] [--limit N] [--markdown]

For each model and type: `quench quantize MODEL --mode fp16|bf16` into build/bench-models/, the
file size against the FP32 file, and top-1 on the Fashion-MNIST test set (all 10,000 images
unless --limit) of the FP32 model in quench and of the 16-bit file in quench and in ONNX Runtime,
1 thread, batches of 500.
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
    ap.add_argument("--models", default="cnn,resnet20,mobilenetv2,lstm,vit")
    ap.add_argument("--types", default="fp16,bf16")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    os.makedirs(GENERATED, exist_ok=True)

    def quench_acc(path):
        cmd = [a.quench, "eval", path, "--batch", "500", "--threads", "1", "--json"]
        return 100.0 * run_json(cmd + (["--limit", str(a.limit)] if a.limit else []))["accuracy"]

    def ort_acc(path):
        cmd = [a.python, a.peer, "accuracy", path, "--threads", "1"]
        return 100.0 * run_json(cmd + (["--limit", str(a.limit)] if a.limit else []))["accuracy"]

    rows = []
    for m in a.models.split(","):
        src = os.path.join(ROOT, "models", "fmnist", m + ".onnx")
        fp32 = quench_acc(src)
        for t in a.types.split(","):
            out = os.path.join(GENERATED, f"{m}.{t}.onnx")
            subprocess.run([a.quench, "quantize", src, "-o", out, "--mode", t], check=True,
                           stdout=subprocess.DEVNULL)
            row = {"model": m, "type": t, "fp32": fp32, "quench": quench_acc(out), "ort": ort_acc(out),
                   "size_ratio": os.path.getsize(out) / os.path.getsize(src)}
            rows.append(row)
            print(f"{row}", file=sys.stderr)
    if a.markdown:
        print("| model | type | FP32 (quench) | quench | Δ | ORT | Δ | size / FP32 |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['model']} | {r['type']} | {r['fp32']:.2f} | {r['quench']:.2f} | "
                  f"{r['quench'] - r['fp32']:+.2f} | {r['ort']:.2f} | {r['ort'] - r['fp32']:+.2f} | "
                  f"{r['size_ratio']:.3f} |")
    print(json.dumps({"limit": a.limit, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
