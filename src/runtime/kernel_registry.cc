#include "runtime/kernel_registry.h"

#include "kernels/x86/register.h"
#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/register.h"
#endif

namespace quench {

const OpRegistry& kernel_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r = op_registry();
    // Tried in this order before the reference: oneDNN where it applies, then quench's own.
#ifdef QUENCH_WITH_ONEDNN
    onednn::register_kernels(r);
#endif
    x86::register_kernels(r);
    return r;
  }();
  return registry;
}

}  // namespace quench
