"""ONNX Runtime as an exact oracle for 8-bit integer products on every x86 CPU.

ONNX Runtime multiplies u8 activations by s8 weights with VNNI where the CPU has it (exact), and
otherwise with pmaddubsw, which adds pairs of products in saturating int16: on a CPU without VNNI
its results for s8-weight models are not the integer math the file describes (cnn.ort_qdq.onnx
loses 6.8 points of top-1 on an AVX2-only EPYC). Its u8 x u8 kernels widen to int16 first and are
exact on every CPU. So where the CPU has no VNNI, `exact_model` rewrites every s8 weight as u8 with
the same real values — w + 128 with zero point z + 128, the identity (w − z) = (w + 128) − (z + 128)
of docs/quantization.md eq. (49) — and ORT runs that file. Needs the `onnx` package.
"""
import os, tempfile


def cpu_has_vnni():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return True  # not Linux: assume ORT's default kernels
    return "avx512_vnni" in flags or "avx_vnni" in flags


# Per op type: (weight input, weight zero-point input) pairs whose weights may be s8.
WEIGHT_INPUTS = {
    "QLinearConv": [(3, 5)],
    "QLinearMatMul": [(3, 5)],
    "ConvInteger": [(1, 3)],
    "MatMulInteger": [(1, 3)],
    "DequantizeLinear": [(0, 2)],
    "DynamicQuantizeLSTM": [(1, 9), (2, 11)],
    "QGemm": [(3, 5)],
}


def with_u8_weights(src, dst):
    """Writes `src` to `dst` with every constant s8 weight of an integer product stored as u8."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}

    def shift(name):
        values = numpy_helper.to_array(inits[name])
        inits[name].CopyFrom(numpy_helper.from_array((values.astype(np.int16) + 128).astype(np.uint8), name))

    done = set()
    for node in graph.node:
        for w, z in WEIGHT_INPUTS.get(node.op_type, []):
            if len(node.input) <= w or node.input[w] not in inits or node.input[w] in done:
                continue
            if inits[node.input[w]].data_type != onnx.TensorProto.INT8:
                continue
            if len(node.input) > z and node.input[z]:
                shift(node.input[z])
            else:
                name = node.input[w] + "_u8_zero_point"
                graph.initializer.append(numpy_helper.from_array(np.array(128, np.uint8), name))
                while len(node.input) <= z:
                    node.input.append("")
                node.input[z] = name
            shift(node.input[w])
            done.add(node.input[w])
    onnx.save(model, dst)


def exact_model(path, workdir=None):
    """The path of a file ORT computes exactly on this CPU with the integer math of `path`."""
    if cpu_has_vnni():
        return path
    workdir = workdir or tempfile.mkdtemp(prefix="quench-exact-")
    out = os.path.join(workdir, os.path.basename(path))
    with_u8_weights(path, out)
    return out


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 3:
        sys.exit("usage: exact_peer.py MODEL.onnx OUT_DIR  (prints the path ORT should run)")
    print(exact_model(sys.argv[1], sys.argv[2]))
