// The oneDNN backend's fast kernels, registered by the runtime (runtime/kernel_registry.cc).
#pragma once

namespace quench {
class OpRegistry;
namespace onednn {

void register_kernels(OpRegistry& r);

}  // namespace onednn
}  // namespace quench
