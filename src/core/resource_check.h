// Checks against the resource limits (quench/limits.h), with messages that name what needs the
// memory, how much, the limit and the variable that raises it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "quench/dtype.h"

namespace quench {

// kResource unless a buffer of `bytes` fits the tensor limit; `what` says what it holds
// ("tensor 'w' of shape [..]").
void check_buffer_bytes(uint64_t bytes, std::string_view what);
// kResource unless a tensor of `dtype` and `shape` fits the tensor limit (dims overflowing 64 bits
// included); `what` names it ("Expand node 'e': output 'y'").
void check_tensor_fits(DType dtype, std::span<const int64_t> shape, std::string_view what);
// kResource unless a graph of `nodes` nodes fits the node limit; `where` names the graph.
void check_node_count(int64_t nodes, std::string_view where);
// kResource unless a `width` x `height` image fits the pixel limit.
void check_image_pixels(int64_t width, int64_t height, std::string_view where);

// 1536 -> "1.5 KiB"; exact byte counts below 1 KiB.
std::string human_size(uint64_t bytes);

}  // namespace quench
