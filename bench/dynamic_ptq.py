#!/usr/bin/env python3
"""quench quantize --mode dynamic: accuracy and speed, side by side with ONNX Runtime, 1 thread.

  bench/dynamic_ptq.py [--models lstm,vit] [--rounds 5] [--seconds 1] [--skip-accuracy]
                       [--skip-speed] [--markdown]

Accuracy: top-1 on the full Fashion-MNIST test set in batches of 500 (dynamic quantization takes
its ranges per batch, so both runtimes see the same batches) of the FP32 model in quench, of
quench's dynamic file (`quench quantize --mode dynamic`, made into build/bench-models/) in quench,
and of that file in ONNX Runtime. On a CPU without VNNI, ONNX Runtime's u8 x s8 products saturate
(tests/e2e/exact_peer.py); there it also runs the file with its weights stored as u8 (the same
integer math on its exact kernels), reported as "ORT (u8 weights)".

Speed (bench/compare_ort.py's method: within a round the runs of a case are measured back to
back; latencies are medians over rounds, ratios medians of per-round ratios) at batch 1 and 32:
quench's dynamic file vs ONNX Runtime's own dynamic file (models/fmnist/ort/*.ort_dynamic.onnx),
both in quench; quench vs ONNX Runtime on ONNX Runtime's file; quench on its own file vs ONNX
Runtime on its own file.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from exact_peer import cpu_has_vnni, with_u8_weights  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))
GENERATED = os.path.join(ROOT, "build", "bench-models")
BATCH = 500


def fmnist(name):
    return os.path.join(ROOT, "models", "fmnist", name)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def quench_dynamic(a, model):
    out = os.path.join(GENERATED, model + ".quench_dynamic.onnx")
    os.makedirs(GENERATED, exist_ok=True)
    subprocess.run([a.quench, "quantize", fmnist(model + ".onnx"), "-o", out, "--mode", "dynamic"],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def quench_accuracy(a, path):
    r = run_json([a.quench, "eval", path, "--data", "fmnist:test", "--batch", str(BATCH),
                  "--threads", str(a.threads), "--json"])
    return 100.0 * r["accuracy"]


def ort_accuracy(a, path):
    return 100.0 * run_json([a.python, a.peer, "accuracy", path, "--threads", str(a.threads)])["accuracy"]


def accuracy_rows(a, models):
    rows = []
    for m in models:
        dyn = quench_dynamic(a, m)
        row = {"model": m, "fp32": quench_accuracy(a, fmnist(m + ".onnx")),
               "quench": quench_accuracy(a, dyn), "ort": ort_accuracy(a, dyn)}
        if not cpu_has_vnni():
            with tempfile.TemporaryDirectory() as tmp:
                exact = os.path.join(tmp, os.path.basename(dyn))
                with_u8_weights(dyn, exact)
                row["ort_u8"] = ort_accuracy(a, exact)
        rows.append(row)
        print(f"accuracy {m}: {row}", file=sys.stderr)
    return rows


def bench(a, runner, path, batch):
    if runner == "quench":
        cmd = [a.quench, "bench", path, "--json"]
    else:
        cmd = [a.python, a.peer, "bench", path]
    cmd += ["--batch", str(batch), "--threads", str(a.threads), "--shape", "1,28,28", "--seconds",
            str(a.seconds)]
    return run_json(cmd)["median_ms"]


def speed_rows(a, models):
    # (label, batch, A = (runner, file), B = (runner, file), target for A / B)
    cases = []
    for m in models:
        ours, theirs = quench_dynamic(a, m), fmnist(os.path.join("ort", m + ".ort_dynamic.onnx"))
        for batch, target in [(1, 0.83), (32, 0.67)]:
            cases += [(f"{m}: quench file vs ORT file, both in quench", batch, ("quench", ours),
                       ("quench", theirs), 1.0),
                      (f"{m}: quench vs ORT on ORT's file", batch, ("quench", theirs), ("ort", theirs),
                       target),
                      (f"{m}: quench on its file vs ORT on its file", batch, ("quench", ours),
                       ("ort", theirs), target)]
    times = [([], []) for _ in cases]
    for r in range(a.rounds):
        for i, (label, batch, run_a, run_b, _) in enumerate(cases):
            ta, tb = bench(a, *run_a, batch), bench(a, *run_b, batch)
            times[i][0].append(ta)
            times[i][1].append(tb)
            print(f"round {r + 1}/{a.rounds} {label} b{batch}: {ta:.3f} vs {tb:.3f} ms", file=sys.stderr)
    rows = []
    for (label, batch, _, _, target), (ta, tb) in zip(cases, times):
        ratio = statistics.median(x / y for x, y in zip(ta, tb))
        rows.append({"case": label, "batch": batch, "a_ms": statistics.median(ta),
                     "b_ms": statistics.median(tb), "ratio": ratio, "target": target,
                     "pass": ratio <= target})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="lstm,vit")
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    models = a.models.split(",")
    acc = [] if a.skip_accuracy else accuracy_rows(a, models)
    speed = [] if a.skip_speed else speed_rows(a, models)
    if a.markdown and acc:
        u8 = not cpu_has_vnni()
        print("| model | FP32 (quench) | dynamic, quench | Δ vs FP32 | dynamic, ORT | ORT − quench |"
              + (" ORT (u8 weights) | ORT (u8) − quench |" if u8 else ""))
        print("| --- " * (8 if u8 else 6) + "|")
        for r in acc:
            line = (f"| {r['model']} | {r['fp32']:.2f} | {r['quench']:.2f} | {r['quench'] - r['fp32']:+.2f} | "
                    f"{r['ort']:.2f} | {r['ort'] - r['quench']:+.2f} |")
            if u8:
                line += f" {r['ort_u8']:.2f} | {r['ort_u8'] - r['quench']:+.2f} |"
            print(line)
        print()
    if a.markdown and speed:
        print("| case | batch | A ms | B ms | A / B | target | |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in speed:
            print(f"| {r['case']} | {r['batch']} | {r['a_ms']:.3f} | {r['b_ms']:.3f} | {r['ratio']:.2f} | "
                  f"≤ {r['target']} | {'ok' if r['pass'] else 'MISSED'} |")
    print(json.dumps({"threads": a.threads, "rounds": a.rounds, "accuracy": acc, "speed": speed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
