#!/usr/bin/env python3
"""Calibration cost: peak memory and images per second of `quench calibrate`.

  bench/calibration.py [--model models/fmnist/mobilenetv2.onnx] [--method entropy]
                       [--sizes 512,5120] [--threads 1]

Peak memory is the maximum resident set size of the process (GNU time's %M). Memory must not grow
with the number of samples: observers have fixed-size state and data is read per batch.
"""
import argparse, json, os, re, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "fmnist", "mobilenetv2.onnx"))
    ap.add_argument("--method", default="entropy")
    ap.add_argument("--sizes", default="512,5120")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in a.sizes.split(",")]:
            cmd = ["/usr/bin/time", "-f", "peak_kib=%M", a.quench, "calibrate", a.model, "--data",
                   "fmnist:train", "--calib-size", str(n), "--method", a.method, "--threads",
                   str(a.threads), "-o", os.path.join(tmp, "t.json")]
            start = time.monotonic()
            p = subprocess.run(cmd, capture_output=True, text=True, check=True)
            seconds = time.monotonic() - start
            peak = int(re.search(r"peak_kib=(\d+)", p.stderr).group(1))
            rows.append({"images": n, "peak_mib": peak / 1024, "seconds": seconds,
                         "images_per_s": n / seconds})
            print(f"{n:6d} images: peak {peak / 1024:7.1f} MiB, {seconds:6.2f} s, "
                  f"{n / seconds:7.0f} images/s (process total, model load included)", file=sys.stderr)
    ratio = rows[-1]["peak_mib"] / rows[0]["peak_mib"]
    print(f"peak memory ratio {rows[-1]['images']} / {rows[0]['images']} images: {ratio:.3f}",
          file=sys.stderr)
    print(json.dumps({"model": a.model, "method": a.method, "rows": rows, "peak_ratio": ratio}))


if __name__ == "__main__":
    main()
