"""Calibration and evaluation data from Python objects: one float32 array [N, ...] (and labels).

Accepted: a data-source string ("fmnist:train", "folder:DIR", ... as the CLI's --calib/--data),
a NumPy array of samples [N, ...], a dict of them by model input name (multi-input models), or any
iterable (a list, a generator, a torch DataLoader) of batches [B, ...], single samples [...] or
dicts of either, each alone or as an (inputs, labels) pair. Objects that are not NumPy arrays are
converted through ``.numpy()`` (torch tensors, without importing torch) or ``__array__``. Float
elements must be float32: quench does not convert silently (docs/python.md); integer elements of
a named input (token ids, masks) are widened to int64 and narrowed to the model input's type, with
a range check, when fed.
"""

from __future__ import annotations

import itertools

from typing import Any, Dict, Mapping, Optional, Tuple

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


def _named_array(obj: Any, what: str) -> np.ndarray:
    """One named input's values: float32 kept, integers (and bool) widened to int64."""
    x = to_numpy(obj, what)
    if x.dtype == np.float32:
        return x
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        if x.dtype == np.uint64 and x.size and int(x.max()) > np.iinfo(np.int64).max:
            raise InvalidArgumentError(f"{what}: a value does not fit int64")
        return x.astype(np.int64)
    raise InvalidArgumentError(
        f"{what}: expected float32 or integer values, got {x.dtype} (quench does not convert "
        f"floats silently; pass array.astype(numpy.float32))"
    )


def _batch_of_inputs(item: Mapping, ranks: Dict[str, int], what: str) -> Dict[str, np.ndarray]:
    """A dict {input name: array} as batches [B, ...] with one B (single samples get B = 1)."""
    out: Dict[str, np.ndarray] = {}
    rows = None
    for name, value in item.items():
        if not isinstance(name, str):
            raise InvalidArgumentError(
                f"{what}: the keys of a dict of inputs must be input names, got {name!r}"
            )
        x = _named_array(value, f"{what}['{name}']")
        rank = ranks.get(name, -1)
        if rank > 0 and x.ndim == rank - 1:
            x = x[np.newaxis]
        elif rank > 0 and x.ndim != rank:
            raise InvalidArgumentError(
                f"{what}['{name}']: expected a batch of rank {rank} or one sample of rank "
                f"{rank - 1} for model input '{name}', got shape {list(x.shape)}"
            )
        if x.ndim == 0:
            raise InvalidArgumentError(f"{what}['{name}']: expected an array [N, ...], got a scalar")
        if rows is None:
            rows = x.shape[0]
        elif x.shape[0] != rows:
            raise InvalidArgumentError(
                f"{what}['{name}']: {x.shape[0]} samples, but the inputs before it have {rows}"
            )
        out[name] = x
    if not out:
        raise InvalidArgumentError(f"{what}: an empty dict of inputs")
    return out


def _collect_named(
    items: Any, ranks: Dict[str, int], limit: int, what: str, one: bool = False
) -> Tuple[Dict[str, np.ndarray], Optional[np.ndarray]]:
    """An iterable of dicts (or (dict, labels) pairs) concatenated per input name; ``one``: the
    iterable holds the user's only dict (messages then name it without an item number)."""
    parts: Dict[str, list] = {}
    shapes: Dict[str, tuple] = {}
    labels = []
    count, items_seen = 0, 0
    for index, item in enumerate(items):
        where = what if one else f"{what} item {index}"
        label = None
        if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], Mapping):
            item, label = item
        if not isinstance(item, Mapping):
            raise InvalidArgumentError(
                f"{what} item {index}: expected a dict of inputs like the items before it, got "
                f"{type(item).__name__}"
            )
        batch = _batch_of_inputs(item, ranks, where)
        if not parts:
            parts = {name: [] for name in batch}
            shapes = {name: x.shape[1:] for name, x in batch.items()}
        elif set(batch) != set(parts):
            raise InvalidArgumentError(
                f"{what} item {index}: inputs {sorted(batch)} differ from the {sorted(parts)} of "
                f"the items before it"
            )
        for name, x in batch.items():
            if x.shape[1:] != shapes[name]:
                raise InvalidArgumentError(
                    f"{what} item {index}['{name}']: sample shape {list(x.shape[1:])} differs "
                    f"from the {list(shapes[name])} of the items before it"
                )
            parts[name].append(x)
        rows = next(iter(batch.values())).shape[0]
        if label is not None:
            y = np.asarray(to_numpy(label, "label"), np.int64).reshape(-1)
            if y.shape[0] != rows:
                raise InvalidArgumentError(f"{where}: {y.shape[0]} labels for {rows} samples")
            labels.append(y)
        items_seen += 1
        count += rows
        if limit > 0 and count >= limit:
            break
    if not parts:
        raise InvalidArgumentError(f"{what}: the iterable yielded no data")
    if labels and len(labels) != items_seen:
        raise InvalidArgumentError(f"{what}: some items have labels and others do not")
    merged = {name: np.ascontiguousarray(np.concatenate(xs, axis=0)) for name, xs in parts.items()}
    return merged, (np.concatenate(labels) if labels else None)


def collect(
    data: Any, ranks: Dict[str, int], limit: int, what: str = "calib"
) -> Tuple[Any, Optional[np.ndarray]]:
    """(samples, labels int64 [N] or None), or (spec string, None). ``samples`` is one float32
    array [N, ...] (C-contiguous), or a dict {input name: array [N, ...]} (float32 or int64).

    ``ranks``: each model input's rank (batch dim included; -1 when unknown), in the model's
    order; an item of that rank is a batch, an item of one dim less is one sample. Arrays not in a
    dict go to the first input. At most ``limit`` samples are taken from an iterable (0: all).
    """
    model_rank = next(iter(ranks.values()), -1)
    if isinstance(data, str):
        return data, None
    if isinstance(data, Mapping):
        return _collect_named([data], ranks, 0, what, one=True)
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Mapping):
        return _collect_named([data], ranks, 0, what, one=True)
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
    first = next(iterator, None)
    if first is None:
        raise InvalidArgumentError(f"{what}: the iterable yielded no data")
    if isinstance(first, Mapping) or (
        isinstance(first, (tuple, list)) and len(first) == 2 and isinstance(first[0], Mapping)
    ):
        return _collect_named(itertools.chain([first], iterator), ranks, limit, what)
    iterator = itertools.chain([first], iterator)
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
