#include "quench/graph.h"

#include <unordered_set>

#include "core/check.h"

namespace quench {

std::string dim_str(const Dim& d) {
  if (d.known()) return std::to_string(d.value);
  return d.param.empty() ? "?" : d.param;
}

std::string shape_str(const SymbolicShape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += dim_str(shape[i]);
  }
  return s + "]";
}

std::optional<Shape> concrete(const SymbolicShape& shape) {
  Shape out;
  out.reserve(shape.size());
  for (const Dim& d : shape) {
    if (!d.known()) return std::nullopt;
    out.push_back(d.value);
  }
  return out;
}

SymbolicShape symbolic(const Shape& shape) { return SymbolicShape(shape.begin(), shape.end()); }

bool Node::has_attr(std::string_view key) const {
  return attributes.find(std::string(key)) != attributes.end();
}

namespace {

template <class T>
const T* get_attr(const Node& node, std::string_view key, std::string_view type_name) {
  auto it = node.attributes.find(std::string(key));
  if (it == node.attributes.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second.value);
  QUENCH_CHECK(v != nullptr, ErrorKind::kInvalidModel, "{}: attribute '{}' should be {}",
               node.describe(), key, type_name);
  return v;
}

}  // namespace

int64_t Node::attr_int(std::string_view key, int64_t fallback) const {
  const auto* v = get_attr<int64_t>(*this, key, "an int");
  return v ? *v : fallback;
}

float Node::attr_float(std::string_view key, float fallback) const {
  const auto* v = get_attr<float>(*this, key, "a float");
  return v ? *v : fallback;
}

std::string Node::attr_string(std::string_view key, std::string fallback) const {
  const auto* v = get_attr<std::string>(*this, key, "a string");
  return v ? *v : fallback;
}

std::vector<int64_t> Node::attr_ints(std::string_view key, std::vector<int64_t> fallback) const {
  const auto* v = get_attr<std::vector<int64_t>>(*this, key, "a list of ints");
  return v ? *v : fallback;
}

std::vector<float> Node::attr_floats(std::string_view key, std::vector<float> fallback) const {
  const auto* v = get_attr<std::vector<float>>(*this, key, "a list of floats");
  return v ? *v : fallback;
}

std::vector<std::string> Node::attr_strings(std::string_view key) const {
  const auto* v = get_attr<std::vector<std::string>>(*this, key, "a list of strings");
  return v ? *v : std::vector<std::string>{};
}

const Tensor* Node::attr_tensor(std::string_view key) const {
  return get_attr<Tensor>(*this, key, "a tensor");
}

int64_t Node::require_int(std::string_view key) const {
  const auto* v = get_attr<int64_t>(*this, key, "an int");
  QUENCH_CHECK(v != nullptr, ErrorKind::kInvalidModel, "{}: required attribute '{}' is missing",
               describe(), key);
  return *v;
}

std::vector<int64_t> Node::require_ints(std::string_view key) const {
  const auto* v = get_attr<std::vector<int64_t>>(*this, key, "a list of ints");
  QUENCH_CHECK(v != nullptr, ErrorKind::kInvalidModel, "{}: required attribute '{}' is missing",
               describe(), key);
  return *v;
}

void Node::set_attr(std::string key, AttributeValue value) {
  attributes[std::move(key)].value = std::move(value);
}

const std::string& Node::input(size_t i) const {
  static const std::string kEmpty;
  return i < inputs.size() ? inputs[i] : kEmpty;
}

std::string Node::describe() const {
  std::string op = domain.empty() ? op_type : domain + "." + op_type;
  return name.empty() ? fmt::format("{} node (output '{}')", op, outputs.empty() ? "" : outputs[0])
                      : fmt::format("{} node '{}'", op, name);
}

int64_t Graph::opset(std::string_view domain) const {
  std::string key(domain == "ai.onnx" ? "" : domain);
  auto it = opsets.find(key);
  return it == opsets.end() ? 0 : it->second;
}

const Tensor* Graph::initializer(const std::string& value) const {
  auto it = initializers.find(value);
  return it == initializers.end() ? nullptr : &it->second;
}

const ValueInfo* Graph::info(const std::string& value) const {
  auto it = values.find(value);
  return it == values.end() ? nullptr : &it->second;
}

std::string Graph::unique_name(std::string_view base) const {
  std::unordered_set<std::string> used;
  for (const Node& n : nodes) {
    used.insert(n.name);
    for (const auto& o : n.outputs) used.insert(o);
    for (const auto& i : n.inputs) used.insert(i);
  }
  for (const auto& i : inputs) used.insert(i);
  for (const auto& [k, _] : initializers) used.insert(k);
  for (const auto& [k, _] : values) used.insert(k);
  std::string candidate(base);
  for (int i = 1; used.count(candidate) != 0; ++i) candidate = fmt::format("{}_{}", base, i);
  return candidate;
}

}  // namespace quench
