#include "kernels/ref/shape_ops_copy.h"

#include <cstring>

#include "kernels/ref/ref_kernel.h"

namespace quench::ref {

void StridedView::simplify() {
  if (shape_numel(shape) == 0) return;
  Shape kept_shape, kept_strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    // Dim d+1 continues dim d when stepping d moves as far as walking all of d+1.
    if (!kept_shape.empty() && kept_strides.back() == strides[d] * shape[d]) {
      kept_shape.back() *= shape[d];
      kept_strides.back() = strides[d];
      continue;
    }
    kept_shape.push_back(shape[d]);
    kept_strides.push_back(strides[d]);
  }
  shape = std::move(kept_shape);
  strides = std::move(kept_strides);
}

std::unique_ptr<Kernel> make_view_kernel(size_t element_bytes, StridedView view, size_t input) {
  view.simplify();
  std::unique_ptr<Kernel> kernel;
  with_element_type(element_bytes, [&]<class T>() {
    const int64_t count = shape_numel(view.shape);
    kernel = make_kernel([view, input, count](const KernelArgs& a) {
      if (count == 0) return;
      copy_view(static_cast<const T*>(a.inputs[input]) + view.offset, static_cast<T*>(a.outputs[0]),
                view.shape.data(), view.strides.data(), static_cast<int>(view.shape.size()));
    });
  });
  return kernel;
}

std::unique_ptr<Kernel> make_inplace_copy_kernel(size_t bytes) {
  return make_kernel(
      [bytes](const KernelArgs& a) {
        if (a.outputs[0] != a.inputs[0] && bytes != 0) {
          std::memcpy(a.outputs[0], a.inputs[0], bytes);
        }
      },
      0, 0);
}

}  // namespace quench::ref
