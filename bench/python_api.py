#!/usr/bin/env python3
"""The Python API side by side with ONNX Runtime's (docs/benchmarks.md, "Python API").

1. Call overhead: quench.Session.run vs onnxruntime.InferenceSession.run on cnn, batch 1, one
   thread each (median of many runs), and quench's C++ latency (quench.benchmark) for reference.
2. Threads: throughput of 2 Python threads sharing one quench.Session (threads=1 per run) vs 1.
3. Quantization: quench.quantize vs onnxruntime.quantization.quantize_static on resnet20, 512
   Fashion-MNIST training images, entropy calibration: wall time and peak resident memory, each in
   a fresh process.

Run from the repository root with the interpreter quench is installed in:
    ~/.cache/quench-venv/bin/python3 bench/python_api.py [--seconds 3]
"""

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
RESNET20 = os.path.join(ROOT, "models", "fmnist", "resnet20.onnx")
FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def fmnist_train(n):
    with gzip.open(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")) as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return (data[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255.0).astype(np.float32)


def median_call_us(fn, seconds):
    for _ in range(50):
        fn()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e6, float(np.min(times)) * 1e6


def overhead(seconds):
    import onnxruntime as ort
    import quench

    x = fmnist_train(1)
    s = quench.Session(CNN, threads=1)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    o = ort.InferenceSession(CNN, so, providers=["CPUExecutionProvider"])
    # Interleaved rounds, so that a change in the machine's load hits all three alike; the minimum
    # is the figure least disturbed by other processes.
    q, o_, c = [], [], []
    for _ in range(3):
        q.append(median_call_us(lambda: s.run({"input": x}), seconds / 3))
        o_.append(median_call_us(lambda: o.run(None, {"input": x}), seconds / 3))
        b = quench.benchmark(CNN, batch=1, threads=1, seconds=seconds / 3)
        c.append((b["median_ms"] * 1e3, b["min_ms"] * 1e3))
    med = lambda v: float(np.median([m for m, _ in v]))  # noqa: E731
    low = lambda v: float(min(m for _, m in v))  # noqa: E731
    return {"quench_python_us": {"median": med(q), "min": low(q)},
            "ort_python_us": {"median": med(o_), "min": low(o_)},
            "quench_cpp_us": {"median": med(c), "min": low(c)},
            "ratio_quench_over_ort": {"median": med(q) / med(o_), "min": low(q) / low(o_)},
            "python_overhead_us": {"median": med(q) - med(c), "min": low(q) - low(c)}}


def threads(seconds, batch):
    import quench

    s = quench.Session(CNN, threads=1)
    x = fmnist_train(batch)
    s.run(x)

    def throughput(k):
        counts = [0] * k
        stop = time.perf_counter() + seconds

        def work(i):
            while time.perf_counter() < stop:
                s.run(x)
                counts[i] += 1

        ts = [threading.Thread(target=work, args=(i,)) for i in range(k)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return sum(counts) * batch / (time.perf_counter() - t0)

    one, two = throughput(1), throughput(2)
    return {"batch": batch, "one_thread_per_s": one, "two_threads_per_s": two,
            "ratio": two / one}


def quantize_child(which, out):
    x = fmnist_train(512)
    t = time.perf_counter()
    if which == "quench":
        import quench

        quench.quantize(RESNET20, out, calib=x, method="entropy", calib_size=512)
    else:
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                              QuantFormat, quantize_static)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.batches = iter([{"input": x[i : i + 32]} for i in range(0, 512, 32)])

            def get_next(self):
                return next(self.batches, None)

        quantize_static(RESNET20, out, Reader(), quant_format=QuantFormat.QDQ,
                        calibrate_method=CalibrationMethod.Entropy, per_channel=True)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak}))


def quantize_compare():
    result = {}
    with tempfile.TemporaryDirectory() as d:
        for which in ("quench", "ort"):
            p = subprocess.run([sys.executable, __file__, "--child", which,
                                os.path.join(d, which + ".onnx")],
                               capture_output=True, text=True, check=True)
            result[which] = json.loads(p.stdout.strip().splitlines()[-1])
    result["time_ratio_ort_over_quench"] = result["ort"]["seconds"] / result["quench"]["seconds"]
    result["memory_ratio_ort_over_quench"] = (result["ort"]["peak_rss_bytes"] /
                                              result["quench"]["peak_rss_bytes"])
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--thread-batch", type=int, default=8)
    ap.add_argument("--child", nargs=2)
    a = ap.parse_args()
    if a.child:
        return quantize_child(*a.child)
    import quench, onnxruntime  # noqa: E401,F401 - fail early when either is missing

    report = {"load_average_before": os.getloadavg(), "overhead_cnn_b1": overhead(a.seconds),
              "threads_cnn": threads(a.seconds, a.thread_batch),
              "quantize_resnet20_entropy_512": quantize_compare(),
              "load_average_after": os.getloadavg()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
