// oneDNN-backed kernels: factories registered as fast kernels of their ops.
#pragma once

namespace quench {
class OpRegistry;
namespace onednn {

void register_kernels(OpRegistry& r);

}  // namespace onednn
}  // namespace quench
