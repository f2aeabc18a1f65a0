#include "kernels/onednn/conv_training.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/onednn/context.h"
#include "kernels/onednn/conv_primitive.h"
#include "kernels/onednn/primitive_cache.h"

namespace quench::onednn {

namespace {

using dnnl::memory;
using tag = memory::format_tag;

// One argument of a primitive: the caller's plain layout, the primitive's, and the reorder
// between them when they differ.
struct Port {
  memory::desc plain;
  memory::desc chosen;
  dnnl::reorder to_chosen;    // plain -> chosen (inputs)
  dnnl::reorder from_chosen;  // chosen -> plain (outputs)
  bool same = true;

  Port() = default;
  Port(const memory::desc& user, const memory::desc& primitive, bool input)
      : plain(user), chosen(primitive), same(user == primitive) {
    if (same) return;
    if (input) {
      to_chosen = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), plain, engine(), chosen));
    } else {
      from_chosen = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), chosen, engine(), plain));
    }
  }
};

// A memory in the primitive's layout for input `data`: the caller's buffer itself, or a reordered
// copy kept alive by `storage`.
memory input_memory(const Port& p, const float* data, std::vector<memory>& storage) {
  memory user(p.plain, engine(), const_cast<float*>(data));
  if (p.same) return user;
  memory m(p.chosen, engine());
  execute(p.to_chosen, {{DNNL_ARG_FROM, &user}, {DNNL_ARG_TO, &m}});
  storage.push_back(m);
  return m;
}

memory output_memory(const Port& p, float* data) {
  if (p.same) return memory(p.plain, engine(), data);
  return memory(p.chosen, engine());
}

void finish_output(const Port& p, memory& m, float* data) {
  if (p.same) return;
  memory user(p.plain, engine(), data);
  execute(p.from_chosen, {{DNNL_ARG_FROM, &m}, {DNNL_ARG_TO, &user}});
}

}  // namespace

struct ConvTraining::Impl {
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
  Port fwd_src, fwd_weights, fwd_dst;
  Port bd_weights, bd_diff_dst, bd_diff_src;
  Port bw_src, bw_diff_dst, bw_diff_weights;
  memory::desc bias;
  bool has_bias = false;
  Shape output;
};

ConvTraining::ConvTraining(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConvTraining::~ConvTraining() = default;

const Shape& ConvTraining::output_shape() const { return impl_->output; }

std::shared_ptr<const ConvTraining> ConvTraining::get(const Node& node, const Shape& x,
                                                      const Shape& w, bool bias) {
  const std::optional<ConvGeometry> g = conv_geometry(node, x, w);
  if (!g) return nullptr;
  // The output shape, from the window (oneDNN's formula: dilates count the gaps).
  Shape y = {x[0], w[0]};
  for (size_t i = 2; i < x.size(); ++i) {
    const size_t s = i - 2;
    const int64_t extent = (w[i] - 1) * (g->dilates[s] + 1) + 1;
    const int64_t out = (x[i] + g->pad_l[s] + g->pad_r[s] - extent) / g->strides[s] + 1;
    if (out <= 0) return nullptr;
    y.push_back(out);
  }
  std::string key;
  for (const Shape* dims : {&x, &w, static_cast<const Shape*>(&y)}) {
    for (int64_t d : *dims) key += std::to_string(d) + ",";
    key += "|";
  }
  for (const auto* dims : {&g->strides, &g->dilates, &g->pad_l, &g->pad_r}) {
    for (int64_t d : *dims) key += std::to_string(d) + ",";
    key += "|";
  }
  key += std::to_string(g->groups) + (bias ? "b" : "");

  return cached(key, [&]() -> std::shared_ptr<const ConvTraining> {
    const auto f32 = memory::data_type::f32;
    const memory::desc src_plain = plain_desc(DType::kFloat32, x);
    const memory::desc dst_plain = plain_desc(DType::kFloat32, y);
    const memory::desc w_plain =
        plain_desc(DType::kFloat32, Shape(g->weight_dims.begin(), g->weight_dims.end()));
    const auto any = [&](const memory::dims& d) { return memory::desc(d, f32, tag::any); };
    const memory::desc src_any = any(to_dims(x)), dst_any = any(to_dims(y)),
                       w_any = any(g->weight_dims);
    const memory::desc bias_desc({w[0]}, f32, tag::a);
    const auto alg = dnnl::algorithm::convolution_direct;
    try {
      using fwd_t = dnnl::convolution_forward;
      const fwd_t::desc fd =
          bias ? fwd_t::desc(dnnl::prop_kind::forward_training, alg, src_any, w_any, bias_desc,
                             dst_any, g->strides, g->dilates, g->pad_l, g->pad_r)
               : fwd_t::desc(dnnl::prop_kind::forward_training, alg, src_any, w_any, dst_any,
                             g->strides, g->dilates, g->pad_l, g->pad_r);
      const fwd_t::primitive_desc fpd(fd, engine());
      using bd_t = dnnl::convolution_backward_data;
      const bd_t::primitive_desc bdpd(
          bd_t::desc(alg, src_any, w_any, dst_any, g->strides, g->dilates, g->pad_l, g->pad_r),
          engine(), fpd);
      using bw_t = dnnl::convolution_backward_weights;
      const bw_t::desc bwd = bias ? bw_t::desc(alg, src_any, w_any, bias_desc, dst_any, g->strides,
                                               g->dilates, g->pad_l, g->pad_r)
                                  : bw_t::desc(alg, src_any, w_any, dst_any, g->strides, g->dilates,
                                               g->pad_l, g->pad_r);
      const bw_t::primitive_desc bwpd(bwd, engine(), fpd);
      auto impl = std::make_unique<Impl>();
      impl->fwd = dnnl::convolution_forward(fpd);
      impl->bwd_data = dnnl::convolution_backward_data(bdpd);
      impl->bwd_weights = dnnl::convolution_backward_weights(bwpd);
      impl->fwd_src = Port(src_plain, fpd.src_desc(), true);
      impl->fwd_weights = Port(w_plain, fpd.weights_desc(), true);
      impl->fwd_dst = Port(dst_plain, fpd.dst_desc(), false);
      impl->bd_weights = Port(w_plain, bdpd.weights_desc(), true);
      impl->bd_diff_dst = Port(dst_plain, bdpd.diff_dst_desc(), true);
      impl->bd_diff_src = Port(src_plain, bdpd.diff_src_desc(), false);
      impl->bw_src = Port(src_plain, bwpd.src_desc(), true);
      impl->bw_diff_dst = Port(dst_plain, bwpd.diff_dst_desc(), true);
      impl->bw_diff_weights = Port(w_plain, bwpd.diff_weights_desc(), false);
      impl->bias = bias_desc;
      impl->has_bias = bias;
      impl->output = y;
      return std::make_shared<const ConvTraining>(std::move(impl));
    } catch (const dnnl::error&) {
      return nullptr;  // no implementation: the caller runs the reference
    }
  });
}

void ConvTraining::forward(const float* x, const float* w, const float* b, float* y) const {
  const Impl& p = *impl_;
  std::vector<memory> keep;
  memory src = input_memory(p.fwd_src, x, keep);
  memory wei = input_memory(p.fwd_weights, w, keep);
  memory dst = output_memory(p.fwd_dst, y);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (p.has_bias) args.emplace(DNNL_ARG_BIAS, memory(p.bias, engine(), const_cast<float*>(b)));
  execute(p.fwd, args);
  finish_output(p.fwd_dst, dst, y);
  stream().wait();
}

void ConvTraining::backward_data(const float* w, const float* dy, float* dx) const {
  const Impl& p = *impl_;
  std::vector<memory> keep;
  memory wei = input_memory(p.bd_weights, w, keep);
  memory ddst = input_memory(p.bd_diff_dst, dy, keep);
  memory dsrc = output_memory(p.bd_diff_src, dx);
  execute(p.bwd_data,
          {{DNNL_ARG_WEIGHTS, &wei}, {DNNL_ARG_DIFF_DST, &ddst}, {DNNL_ARG_DIFF_SRC, &dsrc}});
  finish_output(p.bd_diff_src, dsrc, dx);
  stream().wait();
}

void ConvTraining::backward_weights(const float* x, const float* dy, float* dw, float* db) const {
  const Impl& p = *impl_;
  std::vector<memory> keep;
  memory src = input_memory(p.bw_src, x, keep);
  memory ddst = input_memory(p.bw_diff_dst, dy, keep);
  memory dwei = output_memory(p.bw_diff_weights, dw);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwei}};
  std::vector<float> unused_bias;
  if (p.has_bias) {
    float* target = db;
    if (target == nullptr) {
      unused_bias.resize(p.bias.get_size() / sizeof(float));
      target = unused_bias.data();
    }
    args.emplace(DNNL_ARG_DIFF_BIAS, memory(p.bias, engine(), target));
  }
  execute(p.bwd_weights, args);
  finish_output(p.bw_diff_weights, dwei, dw);
  stream().wait();
}

}  // namespace quench::onednn
