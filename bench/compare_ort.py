#!/usr/bin/env python3
"""quench vs ONNX Runtime (and quench INT8 vs FP32), side by side in one run, 1 thread.

  bench/compare_ort.py [--suite fp32|int8|dynamic] [--rounds 5] [--seconds 1] [--only LABELS] [--markdown]

Each case compares two runs A and B (each quench or ONNX Runtime on some model) at one batch
size; within a round both are measured back to back (`quench bench --json`, `ort_peer.py
bench`), so that both see the same machine load. The reported latencies are medians over rounds
and the ratio is the median of the per-round ratios A/B (below 1: A is faster), checked against
the case's target.

Suites:
  fp32  quench FP32 vs ONNX Runtime FP32 on the FP32 models.
  dynamic  quench vs ONNX Runtime on ONNX Runtime's dynamically quantized files.
  int8  quench INT8 vs ONNX Runtime INT8 on ONNX Runtime's own QDQ fixtures; quench INT8 vs
        quench FP32; quench INT8 on ImageNet-size models (quantized by `quench quantize --calib
        random:64` into build/bench-models/ on first use) vs ONNX Runtime FP32.

Peer: ../shared/tools/peers/ort_peer.py (override with --peer or QUENCH_ORT_PEER); models:
models/fmnist and ../shared/models (QUENCH_SHARED_MODELS).
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))
GENERATED = os.path.join(ROOT, "build", "bench-models")


def fmnist(name):
    return os.path.join(ROOT, "models", "fmnist", name)


def ort_qdq(name):
    return fmnist(os.path.join("ort", name + ".ort_qdq.onnx"))


def imagenet(name):
    return os.path.join(SHARED, "imagenet", name + ".onnx")


def ort_dynamic(name):
    return fmnist(os.path.join("ort", name + ".ort_dynamic.onnx"))


def quench_int8(name):
    """A quench-quantized ImageNet model (made on first use); the FP32 source path is kept."""
    return ("generate", imagenet(name), os.path.join(GENERATED, name + ".int8.onnx"))


IMG = "1,28,28"
# (label, batch, sample shape, A = (runner, model), B = (runner, model), target for A/B)
SUITES = {
    "fp32": [(f"{m}", b, IMG, ("quench", fmnist(m + ".onnx")), ("ort", fmnist(m + ".onnx")), t)
             for b, t in [(32, 1.0), (1, 1.2)]
             for m in ["cnn", "resnet20", "mobilenetv2", "lstm", "vit"]] +
            [(f"{m} 224", 1, "3,224,224", ("quench", imagenet(m)), ("ort", imagenet(m)), 1.0)
             for m in ["resnet18", "mobilenet_v2"]],
    "int8": [(f"{m} INT8 vs ORT INT8", b, IMG, ("quench", ort_qdq(m)), ("ort", ort_qdq(m)), t)
             for b, t in [(32, 0.67), (1, 0.83)] for m in ["cnn", "resnet20", "mobilenetv2"]] +
            [(f"{m} INT8 vs quench FP32", 32, IMG, ("quench", ort_qdq(m)),
              ("quench", fmnist(m + ".onnx")), round(1 / 3, 3)) for m in ["cnn", "resnet20"]] +
            [("vit INT8 vs quench FP32", 32, IMG, ("quench", ort_qdq("vit")),
              ("quench", fmnist("vit.onnx")), 1.0),
             ("resnet18 224 INT8 vs ORT FP32", 1, "3,224,224", ("quench", quench_int8("resnet18")),
              ("ort", imagenet("resnet18")), round(1 / 3.5, 3)),
             ("mobilenet_v2 224 INT8 vs ORT FP32", 1, "3,224,224",
              ("quench", quench_int8("mobilenet_v2")), ("ort", imagenet("mobilenet_v2")), 0.5)],
    # ONNX Runtime's dynamically quantized files (DynamicQuantizeLinear -> MatMulInteger /
    # ConvInteger / DynamicQuantizeLSTM); target: not slower than ONNX Runtime.
    "dynamic": [(f"{m} dynamic vs ORT dynamic", b, IMG, ("quench", ort_dynamic(m)),
                 ("ort", ort_dynamic(m)), 1.0)
                for b in [32, 1] for m in ["cnn", "resnet20", "mobilenetv2", "lstm", "vit"]]
}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def model_path(model, a):
    """The model file of a run, quantizing an ImageNet model first when the case needs it."""
    if isinstance(model, str):
        return model
    _, source, target = model
    if not os.path.exists(target) and os.path.exists(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        print(f"quantizing {source} -> {target} (--calib random:64)", file=sys.stderr)
        subprocess.run([a.quench, "quantize", source, "-o", target, "--calib", "random:64"],
                       check=True, stdout=subprocess.DEVNULL)
    return target


def source_exists(model):
    return os.path.exists(model if isinstance(model, str) else model[1])


def measure(run, batch, shape, a):
    runner, model = run
    path = model_path(model, a)
    if runner == "quench":
        cmd = [a.quench, "bench", path, "--json"]
    else:
        cmd = [a.python, a.peer, "bench", path]
    cmd += ["--batch", str(batch), "--threads", str(a.threads), "--shape", shape, "--seconds",
            str(a.seconds)]
    return run_json(cmd)["median_ms"]


def describe(run):
    runner, model = run
    path = model if isinstance(model, str) else model[2]
    return f"{'quench' if runner == 'quench' else 'ORT'} {os.path.basename(path)}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="fp32", choices=sorted(SUITES))
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", help="comma-separated labels to run")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    a = ap.parse_args()
    cases = [c for c in SUITES[a.suite] if source_exists(c[3][1]) and source_exists(c[4][1])]
    skipped = [c[0] for c in SUITES[a.suite] if c not in cases]
    if a.only:
        keep = set(a.only.split(","))
        cases = [c for c in cases if c[0] in keep]
    if skipped:
        print(f"skipped (model not found): {', '.join(skipped)}", file=sys.stderr)
    times = [([], []) for _ in cases]
    for r in range(a.rounds):
        for i, (label, batch, shape, run_a, run_b, _) in enumerate(cases):
            ta, tb = measure(run_a, batch, shape, a), measure(run_b, batch, shape, a)
            times[i][0].append(ta)
            times[i][1].append(tb)
            print(f"round {r + 1}/{a.rounds} {label} b{batch}: {ta:.3f} ms vs {tb:.3f} ms",
                  file=sys.stderr)
    rows = []
    for (label, batch, shape, run_a, run_b, target), (ta, tb) in zip(cases, times):
        ratio = statistics.median(x / y for x, y in zip(ta, tb))
        rows.append({"case": label, "batch": batch, "a": describe(run_a), "b": describe(run_b),
                     "a_ms": statistics.median(ta), "b_ms": statistics.median(tb), "ratio": ratio,
                     "target": target, "pass": ratio <= target})
    if a.markdown:
        print("| case | batch | A | A ms | B | B ms | A / B | target | |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['case']} | {r['batch']} | {r['a']} | {r['a_ms']:.3f} | {r['b']} | "
                  f"{r['b_ms']:.3f} | {r['ratio']:.2f} | ≤ {r['target']} | "
                  f"{'ok' if r['pass'] else 'MISSED'} |")
    print(json.dumps({"suite": a.suite, "threads": a.threads, "rounds": a.rounds, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
