// Stored element formats of data files (npy, IDX) and their conversion to float32 and int64.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quench/dtype.h"

namespace quench {

struct ElementFormat {
  DType dtype = DType::kUndefined;
  bool big_endian = false;  // IDX stores multi-byte values big-endian, npy little-endian
};

// Converts `count` stored elements to float. uint8 values are multiplied by `byte_scale`
// (pixel values); float types are copied as they are. Other types: kInternal (callers check
// image_dtype_ok first).
void convert_to_float(const void* src, int64_t count, ElementFormat format, float byte_scale,
                      float* dst);
// Whether convert_to_float accepts `dtype`.
bool image_dtype_ok(DType dtype);

// Converts `count` stored integer elements (any integer or bool type) to int64.
void convert_to_int64(const void* src, int64_t count, ElementFormat format, int64_t* dst);
bool label_dtype_ok(DType dtype);

}  // namespace quench
