#include "train/data_parallel.h"

#include <span>
#include <vector>

namespace quench::train {

void average_gradients(const ProcessGroup& group, std::map<std::string, Tensor>& grads) {
  if (!group.distributed()) return;
  std::vector<float> flat;
  for (const auto& [name, g] : grads) {
    if (g.defined()) flat.insert(flat.end(), g.data<float>(), g.data<float>() + g.numel());
  }
  group.sum(flat);
  const float scale = 1.0f / static_cast<float>(group.size());
  size_t at = 0;
  for (auto& [name, g] : grads) {
    if (!g.defined()) continue;
    float* p = g.data<float>();
    for (int64_t i = 0; i < g.numel(); ++i) p[i] = flat[at++] * scale;
  }
}

void average_buffers(const ProcessGroup& group, Tape& tape) {
  if (!group.distributed()) return;
  for (auto& [name, b] : tape.buffers()) {
    if (b.dtype() != DType::kFloat32) continue;
    std::span<float> v{b.data<float>(), static_cast<size_t>(b.numel())};
    group.sum(v);
    for (float& x : v) x /= static_cast<float>(group.size());
  }
}

void synchronise(const ProcessGroup& group, Tape& tape) {
  if (!group.distributed()) return;
  for (auto& [name, p] : tape.parameters()) {
    group.broadcast({p.data<float>(), static_cast<size_t>(p.numel())});
  }
  average_buffers(group, tape);
}

}  // namespace quench::train
