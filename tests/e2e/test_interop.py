#!/usr/bin/env python3
"""quench agrees with ONNX Runtime on ONNX Runtime's own quantized models.

Runs bench/interop.py on the first 2000 Fashion-MNIST test images: for every file in
models/fmnist/ort/ (QDQ, lowered to integer ops; QOperator; dynamic), quench's top-1 accuracy is
within 0.1 points of ONNX Runtime's, i.e. at most 2 of the 2000 images more or fewer are classified
correctly. (Integer requantization in quench and ORT may round a value differently by one step, eq.
(35) of docs/quantization.md, which can flip a near-tied prediction.) Started by run_python.sh,
which skips (exit 77) when onnxruntime is not installed.
"""
import argparse, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = 2000
MAX_DIFF_POINTS = 0.1  # 2 images out of 2000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    cmd = [sys.executable, os.path.join(ROOT, "bench", "interop.py"), "--quench",
           os.path.join(a.build, "quench"), "--python", sys.executable, "--limit", str(IMAGES),
           "--max-diff", str(MAX_DIFF_POINTS)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    print("\n".join(r.stdout.strip().splitlines()[:-1]))  # the table; the JSON line is for tools
    if r.returncode != 0:
        print(f"FAILED: some model differs from ONNX Runtime by more than {MAX_DIFF_POINTS} pt "
              f"on {IMAGES} images (or a run failed)")
        return 1
    print(f"all models within {MAX_DIFF_POINTS} pt of ONNX Runtime on {IMAGES} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
