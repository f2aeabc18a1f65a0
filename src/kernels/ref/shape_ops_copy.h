// Byte-moving helpers for the shape-manipulation ops. Elements are copied as unsigned integers of
// the element's size, so one kernel serves every fixed-size type (bool, int8, float16, ...).
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/kernel.h"
#include "quench/tensor.h"

namespace quench::ref {

// Calls fn.template operator()<T>() with T the unsigned integer of `element_bytes` bytes; false
// when there is none (strings have no fixed size).
template <class Fn>
bool with_element_type(size_t element_bytes, Fn&& fn) {
  switch (element_bytes) {
    case 1:
      fn.template operator()<uint8_t>();
      return true;
    case 2:
      fn.template operator()<uint16_t>();
      return true;
    case 4:
      fn.template operator()<uint32_t>();
      return true;
    case 8:
      fn.template operator()<uint64_t>();
      return true;
    default:
      return false;
  }
}

// A strided view of an input: for every index of `shape` in row-major order, the element at
// `offset + sum(index[d] * strides[d])`. Strides may be 0 (broadcast) or negative (reversal).
struct StridedView {
  int64_t offset = 0;
  Shape shape;
  Shape strides;

  // Drops size-1 dims and merges dims contiguous in the input, so that copies run over as few and
  // as long rows as possible. Leaves views of empty tensors alone.
  void simplify();
};

// Copies the view (`rank` dims) starting at `in` into `out`; returns the end of what it wrote.
template <class T>
T* copy_view(const T* in, T* out, const int64_t* shape, const int64_t* strides, int rank) {
  if (rank == 0) {
    *out = *in;
    return out + 1;
  }
  if (rank == 1) {
    const int64_t stride = strides[0];
    for (int64_t i = 0; i < shape[0]; ++i) out[i] = in[i * stride];
    return out + shape[0];
  }
  for (int64_t i = 0; i < shape[0]; ++i) {
    out = copy_view(in + i * strides[0], out, shape + 1, strides + 1, rank - 1);
  }
  return out;
}

// A kernel writing the view of input `input` to output 0 (a tensor of the view's shape). nullptr
// when `element_bytes` is not 1, 2, 4 or 8.
std::unique_ptr<Kernel> make_view_kernel(size_t element_bytes, StridedView view, size_t input = 0);

// A kernel copying input 0 to output 0 byte for byte. It declares inplace_input 0 and skips the
// copy when the runtime gave both the same buffer.
std::unique_ptr<Kernel> make_inplace_copy_kernel(size_t bytes);

}  // namespace quench::ref
