// Resource limits: the largest buffer, graph and image quench accepts from a file. Inputs beyond
// a limit are refused with ErrorKind::kResource before memory is allocated for them, so a hostile
// file (a gzip bomb, a header claiming a huge shape, a Reshape to petabytes) ends in an error
// message, not in the kernel's out-of-memory killer. Each limit is overridable by an environment
// variable (read once, at first use) or by set_resource_limits(); docs/cli.md lists them.
#pragma once

#include <cstdint>

namespace quench {

struct ResourceLimits {
  // One buffer: a tensor, a decoded data file, a plan's activation arena. QUENCH_MAX_TENSOR_BYTES;
  // default: half of available_memory_bytes(), at most kMaxTensorBytes (quench/tensor.h).
  uint64_t max_tensor_bytes = 0;
  // Nodes of one graph. QUENCH_MAX_NODES; default 1,000,000.
  int64_t max_nodes = 0;
  // Width x height of one decoded image. QUENCH_MAX_IMAGE_PIXELS; default 2^28.
  int64_t max_image_pixels = 0;
};

// The limits in force: set_resource_limits() if called, else the environment, else defaults.
ResourceLimits resource_limits();
// Replaces the limits in force (thread-safe; a field of 0 keeps its current value). Returns the
// previous limits.
ResourceLimits set_resource_limits(const ResourceLimits& limits);

// Memory this process may use: the smallest of physical memory, the address-space limit
// (RLIMIT_AS, `ulimit -v`) and the cgroup's memory.max.
uint64_t available_memory_bytes();

}  // namespace quench
