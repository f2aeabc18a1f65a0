// The graph IR every stage reads and writes: nodes refer to values by name, as in ONNX.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "quench/tensor.h"

namespace quench {

// One dimension of a value's shape: a known size (>= 0), or unknown (-1) with an optional
// symbolic name such as "N".
struct Dim {
  int64_t value = -1;
  std::string param;

  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: a size converts to a Dim
  Dim(std::string p) : param(std::move(p)) {}
  bool known() const { return value >= 0; }
  bool operator==(const Dim&) const = default;
};
using SymbolicShape = std::vector<Dim>;

std::string dim_str(const Dim& d);
std::string shape_str(const SymbolicShape& shape);
// The concrete shape, if every dim is known.
std::optional<Shape> concrete(const SymbolicShape& shape);
SymbolicShape symbolic(const Shape& shape);

// Type and shape of a value. `shape` is empty when the rank is unknown.
struct ValueInfo {
  DType dtype = DType::kUndefined;
  std::optional<SymbolicShape> shape;
  std::string doc_string;
};

// An attribute whose ONNX type quench does not interpret (graph, sparse tensor, type proto):
// kept as the serialized AttributeProto so that export reproduces it.
struct OpaqueAttribute {
  std::string serialized;
};

using AttributeValue =
    std::variant<int64_t, float, std::string, Tensor, std::vector<int64_t>, std::vector<float>,
                 std::vector<std::string>, std::vector<Tensor>, OpaqueAttribute>;

struct Attribute {
  AttributeValue value;
  std::string doc_string;
  std::string ref_attr_name;  // for attributes inside functions; kept for round trips
};

class Node {
 public:
  std::string name;
  std::string op_type;
  std::string domain;                // "" is the default ONNX domain ("ai.onnx")
  std::vector<std::string> inputs;   // "" marks an absent optional input
  std::vector<std::string> outputs;  // "" marks an absent optional output
  std::map<std::string, Attribute> attributes;
  std::string doc_string;

  bool has_attr(std::string_view key) const;
  // Typed getters: the default when absent; kInvalidModel when present with another type.
  int64_t attr_int(std::string_view key, int64_t fallback) const;
  float attr_float(std::string_view key, float fallback) const;
  std::string attr_string(std::string_view key, std::string fallback) const;
  std::vector<int64_t> attr_ints(std::string_view key, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(std::string_view key, std::vector<float> fallback = {}) const;
  std::vector<std::string> attr_strings(std::string_view key) const;
  const Tensor* attr_tensor(std::string_view key) const;  // nullptr when absent
  // Required variants: kInvalidModel naming the node when absent.
  int64_t require_int(std::string_view key) const;
  std::vector<int64_t> require_ints(std::string_view key) const;

  void set_attr(std::string key, AttributeValue value);

  // The input at `i`, or "" when the node has fewer inputs.
  const std::string& input(size_t i) const;
  bool has_input(size_t i) const { return !input(i).empty(); }
  // "Conv 'conv1'" — used in error messages.
  std::string describe() const;
};

class Graph {
 public:
  std::string name;
  std::string doc_string;
  std::vector<Node> nodes;
  std::vector<std::string> inputs;   // graph inputs fed at run time (not initializers)
  std::vector<std::string> outputs;  // graph outputs
  std::map<std::string, Tensor> initializers;
  std::unordered_map<std::string, ValueInfo> values;  // type/shape of any named value
  std::map<std::string, int64_t> opsets;              // domain -> opset version

  // The opset version the graph imports for `domain` (0 when not imported).
  int64_t opset(std::string_view domain) const;
  bool is_initializer(const std::string& value) const { return initializers.count(value) != 0; }
  const Tensor* initializer(const std::string& value) const;
  const ValueInfo* info(const std::string& value) const;
  ValueInfo& info_mut(const std::string& value) { return values[value]; }
  // A value name not yet used in the graph, starting from `base`.
  std::string unique_name(std::string_view base) const;
};

struct Model {
  Graph graph;
  int64_t ir_version = 8;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata;
  // Model-local functions and training info, kept serialized for export.
  std::vector<std::string> opaque_functions;
  std::vector<std::string> opaque_training_info;
};

}  // namespace quench
