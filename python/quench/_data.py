"""Calibration and evaluation data from Python objects: one float32 array [N, ...] (and labels).

Accepted: a data-source string ("fmnist:train", "folder:DIR", ... as the CLI's --calib/--data),
a NumPy array of samples [N, ...], or any iterable (a list, a generator, a torch DataLoader) of
batches [B, ...] or single samples [...], each alone or as an (inputs, labels) pair. Objects that
are not NumPy arrays are converted through ``.numpy()`` (torch tensors, without importing torch)
or ``__array__``. Elements must be float32: quench does not convert silently (docs/python.md).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ._errors import InvalidArgumentError


def to_numpy(obj: Any, what: str) -> np.ndarray:
    """``obj`` as a NumPy array without copying where possible."""
    if isinstance(obj, np.ndarray):
        return obj
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor
        return obj.detach().cpu().numpy()
    if hasattr(obj, "numpy"):
        return np.asarray(obj.numpy())
    if hasattr(obj, "__array__") or isinstance(obj, (list, tuple, int, float)):
        return np.asarray(obj)
    raise InvalidArgumentError(f"{what}: expected an array, got {type(obj).__name__}")


def _check_dtype(array: np.ndarray, what: str) -> None:
    if array.dtype != np.float32:
        raise InvalidArgumentError(
            f"{what}: expected dtype float32, got {array.dtype} (quench does not convert "
            f"silently; pass array.astype(numpy.float32))"
        )


def collect(
    data: Any, model_rank: int, limit: int, what: str = "calib"
) -> Tuple[Any, Optional[np.ndarray]]:
    """(samples [N, ...] float32 C-contiguous, labels int64 [N] or None), or (spec string, None).

    ``model_rank``: rank of the model's first input (batch dim included), -1 when unknown; an item
    of that rank is a batch, an item of one dim less is one sample. At most ``limit`` samples are
    taken from an iterable (0: all).
    """
    if isinstance(data, str):
        return data, None
    if isinstance(data, tuple) and len(data) == 2 and not _is_iterable_of_batches(data):
        x, y = data
        x = to_numpy(x, what)
        _check_dtype(x, what)
        return np.ascontiguousarray(x), np.ascontiguousarray(to_numpy(y, "labels"), np.int64)
    if isinstance(data, np.ndarray) or (hasattr(data, "__array__") and not hasattr(data, "__iter__")):
        x = to_numpy(data, what)
        _check_dtype(x, what)
        if model_rank > 0 and x.ndim == model_rank - 1:
            x = x[np.newaxis]
        return np.ascontiguousarray(x), None
    try:
        iterator = iter(data)
    except TypeError:
        raise InvalidArgumentError(
            f"{what}: expected a data-source string, an array or an iterable of arrays, got "
            f"{type(data).__name__}"
        ) from None
    batches, labels = [], []
    count = 0
    sample_shape = None
    for index, item in enumerate(iterator):
        label = None
        if isinstance(item, (tuple, list)) and len(item) == 2:
            item, label = item
        x = to_numpy(item, f"{what} item {index}")
        _check_dtype(x, f"{what} item {index}")
        if model_rank > 0 and x.ndim == model_rank - 1:
            x = x[np.newaxis]
            if label is not None:
                label = np.reshape(to_numpy(label, "label"), (1,))
        elif model_rank > 0 and x.ndim != model_rank:
            raise InvalidArgumentError(
                f"{what} item {index}: expected a batch of rank {model_rank} or one sample of "
                f"rank {model_rank - 1} for the model's input, got shape {list(x.shape)}"
            )
        if sample_shape is None:
            sample_shape = x.shape[1:]
        elif x.shape[1:] != sample_shape:
            raise InvalidArgumentError(
                f"{what} item {index}: sample shape {list(x.shape[1:])} differs from the "
                f"{list(sample_shape)} of the items before it"
            )
        batches.append(x)
        if label is not None:
            labels.append(np.asarray(to_numpy(label, "label"), np.int64).reshape(-1))
        count += x.shape[0]
        if limit > 0 and count >= limit:
            break
    if not batches:
        raise InvalidArgumentError(f"{what}: the iterable yielded no data")
    if labels and len(labels) != len(batches):
        raise InvalidArgumentError(f"{what}: some items have labels and others do not")
    samples = np.concatenate(batches, axis=0)
    return samples, (np.concatenate(labels) if labels else None)


def _is_iterable_of_batches(pair: tuple) -> bool:
    """Whether a 2-tuple is two batches (an iterable) rather than (inputs, labels)."""
    x, y = pair
    try:
        return np.ndim(x) == np.ndim(y) and np.shape(x)[1:] == np.shape(y)[1:]
    except Exception:  # noqa: BLE001 - objects without a shape are not a pair of batches
        return False
