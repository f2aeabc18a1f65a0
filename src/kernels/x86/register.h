// quench's own hand-written kernels (no oneDNN), registered by the runtime
// (runtime/kernel_registry.cc) after the oneDNN backend's.
#pragma once

namespace quench {
class OpRegistry;
namespace x86 {

void register_kernels(OpRegistry& r);

}  // namespace x86
}  // namespace quench
