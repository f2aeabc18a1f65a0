#include "runtime/kernel_registry.h"

#include "core/check.h"
#include "kernels/x86/register.h"
#include "kernels/x86/transpose.h"
#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/layout.h"
#include "kernels/onednn/register.h"
#endif

namespace quench {

const OpRegistry& kernel_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r = op_registry();
    // Tried in this order before the reference: quench's leading kernels, oneDNN where it
    // applies, then quench's own.
    x86::register_leading_kernels(r);
#ifdef QUENCH_WITH_ONEDNN
    onednn::register_kernels(r);
#endif
    x86::register_kernels(r);
    return r;
  }();
  return registry;
}

std::unique_ptr<Kernel> make_reorder_kernel(DType dtype, const Shape& shape, const Layout& from,
                                            const Layout& to) {
  std::unique_ptr<Kernel> kernel;
#ifdef QUENCH_WITH_ONEDNN
  kernel = onednn::make_reorder(dtype, shape, from, to);
#endif
  if (!kernel) kernel = x86::make_layout_transpose(dtype, shape, from, to);
  for (const Layout* layout : {&from, &to}) {
    if (!kernel && !layout->plain()) kernel = layout->blocked->make_reorder(dtype, shape, from, to);
  }
  QUENCH_CHECK(kernel != nullptr, ErrorKind::kUnsupported,
               "no kernel converts {} {} values between these layouts", shape_str(shape),
               dtype_name(dtype));
  return kernel;
}

}  // namespace quench
