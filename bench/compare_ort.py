#!/usr/bin/env python3
"""quench vs ONNX Runtime, side by side in one run, 1 thread: latency medians and ratios.

  bench/compare_ort.py [--suite fp32] [--rounds 5] [--seconds 1] [--markdown]

Each round measures every case with quench (`quench bench --json`) and with ONNX Runtime
(`ort_peer.py bench`), alternating, so that both see the same machine load; the reported
latency is the median over rounds and the ratio the median of the per-round ratios
quench/ORT (below 1: quench is faster). Peer: ../shared/tools/peers/ort_peer.py (override with
--peer or QUENCH_ORT_PEER); models: models/fmnist and ../shared/models (QUENCH_SHARED_MODELS).
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))


def fmnist(name):
    return os.path.join(ROOT, "models", "fmnist", name)


# (label, model path, batch, sample shape, target ratio quench/ORT)
SUITES = {
    "fp32": [
        ("cnn", fmnist("cnn.onnx"), 32, "1,28,28", 1.0),
        ("resnet20", fmnist("resnet20.onnx"), 32, "1,28,28", 1.0),
        ("mobilenetv2", fmnist("mobilenetv2.onnx"), 32, "1,28,28", 1.0),
        ("cnn", fmnist("cnn.onnx"), 1, "1,28,28", 1.2),
        ("resnet20", fmnist("resnet20.onnx"), 1, "1,28,28", 1.2),
        ("mobilenetv2", fmnist("mobilenetv2.onnx"), 1, "1,28,28", 1.2),
        ("resnet18 224", os.path.join(SHARED, "imagenet", "resnet18.onnx"), 1, "3,224,224", 1.0),
    ],
}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


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
    cases = [c for c in SUITES[a.suite] if os.path.exists(c[1])]
    if a.only:
        keep = set(a.only.split(","))
        cases = [c for c in cases if c[0] in keep]
    skipped = [c[0] for c in SUITES[a.suite] if not os.path.exists(c[1])]
    if skipped:
        print(f"skipped (model not found): {', '.join(skipped)}", file=sys.stderr)
    q = {i: [] for i in range(len(cases))}
    o = {i: [] for i in range(len(cases))}
    for r in range(a.rounds):
        for i, (label, model, batch, shape, _) in enumerate(cases):
            qr = run_json([a.quench, "bench", model, "--batch", str(batch), "--threads", str(a.threads),
                           "--shape", shape, "--seconds", str(a.seconds), "--json"])
            orr = run_json([a.python, a.peer, "bench", model, "--batch", str(batch), "--threads",
                            str(a.threads), "--shape", shape, "--seconds", str(a.seconds)])
            q[i].append(qr["median_ms"])
            o[i].append(orr["median_ms"])
            print(f"round {r + 1}/{a.rounds} {label} b{batch}: quench {qr['median_ms']:.3f} ms, "
                  f"ORT {orr['median_ms']:.3f} ms", file=sys.stderr)
    rows = []
    for i, (label, model, batch, shape, target) in enumerate(cases):
        ratio = statistics.median(qq / oo for qq, oo in zip(q[i], o[i]))
        rows.append({"model": label, "batch": batch, "quench_ms": statistics.median(q[i]),
                     "ort_ms": statistics.median(o[i]), "ratio": ratio, "target": target,
                     "pass": ratio <= target})
    if a.markdown:
        print("| model | batch | quench ms | ONNX Runtime ms | quench / ORT | target | |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['model']} | {r['batch']} | {r['quench_ms']:.3f} | {r['ort_ms']:.3f} | "
                  f"{r['ratio']:.2f} | ≤ {r['target']} | {'ok' if r['pass'] else 'MISSED'} |")
    print(json.dumps({"suite": a.suite, "threads": a.threads, "rounds": a.rounds, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
