#!/usr/bin/env python3
"""QAT accuracy on the full Fashion-MNIST test set (issue 10's accuracy table, docs/benchmarks.md
"QAT accuracy after 2 epochs"): for each MODEL:BITS, `quench qat` from the PTQ start for the given
epochs, then the exported QDQ file's top-1 in quench and in ONNX Runtime, beside FP32 and the PTQ
start (the same calibration). One row per run, printed as it finishes (a markdown table).

    python3 bench/qat_accuracy.py [--build build] [--epochs 2] [--threads 1] [--lr LR] [--out DIR]
        cnn:w8a8 cnn:w4a8 resnet20:w4a4 ...

--lr passes a base learning rate to `quench qat` (its default otherwise).

ONNX Runtime's figures need the peer venv (scripts/python-peer.sh); without it the columns are
"-". "ORT" runs the file as it is; "ORT exact" runs it with its s8 weights stored as u8 (the same
values, tests/e2e/exact_peer.py): without VNNI, ONNX Runtime's u8 x s8 kernels add product pairs
in saturating int16 and do not compute the file's integer math (the 8-bit first layer of a QAT
model saturates on such a CPU).
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_PEER = os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py")
EXACT_PEER = os.path.join(ROOT, "tests", "e2e", "exact_peer.py")


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in:\n" + text[-2000:])


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p.stdout


def peer_python():
    p = subprocess.run([os.path.join(ROOT, "scripts", "python-peer.sh")], capture_output=True,
                       text=True)
    return p.stdout.strip() if p.returncode == 0 else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="MODEL:BITS, MODEL a name in models/fmnist/")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, help="base learning rate (quench qat's default if absent)")
    ap.add_argument("--out", default="qat_accuracy_out")
    args = ap.parse_args()
    quench = os.path.join(args.build, "quench")
    os.makedirs(args.out, exist_ok=True)
    python = peer_python()
    ort_peer = os.path.abspath(ORT_PEER)
    fp32 = {}
    print("| model | bits | FP32 % | PTQ % | QAT % (quench) | QAT % (ORT) | QAT % (ORT exact) | "
          "QAT − FP32 | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for spec in args.runs:
        name, bits = spec.split(":")
        model = os.path.join(ROOT, "models", "fmnist", name + ".onnx")
        if name not in fp32:
            r = last_json(run([quench, "eval", model, "--data", "fmnist:test", "--threads",
                               str(args.threads), "--json"]))
            fp32[name] = 100 * r["accuracy"]
        out = os.path.join(args.out, f"{name}.{bits}.qat.onnx")
        start = time.time()
        q = last_json(run([quench, "qat", model, "--data", "fmnist:train", "--val", "fmnist:test",
                           "--bits", bits, "--epochs", str(args.epochs), "--batch",
                           str(args.batch), "--threads", str(args.threads), "--seed", "1",
                           "--json", "-o", out] + (["--lr", str(args.lr)] if args.lr else [])))
        wall = time.time() - start
        e = last_json(run([quench, "eval", out, "--data", "fmnist:test", "--threads",
                           str(args.threads), "--json"]))
        ours = 100 * e["accuracy"]
        theirs, exact = "-", "-"
        if python and os.path.exists(ort_peer):
            o = last_json(run([python, ort_peer, "accuracy", out]))
            theirs = f"{100 * o['accuracy']:.2f}"
            exact_dir = os.path.join(args.out, "exact")
            os.makedirs(exact_dir, exist_ok=True)
            exact_file = run([python, EXACT_PEER, out, exact_dir]).strip().splitlines()[-1]
            o = last_json(run([python, ort_peer, "accuracy", exact_file]))
            exact = f"{100 * o['accuracy']:.2f}"
        print(f"| {name} | {bits} | {fp32[name]:.2f} | {100 * q['ptq_accuracy']:.2f} | "
              f"{ours:.2f} | {theirs} | {exact} | {ours - fp32[name]:+.2f} | {wall:.0f} |",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
