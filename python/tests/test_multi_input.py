"""Multi-input models from Python: a dict of arrays per input name, iterables of dicts, labels."""

import numpy as np
import pytest

import quench

onnx = pytest.importorskip("onnx", reason="onnx is not installed (the peer venv has it)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory):
    """logits = (x + mean_k table[ids[:, k]]) @ w: a float input and an int64 one."""
    rng = np.random.default_rng(3)
    table = rng.standard_normal((10, 8)).astype(np.float32)
    w = rng.standard_normal((8, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0),
        helper.make_node("ReduceMean", ["emb"], ["pooled"], axes=[1], keepdims=0),
        helper.make_node("Add", ["x", "pooled"], ["h"]),
        helper.make_node("MatMul", ["h", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "two_inputs",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 4]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path_factory.mktemp("multi") / "two_inputs.onnx"
    onnx.save(model, str(path))
    return str(path)


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((n, 8)).astype(np.float32),
        "ids": rng.integers(0, 10, (n, 4)).astype(np.int64),
    }


def test_quantize_from_a_dict_of_arrays_runs_close_to_float(two_inputs, tmp_path):
    calib = data(64)
    r = quench.quantize(two_inputs, tmp_path / "q.onnx", calib=calib)
    assert r["calib_samples"] == 64
    test = data(16, seed=1)
    (ref,) = quench.Session(two_inputs, threads=1).run(test)
    (got,) = quench.Session(str(tmp_path / "q.onnx"), threads=1).run(test)
    # 8-bit activations and weights: a few percent of the logits' spread.
    assert np.abs(got - ref).max() <= 0.05 * np.abs(ref).max()


def test_iterables_of_dicts_equal_the_dict_of_arrays(two_inputs, tmp_path):
    d = data(48)
    quench.calibrate(two_inputs, d, output=tmp_path / "a.json")
    batches = [{k: v[i : i + 16] for k, v in d.items()} for i in range(0, 48, 16)]
    quench.calibrate(two_inputs, iter(batches), output=tmp_path / "b.json")
    # Single samples, ids as int32 (widened to int64) and x as a list-backed object.
    singles = ({"x": d["x"][i], "ids": d["ids"][i].astype(np.int32)} for i in range(48))
    quench.calibrate(two_inputs, singles, output=tmp_path / "c.json")
    a = (tmp_path / "a.json").read_text()
    assert a == (tmp_path / "b.json").read_text()
    assert a == (tmp_path / "c.json").read_text()


def test_evaluate_a_dict_with_labels_and_labeled_batches(two_inputs):
    d = data(40, seed=2)
    (logits,) = quench.Session(two_inputs, threads=1).run(d)
    labels = logits.argmax(1).astype(np.int64)
    r = quench.evaluate(two_inputs, (d, labels), batch=8)
    assert r["n"] == 40 and r["correct"] == 40
    pairs = [({k: v[i : i + 10] for k, v in d.items()}, labels[i : i + 10]) for i in range(0, 40, 10)]
    r = quench.evaluate(two_inputs, pairs, batch=8)
    assert r["n"] == 40 and r["correct"] == 40
    wrong = (labels + 1) % 3
    assert quench.evaluate(two_inputs, (d, wrong))["correct"] == 0


def test_bad_multi_input_data_are_clear_errors(two_inputs, tmp_path):
    out = tmp_path / "q.onnx"
    d = data(8)
    with pytest.raises(quench.InvalidArgumentError, match="nothing for model input 'ids'"):
        quench.quantize(two_inputs, out, calib={"x": d["x"]})
    with pytest.raises(quench.InvalidArgumentError, match="'extra', which the model does not take"):
        quench.quantize(two_inputs, out, calib={**d, "extra": d["x"]})
    with pytest.raises(quench.InvalidArgumentError, match=r"calib\['ids'\]: 4 samples"):
        quench.quantize(two_inputs, out, calib={"x": d["x"], "ids": d["ids"][:4]})
    with pytest.raises(quench.InvalidArgumentError, match=r"calib\['x'\]: expected float32"):
        quench.quantize(two_inputs, out, calib={"x": d["x"].astype(np.float64), "ids": d["ids"]})
    with pytest.raises(quench.InvalidArgumentError, match="differ from"):
        quench.quantize(two_inputs, out, calib=iter([d, {"x": d["x"]}]))
    with pytest.raises(quench.InvalidArgumentError, match="sample shape"):
        quench.quantize(two_inputs, out, calib=iter([d, {"x": d["x"], "ids": d["ids"][:, :2]}]))
    with pytest.raises(quench.InvalidArgumentError, match="rank 2"):
        quench.quantize(two_inputs, out, calib={"x": d["x"][None, None], "ids": d["ids"]})
    with pytest.raises(quench.InvalidArgumentError, match="one unnamed input"):
        quench.quantize(two_inputs, out, calib=d["x"])
    with pytest.raises(quench.InvalidArgumentError, match="labels"):
        quench.evaluate(two_inputs, (d, np.zeros(3, np.int64)))
    assert not out.exists()
