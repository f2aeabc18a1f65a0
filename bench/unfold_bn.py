#!/usr/bin/env python3
"""Put a BatchNormalization back after every Conv of a model whose batch norms the exporter folded
(the Fashion-MNIST fixtures), so that `quench qat --bn-fold simulate` has batch norms to train.

Each inserted batch norm starts as the identity in inference mode: its running statistics are the
per-channel mean and variance of the Conv's output on the first N training images, γ = √(σ² + ε)
and β = μ. The model computes what the input model computes; in training mode the batch norm
normalises with the batch's statistics, as a model trained with batch norm does.

    python bench/unfold_bn.py models/fmnist/cnn.onnx /tmp/cnn_bn.onnx [--calib 512]
"""
import argparse
import gzip

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

IMAGES = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
EPS = 1e-5


def images(n):
    with gzip.open(IMAGES) as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return (data[: n * 784].reshape(n, 1, 28, 28).astype(np.float32)) / 255.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("output")
    ap.add_argument("--calib", type=int, default=512)
    a = ap.parse_args()
    model = onnx.load(a.model)
    g = model.graph
    convs = [n for n in g.node if n.op_type == "Conv"]
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for n in convs:
        probe.graph.output.append(helper.make_empty_tensor_value_info(n.output[0]))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    x = images(a.calib)
    outs = sess.run([n.output[0] for n in convs], {g.input[0].name: x})
    nodes = []
    for n in g.node:
        nodes.append(n)
        if n.op_type != "Conv":
            continue
        y = outs[convs.index(n)]
        mean = y.mean(axis=(0, 2, 3)).astype(np.float32)
        var = y.var(axis=(0, 2, 3)).astype(np.float32)
        out = n.output[0]
        pre = out + "_prebn"
        n.output[0] = pre
        names = [out + s for s in ("_bn_gamma", "_bn_beta", "_bn_mean", "_bn_var")]
        for name, v in zip(names, (np.sqrt(var + EPS), mean, mean, var)):
            g.initializer.append(numpy_helper.from_array(v.astype(np.float32), name))
        nodes.append(
            helper.make_node(
                "BatchNormalization", [pre] + names, [out], name=n.name + "_bn", epsilon=EPS
            )
        )
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, a.output)
    print(f"{a.output}: {len(convs)} batch norms inserted")


if __name__ == "__main__":
    main()
