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
                   "{}: \"nodes\" must map node names to \"skip\", \"uint8\" or \"int8\"", origin);
      for (const auto& [node, setting] : value.items()) {
        const std::string s = string_field(setting, "nodes", origin);
        if (s != "skip") activation_type_named(s, origin + ": node \"" + node + "\"");
        r.node_overrides[node] = s;
      }
    } else {
      fail(ErrorKind::kInvalidArgument,
           "{}: unknown recipe field \"{}\" (known: activations, weights, op_types, skip, "
           "skip_op_types, nodes)",
           origin, key);
    }
  }
  return r;
}

}  // namespace quench
