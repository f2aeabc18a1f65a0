#!/usr/bin/env python3
"""A BERT-base-sized transformer encoder with random weights, written with onnx.helper.

  bench/make_encoder.py OUT.onnx [--layers 12] [--hidden 768] [--heads 12] [--ffn 3072] [--seq 128]

Input `x` [N, seq, hidden] (the embeddings), output `y` of the same shape. Each layer is what
PyTorch's exporter writes for nn.TransformerEncoderLayer (post-norm, GELU): Q/K/V projections as
MatMul + Add, heads by Reshape/Transpose, q·kᵀ / sqrt(d), Softmax, p·v, output projection,
residual Add, LayerNormalization, FFN MatMul + Add → exact GELU (Div, Erf, Add, Mul, Mul) →
MatMul + Add, residual, LayerNormalization. Weights ~ N(0, 0.02²), as BERT initializes them.
(Built without PyTorch, which this machine does not have; the graph is the exporter's form.)
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=3072)
    ap.add_argument("--seq", type=int, default=128)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    h, nh, d = a.hidden, a.heads, a.hidden // a.heads
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(name, *shape, std=0.02):
        return const(name, (rng.standard_normal(shape) * std).astype(np.float32))

    def node(op, inputs, out, **attrs):
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    heads_shape = const("heads_shape", np.array([0, 0, nh, d], np.int64))
    merged_shape = const("merged_shape", np.array([0, 0, h], np.int64))
    scale = const("scale", np.array(np.sqrt(d), np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    one = const("one", np.array(1.0, np.float32))
    half = const("half", np.array(0.5, np.float32))

    def linear(x, p, n_in, n_out):
        return node("Add", [node("MatMul", [x, weight(p + ".weight", n_in, n_out)], p + "/MatMul"),
                            weight(p + ".bias", n_out)], p + "/Add")

    def layer_norm(x, p):
        return node("LayerNormalization", [x, const(p + ".weight", np.ones(h, np.float32)),
                                           const(p + ".bias", np.zeros(h, np.float32))], p, axis=-1,
                    epsilon=1e-5)

    x = "x"
    for i in range(a.layers):
        p = f"/layers.{i}"
        q, k, v = (node("Transpose", [node("Reshape", [linear(x, f"{p}/{n}", h, h), heads_shape],
                                           f"{p}/{n}/Reshape")], f"{p}/{n}/Transpose", perm=perm)
                   for n, perm in [("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])])
        scores = node("Div", [node("MatMul", [q, k], f"{p}/qk"), scale], f"{p}/scores")
        probs = node("Softmax", [scores], f"{p}/Softmax", axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v], f"{p}/pv")], f"{p}/ctx",
                                    perm=[0, 2, 1, 3]), merged_shape], f"{p}/merge")
        x = layer_norm(node("Add", [x, linear(ctx, f"{p}/out", h, h)], f"{p}/residual1"), f"{p}/norm1")
        f = linear(x, f"{p}/ffn1", h, a.ffn)
        erf = node("Erf", [node("Div", [f, sqrt2], f"{p}/gelu/Div")], f"{p}/gelu/Erf")
        gelu = node("Mul", [node("Mul", [f, node("Add", [erf, one], f"{p}/gelu/Add")], f"{p}/gelu/Mul"),
                            half], f"{p}/gelu/Mul_1")
        x = layer_norm(node("Add", [x, linear(gelu, f"{p}/ffn2", a.ffn, h)], f"{p}/residual2"),
                       f"{p}/norm2")
    nodes.append(helper.make_node("Identity", [x], ["y"], name="output"))
    graph = helper.make_graph(nodes, "encoder",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", a.seq, h])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", a.seq, h])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, a.out)


if __name__ == "__main__":
    main()
