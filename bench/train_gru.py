#!/usr/bin/env python3
"""Trains a small GRU classifier on Fashion-MNIST rows with numpy and exports it to ONNX.

  bench/train_gru.py OUT.onnx [--hidden 64] [--epochs 5] [--seed 0]

The image's 28 rows are the 28 steps of a GRU (input 28, ONNX gate order z, r, h,
linear_before_reset = 0, the input bias Wb holding the whole bias); its last hidden state feeds a
linear layer to the 10 classes. Trained with softmax cross-entropy and Adam (backpropagation
through time written out below: this machine has no PyTorch). The exported graph: Reshape →
Transpose (sequence-major) → GRU → Reshape → Gemm, opset 17, IR version 8. The model is only a
test subject for `quench quantize --mode dynamic` (GRU weight only), not a tuned classifier.
"""
import argparse, gzip, os, struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name):
    with gzip.open(os.path.join(FMNIST, name), "rb") as f:
        b = f.read()
    magic, n = struct.unpack(">II", b[:8])
    if magic == 2049:
        return np.frombuffer(b, np.uint8, offset=8).astype(np.int64)
    return np.frombuffer(b, np.uint8, offset=16).reshape(n, 28, 28).astype(np.float32) / 255.0


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


class Gru:
    def __init__(self, hidden, rng):
        h = hidden
        s = 1.0 / np.sqrt(h)
        self.p = {"W": rng.uniform(-s, s, (3 * h, 28)).astype(np.float32),
                  "R": rng.uniform(-s, s, (3 * h, h)).astype(np.float32),
                  "b": np.zeros(3 * h, np.float32),
                  "fc_w": rng.uniform(-s, s, (10, h)).astype(np.float32),
                  "fc_b": np.zeros(10, np.float32)}
        self.h = h

    def forward(self, x):  # x [B, T, 28]
        p, h = self.p, self.h
        batch, steps, _ = x.shape
        xw = np.einsum("bti,gi->tbg", x, p["W"]) + p["b"]  # [T, B, 3h]
        state = np.zeros((batch, h), np.float32)
        cache = []
        for t in range(steps):
            zr = sigmoid(xw[t, :, :2 * h] + state @ p["R"][:2 * h].T)
            z, r = zr[:, :h], zr[:, h:]
            rh = r * state
            n = np.tanh(xw[t, :, 2 * h:] + rh @ p["R"][2 * h:].T)
            cache.append((state, z, r, rh, n))
            state = (1 - z) * n + z * state
        return state @ p["fc_w"].T + p["fc_b"], state, cache

    def backward(self, x, logits, last, cache, labels):
        p, h = self.p, self.h
        batch = x.shape[0]
        prob = np.exp(logits - logits.max(1, keepdims=True))
        prob /= prob.sum(1, keepdims=True)
        prob[np.arange(batch), labels] -= 1
        dlogits = prob / batch
        g = {k: np.zeros_like(v) for k, v in p.items()}
        g["fc_w"] = dlogits.T @ last
        g["fc_b"] = dlogits.sum(0)
        dh = dlogits @ p["fc_w"]
        da_x = np.zeros((len(cache), batch, 3 * h), np.float32)
        for t in reversed(range(len(cache))):
            state, z, r, rh, n = cache[t]
            dn = dh * (1 - z)
            dz = dh * (state - n)
            dprev = dh * z
            da_n = dn * (1 - n * n)
            g["R"][2 * h:] += da_n.T @ rh
            drh = da_n @ p["R"][2 * h:]
            dr = drh * state
            dprev += drh * r
            da_zr = np.concatenate([dz * z * (1 - z), dr * r * (1 - r)], axis=1)
            g["R"][:2 * h] += da_zr.T @ state
            dprev += da_zr @ p["R"][:2 * h]
            da_x[t, :, :2 * h] = da_zr
            da_x[t, :, 2 * h:] = da_n
            dh = dprev
        g["W"] = np.einsum("tbg,bti->gi", da_x, x)
        g["b"] = da_x.sum((0, 1))
        return g


def export(model, path):
    p, h = model.p, model.h
    inits = [numpy_helper.from_array(p["W"][None], "W"), numpy_helper.from_array(p["R"][None], "R"),
             numpy_helper.from_array(np.concatenate([p["b"], np.zeros(3 * h, np.float32)])[None], "B"),
             numpy_helper.from_array(p["fc_w"], "fc.weight"), numpy_helper.from_array(p["fc_b"], "fc.bias"),
             numpy_helper.from_array(np.array([-1, 28, 28], np.int64), "rows_shape"),
             numpy_helper.from_array(np.array([-1, h], np.int64), "state_shape")]
    nodes = [helper.make_node("Reshape", ["input", "rows_shape"], ["rows"], name="rows"),
             helper.make_node("Transpose", ["rows"], ["seq"], perm=[1, 0, 2], name="seq"),
             helper.make_node("GRU", ["seq", "W", "R", "B"], ["", "y_h"], hidden_size=h, name="gru"),
             helper.make_node("Reshape", ["y_h", "state_shape"], ["state"], name="state"),
             helper.make_node("Gemm", ["state", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, "gru_fmnist",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    x, y = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    xt, yt = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    model = Gru(a.hidden, rng)
    m = {k: np.zeros_like(v) for k, v in model.p.items()}
    v = {k: np.zeros_like(v) for k, v in model.p.items()}
    step = 0
    for epoch in range(a.epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), a.batch):
            sel = order[i:i + a.batch]
            logits, last, cache = model.forward(x[sel])
            g = model.backward(x[sel], logits, last, cache, y[sel])
            step += 1
            lr = a.lr * (0.5 ** epoch)
            for k in model.p:
                gk = np.clip(g[k], -1, 1)
                m[k] = 0.9 * m[k] + 0.1 * gk
                v[k] = 0.999 * v[k] + 0.001 * gk * gk
                model.p[k] -= (lr * (m[k] / (1 - 0.9 ** step)) /
                               (np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)).astype(np.float32)
        acc = np.mean(np.concatenate([model.forward(xt[j:j + 1000])[0].argmax(1)
                                      for j in range(0, len(xt), 1000)]) == yt)
        print(f"epoch {epoch + 1}: test top-1 {100 * acc:.2f}%", flush=True)
    export(model, a.out)


if __name__ == "__main__":
    main()
