// A kernel is prepared once for fixed shapes (weights packed, parameters computed) and then run
// many times on raw pointers. It never allocates in run() and holds no graph types.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace quench {

// Per-execution-state data a kernel caches between runs (e.g. oneDNN memory objects). Each
// concurrent run has its own, so a kernel's run() stays const and thread-safe.
class KernelState {
 public:
  virtual ~KernelState() = default;
};

struct KernelArgs {
  const void* const* inputs;  // nullptr entries for absent optional inputs
  void* const* outputs;
  void* scratch;       // scratch_bytes() bytes, 64-byte aligned, shared by all kernels of a run
  KernelState* state;  // from make_state(), or nullptr
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(const KernelArgs& args) const = 0;
  virtual size_t scratch_bytes() const { return 0; }
  virtual std::unique_ptr<KernelState> make_state() const { return nullptr; }
  // The input whose buffer output 0 may reuse (the kernel must be right whether or not the
  // runtime aliases them), or -1.
  virtual int inplace_input() const { return -1; }
  // Which implementation runs: "ref", "onednn:<impl>", ... (shown by inspect and bench).
  virtual std::string impl() const = 0;
};

}  // namespace quench
