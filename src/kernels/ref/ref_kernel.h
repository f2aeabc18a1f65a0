// A reference kernel is a plain C++ function object holding what its factory prepared.
#pragma once

#include <memory>
#include <utility>

#include "kernels/kernel.h"

namespace quench::ref {

template <class Fn>
class FunctionKernel final : public Kernel {
 public:
  FunctionKernel(Fn fn, size_t scratch_bytes, int inplace_input)
      : fn_(std::move(fn)), scratch_bytes_(scratch_bytes), inplace_input_(inplace_input) {}
  void run(const KernelArgs& args) const override { fn_(args); }
  size_t scratch_bytes() const override { return scratch_bytes_; }
  int inplace_input() const override { return inplace_input_; }
  std::string impl() const override { return "ref"; }

 private:
  Fn fn_;
  size_t scratch_bytes_;
  int inplace_input_;
};

// `fn(const KernelArgs&)` runs the op; what it captures is prepared once at build time.
template <class Fn>
std::unique_ptr<Kernel> make_kernel(Fn fn, size_t scratch_bytes = 0, int inplace_input = -1) {
  return std::make_unique<FunctionKernel<Fn>>(std::move(fn), scratch_bytes, inplace_input);
}

// Typed access to kernel arguments.
template <class T>
const T* in(const KernelArgs& a, size_t i) {
  return static_cast<const T*>(a.inputs[i]);
}
template <class T>
T* out(const KernelArgs& a, size_t i) {
  return static_cast<T*>(a.outputs[i]);
}

}  // namespace quench::ref
