#!/usr/bin/env python3
"""Static PTQ accuracy: every calibration method x model, run in quench and in ONNX Runtime.

  bench/ptq_accuracy.py [--models cnn,resnet20,mobilenetv2] [--methods minmax,...]
                        [--calib-size 512] [--limit N] [--markdown]

For each model and method: `quench quantize MODEL --calib fmnist:train --calib-size N --method M`
(defaults otherwise: u8 asymmetric activations, s8 per-channel weights), then top-1 on
fmnist:test of the FP32 model and of the QDQ file in quench (`quench eval`) and in ONNX Runtime
(`ort_peer.py accuracy`). Prints the differences to FP32 in points. Peer:
../shared/tools/peers/ort_peer.py (override with --peer or QUENCH_ORT_PEER).
"""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.environ.get("QUENCH_ORT_PEER", os.path.join(ROOT, "..", "shared", "tools", "peers", "ort_peer.py"))
METHODS = ["minmax", "movavg", "percentile", "entropy", "mse"]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quench", default=os.path.join(ROOT, "build", "quench"))
    ap.add_argument("--peer", default=PEER)
    ap.add_argument("--python", default=os.environ.get("QUENCH_PYTHON") or sys.executable)
    ap.add_argument("--models", default="cnn,resnet20,mobilenetv2")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--calib-size", type=int, default=512)
    ap.add_argument("--limit", type=int, default=0, help="test images (0: all 10,000)")
    ap.add_argument("--no-peer", action="store_true", help="quench only")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    limit = ["--limit", str(a.limit)] if a.limit else []

    def quench_acc(model):
        return 100 * run_json([a.quench, "eval", model, "--data", "fmnist:test", "--json"] + limit)["accuracy"]

    def ort_acc(model):
        if a.no_peer:
            return None
        return 100 * run_json([a.python, a.peer, "accuracy", model] + limit)["accuracy"]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models.split(","):
            fp32 = os.path.join(ROOT, "models", "fmnist", name + ".onnx")
            base_q, base_o = quench_acc(fp32), ort_acc(fp32)
            print(f"{name} FP32: quench {base_q:.2f}" + (f", ORT {base_o:.2f}" if base_o else ""),
                  file=sys.stderr)
            for method in a.methods.split(","):
                out = os.path.join(tmp, f"{name}.{method}.onnx")
                subprocess.run([a.quench, "quantize", fp32, "-o", out, "--calib", "fmnist:train",
                                "--calib-size", str(a.calib_size), "--method", method],
                               check=True, capture_output=True)
                q, o = quench_acc(out), ort_acc(out)
                rows.append((name, method, base_q, q, base_o, o))
                print(f"  {method}: quench {q:.2f} ({q - base_q:+.2f})" +
                      (f", ORT {o:.2f} ({o - base_o:+.2f})" if o is not None else ""), file=sys.stderr)

    if a.markdown:
        print("| model | method | FP32 | quench INT8 | Δ | ORT runs the same file | Δ |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, method, bq, q, bo, o in rows:
            ort = f"{o:.2f} | {o - bo:+.2f}" if o is not None else "– | –"
            print(f"| {name} | {method} | {bq:.2f} | {q:.2f} | {q - bq:+.2f} | {ort} |")
    else:
        for r in rows:
            print(json.dumps(dict(zip(["model", "method", "fp32_quench", "int8_quench", "fp32_ort", "int8_ort"], r))))
    worst = max(abs(q - bq) for _, _, bq, q, _, _ in rows)
    print(f"largest |INT8 - FP32| in quench: {worst:.2f} pt", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
