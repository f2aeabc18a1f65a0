#!/usr/bin/env python3
"""MatMulNBits (4-bit weights) with many rows of A, the prefill case: quench and ONNX Runtime on
the same file, side by side in one run, 1 and 2 threads (docs/benchmarks.md).

    ~/.cache/quench-venv/bin/python bench/nbits_gemm_ort.py --build build [--seconds 1] [--rounds 3]

For each K x N and block, one file holding one MatMulNBits node (tests/e2e/
test_nbits_runtime_ort.py's make_gemv_model: random codes, scales and packed zero points; input
[M, K]) and the same product as a float MatMul (random weights) for quench's float speed. quench:
`quench bench FILE --batch M --shape K --threads T --json` (median of its runs); ORT: the same file
with intra-op threads T, the float path (accuracy_level unset) and the int8 path (accuracy_level 4,
A quantized per block: other numerics), which quench also runs on the same file (eq. (161)); medians of repeated runs of InferenceSession.run in wall
time. Each figure is the median over --rounds rounds, the tools alternating within a round.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "e2e"))
from test_nbits_runtime_ort import make_gemv_model  # noqa: E402


def ort_ms(path, x, threads, seconds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    sess.run(None, {"x": x})
    times = []
    end = time.perf_counter() + seconds
    while len(times) < 5 or time.perf_counter() < end:
        t0 = time.perf_counter()
        sess.run(None, {"x": x})
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def quench_ms(build, path, m, k, threads, seconds):
    out = subprocess.run([os.path.join(build, "quench"), "bench", path, "--batch", str(m), "--shape", str(k),
                          "--threads", str(threads), "--seconds", str(seconds), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["median_ms"]


def float_model(path, k, n):
    w = np.random.default_rng(2).standard_normal((k, n)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "float",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", n])],
                              [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)


def with_accuracy_level(src, dst, level):
    model = onnx.load(src)
    model.graph.node[0].attribute.append(helper.make_attribute("accuracy_level", level))
    onnx.save(model, dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", default="1,4,8,16,32,128,512")
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    cases = [(4096, 4096, 32), (4096, 4096, 128), (4096, 11008, 32)]
    print(f"ONNX Runtime {ort.__version__}; medians over {a.rounds} rounds; times in ms")
    print("| K x N | block | threads | rows | quench int4 | quench FP32 | ORT int4 (float path) | "
          "quench int4 (accuracy_level 4) | ORT int4 (accuracy_level 4) | ORT / quench | "
          "ORT acc4 / quench acc4 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for k, n, block in cases:
            nbits, acc4, fp32 = (os.path.join(tmp, f) for f in ("nbits.onnx", "acc4.onnx", "fp32.onnx"))
            make_gemv_model(nbits, k, n, 4, block, "packed", False, seed=1)
            with_accuracy_level(nbits, acc4, 4)
            float_model(fp32, k, n)
            for threads in (int(t) for t in a.threads.split(",")):
                for m in (int(r) for r in a.rows.split(",")):
                    x = np.random.default_rng(0).standard_normal((m, k)).astype(np.float32)
                    runs = {"q": [], "f": [], "o": [], "q4": [], "o4": []}
                    for _ in range(a.rounds):
                        runs["q"].append(quench_ms(a.build, nbits, m, k, threads, a.seconds))
                        runs["o"].append(ort_ms(nbits, x, threads, a.seconds))
                        runs["f"].append(quench_ms(a.build, fp32, m, k, threads, a.seconds))
                        runs["q4"].append(quench_ms(a.build, acc4, m, k, threads, a.seconds))
                        runs["o4"].append(ort_ms(acc4, x, threads, a.seconds))
                    q, f, o, q4, o4 = (statistics.median(runs[key]) for key in ("q", "f", "o", "q4", "o4"))
                    print(f"| {k} x {n} | {block} | {threads} | {m} | {q:.3f} | {f:.3f} | {o:.3f} | {q4:.3f} | "
                          f"{o4:.3f} | {o / q:.2f} | {o4 / q4:.2f} |", flush=True)


if __name__ == "__main__":
    main()
