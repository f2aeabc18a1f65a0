#!/usr/bin/env python3
"""Automatic mixed precision under an accuracy budget: `quench quantize --max-drop` against NNCF's
`quantize_with_accuracy_control` (OpenVINO), same model, budget and validation set.

  bench/accuracy_control.py [--models resnet20,mobilenetv2] [--max-drop 0.3] [--val-size 2000]
                            [--calib-size 512] [--threads 0] [--no-bias-correction] [--markdown]

Both quantize to INT8 (NNCF's accuracy control has no 4-bit mode) from `--calib-size`
Fashion-MNIST training images and validate on the first `--val-size` test images:
  - quench: `quench quantize MODEL --calib fmnist:train --bias-correction --max-drop D --val
    fmnist:test --val-limit V --json`; units kept in float from its JSON. `nncf.quantize` applies
    its fast bias correction by default, so quench runs with its own (`--no-bias-correction`:
    without);
  - NNCF: `ov_peer.py accuracy-control MODEL OUT.xml --max-drop D --val-size V`; the layers it
    kept in float are counted as the FakeQuantize nodes of plain `nncf.quantize`
    (`ov_peer.py quantize`) that the accuracy-controlled model no longer has.
Wall time of each quantization (calibration, search and validation included) with the same
thread count (--threads 0: all cores, quench's default for a CLI run is 1), top-1 of each result
on the full test set (`quench eval`, `ov_peer.py accuracy`).
"""
import argparse, json, os, re, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OV_PEER = os.environ.get("QUENCH_OV_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ov_peer.py"))


def last_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 8):  # 8: budget not met, best model written (docs/cli.md)
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-1500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def fake_quantizes(xml):
    with open(xml) as f:
        return len(re.findall(r'type="FakeQuantize"', f.read()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet20,mobilenetv2")
    ap.add_argument("--max-drop", type=float, default=0.3)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--calib-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    threads = a.threads or os.cpu_count()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in a.models.split(","):
            src = os.path.join(ROOT, "models", "fmnist", m + ".onnx")
            out = os.path.join(tmp, m + ".amp.onnx")
            t = time.perf_counter()
            q = last_json([a.quench, "quantize", src, "-o", out, "--calib", "fmnist:train", "--calib-size",
                           str(a.calib_size), "--max-drop", str(a.max_drop), "--val", "fmnist:test",
                           "--val-limit", str(a.val_size), "--threads", str(threads), "--json"]
                          + (["--bias-correction"] if a.bias_correction else []))
            q_seconds = time.perf_counter() - t
            q_top1 = 100 * last_json([a.quench, "eval", out, "--data", "fmnist:test", "--batch", "500",
                                      "--threads", str(threads), "--json"])["accuracy"]
            plain = os.path.join(tmp, m + ".nncf.xml")
            last_json([a.python, OV_PEER, "quantize", src, plain, "--calib-size", str(a.calib_size)])
            ac = os.path.join(tmp, m + ".nncf_ac.xml")
            t = time.perf_counter()
            n = last_json([a.python, OV_PEER, "accuracy-control", src, ac, "--max-drop", str(a.max_drop),
                           "--calib-size", str(a.calib_size), "--val-size", str(a.val_size)])
            n_seconds = time.perf_counter() - t
            n_top1 = 100 * last_json([a.python, OV_PEER, "accuracy", ac, "--threads", str(threads)])["accuracy"]
            n_float = fake_quantizes(plain) - fake_quantizes(ac)
            fp32 = 100 * last_json([a.quench, "eval", src, "--data", "fmnist:test", "--batch", "500", "--threads",
                                    str(threads), "--json"])["accuracy"]
            row = {"model": m, "fp32": fp32, "max_drop": a.max_drop, "val_size": a.val_size,
                   "quench": {"top1": q_top1, "val_top1": 100 * q["top1"], "val_fp32": 100 * q["fp32_top1"],
                              "budget_met": q["budget_met"], "kept_float": len(q["kept_units"]),
                              "units": q["units"], "evaluations": q["evaluations"], "seconds": q_seconds},
                   "nncf": {"top1": n_top1, "kept_float_fq": n_float, "fq_plain": fake_quantizes(plain),
                            "seconds": n_seconds, "nncf_seconds": n.get("seconds")}}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    if a.markdown:
        print(f"| model | FP32 | tool | top-1 (full test) | val top-1 / FP32 (first {a.val_size}) | kept in float | evaluations | wall s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            q, n = r["quench"], r["nncf"]
            print(f"| {r['model']} | {r['fp32']:.2f} | quench | {q['top1']:.2f} | {q['val_top1']:.2f} / {q['val_fp32']:.2f} "
                  f"| {q['kept_float']} of {q['units']} units | {q['evaluations']} | {q['seconds']:.1f} |")
            print(f"| {r['model']} | {r['fp32']:.2f} | NNCF | {n['top1']:.2f} | – "
                  f"| {n['kept_float_fq']} of {n['fq_plain']} FakeQuantize | – | {n['seconds']:.1f} |")
    print(json.dumps({"threads": threads, "rows": rows}))


if __name__ == "__main__":
    main()
