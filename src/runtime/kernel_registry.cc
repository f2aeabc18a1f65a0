#include "runtime/kernel_registry.h"

#include "kernels/onednn/register.h"
#include "kernels/x86/register.h"

namespace quench {

const OpRegistry& kernel_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r = op_registry();
    // Tried in this order before the reference: oneDNN where it applies, then quench's own.
    onednn::register_kernels(r);
    x86::register_kernels(r);
    return r;
  }();
  return registry;
}

}  // namespace quench
