#!/usr/bin/env python3
"""Low-bit PTQ accuracy: each case x model, quantized by quench, run in quench and in ONNX Runtime.

  bench/lowbit_accuracy.py [--models cnn,resnet20,mobilenetv2,vit] [--cases w4a8,w4a8-gptq,...]
                           [--calib-size 512] [--limit N] [--threads 1] [--markdown]

Each case is a list of `quench quantize` options added to
`quench quantize MODEL -o OUT --calib fmnist:train --calib-size N --threads T --json`
(CASES below). The algorithm time is the `rounding_seconds` quench reports (data collection
included; 0 for plain rounding), the quantize time the wall time of the whole command
(calibration included). Top-1 on fmnist:test of the FP32 model and of each file, in quench
(`quench eval`) and in ONNX Runtime (`ort_peer.py accuracy`, the same file). Not run in CI: the
AdaRound rows take minutes per model.
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))
CASES = {
    "w8a8": [],
    "w4a8": ["--weights", "int4"],
    "w4a8-bc": ["--weights", "int4", "--bias-correction"],
    "w4a8-gptq": ["--weights", "int4", "--gptq"],
    "w4a8-gptq-published": ["--weights", "int4", "--gptq", "--gptq-target", "quantized"],
    "w4a8-adaround": ["--weights", "int4", "--adaround"],
    "w4a8-adaround-bc": ["--weights", "int4", "--adaround", "--bias-correction"],
    "w4-only-gptq": ["--weights", "int4", "--weight-only", "--gptq"],
    "w8a8-pt": ["--per-tensor"],
}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--models", default="cnn,resnet20,mobilenetv2,vit")
    ap.add_argument("--cases", default="w4a8,w4a8-gptq,w4a8-adaround-bc")
    ap.add_argument("--calib-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="test images (0: all 10,000)")
    ap.add_argument("--no-peer", action="store_true", help="quench only")
    ap.add_argument("--keep", help="keep the quantized files in this folder")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    limit = ["--limit", str(a.limit)] if a.limit else []

    def quench_acc(model):
        return 100 * run_json([a.quench, "eval", model, "--data", "fmnist:test", "--json"] + limit)["accuracy"]

    def ort_acc(model):
        if a.no_peer:
            return None
        return 100 * run_json([a.python, a.peer, "accuracy", model] + limit)["accuracy"]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.keep or tmp
        os.makedirs(folder, exist_ok=True)
        for name in a.models.split(","):
            fp32 = os.path.join(ROOT, "models", "fmnist", name + ".onnx")
            base = quench_acc(fp32)
            print(f"{name} FP32: {base:.2f}", file=sys.stderr)
            for case in a.cases.split(","):
                out = os.path.join(folder, f"{name}.{case}.onnx")
                start = time.time()
                info = run_json([a.quench, "quantize", fp32, "-o", out, "--calib", "fmnist:train",
                                 "--calib-size", str(a.calib_size), "--threads", str(a.threads),
                                 "--json"] + CASES[case])
                wall = time.time() - start
                q, o = quench_acc(out), ort_acc(out)
                rows.append((name, case, base, q, o, info.get("rounding_seconds", 0.0), wall))
                print(f"  {case}: quench {q:.2f} ({q - base:+.2f})" +
                      (f", ORT {o:.2f}" if o is not None else "") +
                      f", algorithm {rows[-1][5]:.1f} s, quantize {wall:.1f} s", file=sys.stderr)

    if a.markdown:
        print("| model | case | FP32 | quench | Δ | ORT, same file | algorithm s | quantize s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, case, b, q, o, alg, wall in rows:
            ort = f"{o:.2f}" if o is not None else "–"
            print(f"| {name} | {case} | {b:.2f} | {q:.2f} | {q - b:+.2f} | {ort} | {alg:.1f} | {wall:.1f} |")
    else:
        for r in rows:
            print(json.dumps(dict(zip(["model", "case", "fp32", "quench", "ort", "algorithm_s", "quantize_s"], r))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
