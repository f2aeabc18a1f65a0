#!/usr/bin/env python3
"""quench vs ONNX Runtime on quantized models: top-1 side by side (the interop table).

  bench/interop.py [EXTRA.onnx ...] [--limit N] [--max-diff PTS] [--markdown]

For every file in models/fmnist/ort/ (ONNX Runtime's QDQ, QOperator and dynamic quantizations of
the five Fashion-MNIST models) and every extra file given: top-1 accuracy on fmnist:test (the first
N images with --limit) with quench (`quench eval --json`; QDQ graphs run lowered to integer ops)
and with ONNX Runtime (`ort_peer.py accuracy`), and quench − ORT in percentage points. Exits 1 when
|quench − ORT| exceeds --max-diff on some model. Standard library only; the peer needs onnxruntime
and numpy (../shared/tools/peers/ort_peer.py; override with --peer or QUENCH_ORT_PEER, and its
interpreter with --python or QUENCH_PYTHON). On a CPU without VNNI the peer runs each file with its
weights rewritten as u8 (tests/e2e/exact_peer.py), where ORT's u8 x s8 kernels would saturate.
"""
import argparse, glob, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXACT_PEER = os.path.join(ROOT, "tests", "e2e", "exact_peer.py")
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(model, a):
    limit = ["--limit", str(a.limit)] if a.limit else []
    # Dynamic quantization takes its ranges per batch: quench evaluates in the peer's batches of 500.
    q = run_json([a.quench, "eval", model, "--data", "fmnist:test", "--batch", "500", "--threads",
                  str(a.threads), "--json"] + limit)
    exact = subprocess.run([a.python, EXACT_PEER, model, a.workdir], check=True, capture_output=True,
                           text=True).stdout.strip()
    o = run_json([a.python, a.peer, "accuracy", exact, "--threads", str(a.threads)] + limit)
    if q["n"] != o["n"]:
        raise RuntimeError(f"{model}: quench evaluated {q['n']} images, ORT {o['n']}")
    return {"model": os.path.relpath(model, ROOT), "n": q["n"], "quench": 100.0 * q["accuracy"],
            "ort": 100.0 * o["accuracy"], "diff": 100.0 * (q["accuracy"] - o["accuracy"])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="extra model files")
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--limit", type=int, default=0, help="first N test images (0: all 10000)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-diff", type=float, help="fail when |quench - ORT| exceeds this (points)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    a = ap.parse_args()
    a.workdir = tempfile.mkdtemp(prefix="quench-interop-")
    models = sorted(glob.glob(os.path.join(ROOT, "models", "fmnist", "ort", "*.onnx"))) + a.models
    rows = []
    for model in models:
        r = compare(model, a)
        r["pass"] = a.max_diff is None or abs(r["diff"]) <= a.max_diff + 1e-9
        rows.append(r)
        print(f"{r['model']}: quench {r['quench']:.2f}%, ORT {r['ort']:.2f}%, "
              f"{r['diff']:+.2f} pt on {r['n']} images", file=sys.stderr, flush=True)
    if a.markdown:
        print(f"| model | quench top-1 % | ONNX Runtime top-1 % | quench − ORT (pt) |")
        print("| --- | --- | --- | --- |")
        for r in rows:
            mark = "" if r["pass"] else " **over bound**"
            print(f"| {r['model']} | {r['quench']:.2f} | {r['ort']:.2f} | {r['diff']:+.2f}{mark} |")
    else:
        width = max(len(r["model"]) for r in rows)
        print(f"{'model':<{width}}  {'quench %':>9}  {'ORT %':>9}  {'diff pt':>8}")
        for r in rows:
            print(f"{r['model']:<{width}}  {r['quench']:>9.2f}  {r['ort']:>9.2f}  {r['diff']:>+8.2f}"
                  + ("" if r["pass"] else "  over bound"))
    print(json.dumps({"limit": a.limit, "max_diff": a.max_diff, "rows": rows}))
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
