#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file_util.h"
#include "quench/quantize.h"

namespace quench {

const std::set<std::string>& default_quantized_ops() {
  static const std::set<std::string> ops = {
      // compute: integer kernels in the INT8 runtime
      "Conv", "Gemm", "MatMul", "Add", "Mul",
      // pooling and concatenation
      "MaxPool", "AveragePool", "GlobalAveragePool", "Concat",
      // activations (fused into the producer when they follow one)
      "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
      // data movement: the output keeps the input's scale and zero point
      "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Slice"};
  return ops;
}

const std::set<std::string>& default_dynamic_ops() {
  static const std::set<std::string> ops = {"MatMul", "Gemm", "Conv", "LSTM", "GRU"};
  return ops;
}

namespace {

using json = nlohmann::json;

std::string string_field(const json& j, const char* key, const std::string& origin) {
  QUENCH_CHECK(j.is_string(), ErrorKind::kInvalidArgument, "{}: \"{}\" must be a string", origin,
               key);
  return j.get<std::string>();
}

std::vector<std::string> string_list(const json& j, const char* key, const std::string& origin) {
  QUENCH_CHECK(j.is_array(), ErrorKind::kInvalidArgument, "{}: \"{}\" must be a list of strings",
               origin, key);
  std::vector<std::string> out;
  for (const auto& v : j) out.push_back(string_field(v, key, origin));
  return out;
}

DType activation_type_named(const std::string& name, const std::string& where) {
  if (name == "uint8" || name == "u8") return DType::kUInt8;
  if (name == "int8" || name == "s8") return DType::kInt8;
  fail(ErrorKind::kInvalidArgument, "{}: activation type must be \"uint8\" or \"int8\", got \"{}\"",
       where, name);
}

// A node's setting in "nodes": "skip", an activation type, or an object with "activations"
// and/or "weight_bits".
void read_node_setting(const std::string& node, const json& setting, const std::string& origin,
                       QuantRecipe& r) {
  const std::string where = origin + ": node \"" + node + "\"";
  if (setting.is_string()) {
    const std::string s = setting.get<std::string>();
    if (s != "skip") activation_type_named(s, where);
    r.node_overrides[node] = s;
    return;
  }
  QUENCH_CHECK(setting.is_object(), ErrorKind::kInvalidArgument,
               "{}: a node's setting is \"skip\", \"uint8\", \"int8\" or an object with "
               "\"activations\" and/or \"weight_bits\"",
               where);
  for (const auto& [key, value] : setting.items()) {
    if (key == "activations") {
      const std::string s = string_field(value, "activations", where);
      activation_type_named(s, where);
      r.node_overrides[node] = s;
    } else if (key == "weight_bits") {
      QUENCH_CHECK(
          value.is_number_integer() && value.get<int64_t>() >= 2 && value.get<int64_t>() <= 8,
          ErrorKind::kInvalidArgument, "{}: \"weight_bits\" must be an integer from 2 to 8, got {}",
          where, value.dump());
      r.node_weight_bits[node] = value.get<int>();
    } else {
      fail(ErrorKind::kInvalidArgument,
           "{}: unknown field \"{}\" (known: activations, weight_bits)", where, key);
    }
  }
}

}  // namespace

QuantRecipe QuantRecipe::load(const std::filesystem::path& path) {
  const std::string origin = path.string();
  const std::string text = read_file(path, "recipe file");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorKind::kInvalidArgument, "{}: not valid JSON: {}", origin, e.what());
  }
  QUENCH_CHECK(j.is_object(), ErrorKind::kInvalidArgument, "{}: a recipe is a JSON object", origin);
  QuantRecipe r;
  for (const auto& [key, value] : j.items()) {
    if (key == "activations") {
      r.activation_type = activation_type_named(string_field(value, "activations", origin), origin);
    } else if (key == "weights") {
      const std::string w = string_field(value, "weights", origin);
      QUENCH_CHECK(w == "per_channel" || w == "per_tensor", ErrorKind::kInvalidArgument,
                   "{}: \"weights\" must be \"per_channel\" or \"per_tensor\", got \"{}\"", origin,
                   w);
      r.per_channel = w == "per_channel";
    } else if (key == "op_types") {
      for (const auto& op : string_list(value, "op_types", origin)) r.op_types.insert(op);
    } else if (key == "skip") {
      r.skip_nodes = string_list(value, "skip", origin);
    } else if (key == "skip_op_types") {
      for (const auto& op : string_list(value, "skip_op_types", origin)) r.skip_op_types.insert(op);
    } else if (key == "nodes") {
      QUENCH_CHECK(value.is_object(), ErrorKind::kInvalidArgument,
                   "{}: \"nodes\" must map node names to settings", origin);
      for (const auto& [node, setting] : value.items()) read_node_setting(node, setting, origin, r);
    } else {
      fail(ErrorKind::kInvalidArgument,
           "{}: unknown recipe field \"{}\" (known: activations, weights, op_types, skip, "
           "skip_op_types, nodes)",
           origin, key);
    }
  }
  return r;
}

QuantRecipe QuantRecipe::with_options(const std::string& file, const std::vector<std::string>& skip,
                                      const std::vector<std::string>& skip_ops,
                                      const std::string& act, bool per_tensor) {
  QuantRecipe r = file.empty() ? QuantRecipe{} : load(file);
  r.skip_nodes.insert(r.skip_nodes.end(), skip.begin(), skip.end());
  r.skip_op_types.insert(skip_ops.begin(), skip_ops.end());
  if (!act.empty()) {
    QUENCH_CHECK(act == "u8" || act == "s8" || act == "uint8" || act == "int8",
                 ErrorKind::kInvalidArgument, "--act expects u8 or s8, got '{}'", act);
    r.activation_type = act == "s8" || act == "int8" ? DType::kInt8 : DType::kUInt8;
  }
  if (per_tensor) r.per_channel = false;
  return r;
}

int QuantRecipe::weight_bits_of(const std::string& name) const {
  const auto it = node_weight_bits.find(name);
  return it == node_weight_bits.end() ? weight_bits : it->second;
}

}  // namespace quench
