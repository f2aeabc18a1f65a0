#!/usr/bin/env python3
"""Writes the malformed and malicious ONNX files under tests/data/bad/ (committed; regenerate
with `python3 tests/data/make_bad_models.py`, which needs the `onnx` Python package)."""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad")


def model(nodes, inputs, outputs, initializers=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="quench-tests")
    m.ir_version = 8
    return m


def fin(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def save(m, name):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(m.SerializeToString())


def raw_tensor(name, dims, nbytes):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.raw_data = b"\0" * nbytes
    return t


def external_tensor(name, location):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend([4])
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    return t


def main():
    os.makedirs(HERE, exist_ok=True)
    x, y = fin("x", [1, 4]), fin("y", [1, 4])
    save(model([helper.make_node("FrobnicateLayer", ["x"], ["y"], name="mystery", domain="com.example")],
               [x], [y]), "unsupported_op.onnx")
    save(model([helper.make_node("Relu", ["b"], ["a"], name="r1"), helper.make_node("Relu", ["a"], ["b"], name="r2"),
                helper.make_node("Add", ["x", "b"], ["y"], name="add")], [x], [y]), "cycle.onnx")
    save(model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")], [x], [y]), "dangling_input.onnx")
    w = fin("w", [2, 3])
    save(model([helper.make_node("Identity", ["w"], ["y"], name="id")], [], [w],
               [raw_tensor("w", [2, 3], 16)]), "short_raw_data.onnx")
    save(model([helper.make_node("Identity", ["w"], ["y"], name="id")], [], [fin("y", None)],
               [raw_tensor("w", [1 << 20, 1 << 20, 1 << 20], 64)]), "huge_dims.onnx")
    save(model([helper.make_node("Identity", ["w"], ["y"], name="id")], [], [fin("y", None)],
               [raw_tensor("w", [2, -3], 24)]), "negative_dims.onnx")
    save(model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [x], [y],
               [external_tensor("w", "../../../etc/passwd")]), "external_escape.onnx")
    save(model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [x], [y],
               [external_tensor("w", "/etc/passwd")]), "external_absolute.onnx")
    k = helper.make_tensor("k", TensorProto.FLOAT, [1, 1, 5, 5], [0.0] * 25)
    save(model([helper.make_node("Conv", ["x", "k"], ["y"], name="big_kernel")],
               [fin("x", [1, 1, 3, 3])], [fin("y", None)], [k]), "conv_kernel_too_big.onnx")
    # Several problems in one graph: inspect must report them all.
    save(model([helper.make_node("Add", ["x", "ghost"], ["a"], name="add"),
                helper.make_node("Mul", ["a", "phantom"], ["b"], name="mul"),
                helper.make_node("FrobnicateLayer", ["b"], ["y"], name="mystery", domain="com.example")],
               [x], [y]), "many_problems.onnx")
    # Shape inference fails on two nodes: [1,4] x [3,5] and a Concat of ranks 2 and 3.
    w35 = helper.make_tensor("w35", TensorProto.FLOAT, [3, 5], [0.0] * 15)
    z = helper.make_tensor("z", TensorProto.FLOAT, [1, 1, 4], [0.0] * 4)
    save(model([helper.make_node("MatMul", ["x", "w35"], ["m"], name="matmul"),
                helper.make_node("Concat", ["x", "z"], ["y"], name="concat", axis=0)],
               [x], [fin("y", None), fin("m", None)], [w35, z]), "bad_shapes.onnx")
    # Outputs of petabytes from a few bytes: each must be refused by name, never allocated.
    peta = helper.make_tensor("peta", TensorProto.INT64, [4], [1 << 16] * 4)
    save(model([helper.make_node("Expand", ["x", "peta"], ["y"], name="expand_peta")],
               [fin("x", [1, 1])], [fin("y", None)], [peta]), "expand_petabytes.onnx")
    reps = helper.make_tensor("reps", TensorProto.INT64, [2], [1 << 24, 1 << 24])
    save(model([helper.make_node("Tile", ["x", "reps"], ["y"], name="tile_peta")],
               [x], [fin("y", None)], [reps]), "tile_petabytes.onnx")
    save(model([helper.make_node("ConstantOfShape", ["peta"], ["c"], name="fill_peta"),
                helper.make_node("Reshape", ["c", "flat"], ["r"], name="reshape_peta"),
                helper.make_node("ReduceSum", ["r"], ["y"], name="sum", keepdims=0)],
               [], [fin("y", None)],
               [peta, helper.make_tensor("flat", TensorProto.INT64, [1], [-1])]),
         "reshape_petabytes.onnx")
    # A shape whose element count overflows 64 bits.
    huge = helper.make_tensor("huge", TensorProto.INT64, [4], [1 << 40] * 4)
    save(model([helper.make_node("Expand", ["x", "huge"], ["y"], name="expand_overflow")],
               [fin("x", [1, 1])], [fin("y", None)], [huge]), "expand_overflow.onnx")


if __name__ == "__main__":
    main()
