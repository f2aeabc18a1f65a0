// One entry per supported op: shape inference, the reference kernel, and the faster kernels
// backends register (runtime/kernel_registry.h adds them; op_registry() holds the ops alone).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/check.h"
#include "kernels/kernel.h"
#include "kernels/layout.h"
#include "quench/graph.h"

namespace quench {

// kInvalidModel naming `node`: "Conv 'c1': <message>" (what InferContext::fail says, for helpers
// shared by shape inference and kernel factories).
template <class... Args>
[[noreturn]] void fail_node(const Node& node, fmt::format_string<Args...> format, Args&&... args) {
  fail(ErrorKind::kInvalidModel, "{}: {}", node.describe(),
       fmt::format(format, std::forward<Args>(args)...));
}

// What shape inference sees of one node.
class InferContext {
 public:
  InferContext(const Node& node, int64_t opset, std::vector<const ValueInfo*> inputs,
               std::vector<const Tensor*> constants, std::vector<ValueInfo>& outputs)
      : node_(node),
        opset_(opset),
        inputs_(std::move(inputs)),
        constants_(std::move(constants)),
        outputs_(outputs) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  // kInvalidModel naming the node when input `i` is absent.
  const ValueInfo& input(size_t i) const;
  DType input_type(size_t i) const { return input(i).dtype; }
  // The input's shape, or nullptr when its rank is unknown.
  const SymbolicShape* input_shape(size_t i) const;
  // The input's value when it is known before running (initializer or folded constant).
  const Tensor* constant(size_t i) const { return i < constants_.size() ? constants_[i] : nullptr; }
  // kInvalidModel naming the node when it has no output `i` (a node whose outputs list is short;
  // found by fuzz_onnx_model: it escaped as std::out_of_range).
  ValueInfo& output(size_t i) {
    if (i >= outputs_.size()) fail("has {} output(s); output {} is required", outputs_.size(), i);
    return outputs_[i];
  }
  void set_output(size_t i, DType dtype, SymbolicShape shape) {
    if (i < outputs_.size()) {
      outputs_[i].dtype = dtype;
      outputs_[i].shape = std::move(shape);
    }
  }
  void set_output_type(size_t i, DType dtype) {
    if (i < outputs_.size()) outputs_[i].dtype = dtype;
  }

  // kInvalidModel / kShapeMismatch with the node named: "Conv node 'c1': <message>".
  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    quench::fail(ErrorKind::kInvalidModel, "{}: {}", node_.describe(),
                 fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  const Node& node_;
  int64_t opset_;
  std::vector<const ValueInfo*> inputs_;
  std::vector<const Tensor*> constants_;
  std::vector<ValueInfo>& outputs_;
};

// A runtime value as a kernel sees it when it is built: concrete type and shape.
struct TensorDesc {
  DType dtype = DType::kUndefined;
  Shape shape;
  const Tensor* constant = nullptr;  // set when the value is known at build time
  Layout layout;                     // inputs: how the producer stored it; outputs: kernel's choice

  bool present() const { return dtype != DType::kUndefined; }
  int rank() const { return static_cast<int>(shape.size()); }
  int64_t numel() const { return shape_numel(shape); }
};

struct KernelContext {
  const Node& node;
  int64_t opset;
  std::vector<TensorDesc> inputs;   // absent optional inputs have dtype kUndefined
  std::vector<TensorDesc> outputs;  // dtype and shape from shape inference
  int threads = 1;
  bool blocked_layouts = false;  // the kernel may choose blocked layouts for its outputs

  const TensorDesc& input(size_t i) const;  // kInvalidModel when absent
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].present(); }
  template <class... Args>
  [[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) const {
    quench::fail(kind, "{}: {}", node.describe(), fmt::format(format, std::forward<Args>(args)...));
  }
};

using InferFn = void (*)(InferContext&);
// Returns nullptr when this implementation does not handle the node's configuration.
using KernelFactory = std::unique_ptr<Kernel> (*)(KernelContext&);

struct FastKernel {
  std::string name;
  KernelFactory make;
  bool accepts_blocked_inputs = false;  // else the runtime reorders inputs to plain first
};

struct OpDef {
  std::string domain;  // "" for the default ONNX domain
  std::string op_type;
  int64_t min_opset = 1;  // oldest opset version whose semantics are implemented
  InferFn infer = nullptr;
  KernelFactory reference = nullptr;
  std::vector<FastKernel> fast;  // tried in order before the reference kernel
};

class OpRegistry {
 public:
  void add(OpDef def);
  void add_fast(std::string_view domain, std::string_view op_type, FastKernel kernel);
  const OpDef* find(std::string_view domain, std::string_view op_type) const;
  std::vector<const OpDef*> all() const;

 private:
  static std::string key(std::string_view domain, std::string_view op_type);
  std::unordered_map<std::string, OpDef> defs_;
};

// The registry with every built-in op and its reference kernel, built on first use. Shape
// inference, constant folding and evaluation use it; sessions use kernel_registry(), which adds the
// backends' fast kernels.
const OpRegistry& op_registry();

// Why `node` cannot run in quench, or "" when it can (unknown op, domain or opset too old).
std::string unsupported_reason(const Node& node, const Graph& graph);

}  // namespace quench
