#!/usr/bin/env python3
"""Data-free (analytic) bias correction against no correction and the empirical form.

The Fashion-MNIST fixtures were exported with their batch norms folded, so this puts one back
after every Conv (bench/unfold_bn.py: running statistics and γ, β from the Conv's output on the
first 512 training images, the function unchanged), as a model trained with batch norm and
exported without folding carries them. Then, per model, top-1 on the full fmnist:test of:

  w4-only          --weight-only --weights int4                      (no data at all)
  w4-only +abc     ... --bias-correction                             (analytic: no data)
  w4-only +ebc     ... --bias-correction --calib fmnist:train        (empirical, 512 images)
  w4a8 / +abc / +ebc   --weights int4 with a calibration table (--table; +ebc: --calib)
  w8a8-pt / +abc / +ebc  --per-tensor, the same three

    bench/analytic_bias.py [--models cnn,resnet20,mobilenetv2] [--python PY] [--markdown]

Needs the peer Python (onnx, onnxruntime) for unfold_bn.py.
"""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "..", "shared", "models", "fmnist")
CALIB = ["--calib", "fmnist:train", "--calib-size", "512"]
BASES = {
    "w4-only": ["--weight-only", "--weights", "int4"],
    "w4a8": ["--weights", "int4"],
    "w8a8-pt": ["--per-tensor"],
}


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def accuracy(quench, model):
    out = run([quench, "eval", model, "--data", "fmnist:test", "--json"])
    return json.loads(out.strip().splitlines()[-1])["accuracy"] * 100


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--models", default="cnn,resnet20,mobilenetv2")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models.split(","):
            bn = os.path.join(tmp, name + "_bn.onnx")
            run([a.python, os.path.join(ROOT, "bench", "unfold_bn.py"),
                 os.path.join(MODELS, name + ".onnx"), bn])
            table = os.path.join(tmp, name + ".json")
            run([a.quench, "calibrate", bn, "--data", "fmnist:train", "--calib-size", "512",
                 "-o", table])
            fp32 = accuracy(a.quench, bn)
            for base, flags in BASES.items():
                sources = [] if base == "w4-only" else ["--table", table]
                row = {"model": name, "case": base, "fp32": fp32}
                for label, extra in (("plain", sources), ("abc", sources + ["--bias-correction"]),
                                     ("ebc", CALIB + ["--bias-correction"])):
                    out = os.path.join(tmp, f"{name}_{base}_{label}.onnx")
                    log = run([a.quench, "quantize", bn, "-o", out] + flags + extra)
                    row[label] = accuracy(a.quench, out)
                    if label == "abc":
                        row["corrected"] = next(
                            (l.split()[2] for l in log.splitlines() if l.startswith("biases of")), "0")
                rows.append(row)
                print(json.dumps(row), flush=True)
    if a.markdown:
        print("| model | case | FP32 | plain | analytic BC (no data) | empirical BC (512 images) | layers corrected analytically |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['model']} | {r['case']} | {r['fp32']:.2f} | {r['plain']:.2f} | "
                  f"{r['abc']:.2f} | {r['ebc']:.2f} | {r['corrected']} |")


if __name__ == "__main__":
    main()
