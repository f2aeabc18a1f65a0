// Arena planning: greedy by size over value lifetimes (the strategy of TFLite's arena planner).
#include <algorithm>
#include <numeric>

#include "core/resource_check.h"
#include "runtime/plan.h"

namespace quench {
namespace {

constexpr size_t kAlignment = 64;

size_t align_up(size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

void plan_memory(Plan& plan) {
  const size_t n = plan.slots.size();
  // Lifetime of each slot in step indices: [first write, last read].
  std::vector<int> first(n, -1), last(n, -1);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const int step = static_cast<int>(s);
    for (int id : plan.steps[s].outputs) {
      if (id >= 0 && first[id] < 0) first[id] = step;
      if (id >= 0) last[id] = std::max(last[id], step);
    }
    for (int id : plan.steps[s].inputs) {
      if (id >= 0) last[id] = std::max(last[id], step);
    }
  }
  // In-place: an output may take over its input's storage when the input dies at this step and
  // both occupy the same bytes in the same layout.
  std::vector<int> root(n);
  std::iota(root.begin(), root.end(), 0);
  auto find = [&](int x) {
    while (root[x] != x) x = root[x] = root[root[x]];
    return x;
  };
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step& step = plan.steps[s];
    const int j = step.kernel->inplace_input();
    if (j < 0 || static_cast<size_t>(j) >= step.inputs.size() || step.outputs.empty()) continue;
    const int in = step.inputs[j];
    const int out = step.outputs[0];
    if (in < 0 || out < 0) continue;
    const Slot& a = plan.slots[in];
    const Slot& b = plan.slots[out];
    if (a.kind != Slot::Kind::kArena || b.kind != Slot::Kind::kArena) continue;
    if (last[find(in)] != static_cast<int>(s) || a.bytes != b.bytes) continue;
    if (!same_layout(a.layout, b.layout)) continue;
    // Another input of this step reading the same storage would see it overwritten.
    bool shared = false;
    for (size_t k = 0; k < step.inputs.size(); ++k) {
      if (static_cast<int>(k) != j && step.inputs[k] >= 0 && find(step.inputs[k]) == find(in)) {
        shared = true;
      }
    }
    if (shared) continue;
    const int r = find(in);
    root[out] = r;
    last[r] = std::max(last[r], last[out]);
  }

  struct Block {
    int root;
    size_t bytes;
    int first, last;
    size_t offset = 0;
  };
  std::vector<Block> blocks;
  std::vector<int> block_of(n, -1);
  for (size_t i = 0; i < n; ++i) {
    if (plan.slots[i].kind != Slot::Kind::kArena ||
        find(static_cast<int>(i)) != static_cast<int>(i)) {
      continue;
    }
    block_of[i] = static_cast<int>(blocks.size());
    blocks.push_back(Block{static_cast<int>(i), align_up(plan.slots[i].bytes), first[i], last[i]});
  }
  for (size_t i = 0; i < n; ++i) {
    if (plan.slots[i].kind != Slot::Kind::kArena) continue;
    Block& b = blocks[block_of[find(static_cast<int>(i))]];
    b.first = std::min(b.first, first[i]);
    b.last = std::max(b.last, last[i]);
  }
  std::vector<size_t> order(blocks.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return blocks[x].bytes > blocks[y].bytes; });
  std::vector<size_t> placed;
  size_t total = 0;
  for (size_t k : order) {
    Block& b = blocks[k];
    // Intervals already placed whose lifetimes overlap this one, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t p : placed) {
      const Block& o = blocks[p];
      if (o.first <= b.last && b.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [lo, hi] : busy) {
      if (offset + b.bytes <= lo) break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    total = std::max(total, offset + b.bytes);
    placed.push_back(k);
  }
  for (size_t i = 0; i < n; ++i) {
    if (plan.slots[i].kind == Slot::Kind::kArena) {
      plan.slots[i].offset = blocks[block_of[find(static_cast<int>(i))]].offset;
    }
  }
  check_buffer_bytes(total,
                     "the plan's activation arena (every intermediate value that is live at "
                     "the same time)");
  plan.arena_bytes = total;
}

}  // namespace quench
