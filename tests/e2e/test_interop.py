#!/usr/bin/env python3
"""quench agrees with ONNX Runtime on ONNX Runtime's own quantized models.

For every file in models/fmnist/ort/ (QDQ, lowered to integer ops; QOperator; dynamic), quench's
top-1 accuracy on the full Fashion-MNIST test set is within 0.05 points (5 images) of ONNX
Runtime's. Integer requantization in quench and ORT may round a value differently by one step
(eq. (35) of docs/quantization.md), which can flip a near-tied prediction; the full set is used
because a small sample is dominated by such flips (vit.ort_qdq.onnx is -0.25 pt on the first 2000
images and +0.04 pt on all 10,000). Both runtimes see the same batches of 500 images: dynamic
quantization takes its ranges per batch, so other batches give other results.

On a CPU without VNNI, ONNX Runtime's u8 x s8 kernels saturate; there it runs each file with its
weights rewritten as u8 (exact_peer.py: the same integer math, on ORT's exact u8 x u8 kernels).

ONNX Runtime's QDQ files of the ImageNet-size models (../shared/models/imagenet/ort, random
weights; skipped when absent) are checked on random input instead: `quench inspect` leaves no
compute node in float (every convolution is lowered, whatever constant chain the exporter put
before its bias), the top-1 class equals ORT's, and every output is within MAX_OUTPUT_STEPS steps
of the output's quantization (each lowered op may round one step away from ORT, eq. (35); the
steps do not add up along the network because each requantization restarts from the exact sum).

ONNX Runtime runs in this process (onnxruntime, numpy, onnx), so the test needs nothing outside the
repository; bench/interop.py prints the same comparison on the full test set through the peer
script. Started by run_python.sh, which skips (exit 77) when onnxruntime is not installed.
"""
import argparse, glob, gzip, json, os, struct, subprocess, sys, tempfile

import numpy as np
import onnxruntime as ort

from exact_peer import cpu_has_vnni, exact_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
IMAGES = 10000
MAX_DIFF_POINTS = 0.05  # 5 images
BATCH = 500
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
MAX_OUTPUT_STEPS = 3


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    magic, n = struct.unpack(">II", b[:8])
    if magic == 2049:
        return np.frombuffer(b, np.uint8, offset=8).astype(np.int64)
    r, c = struct.unpack(">II", b[8:16])
    return np.frombuffer(b, np.uint8, offset=16).reshape(n, 1, r, c)


def ort_accuracy(model, images, labels):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    correct = 0
    for i in range(0, len(images), BATCH):
        logits = s.run(None, {name: images[i:i + BATCH]})[0]
        correct += int((logits.argmax(-1) == labels[i:i + BATCH]).sum())
    return 100.0 * correct / len(images)


def quench_accuracy(quench, model):
    out = subprocess.run([quench, "eval", model, "--data", "fmnist:test", "--limit", str(IMAGES),
                          "--batch", str(BATCH), "--threads", "2", "--json"], check=True, capture_output=True,
                         text=True).stdout
    return 100.0 * json.loads(out.strip().splitlines()[-1])["accuracy"]


def output_step(model):
    """The scale of the DequantizeLinear that writes the graph's output."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(model)
    inits = {t.name: t for t in m.graph.initializer}
    node = next(n for n in m.graph.node if m.graph.output[0].name in n.output)
    assert node.op_type == "DequantizeLinear", node.op_type
    return float(numpy_helper.to_array(inits[node.input[1]]))


def imagenet_checks(quench, tmp):
    """Failures on ORT's ImageNet QDQ files (none when the files are absent)."""
    failures = []
    for model in sorted(glob.glob(os.path.join(SHARED, "imagenet", "ort", "*.ort_qdq.onnx"))):
        name = os.path.basename(model)
        try:
            out = subprocess.run([quench, "inspect", "--json", model], check=True, capture_output=True,
                                 text=True).stdout
            lowering = json.loads(out.strip().splitlines()[-1])["lowering"]
            x = np.random.default_rng(0).random((2, 3, 224, 224), dtype=np.float32)
            so = ort.SessionOptions()
            so.log_severity_level = 3
            s = ort.InferenceSession(exact_model(model, tmp), so, providers=["CPUExecutionProvider"])
            want = s.run(None, {s.get_inputs()[0].name: x})[0]
            xin, yout = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
            np.save(xin, x)
            subprocess.run([quench, "run", model, "--input", xin, "--output", yout], check=True,
                           stdout=subprocess.DEVNULL)
            got = np.load(yout)
            steps = float(np.abs(got - want).max()) / output_step(model)
        except Exception as e:  # a crash or error exit is a failure, with its reason
            failures.append(f"{name}: {e}")
            print(f"FAILED  {name}: {e}")
            continue
        ok = (not lowering["float_nodes"] and steps <= MAX_OUTPUT_STEPS + 1e-3
              and (got.argmax(1) == want.argmax(1)).all())
        print(f"{'ok      ' if ok else 'FAILED  '}{name}: {lowering['units']} units lowered, "
              f"{len(lowering['float_nodes'])} float nodes, max |quench - ORT| = {steps:.2f} output "
              f"steps (bound {MAX_OUTPUT_STEPS}), top-1 {'equal' if ok else 'compared'}", flush=True)
        if not ok:
            failures.append(name)
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    quench = os.path.join(a.build, "quench")
    images = idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))[:IMAGES].astype(np.float32) / 255.0
    labels = idx(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"))[:IMAGES]
    models = sorted(glob.glob(os.path.join(ROOT, "models", "fmnist", "ort", "*.onnx")))
    if not cpu_has_vnni():
        print("this CPU has no VNNI: ONNX Runtime runs the files with u8 weights (exact_peer.py)")
    failures = []
    for model in models:
        name = os.path.basename(model)
        try:
            q, o = quench_accuracy(quench, model), ort_accuracy(exact_model(model), images, labels)
        except Exception as e:  # a crash or error exit is a failure, with its reason
            failures.append(f"{name}: {e}")
            print(f"FAILED  {name}: {e}")
            continue
        ok = abs(q - o) <= MAX_DIFF_POINTS + 1e-9
        print(f"{'ok      ' if ok else 'FAILED  '}{name}: quench {q:.2f}%, ORT {o:.2f}%, "
              f"{q - o:+.2f} pt (bound {MAX_DIFF_POINTS} pt)", flush=True)
        if not ok:
            failures.append(name)
    with tempfile.TemporaryDirectory() as tmp:
        failures += imagenet_checks(quench, tmp)
    if len(models) != 15:
        failures.append(f"expected the 15 ONNX Runtime fixtures, found {len(models)}")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print(f"all {len(models)} models within {MAX_DIFF_POINTS} pt of ONNX Runtime on {IMAGES} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
