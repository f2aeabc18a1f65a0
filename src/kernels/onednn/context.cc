#include "kernels/onednn/context.h"

#include "core/check.h"
#include "ir/shape_util.h"

namespace quench::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

ExecArgs::ExecArgs(std::initializer_list<std::pair<int, const dnnl::memory*>> args) {
  for (const auto& [id, m] : args) add(id, *m);
}

ExecArgs::ExecArgs(const std::unordered_map<int, dnnl::memory>& args) {
  for (const auto& [id, m] : args) add(id, m);
}

void ExecArgs::add(int id, const dnnl::memory& m) {
  QUENCH_CHECK(count_ < kMax, ErrorKind::kInternal, "more than {} oneDNN arguments", kMax);
  args_[count_++] = dnnl_exec_arg_t{id, m.get()};
}

void ExecArgs::execute(const dnnl::primitive& p) const {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), stream().get(), count_, args_.data()),
                          "could not execute a primitive");
}

void execute(const dnnl::primitive& p,
             std::initializer_list<std::pair<int, const dnnl::memory*>> args) {
  ExecArgs(args).execute(p);
}

void execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args) {
  ExecArgs(args).execute(p);
}

dnnl::memory::data_type to_dnnl(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::kFloat32:
      return dt::f32;
    case DType::kFloat16:
      return dt::f16;
    case DType::kBFloat16:
      return dt::bf16;
    case DType::kInt32:
      return dt::s32;
    case DType::kInt8:
      return dt::s8;
    case DType::kUInt8:
      return dt::u8;
    default:
      return dt::undef;
  }
}

DType from_dnnl(dnnl::memory::data_type t) {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kInt32, DType::kInt8,
                  DType::kUInt8}) {
    if (to_dnnl(d) == t) return d;
  }
  return DType::kUndefined;
}

dnnl::memory::dims to_dims(const Shape& shape) {
  return dnnl::memory::dims(shape.begin(), shape.end());
}

dnnl::memory::desc plain_desc(DType t, const Shape& shape) {
  if (shape.empty()) return dnnl::memory::desc({1}, to_dnnl(t), dnnl::memory::dims{1});
  return dnnl::memory::desc(to_dims(shape), to_dnnl(t), to_dims(strides_of(shape)));
}

namespace {

// cpu_isa values are cumulative bit masks: each includes the bits of the ISAs below it.
bool effective_isa_has(dnnl::cpu_isa isa) {
  const auto bits = static_cast<unsigned>(isa);
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & bits) == bits;
}

}  // namespace

bool int8_products_exact() {
  static const bool exact = effective_isa_has(dnnl::cpu_isa::avx512_core_vnni) ||
                            effective_isa_has(dnnl::cpu_isa::avx2_vnni);
  return exact;
}

bool uses_amx() {
  static const bool amx = effective_isa_has(dnnl::cpu_isa::avx512_core_amx);
  return amx;
}

}  // namespace quench::onednn
