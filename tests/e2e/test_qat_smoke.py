#!/usr/bin/env python3
"""QAT smoke test: a few dozen steps of `quench qat --bits w4a8` on the cnn write a QDQ model that
`quench eval` runs; where onnxruntime is installed (the peer venv, scripts/python-peer.sh) the file
passes the ONNX checker and ONNX Runtime gives the same top-1 on a subset within 0.1 point. Also
the refusals that come before any training. The quench part needs only the standard library."""
import argparse, gzip, json, os, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
IMAGES = 1000
MAX_TOP1_GAP = 0.1  # points of top-1 between quench and ONNX Runtime

ORT_CHECK = r'''
import gzip, struct, sys
import numpy as np, onnx, onnxruntime as ort
sys.path.insert(0, sys.argv[4])
from exact_peer import exact_model
path, fmnist, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
onnx.checker.check_model(onnx.load(path))
def idx(name, offset):
    with gzip.open(f"{fmnist}/{name}", "rb") as f:
        return f.read()[offset:]
x = np.frombuffer(idx("t10k-images-idx3-ubyte.gz", 16), np.uint8).reshape(-1, 1, 28, 28)[:n]
y = np.frombuffer(idx("t10k-labels-idx1-ubyte.gz", 8), np.uint8)[:n]
so = ort.SessionOptions(); so.log_severity_level = 3
s = ort.InferenceSession(exact_model(path), so, providers=["CPUExecutionProvider"])
out = s.run(None, {s.get_inputs()[0].name: (x / 255.0).astype(np.float32)})[0]
print((out.argmax(1) == y).mean())
'''


def peer_python():
    p = subprocess.run([os.path.join(ROOT, "scripts", "python-peer.sh")], capture_output=True,
                       text=True)
    return p.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    quench = os.path.join(a.build, "quench")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "qat.onnx")
        p = subprocess.run([quench, "qat", CNN, "--data", "fmnist:train", "--bits", "w4a8",
                            "--steps", "30", "--batch", "16", "--calib-size", "64",
                            "--threads", "1", "--json", "-o", out],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print(f"FAILED: quench qat exit {p.returncode}: {p.stderr.strip()[-300:]}")
            return 1
        r = json.loads(p.stdout.strip().splitlines()[-1])
        print(f"30 steps in {r['seconds']:.1f} s: loss {r['first_loss']:.4f} -> {r['last_loss']:.4f}")
        if r["steps"] != 30 or not r["last_loss"] == r["last_loss"]:
            print("FAILED: wrong step count or NaN loss")
            failures += 1
        if r["method"] != "minmax":
            print(f"FAILED: 8-bit activations start from {r['method']} ranges, expected minmax")
            failures += 1
        if abs(r["lr"] - 1e-4) > 1e-9:  # the learning rate for 4-bit weights, unless --lr
            print(f"FAILED: w4a8 trains at lr {r['lr']}, expected 1e-4")
            failures += 1
        # 4-bit activations start from MSE ranges for their 16 levels unless --method is given,
        # and train at lr 3e-4 unless --lr is.
        for extra, method, lr in (([], "mse", 3e-4), (["--method", "percentile"], "percentile", 3e-4),
                                  (["--lr", "2e-5"], "mse", 2e-5)):
            p = subprocess.run([quench, "qat", CNN, "--data", "fmnist:train", "--bits", "w4a4",
                                "--steps", "1", "--batch", "16", "--calib-size", "64",
                                "--threads", "1", "--json", "-o", os.path.join(tmp, "a4.onnx")]
                               + extra, capture_output=True, text=True)
            got_lr = None
            if p.returncode == 0:
                out_json = json.loads(p.stdout.strip().splitlines()[-1])
                got, got_lr = out_json["method"], out_json["lr"]
            else:
                got = p.stderr[-200:]
            ok = got == method and got_lr is not None and abs(got_lr - lr) < 1e-9
            print(("ok      " if ok else "FAILED  ") + f"w4a4 {' '.join(extra) or '(default)'}: "
                  f"ranges by {got}, lr {got_lr}")
            failures += not ok
        e = subprocess.run([quench, "eval", out, "--data", "fmnist:test", "--limit", str(IMAGES),
                            "--json"], capture_output=True, text=True)
        if e.returncode != 0:
            print(f"FAILED: eval of the QAT model: {e.stderr.strip()[-300:]}")
            return 1
        q_acc = json.loads(e.stdout.strip().splitlines()[-1])["accuracy"]
        print(f"quench top-1 on {IMAGES} test images: {100 * q_acc:.2f}%")
        if q_acc < 0.6:
            print("FAILED: the QAT model lost the cnn's accuracy")
            failures += 1
        py = peer_python()
        if py and os.path.exists(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")):
            o = subprocess.run([py, "-c", ORT_CHECK, out, FMNIST, str(IMAGES),
                                os.path.dirname(os.path.abspath(__file__))],
                               capture_output=True, text=True)
            if o.returncode != 0:
                print(f"FAILED: ONNX checker / ONNX Runtime: {o.stderr.strip()[-400:]}")
                failures += 1
            else:
                ort_acc = float(o.stdout.strip().splitlines()[-1])
                gap = 100 * abs(ort_acc - q_acc)
                ok = gap <= MAX_TOP1_GAP
                print(("ok      " if ok else "FAILED  ") +
                      f"ONNX Runtime top-1 {100 * ort_acc:.2f}% (gap {gap:.2f} pt)")
                failures += not ok
        else:
            print("skipped: ONNX Runtime check (no peer interpreter or no Fashion-MNIST files)")
        refusals = [
            (["--bits", "w9a8", "-o", out], "--bits"),
            (["--bn-fold", "fuse", "-o", out], "--bn-fold"),
            (["--bits", "w4a8", "-o", os.path.join(tmp, "missing", "x.onnx")], "output"),
        ]
        for args, words in refusals:
            p = subprocess.run([quench, "qat", CNN, "--steps", "1"] + args, capture_output=True,
                               text=True)
            ok = p.returncode != 0 and words in p.stderr
            print(("ok      " if ok else "FAILED  ") + f"refused {' '.join(args[:2])}: "
                  f"{p.stderr.strip()[-160:]}")
            failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
