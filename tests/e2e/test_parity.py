#!/usr/bin/env python3
"""quench agrees with ONNX Runtime on real models.

For every Fashion-MNIST model in models/fmnist: top-1 on the full test set equals ONNX Runtime's
image by image; raw outputs on 256 test images match within 1e-4 of the output's largest
magnitude; and export(import(model)) gives ONNX Runtime bit-identical outputs. The ImageNet-size
models (../shared/models/imagenet, skipped when absent) are compared on random input.
"""
import argparse, gzip, os, struct, subprocess, sys, tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
OUTPUT_TOLERANCE = 1e-4  # relative to the largest |output| (the foundation issue's bound)


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    magic, n = struct.unpack(">II", b[:8])
    if magic == 2049:
        return np.frombuffer(b, np.uint8, offset=8).astype(np.int64)
    r, c = struct.unpack(">II", b[8:16])
    return np.frombuffer(b, np.uint8, offset=16).reshape(n, 1, r, c)


def ort_run(model, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[i:i + 500]})[0] for i in range(0, len(x), 500)])


class Checker:
    def __init__(self, build, tmp):
        self.quench = os.path.join(build, "quench")
        self.roundtrip = os.path.join(build, "tests", "quench_roundtrip")
        self.tmp = tmp
        self.failures = []

    def guarded(self, label, fn, *args):
        try:
            fn(label, *args)
        except Exception as e:  # a crash or error exit is a failed check, with its reason
            self.check(False, f"{label}: {fn.__name__} raised {e}")

    def check(self, ok, what):
        print(("ok      " if ok else "FAILED  ") + what, flush=True)
        if not ok:
            self.failures.append(what)

    def quench_outputs(self, model, x):
        xin, yout = os.path.join(self.tmp, "x.npy"), os.path.join(self.tmp, "y.npy")
        np.save(xin, x)
        subprocess.run([self.quench, "run", model, "--input", xin, "--output", yout], check=True,
                       stdout=subprocess.DEVNULL)
        return np.load(yout)

    def outputs_match(self, label, model, x):  # noqa: D102
        want = ort_run(model, x)
        got = self.quench_outputs(model, x)
        scale = float(np.abs(want).max())
        err = float(np.abs(got - want).max())
        self.check(got.shape == want.shape and err <= OUTPUT_TOLERANCE * scale,
                   f"{label}: outputs max |quench - ORT| = {err:.3g} (bound {OUTPUT_TOLERANCE} x {scale:.3g})")

    def roundtrip_identical(self, label, model, x):
        out = os.path.join(self.tmp, "roundtrip.onnx")
        subprocess.run([self.roundtrip, model, out], check=True)
        a, b = ort_run(model, x), ort_run(out, x)
        self.check(np.array_equal(a, b), f"{label}: ONNX Runtime outputs identical after import/export")

    def top1_matches(self, label, model, images, labels):
        pred = os.path.join(self.tmp, "pred.npy")
        subprocess.run([self.quench, "eval", model, "--data", "fmnist:test", "--save-predictions", pred],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        q = np.load(pred)
        o = ort_run(model, images).argmax(axis=1)
        same = int((q == o).sum())
        self.check(same == len(o), f"{label}: top-1 equal to ORT on {same}/{len(o)} images "
                   f"(quench {100 * (q == labels).mean():.2f}%, ORT {100 * (o == labels).mean():.2f}%)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", help="comma-separated subset of the fmnist models")
    a = ap.parse_args()
    images = idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    labels = idx(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"))
    names = a.models.split(",") if a.models else ["cnn", "resnet20", "mobilenetv2", "lstm", "vit"]
    with tempfile.TemporaryDirectory() as tmp:
        c = Checker(a.build, tmp)
        for name in names:
            model = os.path.join(ROOT, "models", "fmnist", name + ".onnx")
            c.guarded(name, c.top1_matches, model, images, labels)
            c.guarded(name, c.outputs_match, model, images[:256])
            c.guarded(name, c.roundtrip_identical, model, images[:64])
        rng = np.random.default_rng(0)
        for name in ["resnet18", "mobilenet_v2"]:
            model = os.path.join(SHARED, "imagenet", name + ".onnx")
            if not os.path.exists(model):
                print(f"skipped {name}: {model} not found")
                continue
            x = rng.random((2, 3, 224, 224), dtype=np.float32)
            c.guarded(name, c.outputs_match, model, x)
            c.guarded(name, c.roundtrip_identical, model, x)
        if c.failures:
            print(f"{len(c.failures)} check(s) failed")
            return 1
    print("all parity checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
