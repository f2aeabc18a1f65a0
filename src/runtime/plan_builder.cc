#include <unordered_map>
#include <unordered_set>

#include "core/check.h"
#include "core/resource_check.h"
#include "runtime/kernel_registry.h"
#include "runtime/plan.h"

namespace quench {
namespace {

class PlanBuilder {
 public:
  PlanBuilder(Plan& plan, const PlanOptions& options) : plan_(plan), options_(options) {}

  void build() {
    const Graph& g = plan_.graph;
    std::unordered_set<std::string> outputs(g.outputs.begin(), g.outputs.end());
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      const std::string& name = g.inputs[i];
      const ValueInfo* info = g.info(name);
      auto shape = info && info->shape ? concrete(*info->shape) : std::nullopt;
      QUENCH_CHECK(shape.has_value(), ErrorKind::kInternal, "input '{}' has no concrete shape",
                   name);
      int id = add_slot(Slot::Kind::kInput, name, info->dtype, *shape, {});
      plan_.slots[id].io_index = static_cast<int>(i);
      value_slot_[name] = id;
      plan_.input_slots.push_back(id);
    }
    for (const Node& node : g.nodes) add_node(node, outputs);
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      const std::string& name = g.outputs[i];
      int id = slot_of(name);
      // A graph output computed in a blocked layout gets a final conversion to plain.
      if (!plan_.slots[id].layout.plain()) id = plain_slot(id, /*report=*/false);
      plan_.output_slots.push_back(id);
    }
    for (const Step& step : plan_.steps) {
      plan_.scratch_bytes = std::max(plan_.scratch_bytes, step.kernel->scratch_bytes());
    }
  }

 private:
  int add_slot(Slot::Kind kind, const std::string& value, DType dtype, const Shape& shape,
               const Layout& layout) {
    Slot slot;
    slot.kind = kind;
    slot.value = value;
    slot.dtype = dtype;
    slot.shape = shape;
    slot.layout = layout;
    slot.bytes = layout.plain() ? static_cast<size_t>(storage_bytes(dtype, shape_numel(shape)))
                                : layout.blocked_bytes;
    plan_.slots.push_back(std::move(slot));
    return static_cast<int>(plan_.slots.size()) - 1;
  }

  // The slot holding `value`; constants get theirs on first use.
  int slot_of(const std::string& value) {
    auto it = value_slot_.find(value);
    if (it != value_slot_.end()) return it->second;
    const Tensor* t = plan_.graph.initializer(value);
    QUENCH_CHECK(t != nullptr, ErrorKind::kInternal, "value '{}' has no producer in the plan",
                 value);
    int id = add_slot(Slot::Kind::kConstant, value, t->dtype(), t->shape(), {});
    plan_.slots[id].constant = t->raw_data();
    value_slot_[value] = id;
    return id;
  }

  // A plain copy of blocked slot `id`, made once and shared by every consumer that needs it.
  int plain_slot(int id, bool report) {
    auto it = plain_copy_.find(id);
    if (it != plain_copy_.end()) return it->second;
    const Slot src = plan_.slots[id];
    const bool is_output = output_names_.count(src.value) != 0;
    int plain = add_slot(is_output ? Slot::Kind::kOutput : Slot::Kind::kArena, src.value, src.dtype,
                         src.shape, {});
    Step step;
    step.kernel = make_reorder_kernel(src.dtype, src.shape, src.layout, Layout{});
    step.inputs = {id};
    step.outputs = {plain};
    step.node = src.value;
    step.op_type = "Reorder";
    step.report = report;
    plan_.steps.push_back(std::move(step));
    plain_copy_[id] = plain;
    return plain;
  }

  TensorDesc desc_of(int id) const {
    const Slot& s = plan_.slots[id];
    TensorDesc d;
    d.dtype = s.dtype;
    d.shape = s.shape;
    d.layout = s.layout;
    if (s.kind == Slot::Kind::kConstant) d.constant = plan_.graph.initializer(s.value);
    return d;
  }

  void add_node(const Node& node, const std::unordered_set<std::string>& graph_outputs) {
    output_names_ = graph_outputs;
    const OpDef* def = kernel_registry().find(node.domain, node.op_type);
    QUENCH_CHECK(def != nullptr && def->reference != nullptr, ErrorKind::kUnsupported, "{}: {}",
                 node.describe(), unsupported_reason(node, plan_.graph));
    std::vector<int> in_ids;
    for (const auto& in : node.inputs) in_ids.push_back(in.empty() ? -1 : slot_of(in));

    KernelContext ctx{
        node, plan_.graph.opset(node.domain), {}, {}, options_.threads, options_.blocked_layouts};
    for (int id : in_ids) ctx.inputs.push_back(id < 0 ? TensorDesc{} : desc_of(id));
    for (const auto& out : node.outputs) {
      if (out.empty()) {
        ctx.outputs.emplace_back();
        continue;
      }
      const ValueInfo* info = plan_.graph.info(out);
      auto shape = info && info->shape ? concrete(*info->shape) : std::nullopt;
      QUENCH_CHECK(shape.has_value() && info->dtype != DType::kUndefined, ErrorKind::kUnsupported,
                   "{}: the type and shape of output '{}' cannot be determined before running "
                   "(data-dependent shapes are not supported)",
                   node.describe(), out);
      check_tensor_fits(info->dtype, *shape, fmt::format("{}: output '{}'", node.describe(), out));
      ctx.outputs.push_back(TensorDesc{info->dtype, *shape, nullptr, {}});
    }
    bool any_blocked = false;
    for (const auto& d : ctx.inputs) any_blocked |= d.present() && !d.layout.plain();
    KernelContext plain_ctx = ctx;
    for (auto& d : plain_ctx.inputs) d.layout = Layout{};

    std::unique_ptr<Kernel> kernel;
    bool took_blocked = false;
    // Each attempt gets a fresh copy, so that a factory that declines leaves nothing behind.
    auto attempt = [&](KernelFactory make, const KernelContext& base) {
      KernelContext use = base;
      kernel = make(use);
      if (kernel) ctx.outputs = use.outputs;
      return kernel != nullptr;
    };
    if (options_.fast_kernels) {
      for (const FastKernel& fk : def->fast) {
        // A kernel that reads blocked inputs may still decline this configuration in blocked
        // form (a broadcast, a layout it does not know): it is then offered plain inputs, which
        // costs a reorder but keeps the fast path.
        if (any_blocked && fk.accepts_blocked_inputs && options_.blocked_layouts &&
            attempt(fk.make, ctx)) {
          took_blocked = true;
          break;
        }
        if (attempt(fk.make, plain_ctx)) break;
      }
    }
    if (!kernel) {
      attempt(def->reference, plain_ctx);
      QUENCH_CHECK(kernel != nullptr, ErrorKind::kUnsupported,
                   "{}: no kernel supports this configuration", node.describe());
    }
    if (!took_blocked) {
      for (int& id : in_ids) {
        if (id >= 0 && !plan_.slots[id].layout.plain()) id = plain_slot(id, false);
      }
    }
    Step step;
    step.kernel = std::move(kernel);
    step.inputs = in_ids;
    step.node = node.name.empty() ? node.outputs.at(0) : node.name;
    step.op_type = node.op_type;
    step.report = true;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& out = node.outputs[i];
      if (out.empty()) {
        step.outputs.push_back(-1);
        continue;
      }
      Layout layout = options_.blocked_layouts ? ctx.outputs[i].layout : Layout{};
      QUENCH_CHECK(options_.blocked_layouts || ctx.outputs[i].layout.plain(), ErrorKind::kInternal,
                   "{}: kernel chose a blocked layout where plain was required", node.describe());
      const bool is_output = graph_outputs.count(out) != 0 && layout.plain();
      int id = add_slot(is_output ? Slot::Kind::kOutput : Slot::Kind::kArena, out,
                        ctx.outputs[i].dtype, ctx.outputs[i].shape, layout);
      value_slot_[out] = id;
      step.outputs.push_back(id);
    }
    plan_.steps.push_back(std::move(step));
  }

  Plan& plan_;
  const PlanOptions& options_;
  std::unordered_map<std::string, int> value_slot_;
  std::unordered_map<int, int> plain_copy_;
  std::unordered_set<std::string> output_names_;
};

}  // namespace

std::unique_ptr<Plan> build_plan(Graph graph, const PlanOptions& options) {
  auto plan = std::make_unique<Plan>();
  plan->graph = std::move(graph);
  PlanBuilder(*plan, options).build();
  plan_memory(*plan);
  if (options.observable) {
    plan->observe_reorders.resize(plan->slots.size());
    for (size_t i = 0; i < plan->slots.size(); ++i) {
      const Slot& s = plan->slots[i];
      if (s.layout.plain()) continue;
      plan->observe_reorders[i] = make_reorder_kernel(s.dtype, s.shape, s.layout, Layout{});
      plan->observe_bytes =
          std::max(plan->observe_bytes, size_t(storage_bytes(s.dtype, shape_numel(s.shape))));
    }
  }
  return plan;
}

}  // namespace quench
