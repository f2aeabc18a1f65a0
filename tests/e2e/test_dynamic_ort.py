#!/usr/bin/env python3
"""quench quantize --mode dynamic / fp16 / bf16 writes files ONNX Runtime runs, and both runtimes
agree on them.

For cnn, lstm and vit (per tensor), vit per token, two small GRU models made here (forward with
linear_before_reset 0; bidirectional with linear_before_reset 1), and the fp16 and
bf16 forms of cnn, lstm and vit: quench writes the file, the ONNX checker accepts it, ONNX Runtime and quench run it on the first 200
Fashion-MNIST test images in one batch, and their top-1 classes agree on at least 98% of them
(near-tied predictions may flip: both quantize activations from the batch, and ONNX Runtime's
integer LSTM rounds its hidden states on its own kernels). On a CPU without VNNI ORT runs the
file with u8 weights (exact_peer.py), its exact kernels. Kept small so that it runs in seconds.
Started by run_python.sh (exit 77 without onnxruntime).
"""
import argparse, gzip, os, struct, subprocess, sys, tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from exact_peer import exact_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models", "fmnist")
FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
IMAGES = 200
MIN_AGREEMENT = 0.98


def images():
    path = os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        return np.random.default_rng(0).random((IMAGES, 1, 28, 28), dtype=np.float32)
    with gzip.open(path, "rb") as f:
        b = f.read()
    n, r, c = struct.unpack(">III", b[4:16])
    return (np.frombuffer(b, np.uint8, offset=16).reshape(n, 1, r, c)[:IMAGES] / 255.0).astype(np.float32)


def gru_model(path, direction="forward", linear_before_reset=0):
    """A GRU over the 28 rows of an image (hidden 32) and a linear head, random weights."""
    rng = np.random.default_rng(1)
    h = 32
    d = 2 if direction == "bidirectional" else 1
    w = lambda *s: numpy_helper.from_array((rng.standard_normal(s) * 0.3).astype(np.float32))  # noqa: E731
    inits = [w(d, 3 * h, 28), w(d, 3 * h, h), w(d, 6 * h), w(d * h, 10), w(10)]
    for t, name in zip(inits, ["W", "R", "B", "fc_w", "fc_b"]):
        t.name = name
    inits.append(numpy_helper.from_array(np.array([-1, 28, 28], np.int64), "shape"))
    inits.append(numpy_helper.from_array(np.array([-1, d * h], np.int64), "flat"))
    nodes = [
        helper.make_node("Reshape", ["input", "shape"], ["rows"]),
        helper.make_node("Transpose", ["rows"], ["seq"], perm=[1, 0, 2]),
        helper.make_node("GRU", ["seq", "W", "R", "B"], ["", "h"], hidden_size=h, direction=direction,
                         linear_before_reset=linear_before_reset),
        helper.make_node("Transpose", ["h"], ["h_nd"], perm=[1, 0, 2]),  # [d, N, h] -> [N, d, h]
        helper.make_node("Reshape", ["h_nd", "flat"], ["last"]),  # -> [N, d * h]
        helper.make_node("Gemm", ["last", "fc_w", "fc_b"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "gru", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    # IR version 8: the newest the ONNX checker of Debian bookworm (libonnx 1.12) accepts.
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    quench = os.path.join(a.build, "quench")
    x = images()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        gru_model(os.path.join(tmp, "gru.onnx"))
        gru_model(os.path.join(tmp, "gru_bidir_lbr.onnx"), "bidirectional", 1)
        cases = [("cnn", os.path.join(MODELS, "cnn.onnx"), []), ("lstm", os.path.join(MODELS, "lstm.onnx"), []),
                 ("vit", os.path.join(MODELS, "vit.onnx"), []),
                 ("vit token", os.path.join(MODELS, "vit.onnx"), ["--act-granularity", "token"]),
                 ("gru", os.path.join(tmp, "gru.onnx"), []),
                 ("gru bidirectional lbr1", os.path.join(tmp, "gru_bidir_lbr.onnx"), [])]
        cases = [(label, model, ["--mode", "dynamic"] + extra) for label, model, extra in cases]
        cases += [(f"{m} {t}", os.path.join(MODELS, m + ".onnx"), ["--mode", t])
                  for t in ["fp16", "bf16"] for m in ["cnn", "lstm", "vit"]]
        for label, model, extra in cases:
            out = os.path.join(tmp, "quench", label.replace(" ", "_") + ".dyn.onnx")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run([quench, "quantize", model, "-o", out] + extra,
                           check=True, capture_output=True)
            onnx.checker.check_model(onnx.load(out))
            so = ort.SessionOptions()
            so.log_severity_level = 3
            s = ort.InferenceSession(exact_model(out, tmp), so, providers=["CPUExecutionProvider"])
            ort_top1 = s.run(None, {s.get_inputs()[0].name: x})[0].argmax(-1)
            y = os.path.join(tmp, "y.npy")
            subprocess.run([quench, "run", out, "-i", os.path.join(tmp, "x.npy"), "-o", y, "--threads", "1"],
                           check=True, capture_output=True)
            agree = float((np.load(y).argmax(-1) == ort_top1).mean())
            ok = agree >= MIN_AGREEMENT
            print(("ok      " if ok else "FAILED  ") + f"{label}: top-1 agreement {agree:.3f}")
            if not ok:
                failures.append(label)
    if failures:
        print(f"{len(failures)} case(s) failed: {', '.join(failures)}")
        return 1
    print("ONNX Runtime runs every file and agrees with quench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
