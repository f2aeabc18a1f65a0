#!/usr/bin/env python3
"""MatMulNBits int4 GEMV: quench's column loops (A in float, and A quantized to int8 per block as
accuracy_level 4 asks), the machine's read bandwidth and ONNX Runtime on the same shapes, side by
side in one run, 1 thread (docs/benchmarks.md).

    ~/.cache/quench-venv/bin/python bench/nbits_gemv_ort.py --build build [--seconds 1] [--rounds 5]

Runs build/bench/nbits_gemv --json (rounds of read bandwidth and quench's kernels on K x N =
4096 x 4096 and 4096 x 11008, blocks 32 and 128), then ORT (intra-op threads 1) on a file holding one
MatMulNBits node of the same shape (tests/e2e/test_nbits_runtime_ort.py's make_gemv_model,
packed zero points; accuracy_level unset for the float rows, 4 for the int8 rows), input [1, K];
ORT cycles through sessions on 256 MiB of weights in all, as quench's benchmark cycles copies, so
that both read from memory; medians of repeated runs in the calling thread's CPU time (the
machine is shared; ORT with 1 intra-op thread runs there). ORT's time includes its per-run session overhead (a few microseconds).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "e2e"))
from test_nbits_runtime_ort import make_gemv_model  # noqa: E402


def median_ms(fn, seconds):
    fn()
    times = []
    end = time.perf_counter() + seconds
    while len(times) < 5 or (time.perf_counter() < end and len(times) < 1000):
        t0 = time.thread_time()  # CPU time of this thread (ORT runs 1 intra-op thread here)
        fn()
        times.append(time.thread_time() - t0)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    out = subprocess.run([os.path.join(a.build, "bench", "nbits_gemv"), "--json", "--seconds", str(a.seconds),
                          "--rounds", str(a.rounds)],
                         check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    print(f"ONNX Runtime {ort.__version__}; read bandwidth (1 thread, median of the rounds) per shape in the last column")
    print(f"{'K x N':>13} {'block':>5} {'isa':>16} {'quench ms':>9} {'GB/s':>6} {'% read':>6} {'ORT ms':>8} {'ORT/quench':>10} {'read GB/s':>9}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        shapes = {}
        for r in rows:  # each shape once per column loop (float A, then int8 A)
            shapes.setdefault((r["k"], r["n"], r["block"]), []).append(r)
        for (k, n, block), variants in shapes.items():
            x = np.random.default_rng(0).standard_normal((1, k)).astype(np.float32)
            ort_ms = {}
            for level in (0, 4):
                # Sessions on different weights, 256 MiB in all, cycled through as quench's copies
                # are, so that ORT too reads its weights from memory rather than from the L3.
                sessions = []
                weights = (k * n // 2) * (1 + 5 / block)
                while len(sessions) < 2 or len(sessions) * weights < 256 << 20:
                    path = os.path.join(tmp, f"gemv{level}_{len(sessions)}.onnx")
                    make_gemv_model(path, k, n, 4, block, "packed", False, seed=1 + len(sessions))
                    if level:
                        model = onnx.load(path)
                        model.graph.node[0].attribute.append(helper.make_attribute("accuracy_level", level))
                        onnx.save(model, path)
                    sessions.append(ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"]))
                turn = [0]

                def run():
                    sessions[turn[0] % len(sessions)].run(None, {"x": x})
                    turn[0] += 1
                ort_ms[level] = median_ms(run, a.seconds)
                del sessions
            for r in variants:
                o = ort_ms[4 if r["isa"].endswith("-int8") else 0]
                print(f"{k:>6} x {n:<6} {block:>5} {r['isa']:>16} {r['ms']:>9.3f} {r['gbs']:>6.2f} "
                      f"{100 * r['fraction']:>5.0f}% {o:>8.3f} {o / r['ms']:>10.2f} {r['read_gbs']:>9.2f}", flush=True)

if __name__ == "__main__":
    main()
