#!/usr/bin/env python3
"""NNCF's QDQ files of the Fashion-MNIST models, run by quench and by ONNX Runtime.

For cnn, resnet20 and mobilenetv2 (../shared/models/fmnist) this writes OUT/NAME.nncf_qdq.onnx with
nncf.quantize (ONNX backend, default preset, 300 training images picked with seed 0), then prints
one Markdown row per model: how many nodes quench leaves in float (`quench inspect --json`) and the
top-1 on the full test set of FP32 in quench, the NNCF file in quench and in ONNX Runtime.

  $(scripts/python-peer.sh) bench/nncf_fmnist.py [--build build] [--out DIR] [--threads 1]
"""
import argparse, json, os, subprocess, sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
PEERS = os.path.join(ROOT, "..", "shared", "tools", "peers")
CALIB = 300


def last_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/quench/nncf-fmnist"))
    ap.add_argument("--models", default="cnn,resnet20,mobilenetv2")
    ap.add_argument("--threads", default="1")
    a = ap.parse_args()
    import nncf, onnx
    sys.path.insert(0, PEERS)
    import ov_peer

    os.makedirs(a.out, exist_ok=True)
    x, _ = ov_peer.fmnist("train")
    x = x[np.random.default_rng(0).choice(len(x), CALIB, replace=False)]
    quench = os.path.join(a.build, "quench")
    print("| model | float nodes in quench | FP32 | NNCF file, quench | NNCF file, ORT |")
    print("| --- | --- | --- | --- | --- |")
    for m in a.models.split(","):
        src = os.path.join(SHARED, "fmnist", m + ".onnx")
        dst = os.path.join(a.out, m + ".nncf_qdq.onnx")
        model = onnx.load(src)
        name = model.graph.input[0].name
        data = nncf.Dataset([x[i:i + 1] for i in range(CALIB)], lambda t: {name: t})
        onnx.save(nncf.quantize(model, data, subset_size=CALIB), dst)
        floats = len(last_json([quench, "inspect", dst, "--json"])["lowering"]["float_nodes"])
        fp32 = last_json([quench, "eval", src, "--threads", a.threads, "--json"])["accuracy"]
        q = last_json([quench, "eval", dst, "--threads", a.threads, "--json"])["accuracy"]
        ort = last_json([sys.executable, os.path.join(PEERS, "ort_peer.py"), "accuracy", dst,
                         "--threads", a.threads])["accuracy"]
        print(f"| {m} | {floats} | {100 * fp32:.2f} | {100 * q:.2f} | {100 * ort:.2f} |", flush=True)


if __name__ == "__main__":
    main()
