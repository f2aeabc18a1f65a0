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


if __name__ == "__main__":
    main()
