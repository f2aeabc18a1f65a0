#!/usr/bin/env python3
"""Training smoke test: 50 steps of `quench train` on a randomly initialised cnn must lower the
loss and write a model that `quench eval` reads. Needs only the Python standard library."""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    quench = os.path.join(a.build, "quench")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "trained.onnx")
        p = subprocess.run([quench, "train", CNN, "--data", "fmnist:train", "--steps", "50",
                            "--batch", "32", "--lr", "0.05", "--init", "random", "--seed", "1",
                            "--threads", "1", "--json", "-o", out],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print(f"FAILED: exit {p.returncode}: {p.stderr.strip()[-300:]}")
            return 1
        r = json.loads(p.stdout.strip().splitlines()[-1])
        print(f"50 steps in {r['seconds']:.1f} s: loss {r['first_loss']:.4f} -> {r['last_loss']:.4f}")
        if not r["last_loss"] < r["first_loss"]:
            print("FAILED: the loss did not go down")
            return 1
        e = subprocess.run([quench, "eval", out, "--data", "fmnist:test", "--limit", "256"],
                           capture_output=True, text=True)
        if e.returncode != 0:
            print(f"FAILED: eval of the trained model: {e.stderr.strip()[-300:]}")
            return 1
        print(e.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
