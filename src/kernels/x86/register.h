// quench's own hand-written kernels (no oneDNN), registered by the runtime
// (runtime/kernel_registry.cc): the leading ones before the oneDNN backend's, the rest after.
#pragma once

namespace quench {
class OpRegistry;
namespace x86 {

// Kernels faster than oneDNN's on every CPU where they apply.
void register_leading_kernels(OpRegistry& r);
void register_kernels(OpRegistry& r);

}  // namespace x86
}  // namespace quench
