"""quench.Session: run, inputs/outputs, zero copy, threads, callback, bad input."""

import threading

import numpy as np
import pytest

import quench

# ONNX Runtime and quench differ by float rounding only (different kernels, same float32 math).
FLOAT_TOL = 1e-4


def images(n, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


def test_inputs_outputs_describe_the_model(cnn):
    s = quench.Session(cnn, threads=1)
    (i,) = s.inputs
    (o,) = s.outputs
    assert (i.name, i.dtype, i.shape[1:]) == ("input", "float32", [1, 28, 28])
    assert (o.name, o.dtype, o.shape[1:]) == ("logits", "float32", [10])
    assert "IoInfo" in repr(i)


def test_run_dict_list_and_single_array_agree(cnn):
    s = quench.Session(cnn, threads=1)
    x = images(3)
    (a,) = s.run({"input": x})
    (b,) = s.run([x])
    (c,) = s.run(x)
    assert a.shape == (3, 10) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_matches_onnxruntime(cnn):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    x = images(4, seed=1)
    (got,) = quench.Session(cnn, threads=1).run(x)
    ref = ort.InferenceSession(cnn, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, atol=FLOAT_TOL, rtol=FLOAT_TOL)


def test_outputs_are_handed_over_without_copy(cnn):
    (out,) = quench.Session(cnn, threads=1).run(images(1))
    assert not out.flags.owndata  # NumPy does not own it: the capsule holding quench's tensor does
    assert out.flags.c_contiguous and out.flags.writeable


def test_c_contiguous_float32_input_is_not_copied(cnn):
    s = quench.Session(cnn, threads=1)
    x = images(2)
    before = quench._quench._input_copies()
    s.run(x)
    assert quench._quench._input_copies() == before
    # A transposed (non-contiguous) view is copied, and copied correctly.
    t = np.ascontiguousarray(images(2, seed=3).transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    assert not t.flags.c_contiguous
    (got,) = s.run(t)
    assert quench._quench._input_copies() == before + 1
    (want,) = s.run(np.ascontiguousarray(t))
    np.testing.assert_array_equal(got, want)


def test_input_memory_is_read_in_place(cnn):
    # The callback sees the first node's output, computed from the caller's buffer: changing the
    # buffer between runs changes it, so quench read the array itself (not a stale copy).
    s = quench.Session(cnn, threads=1)
    x = images(1)
    first = {}
    s.run(x, on_tensor=lambda name, a: first.setdefault(name, a))
    name = next(iter(first))
    x[:] = 0.5
    second = {}
    s.run(x, on_tensor=lambda n, a: second.setdefault(n, a))
    assert not np.array_equal(first[name], second[name])


def test_callback_sees_every_value(cnn):
    s = quench.Session(cnn, threads=1)
    seen = []
    (out,) = s.run(images(1), on_tensor=lambda name, a: seen.append((name, a.copy())))
    assert len(seen) > 5
    assert all(isinstance(a, np.ndarray) for _, a in seen)
    np.testing.assert_allclose(seen[-1][1], out, atol=FLOAT_TOL)


def test_callback_exception_propagates(cnn):
    def boom(name, a):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        quench.Session(cnn, threads=1).run(images(1), on_tensor=boom)


def test_two_threads_share_one_session(cnn):
    s = quench.Session(cnn, threads=1)
    batches = [images(2, seed=i) for i in range(8)]
    want = [s.run(b)[0] for b in batches]
    got = [None] * len(batches)
    errors = []

    def work(k):
        try:
            for _ in range(5):
                for i in range(k, len(batches), 2):
                    got[i] = s.run(batches[i])[0]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_float64_is_refused_with_the_expected_dtype(cnn):
    with pytest.raises(quench.InvalidArgumentError, match="expected dtype float32, got float64"):
        quench.Session(cnn).run(images(1).astype(np.float64))


def test_wrong_shape_names_input_and_expected_shape(cnn):
    with pytest.raises(quench.InvalidArgumentError, match=r"input 'input'.*\[N,1,28,28\]"):
        quench.Session(cnn).run(np.zeros((1, 3, 28, 28), np.float32))
    with pytest.raises(quench.InvalidArgumentError, match="input 'input'"):
        quench.Session(cnn).run(np.zeros((28, 28), np.float32))


def test_missing_and_unknown_input_names(cnn):
    s = quench.Session(cnn)
    with pytest.raises(quench.InvalidArgumentError, match="missing input 'input'"):
        s.run({})
    with pytest.raises(quench.InvalidArgumentError, match="unknown input 'x'"):
        s.run({"x": images(1)})
    with pytest.raises(quench.InvalidArgumentError, match="takes 1 input"):
        s.run([images(1), images(1)])
    with pytest.raises(quench.InvalidArgumentError, match="expected a NumPy array"):
        s.run({"input": object()})


def test_errors_map_to_kinds_and_exit_codes(tmp_path):
    with pytest.raises(quench.IoError) as e:
        quench.Session(str(tmp_path / "missing.onnx"))
    assert e.value.exit_code == 5 and isinstance(e.value, quench.Error)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(quench.InvalidModelError) as e:
        quench.Session(str(bad))
    assert e.value.exit_code == 3
    assert issubclass(quench.Interrupted, KeyboardInterrupt)
    assert [c.exit_code for c in quench._errors.BY_KIND] == [2, 3, 4, 5, 6, 130, 70]
