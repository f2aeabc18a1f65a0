"""quench.quantize / calibrate / evaluate / benchmark and python -m quench."""

import json
import subprocess
import sys

import numpy as np
import pytest

import quench
from conftest import MODELS, fmnist_available

needs_fmnist = pytest.mark.skipif(not fmnist_available(), reason="dataset-fashion-mnist missing")


def samples(n, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


class FakeTensor:
    """What a torch tensor offers quench: .numpy() (and no import of torch)."""

    def __init__(self, a):
        self._a = a

    def numpy(self):
        return self._a


class FakeLoader:
    """A DataLoader-like iterable: (images, labels) batches of tensor-like objects."""

    def __init__(self, x, batch):
        self.x, self.batch = x, batch

    def __iter__(self):
        for i in range(0, len(self.x), self.batch):
            b = self.x[i : i + self.batch]
            yield FakeTensor(b), FakeTensor(np.zeros(len(b), np.int64))


def test_quantize_static_from_array_runs_close_to_float(cnn, tmp_path):
    out = tmp_path / "q.onnx"
    r = quench.quantize(cnn, out, calib=samples(64), method="minmax")
    assert r["mode"] == "static" and r["calib_samples"] == 64 and r["quantized_nodes"] > 0
    assert r["bytes_after"] < r["bytes_before"]
    x = samples(8, seed=5)
    (f,) = quench.Session(cnn, threads=1).run(x)
    (q,) = quench.Session(str(out), threads=1).run(x)
    # int8 vs float logits: the same class for most samples.
    assert np.mean(f.argmax(1) == q.argmax(1)) >= 0.75


def test_quantize_from_loader_equals_quantize_from_array(cnn, tmp_path):
    x = samples(96, seed=2)
    a = quench.quantize(cnn, tmp_path / "a.onnx", calib=x, method="entropy")
    b = quench.quantize(cnn, tmp_path / "b.onnx", calib=FakeLoader(x, 32), method="entropy")
    c = quench.quantize(cnn, tmp_path / "c.onnx", calib=[s for s in x], method="entropy")
    assert a["calib_samples"] == b["calib_samples"] == c["calib_samples"] == 96
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "c.onnx").read_bytes()


def test_loader_stops_at_calib_size(cnn, tmp_path):
    r = quench.quantize(cnn, tmp_path / "q.onnx", calib=FakeLoader(samples(200), 50), calib_size=60)
    assert r["calib_samples"] == 60


def test_inconsistent_shapes_and_dtypes_are_errors(cnn, tmp_path):
    out = tmp_path / "q.onnx"
    bad = [samples(4), np.zeros((4, 1, 14, 14), np.float32)]
    with pytest.raises(quench.InvalidArgumentError, match="item 1: sample shape"):
        quench.quantize(cnn, out, calib=bad)
    with pytest.raises(quench.InvalidArgumentError, match="float32, got float64"):
        quench.quantize(cnn, out, calib=samples(4).astype(np.float64))
    with pytest.raises(quench.InvalidArgumentError, match="rank 4"):
        quench.quantize(cnn, out, calib=[np.zeros((2, 2), np.float32)])
    assert not out.exists()


def test_quantize_errors_mirror_the_cli(cnn, tmp_path):
    out = tmp_path / "q.onnx"
    with pytest.raises(quench.InvalidArgumentError, match="needs calibration data"):
        quench.quantize(cnn, out)
    with pytest.raises(quench.InvalidArgumentError, match="uses no calibration data"):
        quench.quantize(cnn, out, calib=samples(4), mode="dynamic")
    with pytest.raises(quench.InvalidArgumentError, match="mode 'int3'"):
        quench.quantize(cnn, out, mode="int3")
    with pytest.raises(quench.InvalidArgumentError, match="minmax"):
        quench.quantize(cnn, out, calib=samples(4), method="nope")
    with pytest.raises(quench.IoError):
        quench.quantize(cnn, tmp_path / "no" / "dir" / "q.onnx", calib=samples(4))


def weight_values(path):
    """The integer weights of a QDQ model: the int8 initializers feeding DequantizeLinear."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    deq = [n.input[0] for n in m.graph.node if n.op_type == "DequantizeLinear"]
    return [inits[name] for name in deq if name in inits and inits[name].dtype == np.int8]


@needs_fmnist
def test_quantize_int4_gptq_matches_the_cli(cnn, tmp_path):
    opts = ["--calib-size", "64", "--weights", "int4", "--gptq", "--threads", "1"]
    cli = tmp_path / "cli.onnx"
    p = subprocess.run(
        [sys.executable, "-m", "quench", "quantize", cnn, "-o", str(cli), "--calib", "fmnist:train"]
        + opts,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    out = tmp_path / "py.onnx"
    r = quench.quantize(
        cnn, out, "fmnist:train", calib_size=64, weights="int4", gptq=True, threads=1
    )
    assert r["weight_bits"] == 4 and r["rounding_seconds"] > 0
    assert any("chosen" in line for line in r["lowbit_log"])
    weights = weight_values(out)
    assert weights and all(w.min() >= -7 and w.max() <= 7 for w in weights)
    assert any(w.max() == 7 or w.min() == -7 for w in weights)
    assert without_command(out) == without_command(cli)


def without_command(path):
    """The model's bytes without the CLI's record of its command line (quench.command)."""
    import onnx

    m = onnx.load(str(path))
    kept = [p for p in m.metadata_props if p.key != "quench.command"]
    assert len(kept) >= len(m.metadata_props) - 1
    del m.metadata_props[:]
    m.metadata_props.extend(kept)
    return m.SerializeToString()


def test_quantize_lowbit_errors_mirror_the_cli(cnn, tmp_path):
    out = tmp_path / "q.onnx"
    x = samples(8)
    cases = [
        (dict(gptq=True, adaround=True), ["--gptq", "--adaround"], "use one of them"),
        (dict(weights="int9"), ["--weights", "int9"], "2 to 8 bits"),
        (dict(smoothquant=1.5), ["--smoothquant", "1.5"], "migration strength in"),
        (dict(adaround_iters=0), ["--adaround-iters", "0"], "must be positive"),
        (dict(gptq=True, gptq_target="fp32"), ["--gptq", "--gptq-target", "fp32"],
         "expects float or quantized"),
        (dict(gptq_target="quantized"), ["--gptq-target", "quantized"], "add --gptq"),
    ]
    for kwargs, flags, message in cases:
        with pytest.raises(quench.InvalidArgumentError) as e:
            quench.quantize(cnn, out, calib=x, **kwargs)
        p = subprocess.run(
            [sys.executable, "-m", "quench", "quantize", cnn, "-o", str(out), "--calib",
             "random"] + flags,
            capture_output=True,
            text=True,
        )
        assert p.returncode != 0 and message in str(e.value)
        assert str(e.value) in p.stderr
    with pytest.raises(quench.UnsupportedError, match="1-bit weights"):
        quench.quantize(cnn, out, calib=x, weights="int1")
    with pytest.raises(quench.InvalidArgumentError, match="a table gives activation ranges"):
        quench.quantize(cnn, out, table=tmp_path / "t.json", gptq=True)
    with pytest.raises(quench.InvalidArgumentError, match="has no BatchNormalization"):
        quench.quantize(cnn, out, weight_only=True, weights="int4", bias_correction=True)
    with pytest.raises(quench.InvalidArgumentError, match="apply to mode 'static' only"):
        quench.quantize(cnn, out, mode="dynamic", cle=True)
    assert not out.exists()


def test_quantize_cle_and_weight_only(cnn, tmp_path):
    r = quench.quantize(cnn, tmp_path / "c.onnx", calib=samples(32), cle=True, weights="int6")
    assert r["weight_bits"] == 6
    assert any(line.startswith("cross-layer equalization") for line in r["lowbit_log"])
    r = quench.quantize(cnn, tmp_path / "w.onnx", weight_only=True, weights="int4")
    assert r["weight_tensors"] > 0 and r["activation_tensors"] == 0


def test_quantize_dynamic_and_fp16(cnn, tmp_path):
    r = quench.quantize(cnn, tmp_path / "d.onnx", mode="dynamic")
    assert r["act_granularity"] == "tensor" and r["weight_tensors"] > 0
    r = quench.quantize(cnn, tmp_path / "h.onnx", mode="fp16")
    assert r["keep_io_types"] is True
    (out,) = quench.Session(str(tmp_path / "h.onnx"), threads=1).run(samples(1))
    assert out.dtype == np.float32


def test_calibrate_then_quantize_from_table(cnn, tmp_path):
    table = tmp_path / "t.json"
    r = quench.calibrate(cnn, samples(40), table, calib_batch=16)
    assert r["samples"] == 40 and r["tensors"] > 0 and r["method"] == "minmax"
    assert json.loads(table.read_text())
    q = quench.quantize(cnn, tmp_path / "q.onnx", table=table)
    assert q["calib_samples"] == 40
    merged = quench.calibrate(output=tmp_path / "m.json", merge=[table, table])
    assert merged["samples"] == 80


def test_evaluate_arrays_and_benchmark(cnn):
    x = samples(32)
    (logits,) = quench.Session(cnn, threads=1).run(x)
    labels = logits.argmax(1).astype(np.int64)
    r = quench.evaluate(cnn, (x, labels), batch=8)
    assert r["n"] == 32 and r["correct"] == 32 and r["accuracy"] == 1.0
    with pytest.raises(quench.InvalidArgumentError, match="no labels"):
        quench.evaluate(cnn, x)
    b = quench.benchmark(cnn, seconds=0.2)
    assert b["runs"] >= 5 and 0 < b["min_ms"] <= b["median_ms"] <= b["p90_ms"]
    assert set(b) >= {"model", "batch", "threads", "throughput", "session_bytes"}


@needs_fmnist
def test_data_source_strings(cnn, tmp_path):
    r = quench.quantize(cnn, tmp_path / "q.onnx", calib="fmnist:train", calib_size=64)
    assert r["calib_samples"] == 64
    e = quench.evaluate(tmp_path / "q.onnx", "fmnist:test", limit=200)
    assert e["n"] == 200 and e["accuracy"] > 0.7


def test_python_m_quench_runs_the_cli(cnn):
    p = subprocess.run(
        [sys.executable, "-m", "quench", "inspect", cnn], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    p = subprocess.run([sys.executable, "-m", "quench", "bench", "/nonexistent.onnx"],
                       capture_output=True, text=True)
    assert p.returncode == 5


def test_torch_export_and_quantize_with_a_dataloader(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; torch test skipped")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(8 * 28 * 28, 10)).eval()
    path = tmp_path / "t.onnx"
    try:
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(path), input_names=["input"],
                          dynamic_axes={"input": {0: "N"}})
    except ModuleNotFoundError as e:  # torch >= 2.9 exports through onnxscript
        pytest.skip(f"torch.onnx.export cannot run here: {e}")
    data = torch.rand(128, 1, 28, 28)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data, torch.zeros(128, dtype=torch.long)), batch_size=32)
    quench.quantize(path, tmp_path / "q.onnx", calib=loader)
    with torch.no_grad():
        want = model(data[:32]).argmax(1).numpy()
    (got,) = quench.Session(str(tmp_path / "q.onnx"), threads=1).run(data[:32].numpy())
    assert np.mean(got.argmax(1) == want) >= 0.9


def test_ctrl_c_interrupts_quantize(tmp_path):
    # In a child process: SIGINT to itself while calibrating; quench.Interrupted, nothing written.
    out = tmp_path / "q.onnx"
    code = f"""
import os, signal, threading, numpy as np, quench
x = np.random.default_rng(0).random((512, 1, 28, 28), dtype=np.float32)
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    quench.quantize({str(MODELS / "resnet20.onnx")!r}, {str(out)!r}, calib=x, method="entropy")
    print("finished")
except quench.Interrupted as e:
    print("interrupted", isinstance(e, KeyboardInterrupt))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.stdout.strip() == "interrupted True", p.stdout + p.stderr
    assert not out.exists()


def test_quantize_group_size_writes_matmulnbits(cnn, tmp_path):
    import onnx

    out = tmp_path / "nbits.onnx"
    quench.quantize(cnn, out, weights="int4", weight_only=True, group_size=32)
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops.count("MatMulNBits") == 2  # cnn's two Gemm layers
    with pytest.raises(quench.UnsupportedError, match="add --weight-only"):
        quench.quantize(cnn, out, calib=samples(4), weights="int4", group_size=32)
    quench.quantize(cnn, out, weights="int4", weight_only=True, group_size=32, accuracy_level=4)
    levels = [a.i for n in onnx.load(str(out)).graph.node for a in n.attribute if a.name == "accuracy_level"]
    assert levels == [4, 4]
    with pytest.raises(quench.InvalidArgumentError, match="expects 0 to 4"):
        quench.quantize(cnn, out, weights="int4", weight_only=True, group_size=32, accuracy_level=7)


@needs_fmnist
def test_compare_matches_the_cli(cnn, tmp_path):
    q = tmp_path / "q.onnx"
    quench.quantize(cnn, q, "fmnist:train", calib_size=64)
    r = quench.compare(cnn, q, "fmnist:test", limit=100, threads=1)
    p = subprocess.run(
        [sys.executable, "-m", "quench", "compare", cnn, str(q), "--data", "fmnist:test",
         "--limit", "100", "--threads", "1", "--json"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    cli = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["n"] == cli["n"] == 100
    assert [t["name"] for t in r["tensors"]] == [t["name"] for t in cli["tensors"]]
    assert any(t["sqnr_db"] is not None for t in r["tensors"])
    for mine, theirs in zip(r["tensors"], cli["tensors"]):
        if theirs["sqnr_db"] is None:  # B computes that tensor exactly
            assert mine["sqnr_db"] is None
        else:
            assert mine["sqnr_db"] == pytest.approx(theirs["sqnr_db"], rel=1e-9)
        assert mine["mse"] == pytest.approx(theirs["mse"], rel=1e-9)
    assert r["accuracy_a"] == cli["accuracy_a"] and r["accuracy_b"] == cli["accuracy_b"]
    # Samples as an array (no labels): outputs and tensors, no accuracy.
    x = samples(16)
    r = quench.compare(cnn, q, x)
    assert r["n"] == 16 and "accuracy_a" not in r and r["outputs"][0]["top1_agreement"] is not None
    same = quench.compare(cnn, cnn, x)
    assert all(t["sqnr_db"] is None and t["mse"] == 0 for t in same["tensors"] + same["outputs"])
