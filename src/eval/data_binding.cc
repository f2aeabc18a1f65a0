#include <limits>

#include "core/check.h"
#include "quench/evaluate.h"

namespace quench {
namespace {

bool is_integer(DType t) {
  const DTypeInfo& info = dtype_info(t);
  return info.supported && !info.is_float && t != DType::kString && info.bits >= 8;
}

template <class T>
void narrow(const int64_t* src, int64_t count, const std::string& input, T* dst) {
  for (int64_t i = 0; i < count; ++i) {
    QUENCH_CHECK(
        src[i] >= static_cast<int64_t>(std::numeric_limits<T>::lowest()) &&
            static_cast<uint64_t>(src[i]) <= static_cast<uint64_t>(std::numeric_limits<T>::max()),
        ErrorKind::kInvalidArgument, "value {} for input '{}' does not fit its type {}", src[i],
        input, dtype_name(dtype_of<T>));
    dst[i] = static_cast<T>(src[i]);
  }
}

Tensor convert_integers(const Tensor& values, DType type, const std::string& input) {
  Tensor out = Tensor::empty(type, values.shape());
  const int64_t* src = values.data<int64_t>();
  const int64_t n = values.numel();
  switch (type) {
    case DType::kInt32:
      narrow(src, n, input, out.data<int32_t>());
      break;
    case DType::kUInt32:
      narrow(src, n, input, out.data<uint32_t>());
      break;
    case DType::kInt16:
      narrow(src, n, input, out.data<int16_t>());
      break;
    case DType::kUInt16:
      narrow(src, n, input, out.data<uint16_t>());
      break;
    case DType::kInt8:
      narrow(src, n, input, out.data<int8_t>());
      break;
    case DType::kUInt8:
      narrow(src, n, input, out.data<uint8_t>());
      break;
    case DType::kBool:
      for (int64_t i = 0; i < n; ++i) out.data<bool>()[i] = src[i] != 0;
      break;
    default:
      fail(ErrorKind::kInvalidArgument, "input '{}' of type {} cannot take integer data", input,
           dtype_name(type));
  }
  return out;
}

}  // namespace

DataBinding::DataBinding(const Session& session, const Dataset& data,
                         const std::string& data_name) {
  const std::vector<IoInfo>& model = session.inputs();
  const std::vector<DataInput> given = data.inputs();
  QUENCH_CHECK(!model.empty(), ErrorKind::kInvalidArgument, "the model has no inputs");
  std::string model_names;
  for (const IoInfo& in : model) model_names += (model_names.empty() ? "" : ", ") + in.name;
  const bool unnamed = given.size() == 1 && given[0].name.empty();
  QUENCH_CHECK(!unnamed || model.size() == 1, ErrorKind::kInvalidArgument,
               "{} gives one unnamed input, but the model takes {} ({}): name each input, e.g. "
               "npy:{}=A.npy,...",
               data_name, model.size(), model_names, model[0].name);
  for (const IoInfo& in : model) {
    size_t found = given.size();
    for (size_t i = 0; i < given.size(); ++i) {
      if (unnamed || given[i].name == in.name) found = i;
    }
    QUENCH_CHECK(found < given.size(), ErrorKind::kInvalidArgument,
                 "{} has nothing for model input '{}' (the model takes {})", data_name, in.name,
                 model_names);
    const DataInput& d = given[found];
    bool ok = in.shape.size() == d.sample_shape.size() + 1;
    for (size_t k = 0; ok && k < d.sample_shape.size(); ++k) {
      ok = !in.shape[k + 1].known() || in.shape[k + 1].value == d.sample_shape[k];
    }
    QUENCH_CHECK(ok, ErrorKind::kInvalidArgument,
                 "samples of {} have shape {}, but model input '{}' expects {} (batch first)",
                 data_name, shape_str(d.sample_shape), in.name, shape_str(in.shape));
    const bool same = d.dtype == in.dtype;
    const bool converts = d.dtype == DType::kInt64 && is_integer(in.dtype);
    QUENCH_CHECK(same || converts, ErrorKind::kInvalidArgument,
                 "model input '{}' expects {}, but {} delivers {} samples for it", in.name,
                 dtype_name(in.dtype), data_name, dtype_name(d.dtype));
    source_.push_back(found);
    types_.push_back(in.dtype);
    names_.push_back(in.name);
  }
  for (size_t i = 0; i < given.size(); ++i) {
    bool used = false;
    for (size_t s : source_) used |= s == i;
    QUENCH_CHECK(used, ErrorKind::kInvalidArgument,
                 "{} gives input '{}', which the model does not take (it takes {})", data_name,
                 given[i].name, model_names);
  }
}

std::vector<Tensor> DataBinding::feeds(const Batch& batch) const {
  std::vector<Tensor> out;
  for (size_t i = 0; i < source_.size(); ++i) {
    const Tensor& t = batch.inputs.at(source_[i]);
    out.push_back(t.dtype() == types_[i] ? t : convert_integers(t, types_[i], names_[i]));
  }
  return out;
}

}  // namespace quench
