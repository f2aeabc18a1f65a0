// NumPy arrays <-> quench::Tensor for the Python module: inputs wrapped without a copy where the
// layout allows, outputs handed to NumPy without a copy (a capsule owns the tensor).
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "quench/tensor.h"

namespace quench::py {

namespace nb = nanobind;

// Input arrays copied because they were not C-contiguous (read by the tests through
// _quench._input_copies(): a C-contiguous input of the right dtype must not add to it).
extern std::atomic<int64_t> g_input_copies;

// NumPy's name of a quench element type ("float32", "int64", ...; "bfloat16" has none in NumPy).
std::string numpy_name(DType t);

// The quench element type of a NumPy/DLPack dtype (kUndefined when quench has none).
DType dtype_from_dlpack(nb::dlpack::dtype t);

// A tensor over `array`'s memory when it is C-contiguous (borrowed: the caller keeps `array`
// alive while the tensor is used), else a C-contiguous copy. kInvalidArgument naming `what`
// when its dtype is not `expected` (no silent conversion: docs/python.md).
Tensor tensor_from_array(const nb::ndarray<nb::ro>& array, DType expected, const std::string& what);

// Any array-like object (NumPy array, an object with __array__ or DLPack) as an ndarray;
// kInvalidArgument naming `what` otherwise.
nb::ndarray<nb::ro> as_ndarray(nb::handle object, const std::string& what);

// A NumPy array owning `tensor` (no copy). Needs the GIL.
nb::object to_numpy(Tensor tensor);

}  // namespace quench::py
