"""quench.sensitivity and quench.quantize(max_drop=..., latency_aware=...): the same fields (and,
where nothing is timed, the same values) as the CLI's --json, and the CLI's refusals."""

import json
import subprocess
import sys

import pytest

import quench
from conftest import fmnist_available

pytestmark = pytest.mark.skipif(not fmnist_available(), reason="dataset-fashion-mnist missing")
SMALL = dict(calib="fmnist:train", calib_size=32, threads=1)
SMALL_CLI = ["--calib", "fmnist:train", "--calib-size", "32", "--threads", "1"]


def cli_json(args):
    p = subprocess.run(
        [sys.executable, "-m", "quench"] + args + ["--json"], capture_output=True, text=True
    )
    assert p.returncode in (0, 8), p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def without_timing(d):
    # bytes_after: the CLI also stores its command line in the model's metadata.
    skip = ("seconds", "model", "output", "bytes_after")
    return {k: v for k, v in d.items() if k not in skip}


def test_sensitivity_matches_the_cli(cnn):
    r = quench.sensitivity(cnn, val="fmnist:test", limit=48, **SMALL)
    cli = cli_json(["sensitivity", cnn, "--val", "fmnist:test", "--limit", "48"] + SMALL_CLI)
    assert set(r) == set(cli)
    assert without_timing(r) == without_timing(cli)
    assert r["metric"] == "top1" and r["evaluations"] == 2 + 2 * len(r["units"])
    only = [u["only_quantized"] for u in r["units"]]
    assert only == sorted(only)
    # Without labels: output SQNR against FP32, whose own is infinite (None, as the CLI's null).
    x = quench.sensitivity(cnn, val="random:8:1x28x28", bits="w4a8", **SMALL)
    assert x["metric"] == "sqnr_db" and x["baseline_fp32"] is None and x["bits"] == "w4a8"


def test_quantize_max_drop_matches_the_cli(cnn, tmp_path):
    out, cli_out = tmp_path / "amp.onnx", tmp_path / "cli.onnx"
    r = quench.quantize(cnn, out, max_drop=1.0, val="fmnist:test", val_limit=64, **SMALL)
    cli = cli_json(["quantize", cnn, "-o", str(cli_out), "--max-drop", "1", "--val",
                    "fmnist:test", "--val-limit", "64"] + SMALL_CLI)
    assert set(r) == set(cli)
    assert without_timing(r) == without_timing(cli)
    assert r["evaluations"] <= 1 + 2 + r["units"] + r["search_bound"]
    assert r["budget_met"] == (r["top1"] >= r["fp32_top1"] - 0.01 - 1e-12)
    assert out.exists()


def test_quantize_max_drop_with_gptq_matches_the_cli(cnn, tmp_path):
    # GPTQ's integers chosen once, every trial built from them (eq. (147)): the same search and
    # result as the CLI's.
    out, cli_out = tmp_path / "amp.onnx", tmp_path / "cli.onnx"
    r = quench.quantize(cnn, out, weights="int4", gptq=True, max_drop=0.5, val="fmnist:test",
                        val_limit=64, **SMALL)
    cli = cli_json(["quantize", cnn, "-o", str(cli_out), "--weights", "int4", "--gptq",
                    "--max-drop", "0.5", "--val", "fmnist:test", "--val-limit", "64"] + SMALL_CLI)
    assert without_timing(r) == without_timing(cli)
    assert r["kept_at"] == "8-bit weights" and out.exists()


def test_quantize_latency_aware_fields_as_the_cli(cnn, tmp_path):
    out, cli_out = tmp_path / "la.onnx", tmp_path / "cli.onnx"
    r = quench.quantize(cnn, out, latency_aware=True, **SMALL)
    cli = cli_json(["quantize", cnn, "-o", str(cli_out), "--latency-aware"] + SMALL_CLI)
    assert set(r) == set(cli) and set(r["latency"]) == set(cli["latency"])
    lat = r["latency"]
    assert [u["name"] for u in lat["units"]] == [u["name"] for u in cli["latency"]["units"]]
    assert [u["group"] for u in lat["units"]] == [u["group"] for u in cli["latency"]["units"]]
    for u in lat["units"]:
        assert set(u) == {"name", "int8_ms", "float_ms", "group", "kept_float", "kept_by"}
        assert u["kept_float"] == (u["kept_by"] is not None)
    assert lat["model_result_ms"] <= lat["model_fp32_ms"]
    assert lat["batch"] == 1 and lat["threads"] == 1
    assert lat["fp32_written"] == (r["quantized_nodes"] == 0)
    # With max_drop as well: the accuracy search runs on the units left quantized.
    r = quench.quantize(cnn, out, latency_aware=True, max_drop=1.0, val="fmnist:test",
                        val_limit=64, **SMALL)
    kept_for_latency = [u for u in r["latency"]["units"] if u["kept_by"] == "latency"]
    assert r["units"] == len(r["latency"]["units"]) - len(kept_for_latency)


def test_amp_refusals_mirror_the_cli(cnn, tmp_path):
    out = tmp_path / "x.onnx"
    with pytest.raises(quench.InvalidArgumentError, match="val"):
        quench.quantize(cnn, out, max_drop=0.5, **SMALL)
    with pytest.raises(quench.InvalidArgumentError, match="max_drop"):
        quench.quantize(cnn, out, val="fmnist:test", **SMALL)
    with pytest.raises(quench.InvalidArgumentError, match="no labels"):
        quench.quantize(cnn, out, max_drop=0.5, val="random:16:1x28x28", **SMALL)
    with pytest.raises(quench.InvalidArgumentError, match="non-negative"):
        quench.quantize(cnn, out, max_drop=-1, val="fmnist:test", **SMALL)
    with pytest.raises(quench.InvalidArgumentError, match="latency_aware"):
        quench.quantize(cnn, out, latency_aware=True, cle=True, **SMALL)
    with pytest.raises(quench.InvalidArgumentError, match="latency_aware"):
        quench.quantize(cnn, out, latency_aware=True, mode="dynamic")
    with pytest.raises(quench.InvalidArgumentError, match="not supported"):
        quench.quantize(cnn, out, max_drop=0.5, val="fmnist:test", cle=True, **SMALL)
    with pytest.raises(quench.InvalidArgumentError, match="bits"):
        quench.sensitivity(cnn, val="fmnist:test", bits="w2a2", **SMALL)
    assert not out.exists()
