// A prepared execution plan for one input-shape signature: kernels in order and where every
// value lives.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/layout.h"
#include "quench/graph.h"

namespace quench {

struct Slot {
  enum class Kind : uint8_t { kArena, kConstant, kInput, kOutput };
  Kind kind = Kind::kArena;
  std::string value;  // the graph value stored here
  DType dtype = DType::kUndefined;
  Shape shape;
  Layout layout;
  size_t bytes = 0;
  size_t offset = 0;               // kArena: byte offset in the arena
  const void* constant = nullptr;  // kConstant: the data
  int io_index = -1;               // kInput / kOutput: index among the graph's inputs / outputs
};

struct Step {
  std::unique_ptr<Kernel> kernel;
  std::vector<int> inputs;   // slot ids; -1 for absent optional inputs
  std::vector<int> outputs;  // slot ids; -1 for absent optional outputs
  std::string node;          // node name, for reports
  std::string op_type;       // op type, "Reorder" for layout conversions
  bool report = false;       // outputs are graph values the tensor callback should see
};

struct PlanOptions {
  bool fast_kernels = true;
  bool blocked_layouts = true;  // allow kernels to keep blocked layouts between them
  bool observable = false;      // prepare plain copies of blocked values for a tensor callback
  int threads = 1;
};

struct Plan {
  Graph graph;  // the specialized graph; owns the constants slots point into
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<int> input_slots;   // per graph input
  std::vector<int> output_slots;  // per graph output
  size_t arena_bytes = 0;
  size_t scratch_bytes = 0;
  // With PlanOptions::observable: per slot, the conversion of a blocked value to plain for the
  // tensor callback (null for plain slots), and the largest plain size among them.
  std::vector<std::unique_ptr<Kernel>> observe_reorders;
  size_t observe_bytes = 0;
};

// Chooses kernels for every node of `graph` (concrete shapes required), inserts layout
// conversions and assigns arena offsets.
std::unique_ptr<Plan> build_plan(Graph graph, const PlanOptions& options);

// Assigns arena offsets to the plan's kArena slots, reusing memory between values whose
// lifetimes do not overlap and letting in-place kernels write over their input.
void plan_memory(Plan& plan);

}  // namespace quench
