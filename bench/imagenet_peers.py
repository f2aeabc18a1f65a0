#!/usr/bin/env python3
"""quench vs ONNX Runtime vs OpenVINO on ImageNet-size INT8 files, side by side in one run.

  bench/imagenet_peers.py [--fixtures DIR] [--models resnet18,...] [--batches 1,32] [--rounds 3]
                          [--seconds 1] [--threads 1] [--profile]
  bench/imagenet_peers.py --fmnist [--models cnn,resnet20,mobilenetv2,vit] [--batches 32]

For each model (resnet18, mobilenet_v2: ../shared/models/imagenet; efficientnet_like: made by
bench/make_peer_qdq.py into --fixtures) and batch size, every runner measures, back to back in each
round so that all see the same machine load:
  - quench FP32 on the float model;
  - quench, ONNX Runtime and OpenVINO on ONNX Runtime's QDQ file (NAME.ort_qdq.onnx in --fixtures,
    else ../shared/models/imagenet/ort/);
  - the same on NNCF's QDQ file (NAME.nncf_qdq.onnx in --fixtures), where it exists;
  - quench, ONNX Runtime and OpenVINO on quench's own QDQ file (`quench quantize --calib random:64`,
    made into build/bench-models/ on first use).
Each runner reports the median latency of its runs (`quench bench --json`, the peers' `bench`); the
table holds the median over rounds, in ms. --profile prints quench's slowest steps on each INT8 file
at batch 1 (`quench bench --profile`). Run with `nice` on a quiet machine; name the CPU with the
figures. Peers: ../shared/tools/peers/{ort,ov}_peer.py (QUENCH_ORT_PEER, QUENCH_OV_PEER).
With --fmnist the same table for the bundled Fashion-MNIST models (models/fmnist/NAME.onnx, ONNX
Runtime's QDQ file ../shared/models/fmnist/ort/NAME.ort_qdq.onnx, quench's own quantized from 512
fmnist:train images), 1x28x28 inputs.
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
PEERS = os.path.join(ROOT, "..", "shared", "tools", "peers")
ORT_PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(PEERS, "ort_peer.py"))
OV_PEER = os.environ.get("QUENCH_OV_PEER", os.path.join(PEERS, "ov_peer.py"))
GENERATED = os.path.join(ROOT, "build", "bench-models")


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def stale(own, quench):
    """Whether quench's own file of a model must be (re)written: missing, or older than the
    quench binary (whose quantizer may place its Q/DQ pairs otherwise now)."""
    return not os.path.exists(own) or os.path.getmtime(own) < os.path.getmtime(quench)


def fmnist_files(model, a):
    """(label, path) of a bundled Fashion-MNIST model's float, ORT QDQ and quench QDQ files."""
    fp32 = os.path.join(ROOT, "models", "fmnist", model + ".onnx")
    ort_qdq = os.path.join(SHARED, "fmnist", "ort", model + ".ort_qdq.onnx")
    own = os.path.join(GENERATED, model + ".fmnist_quench_qdq.onnx")
    if stale(own, a.quench):
        os.makedirs(GENERATED, exist_ok=True)
        subprocess.run([a.quench, "quantize", fp32, "-o", own, "--calib", "fmnist:train"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [(label, path) for label, path in
            [("FP32", fp32), ("ORT QDQ", ort_qdq), ("quench QDQ", own)] if os.path.exists(path)]


def files(model, a):
    """(label, path) of the model's float, ORT QDQ and quench QDQ files that exist."""
    if a.fmnist:
        return fmnist_files(model, a)
    fp32 = os.path.join(SHARED, "imagenet", model + ".onnx")
    if not os.path.exists(fp32):
        fp32 = os.path.join(a.fixtures, model + ".onnx")
    ort_qdq = os.path.join(a.fixtures, model + ".ort_qdq.onnx")
    if not os.path.exists(ort_qdq):
        ort_qdq = os.path.join(SHARED, "imagenet", "ort", model + ".ort_qdq.onnx")
    own = os.path.join(GENERATED, model + ".quench_qdq.onnx")
    if os.path.exists(fp32) and stale(own, a.quench):
        os.makedirs(GENERATED, exist_ok=True)
        print(f"quantizing {fp32} -> {own} (--calib random:64)", file=sys.stderr)
        subprocess.run([a.quench, "quantize", fp32, "-o", own, "--calib", "random:64"], check=True,
                       stdout=subprocess.DEVNULL)
    nncf_qdq = os.path.join(a.fixtures, model + ".nncf_qdq.onnx")
    return [(label, path) for label, path in
            [("FP32", fp32), ("ORT QDQ", ort_qdq), ("NNCF QDQ", nncf_qdq), ("quench QDQ", own)]
            if os.path.exists(path)]


def measure(runner, path, batch, a):
    common = ["--batch", str(batch), "--threads", str(a.threads),
              "--shape", "1,28,28" if a.fmnist else "3,224,224",
              "--seconds", str(a.seconds)]
    if runner == "quench":
        cmd = [a.quench, "bench", path, "--json"] + common
    else:
        cmd = [a.python, ORT_PEER if runner == "ORT" else OV_PEER, "bench", path] + common
    try:
        return run_json(cmd)["median_ms"]
    except (subprocess.CalledProcessError, KeyError, ValueError) as e:
        print(f"{runner} failed on {path}: {getattr(e, 'stderr', e)}", file=sys.stderr)
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--fixtures", default=os.path.expanduser("~/.cache/quench/peer-qdq"))
    ap.add_argument("--fmnist", action="store_true")
    ap.add_argument("--models", default=None)
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    if a.models is None:
        a.models = ("cnn,resnet20,mobilenetv2,vit" if a.fmnist
                    else "resnet18,mobilenet_v2,efficientnet_like")
    cases = []  # (model, file label, path, batch, runner)
    for model in a.models.split(","):
        for label, path in files(model, a):
            for batch in [int(b) for b in a.batches.split(",")]:
                runners = ["quench"] if label == "FP32" else ["quench", "ORT", "OpenVINO"]
                cases += [(model, label, path, batch, r) for r in runners]
    times = {case: [] for case in cases}
    for r in range(a.rounds):
        for case in cases:
            ms = measure(case[4], case[2], case[3], a)
            if ms is not None:
                times[case].append(ms)
            print(f"round {r + 1}/{a.rounds}: {case[0]} {case[1]} b{case[3]} {case[4]}: {ms}",
                  file=sys.stderr, flush=True)
    print(f"\n{a.threads} thread(s), median of {a.rounds} rounds (each the median of its runs), ms\n")
    print("| model | file | batch | quench | ONNX Runtime | OpenVINO |")
    print("| --- | --- | --- | --- | --- | --- |")
    rows = {}
    for (model, label, _, batch, runner), ms in times.items():
        rows.setdefault((model, label, batch), {})[runner] = statistics.median(ms) if ms else None
    for (model, label, batch), by in rows.items():
        cell = lambda r: "–" if by.get(r) is None else f"{by[r]:.2f}"
        print(f"| {model} | {label} | {batch} | {cell('quench')} | {cell('ORT')} | {cell('OpenVINO')} |")
    if a.profile:
        for model in a.models.split(","):
            for label, path in files(model, a):
                if label == "FP32":
                    continue
                out = subprocess.run([a.quench, "bench", path, "--profile", "--batch", "1", "--threads",
                                      str(a.threads), "--shape",
                                      "1,28,28" if a.fmnist else "3,224,224", "--seconds", "1"],
                                     capture_output=True, text=True).stdout
                print(f"\n### quench --profile, {model} {label}, b1\n")
                print("\n".join(out.splitlines()[:16]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
