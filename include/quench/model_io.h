// Reading and writing ONNX files. No protobuf type appears in this interface.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "quench/graph.h"

namespace quench {

// Reads an ONNX model. External data is read from files next to the model; a location that is
// absolute or leaves the model's folder is refused.
Model load_model(const std::filesystem::path& path);
// Parses serialized ModelProto bytes. `base_dir` resolves external data (empty: none allowed).
// `origin` names the source in error messages.
Model parse_model(std::string_view bytes, const std::filesystem::path& base_dir = {},
                  std::string_view origin = "<memory>");

struct SaveOptions {
  // Store initializers of at least `external_threshold_bytes` in a side file named
  // `external_file` (default: "<model file name>.data"). Turned on automatically when the model
  // would exceed protobuf's 2 GiB limit.
  bool external_data = false;
  size_t external_threshold_bytes = 1024;
  std::string external_file;
};

// Writes atomically: to a temporary file in the same folder, then renamed over `path`.
void save_model(const Model& model, const std::filesystem::path& path,
                const SaveOptions& options = {});
std::string serialize_model(const Model& model);

// Runs the ONNX checker (libonnx) on the model; throws kInvalidModel with its message.
void check_model(const Model& model);

// What in the model is newer than this build's ONNX checker knows (its IR version, or an opset of
// a standard domain), e.g. "IR version 10 (the checker knows up to 8)"; empty when the checker
// can check the model. check_model() refuses such a model whatever its content.
std::string newer_than_checker(const Model& model);

// Reads a serialized onnx.TensorProto (the format of the ONNX backend test data).
Tensor load_tensor_proto(const std::filesystem::path& path);

}  // namespace quench
