#!/usr/bin/env python3
"""Weight-only 4-bit vit against the peers' own 4-bit quantizers (issue 11, "peers where they
apply"): quench's MatMulNBits files (rounding to nearest, GPTQ), ONNX Runtime's
MatMulNBitsQuantizer (its default RTN config) and NNCF's compress_weights (INT4_SYM), each at the
same block size, top-1 on the full Fashion-MNIST test set. quench's and ONNX Runtime's files run
in both runtimes; NNCF's OpenVINO IR runs in OpenVINO.

    ~/.cache/quench-venv/bin/python bench/int4_peers.py [--build build] [--blocks 32,128]
        [--model models/fmnist/vit.onnx] [--markdown]

Needs the peer venv (onnxruntime, openvino, nncf, onnx) and `onnx_ir` (pip install onnx_ir),
which ONNX Runtime's MatMulNBitsQuantizer imports.
"""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "..", "shared", "tools", "peers")


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-1500:]}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "fmnist", "vit.onnx"))
    ap.add_argument("--blocks", default="32,128")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer)
    except ImportError as e:
        sys.exit(f"int4_peers.py: ONNX Runtime's MatMulNBitsQuantizer is not importable ({e}); "
                 "pip install onnxruntime onnx onnx_ir")
    import onnx

    quench = os.path.join(a.build, "quench")
    py = sys.executable

    def accuracy(cmd):
        return 100 * last_json(run(cmd))["accuracy"]

    def quench_acc(path):
        return accuracy([quench, "eval", path, "--data", "fmnist:test", "--json"])

    def ort_acc(path):
        return accuracy([py, os.path.join(PEERS, "ort_peer.py"), "accuracy", path])

    def ov_acc(path):
        return accuracy([py, os.path.join(PEERS, "ov_peer.py"), "accuracy", path])

    rows = [("FP32", "–", quench_acc(a.model), ort_acc(a.model), ov_acc(a.model))]
    with tempfile.TemporaryDirectory() as tmp:
        for block in [int(b) for b in a.blocks.split(",")]:
            base = ["quantize", a.model, "--weight-only", "--weights", "int4", "--group-size",
                    str(block), "--threads", "1"]
            for name, extra in (("quench, rounding to nearest", []),
                                ("quench, GPTQ", ["--gptq", "--calib", "fmnist:train"])):
                out = os.path.join(tmp, f"q{block}{len(extra)}.onnx")
                run([quench] + base + ["-o", out] + extra)
                rows.append((name, block, quench_acc(out), ort_acc(out), None))
            cfg = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=False)
            q = MatMulNBitsQuantizer(onnx.load(a.model), block_size=block, is_symmetric=False,
                                     algo_config=cfg)
            q.process()
            out = os.path.join(tmp, f"ort{block}.onnx")
            q.model.save_model_to_file(out, False)
            rows.append(("ONNX Runtime MatMulNBitsQuantizer (RTN)", block, quench_acc(out),
                         ort_acc(out), None))
            xml = os.path.join(tmp, f"nncf{block}.xml")
            try:
                run([py, os.path.join(PEERS, "ov_peer.py"), "compress", a.model, xml,
                     "--group-size", str(block)])
                rows.append(("NNCF compress_weights INT4_SYM", block, None, None, ov_acc(xml)))
            except RuntimeError as e:  # e.g. a group that does not divide a layer's channels
                reason = next((l for l in str(e).splitlines() if "Error:" in l), "failed")
                rows.append((f"NNCF compress_weights INT4_SYM: refused ({reason.strip()[:90]})",
                             block, None, None, None))
            for r in rows[-4:]:
                print(r, file=sys.stderr, flush=True)

    def f(v):
        return "–" if v is None else f"{v:.2f}"

    if a.markdown:
        print("| quantizer | block | quench top-1 | ONNX Runtime top-1 | OpenVINO top-1 |")
        print("| --- | --- | --- | --- | --- |")
        for name, block, q, o, v in rows:
            print(f"| {name} | {block} | {f(q)} | {f(o)} | {f(v)} |")
    print(json.dumps([dict(zip(("quantizer", "block", "quench", "ort", "openvino"), r))
                      for r in rows]))


if __name__ == "__main__":
    main()
