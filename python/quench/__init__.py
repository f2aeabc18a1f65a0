"""quench: quantize ONNX models and run them fast on CPUs, from Python.

    import quench
    quench.quantize("model.onnx", "model.int8.onnx", calib=loader, method="entropy")
    session = quench.Session("model.int8.onnx", threads=1)
    logits, = session.run({"input": images})

The functions mirror the ``quench`` CLI's commands (docs/cli.md): same option names (``--calib-size``
is ``calib_size``), same defaults, same errors, and they return the fields of the CLI's ``--json``
object as a dict. Errors raise a subclass of :class:`quench.Error` (docs/python.md).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _quench
from ._data import collect as _collect
from ._errors import (
    Error,
    InternalError,
    Interrupted,
    InvalidArgumentError,
    InvalidModelError,
    IoError,
    ResourceError,
    UnsupportedError,
    BY_KIND as _BY_KIND,
)

_quench._set_error_classes(_BY_KIND)

Session = _quench.Session
IoInfo = _quench.IoInfo

__all__ = [
    "Session",
    "IoInfo",
    "quantize",
    "sensitivity",
    "calibrate",
    "evaluate",
    "compare",
    "benchmark",
    "Error",
    "InvalidArgumentError",
    "InvalidModelError",
    "UnsupportedError",
    "IoError",
    "ResourceError",
    "Interrupted",
    "InternalError",
]
__version__ = "0.1.0"

PathLike = Union[str, "os.PathLike[str]"]


def _data_args(resize, mean, std, channels, layout, random_shape) -> "_quench._DataArgs":
    d = _quench._DataArgs()
    d.resize = None if resize is None else [int(v) for v in resize]
    d.mean = _floats(mean)
    d.std = _floats(std)
    d.channels = int(channels)
    d.layout = layout
    d.random_shape = [] if random_shape is None else [int(v) for v in random_shape]
    return d


def _floats(v) -> List[float]:
    if v is None:
        return []
    if isinstance(v, (int, float)):
        return [float(v)]
    return [float(x) for x in v]


def _model_ranks(model: str) -> Dict[str, int]:
    """Each input's rank (batch dim included; -1 when unknown), in the model's order."""
    return {name: (len(dims) if dims else -1) for name, _, dims in _quench._model_inputs(model)}


def quantize(
    model: PathLike,
    output: PathLike,
    calib: Any = None,
    *,
    mode: str = "static",
    table: Optional[PathLike] = None,
    method: str = "minmax",
    percentile: float = 99.99,
    calib_size: int = 512,
    calib_batch: int = 32,
    per_tensor: bool = False,
    act: Optional[str] = None,
    act_granularity: Optional[str] = None,
    keep_io_types: bool = True,
    skip: Sequence[str] = (),
    skip_op: Sequence[str] = (),
    recipe: Optional[PathLike] = None,
    threads: int = 0,
    resize: Optional[Tuple[int, int]] = None,
    mean: Union[float, Sequence[float], None] = None,
    std: Union[float, Sequence[float], None] = None,
    channels: int = 0,
    layout: str = "nchw",
    random_shape: Optional[Sequence[int]] = None,
    progress: bool = False,
    weights: str = "int8",
    group_size: int = 0,
    accuracy_level: int = 0,
    weight_only: bool = False,
    gptq: bool = False,
    gptq_target: str = "float",
    adaround: bool = False,
    adaround_iters: int = 1000,
    bias_correction: bool = False,
    cle: bool = False,
    smoothquant: Optional[float] = None,
    max_drop: Optional[float] = None,
    val: Any = None,
    val_limit: int = 0,
    latency_aware: bool = False,
    latency_batch: int = 1,
) -> Dict[str, Any]:
    """Quantizes an FP32 ONNX model and writes the result to ``output`` (``quench quantize``).

    mode: "static" (calibrated QDQ; needs ``calib`` or ``table``), "dynamic" (int8 weights,
    activations quantized at run time), "fp16" or "bf16".
    calib: a data-source string ("fmnist:train"), a float32 array of samples [N, ...], a dict
    {input name: array} for a model with several inputs, or any iterable of batches/samples
    (or of such dicts), alone or as (inputs, labels) pairs (a torch DataLoader works);
    at most ``calib_size`` samples are used. method: minmax, movavg, percentile, entropy or mse.
    resize/mean/std/channels/layout/random_shape preprocess a data-source string as the CLI's
    --resize etc. Low-bit options (mode "static" only, as the CLI's --weights etc.): weights
    "int2".."int8"; weight_only; group_size (with weight_only and weights "int4": MatMul/Gemm
    written as com.microsoft MatMulNBits in blocks of group_size along K; accuracy_level: their
    attribute, 4 letting runtimes quantize activations to int8 per block); gptq or adaround
    (adaround_iters steps per layer) choose the integer weights (need ``calib``); gptq_target
    "float" (each layer matches the float model's output) or "quantized" (GPTQ as published);
    bias_correction corrects the biases (empirically with ``calib``, else from the
    BatchNormalization statistics of the layers a normalization feeds); cle (cross-layer equalization)
    and smoothquant (migration strength in [0, 1]) rewrite the float model before calibration
    (not with ``table``). Returns the CLI's ``--json`` fields, plus "lowbit_log" (the lines the
    CLI prints for these steps). Ctrl-C stops it (quench.Interrupted).

    Automatic mixed precision (mode "static", ``calib`` given, as the CLI's --max-drop etc.):
    ``max_drop`` (top-1 points) keeps the fewest units at higher precision so that top-1 on the
    labeled ``val`` data (same forms as ``evaluate``'s ``data``; at most ``val_limit`` samples,
    0: all) stays within that many points of FP32; adds "max_drop", "budget_met" (False where the
    CLI exits with code 8; the best model is written), "fp32_top1", "top1", "units",
    "kept_units", "kept_at", "evaluations", "search_bound", "seconds". ``latency_aware`` (8-bit
    weights) times each unit quantized and in float in quench's runtime on the first
    ``latency_batch`` calibration samples (``threads`` respected), keeps the slower ones in float
    and never writes a model slower than FP32; adds "latency" ("units": "name", "int8_ms",
    "float_ms", "group", "kept_float", "kept_by"; "model_fp32_ms", "model_result_ms", "margin",
    "batch", "threads", "fallback_rounds", "every_unit_quantized", "fp32_written"). With both, the
    accuracy search runs on the units left quantized.
    """
    model, output = os.fspath(model), os.fspath(output)
    samples, labels = None, None
    if calib is not None:
        samples, labels = _collect(calib, _model_ranks(model), calib_size, "calib")
    val_samples, val_labels = None, None
    if val is not None:
        val_samples, val_labels = _collect(val, _model_ranks(model), val_limit, "val")
    a = _quench._QuantizeArgs()
    a.model, a.output, a.mode = model, output, mode
    a.table = "" if table is None else os.fspath(table)
    a.method, a.percentile = method, float(percentile)
    a.calib_size, a.calib_batch = int(calib_size), int(calib_batch)
    a.per_tensor, a.act = bool(per_tensor), act or ""
    a.act_granularity, a.keep_io_types = act_granularity or "", bool(keep_io_types)
    a.skip, a.skip_op = list(skip), list(skip_op)
    a.recipe = "" if recipe is None else os.fspath(recipe)
    a.threads, a.progress = int(threads), bool(progress)
    lb = _quench._LowBitOptions()
    lb.weights, lb.weight_only, lb.group_size = weights, bool(weight_only), int(group_size)
    lb.accuracy_level = int(accuracy_level)
    lb.gptq, lb.adaround, lb.adaround_iters = bool(gptq), bool(adaround), int(adaround_iters)
    lb.gptq_target = gptq_target
    lb.bias_correction, lb.cle = bool(bias_correction), bool(cle)
    lb.smoothquant = -1.0 if smoothquant is None else float(smoothquant)
    a.lowbit = lb
    a.max_drop = -1.0 if max_drop is None else float(max_drop)
    if max_drop is not None and not a.max_drop >= 0:
        raise InvalidArgumentError(
            f"max_drop expects a non-negative number of top-1 points, got {max_drop}"
        )
    a.val_limit, a.latency_aware = int(val_limit), bool(latency_aware)
    a.latency_batch = int(latency_batch)
    return _quench._quantize(
        a,
        samples,
        labels,
        val_samples,
        val_labels,
        _data_args(resize, mean, std, channels, layout, random_shape),
    )


def sensitivity(
    model: PathLike,
    calib: Any,
    val: Any,
    *,
    bits: str = "w8a8",
    limit: int = 0,
    batch: int = 64,
    threads: int = 0,
    method: str = "minmax",
    percentile: float = 99.99,
    calib_size: int = 512,
    calib_batch: int = 32,
    resize: Optional[Tuple[int, int]] = None,
    mean: Union[float, Sequence[float], None] = None,
    std: Union[float, Sequence[float], None] = None,
    channels: int = 0,
    layout: str = "nchw",
    progress: bool = False,
) -> Dict[str, Any]:
    """Per quantization unit, the score with only it quantized and with all but it quantized,
    ranked most sensitive first (``quench sensitivity``).

    ``calib`` as ``quantize``'s (calibrated once); ``val`` as ``evaluate``'s ``data``: with
    labels the score is top-1, without it the SQNR in dB of the first output against FP32 (at
    most ``limit`` samples, 0: all). ``bits``: "w8a8" (units kept in float) or "w4a8" (kept at
    8-bit weights). Returns the CLI's ``--json`` fields: "model", "bits", "metric" ("top1" or
    "sqnr_db"), "samples", "baseline_fp32", "higher_precision", "all_quantized" (None where the
    CLI prints null: an infinite SQNR), "units" ("name", "nodes", "only_quantized",
    "all_but_this"), "evaluations", "seconds". Ctrl-C stops it (quench.Interrupted).
    """
    model = os.fspath(model)
    rank = _model_ranks(model)
    calib_samples, calib_labels = _collect(calib, rank, calib_size, "calib")
    val_samples, val_labels = _collect(val, rank, limit, "val")
    return _quench._sensitivity(
        model,
        calib_samples,
        calib_labels,
        val_samples,
        val_labels,
        bits,
        int(limit),
        int(batch),
        int(threads),
        method,
        float(percentile),
        int(calib_size),
        int(calib_batch),
        bool(progress),
        _data_args(resize, mean, std, channels, layout, None),
    )


def calibrate(
    model: Optional[PathLike] = None,
    data: Any = None,
    output: Optional[PathLike] = None,
    *,
    merge: Sequence[PathLike] = (),
    trt_cache: Optional[PathLike] = None,
    method: str = "minmax",
    percentile: float = 99.99,
    calib_size: int = 512,
    calib_batch: int = 32,
    offset: int = 0,
    recipe: Optional[PathLike] = None,
    skip: Sequence[str] = (),
    threads: int = 0,
    resize: Optional[Tuple[int, int]] = None,
    mean: Union[float, Sequence[float], None] = None,
    std: Union[float, Sequence[float], None] = None,
    channels: int = 0,
    layout: str = "nchw",
    random_shape: Optional[Sequence[int]] = None,
    progress: bool = False,
) -> Dict[str, Any]:
    """Calibrates activation ranges into a JSON table (``quench calibrate``).

    ``data`` takes what ``quantize``'s ``calib`` takes. With ``merge=[tables...]`` (no model or
    data), combines the tables of data shards instead. Returns the CLI's ``--json`` fields.
    """
    if output is None:
        raise InvalidArgumentError("calibrate: output (the table to write) is required")
    samples, labels = None, None
    if data is not None:
        if model is None:
            raise InvalidArgumentError("give a model and data (or merge=[tables...])")
        samples, labels = _collect(data, _model_ranks(os.fspath(model)), 0, "data")
    return _quench._calibrate(
        "" if model is None else os.fspath(model),
        samples,
        labels,
        os.fspath(output),
        [os.fspath(m) for m in merge],
        "" if trt_cache is None else os.fspath(trt_cache),
        method,
        float(percentile),
        int(calib_size),
        int(calib_batch),
        int(offset),
        "" if recipe is None else os.fspath(recipe),
        list(skip),
        int(threads),
        bool(progress),
        _data_args(resize, mean, std, channels, layout, random_shape),
    )


def evaluate(
    model: PathLike,
    data: Any = "fmnist:test",
    *,
    limit: int = 0,
    batch: int = 64,
    threads: int = 0,
    resize: Optional[Tuple[int, int]] = None,
    mean: Union[float, Sequence[float], None] = None,
    std: Union[float, Sequence[float], None] = None,
    channels: int = 0,
    layout: str = "nchw",
    progress: bool = False,
) -> Dict[str, Any]:
    """Top-1 accuracy of a classifier on labeled data (``quench eval``).

    ``data``: a data-source string, an (images, labels) pair of arrays, or an iterable of
    (images, labels) batches. Returns the CLI's ``--json`` fields.
    """
    model = os.fspath(model)
    samples, labels = _collect(data, _model_ranks(model), 0, "data")
    if not isinstance(samples, str) and labels is None:
        raise InvalidArgumentError("evaluate: data has no labels; give (images, labels)")
    return _quench._evaluate(
        model,
        samples,
        labels,
        int(limit),
        int(batch),
        int(threads),
        bool(progress),
        _data_args(resize, mean, std, channels, layout, None),
    )


def compare(
    a: PathLike,
    b: PathLike,
    data: Any = "fmnist:test",
    *,
    limit: int = 0,
    batch: int = 64,
    threads: int = 0,
    resize: Optional[Tuple[int, int]] = None,
    mean: Union[float, Sequence[float], None] = None,
    std: Union[float, Sequence[float], None] = None,
    channels: int = 0,
    layout: str = "nchw",
    progress: bool = False,
) -> Dict[str, Any]:
    """Runs models ``a`` and ``b`` on the same inputs and compares them (``quench compare``).

    ``data``: a data-source string, an array of samples, (samples, labels) arrays, or an iterable
    of batches (labels, when given, add ``accuracy_a`` / ``accuracy_b``). Returns the CLI's
    ``--json`` fields: ``tensors`` (every shared tensor, worst SQNR first: ``name``, ``b_name``,
    ``elements``, ``sqnr_db`` (None when B equals A), ``cosine``, ``mse``, ``max_abs``) and
    ``outputs`` (the same plus ``top1_agreement``).
    """
    a, b = os.fspath(a), os.fspath(b)
    samples, labels = _collect(data, _model_ranks(a), 0, "data")
    return _quench._compare(
        a,
        b,
        samples,
        labels,
        int(limit),
        int(batch),
        int(threads),
        bool(progress),
        _data_args(resize, mean, std, channels, layout, None),
    )


def benchmark(
    model: PathLike,
    *,
    batch: int = 1,
    threads: int = 1,
    shape: Optional[Sequence[int]] = None,
    seconds: float = 2.0,
) -> Dict[str, Any]:
    """Latency (median, p90, min) and throughput on random input (``quench bench``)."""
    return _quench._benchmark(
        os.fspath(model),
        int(batch),
        int(threads),
        None if shape is None else [int(v) for v in shape],
        float(seconds),
    )
