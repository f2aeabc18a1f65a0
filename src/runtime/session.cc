#include "quench/session.h"

#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>

#include "core/check.h"
#include "kernels/x86/cpu_features.h"
#include "ops/op_registry.h"
#include "passes/runtime_passes.h"
#include "quench/model_io.h"
#include "quench/passes.h"
#include "runtime/eager.h"
#include "runtime/plan.h"
#include "runtime/session_graph.h"

namespace quench {
namespace {

// bfloat16 products (on oneDNN's kernels) where the CPU's bfloat16 dot product outruns its
// float32 FMA; QUENCH_BF16_PRODUCTS=0 or 1 overrides the choice (benchmarks compare both).
RuntimeFusionOptions fusion_options() {
  RuntimeFusionOptions o;
#ifdef QUENCH_WITH_ONEDNN
  o.bf16_products = x86::cpu_features().fast_bf16_dot();
  if (const char* force = std::getenv("QUENCH_BF16_PRODUCTS")) {
    o.bf16_products = std::string_view(force) == "1";
  }
#endif
  return o;
}

// Everything one concurrent run needs besides the (shared, read-only) plan.
struct ExecState {
  std::shared_ptr<void> arena;
  std::shared_ptr<void> scratch;
  std::shared_ptr<void> observe_buffer;  // plain copy of a blocked value for the callback
  std::vector<std::unique_ptr<KernelState>> kernel_states;
  std::vector<std::unique_ptr<KernelState>> observe_states;
  std::vector<void*> slot_ptrs;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
};

struct PlanEntry {
  std::unique_ptr<Plan> plan;  // null when shapes depend on input values: run eagerly
  Graph eager_graph;
  // Observed runs: values that became constants once input shapes were known (a scale computed
  // from a Shape chain), reported to the callback at every run like computed values.
  std::vector<std::pair<std::string, Tensor>> folded;
  std::mutex mutex;
  std::vector<std::unique_ptr<ExecState>> idle;
  uint64_t last_used = 0;

  std::unique_ptr<ExecState> acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        auto s = std::move(idle.back());
        idle.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<ExecState>();
    s->arena = aligned_alloc_shared(plan->arena_bytes);
    s->scratch = aligned_alloc_shared(plan->scratch_bytes);
    for (const Step& step : plan->steps) s->kernel_states.push_back(step.kernel->make_state());
    s->observe_buffer = aligned_alloc_shared(plan->observe_bytes);
    for (const auto& k : plan->observe_reorders) {
      s->observe_states.push_back(k ? k->make_state() : nullptr);
    }
    s->slot_ptrs.resize(plan->slots.size(), nullptr);
    for (size_t i = 0; i < plan->slots.size(); ++i) {
      const Slot& slot = plan->slots[i];
      if (slot.kind == Slot::Kind::kArena) {
        s->slot_ptrs[i] = static_cast<char*>(s->arena.get()) + slot.offset;
      } else if (slot.kind == Slot::Kind::kConstant) {
        s->slot_ptrs[i] = const_cast<void*>(slot.constant);
      }
    }
    return s;
  }
  void release(std::unique_ptr<ExecState> s) {
    std::lock_guard<std::mutex> lock(mutex);
    idle.push_back(std::move(s));
  }
};

using PlanKey = std::pair<std::vector<Shape>, bool>;  // input shapes, observed run

// Sets the calling thread's OpenMP thread count for a scope. oneDNN sizes its work split when a
// primitive is created, so both planning and running must see the session's count.
class ThreadScope {
 public:
  explicit ThreadScope(int threads) : previous_(omp_get_max_threads()), active_(threads > 0) {
    if (active_) omp_set_num_threads(threads);
  }
  ~ThreadScope() {
    if (active_) omp_set_num_threads(previous_);
  }

 private:
  int previous_;
  bool active_;
};

}  // namespace

struct Session::Impl {
  Graph graph;
  SessionOptions options;
  std::vector<IoInfo> inputs, outputs;

  mutable std::mutex cache_mutex;
  mutable std::map<PlanKey, std::shared_ptr<PlanEntry>> cache;
  mutable uint64_t clock = 0;

  std::shared_ptr<PlanEntry> entry_for(const std::vector<Shape>& shapes, bool observed) const {
    PlanKey key{shapes, observed};
    {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = cache.find(key);
      if (it != cache.end()) {
        it->second->last_used = ++clock;
        return it->second;
      }
    }
    auto entry = std::make_shared<PlanEntry>();
    prepare(*entry, shapes, observed);
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto [it, inserted] = cache.emplace(key, entry);
    it->second->last_used = ++clock;
    if (cache.size() > std::max<size_t>(options.max_cached_plans, 1)) {
      auto oldest = cache.begin();
      for (auto c = cache.begin(); c != cache.end(); ++c) {
        if (c->second->last_used < oldest->second->last_used) oldest = c;
      }
      if (oldest != it) cache.erase(oldest);
    }
    return it->second;
  }

  void prepare(PlanEntry& entry, const std::vector<Shape>& shapes, bool observed) const {
    Graph g = graph;
    std::map<std::string, Shape> by_name;
    for (size_t i = 0; i < shapes.size(); ++i) by_name[inputs[i].name] = shapes[i];
    specialize_input_shapes(g, by_name);
    if (observed) {
      for (const auto& [name, tensor] : g.initializers) {
        if (!graph.is_initializer(name)) entry.folded.emplace_back(name, tensor);
      }
    }
    if (!shapes_are_static(g)) {
      entry.eager_graph = std::move(g);
      return;
    }
    const bool fuse = options.fuse && !observed && options.fast_kernels;
    if (fuse) {
      // QDQ patterns become integer ops before the float fusions see their Conv/MatMul/Add.
      lower_qdq(g);
      apply_runtime_fusions(g, fusion_options());
    }
    eliminate_dead_nodes(g);
    PlanOptions po;
    po.fast_kernels = options.fast_kernels;
    po.blocked_layouts = options.fast_kernels;
    po.observable = observed;
    po.threads = options.threads > 0 ? options.threads : omp_get_max_threads();
    entry.plan = build_plan(std::move(g), po);
  }

  void check_inputs(const std::vector<Tensor>& values) const {
    QUENCH_CHECK(values.size() == inputs.size(), ErrorKind::kInvalidArgument,
                 "the model takes {} input(s), got {}", inputs.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const IoInfo& io = inputs[i];
      QUENCH_CHECK(values[i].defined(), ErrorKind::kInvalidArgument, "input '{}' is empty",
                   io.name);
      QUENCH_CHECK(values[i].dtype() == io.dtype, ErrorKind::kInvalidArgument,
                   "input '{}' expects element type {}, got {}", io.name, dtype_name(io.dtype),
                   dtype_name(values[i].dtype()));
      const Shape& got = values[i].shape();
      bool ok = got.size() == io.shape.size();
      for (size_t d = 0; ok && d < got.size(); ++d) {
        ok = !io.shape[d].known() || io.shape[d].value == got[d];
      }
      QUENCH_CHECK(ok, ErrorKind::kInvalidArgument, "input '{}' expects shape {}, got {}", io.name,
                   shape_str(io.shape), shape_str(got));
    }
  }
};

Session::Session(Model model, SessionOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  Graph& g = model.graph;
  prepare_session_graph(g, options.fuse && options.fast_kernels);
  for (const auto& name : g.inputs) {
    const ValueInfo* info = g.info(name);
    QUENCH_CHECK(info && info->dtype != DType::kUndefined && info->shape, ErrorKind::kUnsupported,
                 "input '{}' has no declared type and shape", name);
    impl_->inputs.push_back(IoInfo{name, info->dtype, *info->shape});
  }
  for (const auto& name : g.outputs) {
    const ValueInfo* info = g.info(name);
    impl_->outputs.push_back(IoInfo{name, info ? info->dtype : DType::kUndefined,
                                    info && info->shape ? *info->shape : SymbolicShape{}});
  }
  impl_->graph = std::move(g);
}

Session Session::load(const std::filesystem::path& path, SessionOptions options) {
  return Session(load_model(path), options);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const std::vector<IoInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<IoInfo>& Session::outputs() const { return impl_->outputs; }
const Graph& Session::graph() const { return impl_->graph; }

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs,
                                 const RunOptions& run_options) const {
  impl_->check_inputs(inputs);
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  const bool observed = static_cast<bool>(run_options.on_tensor);
  const ThreadScope threads(impl_->options.threads);
  std::shared_ptr<PlanEntry> entry = impl_->entry_for(shapes, observed);
  if (observed) {
    for (const auto& [name, tensor] : entry->folded) run_options.on_tensor(name, tensor);
  }
  if (!entry->plan) return run_eager(entry->eager_graph, inputs, run_options);
  const Plan& plan = *entry->plan;

  struct Lease {  // returns the state to the pool however the run ends
    PlanEntry& entry;
    std::unique_ptr<ExecState> state;
    ~Lease() { entry.release(std::move(state)); }
  } lease{*entry, entry->acquire()};
  ExecState* state = lease.state.get();

  for (size_t i = 0; i < plan.input_slots.size(); ++i) {
    state->slot_ptrs[plan.input_slots[i]] = const_cast<void*>(inputs[i].raw_data());
  }
  // Steps write graph outputs straight into the returned tensors; when two graph outputs name
  // the same value, or an output is an input or a constant, it is copied at the end.
  std::vector<Tensor> outputs(plan.output_slots.size());
  std::vector<bool> direct(plan.output_slots.size(), false);
  std::vector<bool> claimed(plan.slots.size(), false);
  for (size_t i = 0; i < plan.output_slots.size(); ++i) {
    const int id = plan.output_slots[i];
    const Slot& slot = plan.slots[id];
    outputs[i] = Tensor::empty(slot.dtype, slot.shape);
    if (slot.kind == Slot::Kind::kOutput && !claimed[id]) {
      claimed[id] = true;
      direct[i] = true;
      state->slot_ptrs[id] = outputs[i].raw_data();
    }
  }

  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step& step = plan.steps[s];
    state->in_ptrs.clear();
    state->out_ptrs.clear();
    for (int id : step.inputs) state->in_ptrs.push_back(id < 0 ? nullptr : state->slot_ptrs[id]);
    for (int id : step.outputs) state->out_ptrs.push_back(id < 0 ? nullptr : state->slot_ptrs[id]);
    const auto start = run_options.step_ms ? std::chrono::steady_clock::now()
                                           : std::chrono::steady_clock::time_point{};
    step.kernel->run(KernelArgs{state->in_ptrs.data(), state->out_ptrs.data(), state->scratch.get(),
                                state->kernel_states[s].get()});
    if (run_options.step_ms) {
      run_options.step_ms->resize(plan.steps.size(), 0.0);
      (*run_options.step_ms)[s] +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
    }
    if (observed && step.report) {
      for (size_t o = 0; o < step.outputs.size(); ++o) {
        const int id = step.outputs[o];
        if (id < 0) continue;
        const Slot& slot = plan.slots[id];
        void* data = state->out_ptrs[o];
        if (const Kernel* reorder = plan.observe_reorders[id].get()) {
          const void* from = data;
          void* to = state->observe_buffer.get();
          reorder->run(KernelArgs{&from, &to, nullptr, state->observe_states[id].get()});
          data = to;
        }
        run_options.on_tensor(slot.value, Tensor::wrap(slot.dtype, slot.shape, data));
      }
    }
  }
  for (size_t i = 0; i < plan.output_slots.size(); ++i) {
    if (direct[i]) continue;
    const void* src = state->slot_ptrs[plan.output_slots[i]];
    if (outputs[i].nbytes()) std::memcpy(outputs[i].raw_data(), src, outputs[i].nbytes());
  }
  return outputs;
}

std::vector<StepInfo> Session::plan_steps(const std::vector<Shape>& input_shapes) const {
  const ThreadScope threads(impl_->options.threads);
  std::shared_ptr<PlanEntry> entry = impl_->entry_for(input_shapes, false);
  std::vector<StepInfo> out;
  if (!entry->plan) {
    for (const Node& n : entry->eager_graph.nodes)
      out.push_back(StepInfo{n.name, n.op_type, "eager"});
    return out;
  }
  for (const Step& step : entry->plan->steps) {
    out.push_back(StepInfo{step.node, step.op_type, step.kernel->impl()});
  }
  return out;
}

size_t Session::arena_bytes(const std::vector<Shape>& input_shapes) const {
  const ThreadScope threads(impl_->options.threads);
  const auto entry = impl_->entry_for(input_shapes, false);
  return entry->plan ? entry->plan->arena_bytes : 0;
}

}  // namespace quench
