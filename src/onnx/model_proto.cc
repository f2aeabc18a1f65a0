#include <unordered_set>

#include "core/check.h"
#include "core/resource_check.h"
#include "onnx/proto.h"

namespace quench::onnx_io {

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& proto, const std::string& origin,
                                bool required) {
  ValueInfo info;
  info.doc_string = proto.doc_string();
  if (!proto.has_type()) return info;
  const auto& type = proto.type();
  if (!type.has_tensor_type()) {
    QUENCH_CHECK(!required, ErrorKind::kUnsupported,
                 "{}: graph input/output '{}' is not a tensor (sequence, map, optional and sparse "
                 "values are not supported)",
                 origin, proto.name());
    return info;
  }
  const auto& tt = type.tensor_type();
  const int32_t elem = tt.elem_type();
  if (elem != 0) {
    QUENCH_CHECK(dtype_is_known(elem), ErrorKind::kInvalidModel,
                 "{}: value '{}' has invalid element type {}", origin, proto.name(), elem);
    info.dtype = static_cast<DType>(elem);
  }
  if (tt.has_shape()) {
    SymbolicShape shape;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        QUENCH_CHECK(d.dim_value() >= 0, ErrorKind::kInvalidModel,
                     "{}: value '{}' has a negative dimension {}", origin, proto.name(),
                     d.dim_value());
        shape.emplace_back(d.dim_value());
      } else if (d.has_dim_param()) {
        shape.emplace_back(d.dim_param());
      } else {
        shape.emplace_back();
      }
    }
    info.shape = std::move(shape);
  }
  return info;
}

void value_info_to_proto(const std::string& name, const ValueInfo& info,
                         onnx::ValueInfoProto* proto) {
  proto->set_name(name);
  if (!info.doc_string.empty()) proto->set_doc_string(info.doc_string);
  auto* tt = proto->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(info.dtype));
  if (info.shape) {
    auto* shape = tt->mutable_shape();
    for (const Dim& d : *info.shape) {
      auto* dim = shape->add_dim();
      if (d.known()) {
        dim->set_dim_value(d.value);
      } else if (!d.param.empty()) {
        dim->set_dim_param(d.param);
      }
    }
  }
}

Attribute attribute_from_proto(const onnx::AttributeProto& proto, const TensorSource& source) {
  using AP = onnx::AttributeProto;
  Attribute attr;
  attr.doc_string = proto.doc_string();
  attr.ref_attr_name = proto.ref_attr_name();
  switch (proto.type()) {
    case AP::FLOAT:
      attr.value = proto.f();
      break;
    case AP::INT:
      attr.value = proto.i();
      break;
    case AP::STRING:
      attr.value = proto.s();
      break;
    case AP::TENSOR:
      attr.value = tensor_from_proto(proto.t(), source);
      break;
    case AP::FLOATS:
      attr.value = std::vector<float>(proto.floats().begin(), proto.floats().end());
      break;
    case AP::INTS:
      attr.value = std::vector<int64_t>(proto.ints().begin(), proto.ints().end());
      break;
    case AP::STRINGS:
      attr.value = std::vector<std::string>(proto.strings().begin(), proto.strings().end());
      break;
    case AP::TENSORS: {
      std::vector<Tensor> tensors;
      for (const auto& t : proto.tensors()) tensors.push_back(tensor_from_proto(t, source));
      attr.value = std::move(tensors);
      break;
    }
    case AP::UNDEFINED:
      fail(ErrorKind::kInvalidModel, "{}: attribute '{}' has no type", source.origin, proto.name());
    default:
      attr.value = OpaqueAttribute{proto.SerializeAsString()};
      break;
  }
  return attr;
}

void attribute_to_proto(const std::string& name, const Attribute& attr,
                        onnx::AttributeProto* proto) {
  using AP = onnx::AttributeProto;
  if (const auto* opaque = std::get_if<OpaqueAttribute>(&attr.value)) {
    proto->ParseFromString(opaque->serialized);
    return;
  }
  proto->set_name(name);
  if (!attr.doc_string.empty()) proto->set_doc_string(attr.doc_string);
  if (!attr.ref_attr_name.empty()) proto->set_ref_attr_name(attr.ref_attr_name);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          proto->set_type(AP::INT);
          proto->set_i(v);
        } else if constexpr (std::is_same_v<T, float>) {
          proto->set_type(AP::FLOAT);
          proto->set_f(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          proto->set_type(AP::STRING);
          proto->set_s(v);
        } else if constexpr (std::is_same_v<T, Tensor>) {
          proto->set_type(AP::TENSOR);
          tensor_to_proto(v, proto->mutable_t());
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          proto->set_type(AP::INTS);
          for (auto x : v) proto->add_ints(x);
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          proto->set_type(AP::FLOATS);
          for (auto x : v) proto->add_floats(x);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          proto->set_type(AP::STRINGS);
          for (const auto& x : v) proto->add_strings(x);
        } else if constexpr (std::is_same_v<T, std::vector<Tensor>>) {
          proto->set_type(AP::TENSORS);
          for (const auto& x : v) tensor_to_proto(x, proto->add_tensors());
        }
      },
      attr.value);
}

Model model_from_proto(const onnx::ModelProto& proto, const TensorSource& source) {
  const std::string& origin = source.origin;
  QUENCH_CHECK(proto.has_graph(), ErrorKind::kInvalidModel,
               "{}: not an ONNX model (it has no graph)", origin);
  QUENCH_CHECK(proto.ir_version() > 0, ErrorKind::kInvalidModel,
               "{}: not an ONNX model (ir_version is missing)", origin);
  Model model;
  model.ir_version = proto.ir_version();
  model.producer_name = proto.producer_name();
  model.producer_version = proto.producer_version();
  model.domain = proto.domain();
  model.model_version = proto.model_version();
  model.doc_string = proto.doc_string();
  for (const auto& kv : proto.metadata_props()) model.metadata.emplace_back(kv.key(), kv.value());
  for (const auto& f : proto.functions()) model.opaque_functions.push_back(f.SerializeAsString());
  for (const auto& t : proto.training_info()) {
    model.opaque_training_info.push_back(t.SerializeAsString());
  }

  Graph& g = model.graph;
  for (const auto& op : proto.opset_import()) {
    const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    g.opsets[domain] = op.version();
  }
  if (g.opsets.empty()) g.opsets[""] = 1;  // IR version 1 models imply the default domain

  const auto& gp = proto.graph();
  g.name = gp.name();
  g.doc_string = gp.doc_string();
  QUENCH_CHECK(gp.sparse_initializer_size() == 0, ErrorKind::kUnsupported,
               "{}: sparse initializers are not supported", origin);
  for (const auto& t : gp.initializer()) {
    QUENCH_CHECK(!t.name().empty(), ErrorKind::kInvalidModel, "{}: an initializer has no name",
                 origin);
    QUENCH_CHECK(g.initializers.count(t.name()) == 0, ErrorKind::kInvalidModel,
                 "{}: initializer '{}' is defined twice", origin, t.name());
    Tensor tensor = tensor_from_proto(t, source);
    ValueInfo& info = g.values[t.name()];
    info.dtype = tensor.dtype();
    info.shape = symbolic(tensor.shape());
    g.initializers.emplace(t.name(), std::move(tensor));
  }
  for (const auto& vi : gp.input()) {
    QUENCH_CHECK(!vi.name().empty(), ErrorKind::kInvalidModel, "{}: a graph input has no name",
                 origin);
    if (g.is_initializer(vi.name())) continue;  // pre-IR-4 style: initializers listed as inputs
    g.inputs.push_back(vi.name());
    g.values[vi.name()] = value_info_from_proto(vi, origin, true);
  }
  for (const auto& vi : gp.output()) {
    QUENCH_CHECK(!vi.name().empty(), ErrorKind::kInvalidModel, "{}: a graph output has no name",
                 origin);
    g.outputs.push_back(vi.name());
    ValueInfo info = value_info_from_proto(vi, origin, true);
    if (!g.is_initializer(vi.name())) g.values[vi.name()] = std::move(info);
  }
  for (const auto& vi : gp.value_info()) {
    if (g.is_initializer(vi.name())) continue;
    g.values[vi.name()] = value_info_from_proto(vi, origin, false);
  }
  check_node_count(gp.node_size(), fmt::format("{}: graph '{}'", origin, gp.name()));
  g.nodes.reserve(gp.node_size());
  for (const auto& np : gp.node()) {
    Node node;
    node.name = np.name();
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    node.doc_string = np.doc_string();
    node.inputs.assign(np.input().begin(), np.input().end());
    node.outputs.assign(np.output().begin(), np.output().end());
    QUENCH_CHECK(!node.op_type.empty(), ErrorKind::kInvalidModel, "{}: node '{}' has no op_type",
                 origin, node.name);
    for (const auto& ap : np.attribute()) {
      QUENCH_CHECK(!ap.name().empty(), ErrorKind::kInvalidModel,
                   "{}: {} has an attribute without a name", origin, node.describe());
      QUENCH_CHECK(node.attributes.count(ap.name()) == 0, ErrorKind::kInvalidModel,
                   "{}: {} has attribute '{}' twice", origin, node.describe(), ap.name());
      node.attributes.emplace(ap.name(), attribute_from_proto(ap, source));
    }
    g.nodes.push_back(std::move(node));
  }
  return model;
}

onnx::ModelProto model_to_proto(const Model& model) {
  onnx::ModelProto proto;
  // Initializers are no longer listed as graph inputs from IR version 4 on; keep at least that.
  proto.set_ir_version(model.ir_version);
  if (!model.producer_name.empty()) proto.set_producer_name(model.producer_name);
  if (!model.producer_version.empty()) proto.set_producer_version(model.producer_version);
  if (!model.domain.empty()) proto.set_domain(model.domain);
  if (model.model_version) proto.set_model_version(model.model_version);
  if (!model.doc_string.empty()) proto.set_doc_string(model.doc_string);
  for (const auto& [k, v] : model.metadata) {
    auto* kv = proto.add_metadata_props();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& f : model.opaque_functions) proto.add_functions()->ParseFromString(f);
  for (const auto& t : model.opaque_training_info) proto.add_training_info()->ParseFromString(t);

  const Graph& g = model.graph;
  for (const auto& [domain, version] : g.opsets) {
    auto* op = proto.add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }
  auto* gp = proto.mutable_graph();
  gp->set_name(g.name.empty() ? "main" : g.name);
  if (!g.doc_string.empty()) gp->set_doc_string(g.doc_string);
  static const ValueInfo kUnknown;
  auto info_or_unknown = [&](const std::string& name) -> const ValueInfo& {
    const ValueInfo* info = g.info(name);
    return info ? *info : kUnknown;
  };
  for (const auto& name : g.inputs)
    value_info_to_proto(name, info_or_unknown(name), gp->add_input());
  if (model.ir_version < 4) {
    for (const auto& [name, t] : g.initializers) {
      value_info_to_proto(name, ValueInfo{t.dtype(), symbolic(t.shape()), ""}, gp->add_input());
    }
  }
  for (const auto& name : g.outputs) {
    if (const Tensor* t = g.initializer(name)) {
      value_info_to_proto(name, ValueInfo{t->dtype(), symbolic(t->shape()), ""}, gp->add_output());
    } else {
      value_info_to_proto(name, info_or_unknown(name), gp->add_output());
    }
  }
  for (const auto& [name, t] : g.initializers) {
    auto* tp = gp->add_initializer();
    tp->set_name(name);
    tensor_to_proto(t, tp);
  }
  std::unordered_set<std::string> io(g.inputs.begin(), g.inputs.end());
  io.insert(g.outputs.begin(), g.outputs.end());
  for (const Node& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    if (!n.doc_string.empty()) np->set_doc_string(n.doc_string);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [key, attr] : n.attributes) attribute_to_proto(key, attr, np->add_attribute());
    for (const auto& o : n.outputs) {
      if (o.empty() || io.count(o)) continue;
      const ValueInfo* info = g.info(o);
      if (info && info->dtype != DType::kUndefined)
        value_info_to_proto(o, *info, gp->add_value_info());
    }
  }
  return proto;
}

}  // namespace quench::onnx_io
