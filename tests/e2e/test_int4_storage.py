#!/usr/bin/env python3
"""`--int4-storage`: 4-bit weights written as ONNX INT4 (opset 21) that the ONNX checker accepts
and ONNX Runtime and quench both run, computing what the int8-stored file computes.

1. cnn, `quantize --weights int4` with and without --int4-storage (same calibration): the INT4
   file passes onnx.checker (full_check: types and shapes at opset 21, IR version >= 10); each
   INT4 initializer, unpacked here by the ONNX spec (two's complement nibbles, the element of
   lower index in the low nibble), equals the int8 file's weight; quench gives bit-identical
   outputs for both files; ONNX Runtime on the INT4 file agrees with quench within OUTPUT_TOL
   (ORT's s8 products run exactly: every s8 weight left is rewritten to u8, exact_peer.py).
2. vit (Split and Reduce-free LayerNormalization, upgraded from opset 17 to 21): the same checks
   on the outputs of 64 images.
3. `qat --bits w4a8 --steps 3 --int4-storage`: checker, and ORT exact agrees with quench.
4. Refusals, exit 2 with a message: --weights int8, --group-size with --weight-only, qat w8a8;
   and a model at opset 12 (cannot be raised to 21) before calibration, with a non-zero exit.
Started by run_python.sh (exit 77 without onnxruntime).
"""
import argparse, os, subprocess, sys, tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exact_peer import exact_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models", "fmnist")
MIN_AGREEMENT = 0.95  # top-1 of quench vs ORT on the same file


def unpack_int4(t):
    raw = np.frombuffer(t.raw_data, np.uint8)
    n = int(np.prod(t.dims)) if t.dims else 1
    nibbles = np.empty(raw.size * 2, np.int16)
    nibbles[0::2] = raw & 0x0F
    nibbles[1::2] = raw >> 4
    nibbles = nibbles[:n]
    nibbles = np.where(nibbles >= 8, nibbles - 16, nibbles)
    return nibbles.astype(np.int8).reshape(tuple(t.dims))


def quench_run(quench, model, x, tmp, tag):
    xin, yout = os.path.join(tmp, f"{tag}_x.npy"), os.path.join(tmp, f"{tag}_y.npy")
    np.save(xin, x)
    subprocess.run([quench, "run", model, "-i", xin, "-o", yout, "--threads", "1"], check=True,
                   capture_output=True)
    return np.load(yout)


def ort_run(path, x, tmp):
    s = ort.InferenceSession(exact_model(path, tmp), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def check_file(quench, int4, int8, x, tmp, tag):
    ok = True
    m4 = onnx.load(int4)
    onnx.checker.check_model(m4, full_check=True)
    opset = {o.domain: o.version for o in m4.opset_import}.get("", 0)
    packed = [t for t in m4.graph.initializer if t.data_type == onnx.TensorProto.INT4]
    if opset != 21 or m4.ir_version < 10 or not packed:
        print(f"FAILED  {tag}: opset {opset}, IR {m4.ir_version}, {len(packed)} INT4 tensors")
        return False
    w8 = {t.name: numpy_helper.to_array(t) for t in onnx.load(int8).graph.initializer}
    for t in packed:
        if t.name.endswith("_int4"):
            continue  # a zero point's 4-bit copy
        if not np.array_equal(unpack_int4(t), w8[t.name]):
            print(f"FAILED  {tag}: INT4 '{t.name}' differs from the int8 file's")
            ok = False
    y4, y8 = quench_run(quench, int4, x, tmp, tag + "4"), quench_run(quench, int8, x, tmp, tag + "8")
    o4, o8 = ort_run(int4, x, tmp), ort_run(int8, x, tmp)
    if not np.array_equal(y4, y8):
        print(f"FAILED  {tag}: quench's outputs differ between INT4 and int8 storage "
              f"(max {np.abs(y4 - y8).max():.3g})")
        ok = False
    agree = {"ORT INT4 vs int8": float((o4.argmax(-1) == o8.argmax(-1)).mean()),
             "quench vs ORT on INT4": float((y4.argmax(-1) == o4.argmax(-1)).mean())}
    for what, a in agree.items():
        if a < MIN_AGREEMENT:
            print(f"FAILED  {tag}: top-1 {what} agree on {a:.3f} < {MIN_AGREEMENT}")
            ok = False
    if ok:
        print(f"ok      {tag}: {len(packed)} INT4 tensors, checker ok, quench bit-identical to "
              f"int8 storage, top-1 agreement " + ", ".join(f"{k} {v:.3f}" for k, v in agree.items()))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    quench = os.path.join(a.build, "quench")
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["cnn", "vit"]:
            src = os.path.join(MODELS, name + ".onnx")
            files = {}
            for storage in ["int8", "int4"]:
                files[storage] = os.path.join(tmp, f"{name}.{storage}.onnx")
                extra = ["--int4-storage"] if storage == "int4" else []
                subprocess.run([quench, "quantize", src, "-o", files[storage], "--calib",
                                "random:64", "--weights", "int4", "--threads", "1"] + extra,
                               check=True, capture_output=True)
            if not check_file(quench, files["int4"], files["int8"], x, tmp, name):
                failures.append(name)
        qat = {}
        for storage in ["int8", "int4"]:
            qat[storage] = os.path.join(tmp, f"cnn.qat.{storage}.onnx")
            extra = ["--int4-storage"] if storage == "int4" else []
            subprocess.run([quench, "qat", os.path.join(MODELS, "cnn.onnx"), "--data",
                            "fmnist:train", "--bits", "w4a8", "--steps", "3", "--batch", "16",
                            "--calib-size", "32", "--threads", "1", "--seed", "1", "-o",
                            qat[storage]] + extra, check=True, capture_output=True)
        if not check_file(quench, qat["int4"], qat["int8"], x, tmp, "cnn qat w4a8"):
            failures.append("qat")
        src = os.path.join(MODELS, "cnn.onnx")
        out = os.path.join(tmp, "refused.onnx")
        for cmd in (["quantize", src, "-o", out, "--calib", "random:8", "--int4-storage"],
                    ["quantize", src, "-o", out, "--weight-only", "--weights", "int4",
                     "--group-size", "32", "--int4-storage"],
                    ["qat", src, "--data", "fmnist:train", "--bits", "w8a8", "--steps", "1",
                     "--int4-storage", "-o", out]):
            p = subprocess.run([quench] + cmd, capture_output=True, text=True)
            if p.returncode != 2 or "--int4-storage" not in p.stderr or os.path.exists(out):
                print(f"FAILED  refusal of {' '.join(cmd[3:])}: exit {p.returncode}, {p.stderr}")
                failures.append("refusal")
        # A model that cannot be raised to opset 21 is refused before calibration, nothing written.
        old = os.path.join(tmp, "opset12.onnx")
        g = onnx.helper.make_graph(
            [onnx.helper.make_node("MatMul", ["x", "w"], ["y"])], "old",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 8])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 4])],
            [numpy_helper.from_array(np.ones((8, 4), np.float32), "w")])
        onnx.save(onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 12)],
                                         ir_version=7), old)
        p = subprocess.run([quench, "quantize", old, "-o", out, "--calib", "random:8", "--weights",
                            "int4", "--int4-storage"], capture_output=True, text=True)
        if p.returncode == 0 or "below 13" not in p.stderr or "calibrat" in p.stderr.lower() \
                or os.path.exists(out):
            print(f"FAILED  refusal of an opset-12 model: exit {p.returncode}, {p.stderr}")
            failures.append("refusal")
    if failures:
        print(f"{len(failures)} case(s) failed: {', '.join(failures)}")
        return 1
    print("INT4 storage: checked, and run alike by quench and ONNX Runtime")
    return 0


if __name__ == "__main__":
    sys.exit(main())
