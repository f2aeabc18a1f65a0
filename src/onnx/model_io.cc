#include "quench/model_io.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>

#include <climits>
#include <ostream>

#include "core/check.h"
#include "core/file_util.h"
#include "onnx/proto.h"

namespace quench {
namespace fs = std::filesystem;
using onnx_io::TensorSource;

namespace {

template <class Message>
void parse_or_fail(Message& message, std::string_view bytes, std::string_view origin,
                   std::string_view what) {
  QUENCH_CHECK(!bytes.empty(), ErrorKind::kInvalidModel, "'{}' is empty, not {}", origin, what);
  QUENCH_CHECK(bytes.size() < static_cast<size_t>(INT_MAX), ErrorKind::kUnsupported,
               "'{}' is {} bytes; protobuf messages are limited to 2 GiB (store weights as "
               "external data)",
               origin, bytes.size());
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  QUENCH_CHECK(message.ParseFromCodedStream(&stream) && stream.ConsumedEntireMessage(),
               ErrorKind::kInvalidModel,
               "'{}' is not {}: the protobuf data is malformed or truncated", origin, what);
}

}  // namespace

Model parse_model(std::string_view bytes, const fs::path& base_dir, std::string_view origin) {
  onnx::ModelProto proto;
  parse_or_fail(proto, bytes, origin, "an ONNX model");
  return onnx_io::model_from_proto(proto, TensorSource{base_dir, std::string(origin)});
}

Model load_model(const fs::path& path) {
  const std::string bytes = read_file(path, "model file");
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  return parse_model(bytes, dir, path.string());
}

std::string serialize_model(const Model& model) {
  return onnx_io::model_to_proto(model).SerializeAsString();
}

void save_model(const Model& model, const fs::path& path, const SaveOptions& options) {
  check_writable(path, "model");
  onnx::ModelProto proto = onnx_io::model_to_proto(model);
  bool external = options.external_data;
  if (!external && proto.ByteSizeLong() >= static_cast<size_t>(INT_MAX)) external = true;
  if (!external) {
    write_file_atomic(path, proto.SerializeAsString());
    return;
  }
  const std::string data_name =
      options.external_file.empty() ? path.filename().string() + ".data" : options.external_file;
  QUENCH_CHECK(fs::path(data_name).filename() == fs::path(data_name), ErrorKind::kInvalidArgument,
               "external data file name '{}' must be a plain file name", data_name);
  const fs::path data_path = path.parent_path() / data_name;
  // Move large initializers out of the proto into the side file, recording their locations.
  write_file_atomic(data_path, [&](std::ostream& out) {
    uint64_t offset = 0;
    for (auto& t : *proto.mutable_graph()->mutable_initializer()) {
      if (t.raw_data().size() < options.external_threshold_bytes) continue;
      const std::string raw = std::move(*t.mutable_raw_data());
      t.clear_raw_data();
      t.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
      auto add = [&](const char* key, const std::string& value) {
        auto* e = t.add_external_data();
        e->set_key(key);
        e->set_value(value);
      };
      add("location", data_name);
      add("offset", std::to_string(offset));
      add("length", std::to_string(raw.size()));
      out.write(raw.data(), static_cast<std::streamsize>(raw.size()));
      offset += raw.size();
      // Keep each tensor 64-byte aligned in the file so that it can be memory-mapped.
      const uint64_t pad = (64 - offset % 64) % 64;
      for (uint64_t i = 0; i < pad; ++i) out.put('\0');
      offset += pad;
    }
  });
  write_file_atomic(path, proto.SerializeAsString());
}

void check_model(const Model& model) {
  const onnx::ModelProto proto = onnx_io::model_to_proto(model);
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    fail(ErrorKind::kInvalidModel, "ONNX checker: {}", e.what());
  }
}

std::string newer_than_checker(const Model& model) {
  std::vector<std::string> newer;
  if (model.ir_version > onnx::IR_VERSION) {
    newer.push_back(fmt::format("IR version {} (the checker knows up to {})", model.ir_version,
                                static_cast<int>(onnx::IR_VERSION)));
  }
  const auto& known = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto& [domain, version] : model.graph.opsets) {
    // Domains the checker has no schemas for (com.microsoft, ...) are not checked by it.
    const auto it = known.find(domain == "ai.onnx" ? "" : domain);
    if (it != known.end() && version > it->second.second) {
      newer.push_back(fmt::format("opset {} of '{}' (the checker knows up to {})", version,
                                  domain.empty() ? "ai.onnx" : domain, it->second.second));
    }
  }
  return fmt::format("{}", fmt::join(newer, ", "));
}

Tensor load_tensor_proto(const fs::path& path) {
  const std::string bytes = read_file(path, "tensor file");
  onnx::TensorProto proto;
  parse_or_fail(proto, bytes, path.string(), "a serialized ONNX tensor");
  fs::path dir = path.parent_path();
  return onnx_io::tensor_from_proto(proto, TensorSource{dir.empty() ? "." : dir, path.string()});
}

}  // namespace quench
