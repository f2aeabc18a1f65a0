#!/usr/bin/env python3
"""Quantized ONNX fixtures made by the peers, for lowering coverage and side-by-side benches.

For resnet18 and mobilenet_v2 (torchvision architectures, random weights, ../shared/models/imagenet)
and an EfficientNet-B0-like model this script writes (depthwise convolutions, squeeze-excite,
swish; built here with onnx.helper, random weights, seed 0), each into OUT/:

  NAME.onnx                 the float model (EfficientNet-like only; the others are copied)
  NAME.ort_qdq.onnx         onnxruntime.quantization.quantize_static, QDQ, per-channel s8
                            weights, u8 activations, MinMax
  NAME.ort_qoperator.onnx   the same settings in the QOperator form (QLinearConv, ...), after ORT's
                            quant_pre_process (its QOperator quantizer fails on the exporter's
                            Identity-shared biases)
  NAME.nncf_qdq.onnx        nncf.quantize on the ONNX model (its ONNX backend writes QDQ)

Calibration: 32 random inputs in [0, 1) of shape [1, 3, 224, 224] (seed 0): these files are for
lowering coverage, runtime correctness against the peers and speed, not accuracy.

Needs onnx, onnxruntime, nncf (~/.cache/quench-venv has them; scripts/python-peer.sh finds it):
  $(scripts/python-peer.sh) bench/make_peer_qdq.py [--out DIR] [--models resnet18,...] [--tools ort,nncf]
"""
import argparse, os, shutil, sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("QUENCH_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
CALIB = 32
SHAPE = (1, 3, 224, 224)

# EfficientNet-B0's stages: (expansion, kernel, stride, output channels, repeats).
B0_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
             (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


class Builder:
    """A float ONNX graph of Conv (batch norm folded into weights and bias), swish, squeeze-excite."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base, array):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(array, n))
        return n

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, groups=1):
        fan_in = cin // groups * k * k
        w = (self.rng.standard_normal((cout, cin // groups, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.05).astype(np.float32)
        p = k // 2
        return self.node("Conv", [x, self.const("w", w), self.const("b", b)], kernel_shape=[k, k],
                         strides=[stride, stride], pads=[p, p, p, p], group=groups)

    def swish(self, x):
        return self.node("Mul", [x, self.node("Sigmoid", [x])])

    def squeeze_excite(self, x, channels, reduced):
        s = self.node("GlobalAveragePool", [x])
        s = self.swish(self.conv(s, channels, reduced, 1))
        s = self.node("Sigmoid", [self.conv(s, reduced, channels, 1)])
        return self.node("Mul", [x, s])

    def mbconv(self, x, cin, cout, expand, k, stride):
        mid = cin * expand
        h = x if expand == 1 else self.swish(self.conv(x, cin, mid, 1))
        h = self.swish(self.conv(h, mid, mid, k, stride, groups=mid))
        h = self.squeeze_excite(h, mid, max(1, cin // 4))
        h = self.conv(h, mid, cout, 1)
        return self.node("Add", [x, h]) if stride == 1 and cin == cout else h


def efficientnet_like():
    b = Builder()
    x = b.swish(b.conv("input", 3, 32, 3, 2))
    cin = 32
    for expand, k, stride, cout, repeats in B0_STAGES:
        for r in range(repeats):
            x = b.mbconv(x, cin, cout, expand, k, stride if r == 0 else 1)
            cin = cout
    x = b.swish(b.conv(x, cin, 1280, 1))
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    w = (b.rng.standard_normal((1000, 1280)) * np.sqrt(1.0 / 1280)).astype(np.float32)
    y = b.node("Gemm", [x, b.const("fc_w", w), b.const("fc_b", np.zeros(1000, np.float32))], transB=1)
    graph = helper.make_graph(
        b.nodes, "efficientnet_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["N", 1000])], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def calibration_inputs():
    rng = np.random.default_rng(0)
    return [rng.random(SHAPE, dtype=np.float32) for _ in range(CALIB)]


def ort_quantize(src, dst, fmt):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self, name):
            self.it = iter([{name: x} for x in calibration_inputs()])

        def get_next(self):
            return next(self.it, None)

    name = onnx.load(src, load_external_data=False).graph.input[0].name
    quantize_static(src, dst, Reader(name), quant_format=fmt, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)


def ort_qoperator(src, dst, workdir):
    """QOperator: ORT's quantizer needs biases as initializers there, and PyTorch's exporter reads
    shared biases through Identity nodes; ORT's own pre-processing (quant_pre_process: shape
    inference and onnx optimizations) removes them first."""
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = os.path.join(workdir, os.path.basename(src) + ".pre.onnx")
    quant_pre_process(src, pre, skip_symbolic_shape=True)
    try:
        ort_quantize(pre, dst, QuantFormat.QOperator)
    finally:
        os.remove(pre)


def nncf_quantize(src, dst):
    import nncf

    model = onnx.load(src)
    name = model.graph.input[0].name
    data = nncf.Dataset(calibration_inputs(), lambda x: {name: x})
    onnx.save(nncf.quantize(model, data, subset_size=CALIB), dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/quench/peer-qdq"))
    ap.add_argument("--models", default="resnet18,mobilenet_v2,efficientnet_like")
    ap.add_argument("--tools", default="ort,nncf")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    failures = []
    tools = a.tools.split(",")
    for m in a.models.split(","):
        src = os.path.join(a.out, m + ".onnx")
        if m == "efficientnet_like":
            onnx.save(efficientnet_like(), src)
        else:
            shutil.copyfile(os.path.join(SHARED, "imagenet", m + ".onnx"), src)
        steps = []
        if "ort" in tools:
            from onnxruntime.quantization import QuantFormat
            steps.append(("ort_qdq", lambda d: ort_quantize(src, d, QuantFormat.QDQ)))
            steps.append(("ort_qoperator", lambda d: ort_qoperator(src, d, a.out)))
        if "nncf" in tools:
            steps.append(("nncf_qdq", lambda d: nncf_quantize(src, d)))
        for kind, make in steps:
            dst = os.path.join(a.out, f"{m}.{kind}.onnx")
            try:
                make(dst)
                print(f"wrote {dst}", flush=True)
            except Exception as e:  # one peer failing must not stop the others; say why
                failures.append(f"{m}.{kind}: {type(e).__name__}: {e}")
                print(f"FAILED {dst}: {type(e).__name__}: {e}", flush=True)
    print(f"fixtures in {a.out}")
    for f in failures:
        print(f"not made: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
