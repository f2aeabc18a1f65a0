// Conversions between onnx protobuf messages and quench types. Only src/onnx/ includes this.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>

#include "quench/graph.h"

namespace quench::onnx_io {

// Where a tensor comes from, for external data and error messages.
struct TensorSource {
  std::filesystem::path base_dir;  // folder that external data must stay inside (empty: refuse)
  std::string origin;              // model file name, for messages
};

Tensor tensor_from_proto(const onnx::TensorProto& proto, const TensorSource& source);
// Fills `proto` (name untouched) with the tensor's type, dims and raw data.
void tensor_to_proto(const Tensor& tensor, onnx::TensorProto* proto);

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& proto, const std::string& origin,
                                bool required);
void value_info_to_proto(const std::string& name, const ValueInfo& info,
                         onnx::ValueInfoProto* proto);

Attribute attribute_from_proto(const onnx::AttributeProto& proto, const TensorSource& source);
void attribute_to_proto(const std::string& name, const Attribute& attr,
                        onnx::AttributeProto* proto);

onnx::ModelProto model_to_proto(const Model& model);
Model model_from_proto(const onnx::ModelProto& proto, const TensorSource& source);

}  // namespace quench::onnx_io
