#include "kernels/x86/register.h"

#include "kernels/x86/transpose.h"
#include "ops/op_registry.h"

namespace quench::x86 {

void register_kernels(OpRegistry& r) {
  // Any fixed-size element type: float and 8-bit data alike.
  r.add_fast("", "Transpose", {"x86", make_transpose, false});
}

}  // namespace quench::x86
