"""Typing stubs of quench's compiled module (python/src/). Use the quench package instead."""

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

class IoInfo:
    """Name, NumPy dtype and shape of a model input or output."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def shape(self) -> List[Union[int, str, None]]:
        """Dims: int when known, str for a named dim, None when unknown."""

class Session:
    """A model prepared to run many times; run() releases the GIL (several threads may share it)."""

    def __init__(
        self, path: str, threads: int = 0, fast_kernels: bool = True, fuse: bool = True
    ) -> None: ...
    @property
    def inputs(self) -> List[IoInfo]: ...
    @property
    def outputs(self) -> List[IoInfo]: ...
    def run(
        self,
        inputs: Union[Mapping[str, npt.ArrayLike], Sequence[npt.ArrayLike], npt.ArrayLike],
        on_tensor: Optional[Callable[[str, np.ndarray], Any]] = None,
    ) -> List[np.ndarray]:
        """Runs the model; one NumPy array per output (no copies for C-contiguous inputs of the
        input's dtype; another dtype raises quench.InvalidArgumentError)."""

class _DataArgs:
    resize: Optional[List[int]]
    mean: List[float]
    std: List[float]
    channels: int
    layout: str
    random_shape: List[int]

class _QuantizeArgs:
    model: str
    output: str
    mode: str
    table: str
    method: str
    percentile: float
    calib_size: int
    calib_batch: int
    per_tensor: bool
    act: str
    act_granularity: str
    keep_io_types: bool
    skip: List[str]
    skip_op: List[str]
    recipe: str
    threads: int
    progress: bool
    lowbit: _LowBitOptions
    max_drop: float
    val_limit: int
    latency_aware: bool
    latency_batch: int

class _LowBitOptions:
    weights: str
    group_size: int
    accuracy_level: int
    weight_only: bool
    gptq: bool
    gptq_target: str
    adaround: bool
    adaround_iters: int
    bias_correction: bool
    cle: bool
    smoothquant: float

def _set_error_classes(classes: List[type]) -> None: ...
def _input_copies() -> int: ...
def _quantize(
    args: _QuantizeArgs, calib: Any, labels: Any, val: Any, val_labels: Any,
    data_args: _DataArgs,
) -> Dict[str, Any]: ...
def _sensitivity(
    model: str, calib: Any, calib_labels: Any, val: Any, val_labels: Any, bits: str, limit: int,
    batch: int, threads: int, method: str, percentile: float, calib_size: int, calib_batch: int,
    progress: bool, data_args: _DataArgs,
) -> Dict[str, Any]: ...
def _calibrate(
    model: str, data: Any, labels: Any, output: str, merge: List[str], trt_cache: str,
    method: str, percentile: float, calib_size: int, calib_batch: int, offset: int, recipe: str,
    skip: List[str], threads: int, progress: bool, data_args: _DataArgs,
) -> Dict[str, Any]: ...
def _evaluate(
    model: str, data: Any, labels: Any, limit: int, batch: int, threads: int, progress: bool,
    data_args: _DataArgs,
) -> Dict[str, Any]: ...
def _compare(
    a: str, b: str, data: Any, labels: Any, limit: int, batch: int, threads: int, progress: bool,
    data_args: _DataArgs,
) -> Dict[str, Any]: ...
def _benchmark(
    model: str, batch: int, threads: int, shape: Optional[List[int]], seconds: float
) -> Dict[str, Any]: ...
def _model_inputs(path: str) -> list: ...
