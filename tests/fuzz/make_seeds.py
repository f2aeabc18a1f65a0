#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (corpus/<target>/, committed; regenerate with
`python3 tests/fuzz/make_seeds.py`, which needs the `onnx` Python package, a C++ compiler with
stb, and for the calibration tables a built `build/quench`)."""
import gzip, json, os, shutil, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(descr, shape, payload, version=1, fortran=False):
    dims = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {dims}, }}"
    prefix = 10 if version == 1 else 12
    header += " " * (63 - (len(header) + prefix) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + payload


def onnx_seeds():
    import onnx
    from onnx import TensorProto, helper

    def save(name, nodes, inputs, outputs, inits=(), opset=17):
        g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        out("onnx_model", name, m.SerializeToString())

    f = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 1, 3, 3], [0.1 * i for i in range(18)])
    save("conv_relu.onnx", [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                            helper.make_node("Relu", ["c"], ["y"])],
         [f("x", ["N", 1, 4, 4])], [f("y", None)], [w])
    b = helper.make_tensor("b", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    m = helper.make_tensor("m", TensorProto.FLOAT, [4, 3], [0.5] * 12)
    save("matmul_add.onnx", [helper.make_node("MatMul", ["x", "m"], ["p"]),
                             helper.make_node("Add", ["p", "b"], ["s"]),
                             helper.make_node("Softmax", ["s"], ["y"], axis=-1)],
         [f("x", ["N", 4])], [f("y", None)], [m, b])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 6])
    save("reshape_transpose.onnx", [helper.make_node("Reshape", ["x", "shape"], ["r"]),
                                    helper.make_node("Transpose", ["r"], ["t"], perm=[1, 0]),
                                    helper.make_node("ReduceMean", ["t"], ["y"], keepdims=1)],
         [f("x", [2, 3, 2])], [f("y", None)], [shape])
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [0.05])
    zero = helper.make_tensor("z", TensorProto.UINT8, [], [128])
    save("qdq.onnx", [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                      helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
                      helper.make_node("MaxPool", ["d"], ["y"], kernel_shape=[2, 2])],
         [f("x", [1, 1, 4, 4])], [f("y", None)], [scale, zero])
    save("gather_concat.onnx", [helper.make_node("Shape", ["x"], ["sh"]),
                                helper.make_node("Gather", ["sh", "i"], ["g"], axis=0),
                                helper.make_node("Cast", ["g"], ["gf"], to=TensorProto.FLOAT),
                                helper.make_node("Concat", ["x", "x"], ["cc"], axis=1),
                                helper.make_node("Mul", ["cc", "gf"], ["y"])],
         [f("x", [2, 3])], [f("y", None)],
         [helper.make_tensor("i", TensorProto.INT64, [], [1])])
    bad = os.path.join(ROOT, "tests", "data", "bad")
    for name in sorted(os.listdir(bad)):
        with open(os.path.join(bad, name), "rb") as src:
            out("onnx_model", "bad_" + name, src.read())


def npy_seeds():
    out("npy", "f4.npy", npy("<f4", [2, 3], struct.pack("<6f", *range(6))))
    out("npy", "u1.npy", npy("|u1", [4], bytes([1, 2, 3, 4])))
    out("npy", "i8.npy", npy("<i8", [3], struct.pack("<3q", -1, 0, 1)))
    out("npy", "b1.npy", npy("|b1", [2, 2], bytes([0, 1, 2, 0])))
    out("npy", "f2_v2.npy", npy("<f2", [1], b"\x00\x3c", version=2))
    out("npy", "scalar.npy", npy("<f8", [], struct.pack("<d", 1.5)))
    out("npy", "fortran.npy", npy("<f4", [3, 1], struct.pack("<3f", 1, 2, 3), fortran=True))


def idx_seeds():
    def idx(code, shape, payload):
        return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + payload
    images = idx(0x08, [2, 2, 3], bytes(range(12)))
    out("idx", "u8.idx", images)
    out("idx", "u8.idx.gz", gzip.compress(images, mtime=0))
    out("idx", "labels.idx", idx(0x08, [3], bytes([0, 1, 2])))
    out("idx", "f32.idx", idx(0x0D, [2], struct.pack(">2f", 1.0, -2.0)))
    out("idx", "i16.idx.gz", gzip.compress(idx(0x0B, [2], struct.pack(">2h", -3, 4)), mtime=0) +
        gzip.compress(b"", mtime=0))


def image_seeds():
    d = os.path.join(CORPUS, "image")
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "make_image_seeds")
        subprocess.run(["c++", "-O1", "-I/usr/include/stb", os.path.join(HERE, "make_image_seeds.cc"),
                        "-o", exe], check=True)
        subprocess.run([exe, d], check=True)
    out("image", "grey.pgm", b"P5\n3 2\n255\n" + bytes(range(6)))
    out("image", "rgb.ppm", b"P6\n2 1\n255\n" + bytes(range(6)))


def json_seeds(quench):
    out("recipe", "full.json", json.dumps({
        "activations": "uint8", "weights": "per_channel", "op_types": ["Conv", "Gemm", "Add"],
        "skip": ["first", "/classifier/*"], "skip_op_types": ["Concat"],
        "nodes": {"/features/Conv": "skip", "/blocks/MatMul": "int8"}}).encode())
    out("recipe", "empty.json", b"{}")
    out("recipe", "per_tensor.json", b'{"activations": "int8", "weights": "per_tensor"}')
    cnn = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
    d = os.path.join(CORPUS, "calib_table")
    os.makedirs(d, exist_ok=True)
    for method in ["minmax", "movavg", "percentile", "entropy"]:
        path = os.path.join(d, f"{method}.json")
        subprocess.run([quench, "calibrate", cnn, "--data", "random:4", "--calib-batch", "2",
                        "--method", method, "-o", path], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(path) as f:
            table = json.load(f)
        # Two tensors keep the seeds small (a histogram holds thousands of bins).
        table["tensors"] = dict(list(table["tensors"].items())[:2])
        with open(path, "w") as f:
            json.dump(table, f)


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def checkpoint(tensors, key=None, state=None, truncate=0):
    """A training checkpoint (src/train/checkpoint.cc's format) of `tensors`: name -> (dtype,
    shape, packed bytes), for the key fuzz_checkpoint.cc reads with unless `key` is given."""
    key = key or {"parameters": {"W": [2, 2], "b": [2]}, "start_hash": "0" * 16,
                  "settings": {"batch": "8"}}
    state = state or {"step": 3, "epoch": 0, "index": 3, "loss_sum": 1.5, "correct": 10,
                      "seen": 24, "epoch_seconds": 0.1, "first_loss": 0.7, "tail_loss": 0.4,
                      "tail_count": 1, "seconds": 0.1,
                      "epochs": [{"epoch": 1, "steps": 8, "loss": 0.5, "train_accuracy": 0.5,
                                  "val_accuracy": -1.0, "seconds": 0.2, "throughput": 300.0}]}
    entries, data = [], b""
    for name, (dtype, shape, payload) in sorted(tensors.items()):
        entries.append({"name": name, "dtype": dtype, "shape": shape, "offset": len(data),
                        "bytes": len(payload)})
        data += payload
    header = json.dumps({"format": 1, "key": key, "state": state, "tensors": entries,
                         "data_bytes": len(data), "data_digest": fnv1a(data)}).encode()
    blob = b"QUENCHCK" + struct.pack("<Q", len(header)) + header + data
    return blob[:len(blob) - truncate]


def checkpoint_seeds():
    f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)  # noqa: E731
    sgd = {"parameter/W": ("float", [2, 2], f32(0.1, -0.2, 0.3, 0.4)),
           "parameter/b": ("float", [2], f32(0.0, 0.5)),
           "buffer/mean": ("float", [1], f32(0.25)),
           "optimizer/shared/velocity/W": ("float", [2, 2], f32(0.01, 0.0, -0.01, 0.02)),
           "optimizer/shared/velocity/b": ("float", [2], f32(0.0, 0.1))}
    out("checkpoint", "sgd.qckpt", checkpoint(sgd))
    adamw = dict(sgd)
    del adamw["optimizer/shared/velocity/W"], adamw["optimizer/shared/velocity/b"]
    adamw["optimizer/shared/m/W"] = ("float", [2, 2], f32(0.1, 0.1, 0.1, 0.1))
    adamw["optimizer/shared/v/W"] = ("float", [2, 2], f32(0.2, 0.2, 0.2, 0.2))
    adamw["optimizer/shared/t"] = ("int64", [], struct.pack("<q", 3))
    out("checkpoint", "adamw.qckpt", checkpoint(adamw))
    out("checkpoint", "truncated.qckpt", checkpoint(sgd, truncate=7))
    other = {"parameters": {"W": [4, 2]}, "start_hash": "0" * 16, "settings": {"batch": "8"}}
    out("checkpoint", "other_key.qckpt", checkpoint(sgd, key=other))


def main():
    quench = os.path.join(ROOT, "build", "quench")
    shutil.rmtree(CORPUS, ignore_errors=True)
    onnx_seeds()
    npy_seeds()
    idx_seeds()
    image_seeds()
    json_seeds(quench)
    checkpoint_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print(f"{target}: {len(files)} seeds, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
