#!/usr/bin/env python3
"""quench quantize --weight-only --weights int4 --group-size B writes com.microsoft MatMulNBits
that ONNX Runtime runs, with the layout ORT reads.

1. A small model made here: MatMul with K = 40 (not a multiple of the block, so the last block is
   padded), Gemm with transB, alpha, beta and bias, and Gemm without transB. For block sizes 16 and
   32: the weights are unpacked here from the written file by the contrib-op spec (element i of a
   block in byte i/2, low nibble first; zero points two per byte per column), checked against the
   original weights (error at most half a step, plus float slack: WEIGHT_TOL), and ORT's output
   is checked against NumPy's product with those unpacked weights (OUTPUT_TOL, relative to the
   output's scale): any disagreement on nibble order, block order or zero points fails here.
2. --adaround --bias-correction on the same model (eqs. (145)-(146)): the file passes the checker,
   each layer without a constant bias gets an Add for its shift, ORT's output stays close to FP32.
3. Refusals: --group-size without --weight-only, with --weights int8, --adaround or
   --bias-correction without calibration data, with a block size that is not a power of two
   >= 16, with a recipe's per-node weight_bits or Conv in its op_types; --accuracy-level without
   --group-size or past 4: a non-zero exit and a message naming the problem.
4. vit (Fashion-MNIST, first 200 test images): ORT runs the group-32 file; its top-1 agrees with
   ORT on the FP32 model on at least MIN_AGREEMENT of the images.
Started by run_python.sh (exit 77 without onnxruntime).
"""
import argparse, gzip, os, struct, subprocess, sys, tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models", "fmnist")
FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
IMAGES = 200
MIN_AGREEMENT = 0.90
WEIGHT_TOL = 1e-5   # slack on |w - w_deq| <= scale / 2 for float rounding
OUTPUT_TOL = 1e-4   # ORT vs NumPy, relative to max |y|
ROUNDED_TOL = 0.25  # 4-bit blocks of 16 vs FP32 through three layers, relative to max |y|


def images():
    path = os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        return np.random.default_rng(0).random((IMAGES, 1, 28, 28), dtype=np.float32)
    with gzip.open(path, "rb") as f:
        b = f.read()
    n, r, c = struct.unpack(">III", b[4:16])
    return (np.frombuffer(b, np.uint8, offset=16).reshape(n, 1, r, c)[:IMAGES] / 255.0).astype(np.float32)


def small_model(path):
    rng = np.random.default_rng(3)
    w = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)  # noqa: E731
    weights = {"w1": w(40, 24), "w2": w(16, 24), "b2": w(16), "w3": w(16, 8)}
    weights["w1"][:, 5] = 0.0  # an all-zero column
    weights["w1"][:, 6] = np.abs(weights["w1"][:, 6])  # all positive: range [0, max]
    inits = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"]),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["h2"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Relu", ["h2"], ["r2"]),
        helper.make_node("Gemm", ["r2", "w3"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 40])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return weights


def unpack(node, inits):
    """The [K, N] float weight a MatMulNBits node stands for, read by the contrib-op spec."""
    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    k, n, bs = a["K"], a["N"], a["block_size"]
    assert a["bits"] == 4
    b = inits[node.input[1]]
    blocks = (k + bs - 1) // bs
    assert b.shape == (n, blocks, bs // 2) and b.dtype == np.uint8, b.shape
    q = np.stack([b & 0x0F, b >> 4], axis=-1).reshape(n, blocks * bs)
    scales = inits[node.input[2]].reshape(n, blocks)
    zp = inits[node.input[3]].reshape(n, (blocks + 1) // 2)
    zp = np.stack([zp & 0x0F, zp >> 4], axis=-1).reshape(n, -1)[:, :blocks]
    deq = (q.reshape(n, blocks, bs).astype(np.float32) - zp[:, :, None]) * scales[:, :, None]
    return deq.reshape(n, blocks * bs)[:, :k].T, scales


def ort_run(path, feed):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: feed})[0]


def check_small(quench, tmp, block):
    src = os.path.join(tmp, "small.onnx")
    weights = small_model(src)
    out = os.path.join(tmp, f"small.b{block}.onnx")
    subprocess.run([quench, "quantize", src, "-o", out, "--weight-only", "--weights", "int4",
                    "--group-size", str(block)], check=True, capture_output=True)
    m = onnx.load(out)
    onnx.checker.check_model(m)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    nbits = [nd for nd in m.graph.node if nd.op_type == "MatMulNBits"]
    assert len(nbits) == 3, [nd.op_type for nd in m.graph.node]
    deq = {}
    for nd, (name, alpha, trans) in zip(nbits, [("w1", 1.0, False), ("w2", 0.5, True), ("w3", 1.0, False)]):
        w_deq, scales = unpack(nd, inits)
        ref = alpha * (weights[name].T if trans else weights[name])
        step = np.repeat(scales, block, axis=1)[:, : ref.shape[0]].T
        err = np.abs(w_deq - ref) - step / 2
        assert err.max() <= WEIGHT_TOL, f"{name}: weight error exceeds half a step by {err.max()}"
        deq[name] = w_deq
    x = np.random.default_rng(4).standard_normal((5, 40)).astype(np.float32)
    h = x @ deq["w1"]
    h = np.maximum(h @ deq["w2"] + 2.0 * weights["b2"], 0)
    want = h @ deq["w3"]
    got = ort_run(out, x)
    rel = np.abs(got - want).max() / np.abs(want).max()
    ok = rel <= OUTPUT_TOL
    print(("ok      " if ok else "FAILED  ") + f"small model, blocks of {block}: ORT vs NumPy rel. error {rel:.2e}")
    return ok


REFUSALS = [
    (["--weights", "int4", "--group-size", "32"], "add --weight-only"),
    (["--weight-only", "--weights", "int8", "--group-size", "32"], "use --weights int4"),
    (["--weight-only", "--weights", "int4", "--group-size", "32", "--bias-correction"],
     "needs calibration data"),
    (["--weight-only", "--weights", "int4", "--group-size", "32", "--adaround"], "need calibration data"),
    (["--weight-only", "--weights", "int4", "--group-size", "24"], "power of two"),
    (["--weight-only", "--weights", "int4", "--group-size", "32", "--recipe", "{tmp}/bits.json"],
     "per-node \"weight_bits\""),
    (["--weight-only", "--weights", "int4", "--group-size", "32", "--recipe", "{tmp}/conv.json"],
     "Conv has no blockwise form"),
    (["--weight-only", "--weights", "int4", "--accuracy-level", "4"], "add --weight-only --weights int4 --group-size"),
    (["--weight-only", "--weights", "int4", "--group-size", "32", "--accuracy-level", "5"], "expects 0 to 4"),
]


def check_rounded(quench, tmp):
    """AdaRound and bias correction on the blocks (eqs. (145)-(146)): the file passes the checker,
    the MatMul and the Gemm without C get an Add for their shift (the Gemm with C takes it into
    beta·C), and ORT's output stays close to the FP32 model's."""
    src = os.path.join(tmp, "small.onnx")
    small_model(src)
    out = os.path.join(tmp, "small.adaround.onnx")
    subprocess.run([quench, "quantize", src, "-o", out, "--weight-only", "--weights", "int4",
                    "--group-size", "16", "--adaround", "--adaround-iters", "100", "--bias-correction",
                    "--calib", "random:64"], check=True, capture_output=True)
    m = onnx.load(out)
    onnx.checker.check_model(m)
    own = [nd.name for nd in m.graph.node if nd.name.endswith("/BiasCorrection")]
    x = np.random.default_rng(5).standard_normal((64, 40)).astype(np.float32)
    want = ort_run(src, x)
    rel = np.abs(ort_run(out, x) - want).max() / np.abs(want).max()
    ok = len(own) == 2 and rel <= ROUNDED_TOL
    print(("ok      " if ok else "FAILED  ") +
          f"small model, AdaRound + bias correction: {len(own)} shift Add(s), ORT vs FP32 rel. error {rel:.3f}")
    return ok


def check_refusals(quench, tmp):
    ok = True
    with open(os.path.join(tmp, "bits.json"), "w") as f:
        f.write('{"nodes": {"first_gemm": {"weight_bits": 8}}}')
    with open(os.path.join(tmp, "conv.json"), "w") as f:
        f.write('{"op_types": ["Conv", "MatMul"]}')
    for extra, needle in REFUSALS:
        extra = [e.format(tmp=tmp) for e in extra]
        out = os.path.join(tmp, "refused.onnx")
        p = subprocess.run([quench, "quantize", os.path.join(tmp, "small.onnx"), "-o", out] + extra,
                           capture_output=True, text=True)
        good = p.returncode != 0 and needle in p.stderr + p.stdout and not os.path.exists(out)
        print(("ok      " if good else "FAILED  ") + f"refused {' '.join(extra)}")
        ok &= good
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    quench = os.path.join(a.build, "quench")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for block in [16, 32]:
            if not check_small(quench, tmp, block):
                failures.append(f"small b{block}")
        if not check_rounded(quench, tmp):
            failures.append("adaround")
        if not check_refusals(quench, tmp):
            failures.append("refusals")
        vit = os.path.join(MODELS, "vit.onnx")
        out = os.path.join(tmp, "vit.int4.onnx")
        subprocess.run([quench, "quantize", vit, "-o", out, "--weight-only", "--weights", "int4",
                        "--group-size", "32"], check=True, capture_output=True)
        x = images()
        agree = float((ort_run(out, x).argmax(-1) == ort_run(vit, x).argmax(-1)).mean())
        ok = agree >= MIN_AGREEMENT
        print(("ok      " if ok else "FAILED  ") + f"vit int4 g32: top-1 agreement with FP32 {agree:.3f}")
        if not ok:
            failures.append("vit")
    if failures:
        print(f"{len(failures)} case(s) failed: {', '.join(failures)}")
        return 1
    print("ONNX Runtime runs the MatMulNBits files with the layout quench writes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
