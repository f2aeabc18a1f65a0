#!/usr/bin/env python3
"""quench agrees with ONNX Runtime on ONNX Runtime's own quantized models.

Runs bench/interop.py on the first 2000 Fashion-MNIST test images: for every file in
models/fmnist/ort/ (QDQ, lowered to integer ops; QOperator; dynamic), quench's top-1 accuracy is
within 0.1 points of ONNX Runtime's, i.e. at most 2 of the 2000 images more or fewer are classified
correctly. (Integer requantization in quench and ORT may round a value differently by one step, eq.
(35) of docs/quantization.md, which can flip a near-tied prediction.)

One measured exception: vit.ort_qdq.onnx, bound 0.25 pt (5 images). Executing its QDQ graph in
float, as written (no lowering), quench already disagrees with ONNX Runtime on 11 of these images
(-0.15 pt): ORT computes its 146 quantize steps with its own integer kernels and float ops, and in
a transformer a one-step difference early on can move a near-tied logit. Lowering changes one more
prediction. On the full test set the file is within +0.05 pt.

Started by run_python.sh, which skips (exit 77) when onnxruntime is not installed.
"""
import argparse, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = 2000
MAX_DIFF_POINTS = 0.1  # 2 images out of 2000
KNOWN_BOUNDS = {"vit.ort_qdq.onnx": 0.25}  # see the docstring


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    cmd = [sys.executable, os.path.join(ROOT, "bench", "interop.py"), "--quench",
           os.path.join(a.build, "quench"), "--python", sys.executable, "--limit", str(IMAGES)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = r.stdout.strip().splitlines()
    print("\n".join(lines[:-1]))  # the table; the JSON line is for tools
    if r.returncode != 0 or not lines:
        print("FAILED: bench/interop.py did not complete")
        return 1
    failures = []
    for row in json.loads(lines[-1])["rows"]:
        bound = KNOWN_BOUNDS.get(os.path.basename(row["model"]), MAX_DIFF_POINTS)
        if abs(row["diff"]) > bound + 1e-9:
            failures.append(f"{row['model']}: {row['diff']:+.2f} pt (bound {bound} pt)")
    for f in failures:
        print("FAILED  " + f)
    if failures:
        return 1
    print(f"all models within {MAX_DIFF_POINTS} pt of ONNX Runtime on {IMAGES} images "
          f"(known exceptions: {KNOWN_BOUNDS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
