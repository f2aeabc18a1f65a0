// oneDNN int8 kernels (kernels/onednn/qconv.cc, qmatmul.cc) against the reference kernels, case
// by case from a table: every output within ±1 (docs/quantization.md, eq. (47)), and the fast
// kernel chosen (or, for configurations it must leave alone, not chosen).
#include <cmath>
#include <cstring>
#include <optional>
#include <random>

#include "kernels/onednn/context.h"
#include "kernels/onednn/qconv.h"
#include "kernels/x86/cpu_features.h"
#include "ops/fused.h"
#include "quench/model_io.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

// oneDNN applies the requantization in float like the reference, but may add the bias in float
// and the zero point before rounding: outputs agree within one step (eq. (47)).
constexpr int kQuantTolerance = 1;
// QGemm's float output: float(acc) · scale, where oneDNN may form float(acc) + float(C).
constexpr double kFloatOutputRtol = 1e-6;

using Attrs = std::vector<std::pair<std::string, AttributeValue>>;
using Ints = std::vector<int64_t>;

struct QCase {
  std::string name;
  std::string op;  // QLinearConv, QFusedConv, QLinearMatMul, QFusedMatMul or QGemm
  Shape x, w;      // conv: X, W; matrix products: A, B
  DType x_type = DType::kUInt8;
  DType w_type = DType::kInt8;
  DType y_type = DType::kUInt8;     // kFloat32: QGemm without y_scale
  std::optional<int> x_zero_point;  // else 131 (u8) or -7 (s8)
  std::optional<int> y_zero_point;  // else 120 (u8) or 5 (s8)
  bool per_channel = false;
  bool bias = false;
  bool w_at_run_time = false;
  int32_t w_zero_point = 0;
  DType sum_type = DType::kUndefined;  // a residual sum (fused ops)
  bool y_max = false;                  // QFusedConv's per-channel upper bounds (eq. (157))
  Attrs attrs;                         // the op's attributes, act_min / act_max included
  bool fast = true;                    // whether the oneDNN kernel must be the one chosen
  bool x86 = true;  // else whether quench's x86 kernel must be (exact: kernels/x86/int8_*.h)
};

void PrintTo(const QCase& c, std::ostream* os) { *os << c.name; }

bool is_conv(const QCase& c) { return c.op == "QLinearConv" || c.op == "QFusedConv"; }

bool trans_b(const QCase& c) {
  for (const auto& [k, v] : c.attrs) {
    if (k == "transB") return std::get<int64_t>(v) != 0;
  }
  return false;
}

// Output channels (the per-channel parameters' count) and the reduction length.
int64_t channels(const QCase& c) {
  if (is_conv(c)) return c.w[0];
  if (c.op == "QGemm") return trans_b(c) ? c.w[0] : c.w[1];
  return c.w.back();
}
int64_t reduction(const QCase& c) {
  if (is_conv(c)) return shape_numel(c.w) / c.w[0];
  if (c.op == "QGemm") return trans_b(c) ? c.w[1] : c.w[0];
  return c.w[c.w.size() - 2];
}

Tensor random_quant(DType type, const Shape& shape, std::mt19937& rng) {
  Tensor t = Tensor::empty(type, shape);
  std::uniform_int_distribution<int> byte(0, 255);
  auto* data = static_cast<uint8_t*>(t.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i) data[i] = static_cast<uint8_t>(byte(rng));
  return t;
}

Tensor zero_point(DType type, int32_t value) {
  if (type == DType::kInt8) return Tensor::scalar(static_cast<int8_t>(value));
  return Tensor::scalar(static_cast<uint8_t>(value));
}

// Eq. (157)'s bounds, one per channel around y's zero point: some channels cut most outputs,
// some few, some none (the type's maximum).
Tensor channel_bounds(const QCase& c, int64_t n) {
  const bool s8 = c.y_type == DType::kInt8;
  const int z = c.y_zero_point.value_or(s8 ? 5 : 120), top = s8 ? 127 : 255;
  Tensor t = Tensor::empty(c.y_type, {n});
  for (int64_t i = 0; i < n; ++i) {
    const int v = i % 4 == 3 ? top : std::min(top, z - 5 + static_cast<int>(i * 7 % 40));
    static_cast<uint8_t*>(t.raw_data())[i] = static_cast<uint8_t>(v);
  }
  return t;
}

// The node and its inputs (name, value, fed at run time or constant).
struct Input {
  std::string name;
  Tensor value;
  bool constant = true;
};

struct Built {
  Model model;
  std::vector<Tensor> feeds;
};

Built build(const QCase& c) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> unit(0.5f, 1.5f);
  const int64_t n = channels(c);
  const float x_scale = 0.02f * unit(rng);
  std::vector<float> w_scales(c.per_channel ? n : 1);
  for (float& s : w_scales) s = 0.004f * unit(rng);
  // y's scale puts the typical output about 40 steps from the zero point: centered 8-bit
  // operands have a standard deviation near 74, so acc's is about 74² · sqrt(K).
  const float y_scale = x_scale * 0.004f * 74.f * 74.f * std::sqrt(float(reduction(c))) / 40.f;
  const bool x_signed = c.x_type == DType::kInt8;
  const bool w_signed = c.w_type == DType::kInt8;

  std::vector<Input> in;
  in.push_back({"x", random_quant(c.x_type, c.x, rng), false});
  in.push_back({"x_scale", Tensor::scalar(x_scale)});
  in.push_back(
      {"x_zero_point", zero_point(c.x_type, c.x_zero_point.value_or(x_signed ? -7 : 131))});
  in.push_back({"w", random_quant(c.w_type, c.w, rng), !c.w_at_run_time});
  in.push_back({"w_scale",
                c.per_channel ? Tensor::from_vector({n}, w_scales) : Tensor::scalar(w_scales[0])});
  Tensor w_zero_point = zero_point(c.w_type, c.w_zero_point + (w_signed ? 0 : 128));
  if (c.per_channel) {
    std::vector<uint8_t> bytes(n, *static_cast<const uint8_t*>(w_zero_point.raw_data()));
    w_zero_point = Tensor::empty(c.w_type, {n});
    std::memcpy(w_zero_point.raw_data(), bytes.data(), bytes.size());
  }
  in.push_back({"w_zero_point", w_zero_point});
  const bool quantized = c.y_type != DType::kFloat32;
  const Input y_scale_in{"y_scale", Tensor::scalar(y_scale)};
  const Input y_zero_point_in{
      "y_zero_point",
      zero_point(c.y_type, c.y_zero_point.value_or(c.y_type == DType::kInt8 ? 5 : 120))};
  std::vector<int32_t> bias(n);
  std::uniform_int_distribution<int32_t> bias_value(-20000, 20000);
  for (int32_t& b : bias) b = bias_value(rng);
  const Input bias_in{"bias", Tensor::from_vector({n}, bias)};
  if (c.op == "QGemm") {
    in.push_back(c.bias ? bias_in : Input{"", Tensor()});
    if (quantized) {
      in.push_back(y_scale_in);
      in.push_back(y_zero_point_in);
    }
  } else {
    in.push_back(y_scale_in);
    in.push_back(y_zero_point_in);
    if (c.bias || c.sum_type != DType::kUndefined) in.push_back(c.bias ? bias_in : Input{"", {}});
  }

  Node node;
  node.op_type = c.op;
  node.name = "op";
  if (c.op == "QFusedConv" || c.op == "QFusedMatMul") node.domain = kInternalDomain;
  if (c.op == "QGemm") node.domain = "com.microsoft";
  for (const auto& [k, v] : c.attrs) node.set_attr(k, v);
  node.outputs = {"y"};
  if (c.sum_type != DType::kUndefined) {
    // The sum has the output's shape: infer it from the node without the sum.
    for (const Input& i : in) node.inputs.push_back(i.name);
    std::vector<ValueInfo> infos;
    for (const Input& i : in) {
      infos.push_back(i.value.defined() ? ValueInfo{i.value.dtype(), symbolic(i.value.shape()), ""}
                                        : ValueInfo{});
    }
    const Shape y_shape = *concrete(*testing::infer_node(node, infos)[0].shape);
    in.push_back({"sum", random_quant(c.sum_type, y_shape, rng), false});
    in.push_back({"sum_scale", Tensor::scalar(y_scale * 1.3f)});
    in.push_back({"sum_zero_point", zero_point(c.sum_type, c.sum_type == DType::kInt8 ? -3 : 110)});
  }

  while (c.y_max && in.size() < QFusedInputs::kYMax) in.push_back({"", Tensor()});
  if (c.y_max) in.push_back({"y_max", channel_bounds(c, n)});

  Built b;
  Graph& g = b.model.graph;
  g.opsets[""] = 17;
  g.opsets[kInternalDomain] = 17;
  g.opsets["com.microsoft"] = 1;
  node.inputs.clear();
  for (const Input& i : in) {
    node.inputs.push_back(i.name);
    if (i.name.empty()) continue;
    if (i.constant) {
      g.initializers[i.name] = i.value;
    } else {
      g.inputs.push_back(i.name);
      g.values[i.name] = ValueInfo{i.value.dtype(), symbolic(i.value.shape()), ""};
      b.feeds.push_back(i.value);
    }
  }
  g.nodes = {node};
  g.outputs = {"y"};
  return b;
}

// Every element within `tolerance` (integer outputs).
::testing::AssertionResult within(const Tensor& got, const Tensor& want, int tolerance) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return ::testing::AssertionFailure() << "type or shape differs";
  }
  const auto g = got.to_double_vector(), w = want.to_double_vector();
  int64_t off = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::abs(g[i] - w[i]) > tolerance) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << g[i] << ", want " << w[i];
    }
    off += g[i] != w[i];
  }
  // Differences only at near-ties: a handful, not a systematic offset.
  if (off * 20 > static_cast<int64_t>(g.size()) + 20) {
    return ::testing::AssertionFailure() << off << " of " << g.size() << " elements differ by 1";
  }
  return ::testing::AssertionSuccess();
}

std::string impl_of(const Session& s, const std::vector<Tensor>& feeds, const std::string& op) {
  std::vector<Shape> shapes;
  for (const Tensor& t : feeds) shapes.push_back(t.shape());
  for (const StepInfo& step : s.plan_steps(shapes)) {
    if (step.op_type == op) return step.impl;
  }
  return "";
}

class OnednnInt8 : public ::testing::TestWithParam<QCase> {};

TEST_P(OnednnInt8, MatchesReferenceWithinOne) {
  const QCase& c = GetParam();
  Built b = build(c);
  SessionOptions ref_options;
  ref_options.fast_kernels = false;
  ref_options.threads = 1;
  SessionOptions fast_options;
  fast_options.threads = 1;
  const Session ref(b.model, ref_options);
  const Session fast(b.model, fast_options);
  const Tensor want = ref.run(b.feeds)[0];
  const Tensor got = fast.run(b.feeds)[0];
  if (c.y_type == DType::kFloat32) {
    EXPECT_TRUE(testing::tensors_near(got, want, 0, kFloatOutputRtol));
  } else {
    EXPECT_TRUE(within(got, want, kQuantTolerance));
  }
  const std::string impl = impl_of(fast, b.feeds, c.op);
  if (c.fast && onednn::int8_products_exact()) {
    EXPECT_EQ(impl.rfind("onednn:", 0), 0u) << "chosen: " << impl;
  } else if (c.x86 && x86::cpu_features().avx2) {
    EXPECT_EQ(impl.rfind("x86:", 0), 0u) << "chosen: " << impl;
    EXPECT_TRUE(got.equals(want)) << "the x86 kernels are exact";
  } else {
    EXPECT_EQ(impl, "ref");
  }
}

QCase conv(std::string name, Shape x, Shape w, Attrs attrs = {}) {
  QCase c;
  c.name = std::move(name);
  c.op = "QLinearConv";
  c.x = std::move(x);
  c.w = std::move(w);
  c.attrs = std::move(attrs);
  return c;
}
QCase matmul(std::string name, Shape a, Shape b) {
  QCase c;
  c.name = std::move(name);
  c.op = "QLinearMatMul";
  c.x = std::move(a);
  c.w = std::move(b);
  return c;
}
QCase qgemm(std::string name, Shape a, Shape b, Attrs attrs) {
  QCase c;
  c.name = std::move(name);
  c.op = "QGemm";
  c.x = std::move(a);
  c.w = std::move(b);
  c.attrs = std::move(attrs);
  return c;
}

// Modifiers, applied to a copy.
QCase per_channel(QCase c) {
  c.per_channel = true;
  return c;
}
QCase with_bias(QCase c) {
  c.bias = true;
  return c;
}
QCase types(QCase c, DType x, DType y) {
  c.x_type = x;
  c.y_type = y;
  return c;
}
QCase fused(QCase c, Attrs act, DType sum = DType::kUndefined) {
  c.op = c.op == "QLinearConv" ? "QFusedConv" : "QFusedMatMul";
  c.attrs.insert(c.attrs.end(), act.begin(), act.end());
  c.sum_type = sum;
  return c;
}
QCase with_y_max(QCase c) {
  c.y_max = true;
  return c;
}
QCase named(QCase c, std::string name) {
  c.name = std::move(name);
  return c;
}

const Attrs kPad1{{"pads", Ints{1, 1, 1, 1}}};
const Attrs kRelu{{"act_min", 0.f}};
// Clip in real units around the output's range (scales near 0.05).
const Attrs kClip{{"act_min", -0.4f}, {"act_max", 1.2f}};
constexpr DType kU8 = DType::kUInt8, kS8 = DType::kInt8;

std::vector<QCase> cases() {
  const QCase conv3x3 = conv("", {2, 16, 9, 9}, {32, 16, 3, 3}, kPad1);
  const QCase depthwise =
      conv("", {2, 32, 10, 10}, {32, 1, 3, 3},
           {{"group", int64_t{32}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}});
  std::vector<QCase> t = {
      named(with_bias(per_channel(conv3x3)), "conv_u8_3x3_pad_per_channel_bias"),
      named(types(conv("", {1, 8, 7, 7}, {8, 8, 3, 3}), kS8, kS8), "conv_s8_src_s8_out"),
      named(types(per_channel(conv3x3), kS8, kU8), "conv_s8_src_u8_out"),
      conv("conv_strides_dilations_asym_pads", {1, 8, 12, 12}, {16, 8, 3, 3},
           {{"strides", Ints{2, 2}}, {"dilations", Ints{2, 2}}, {"pads", Ints{1, 2, 1, 0}}}),
      named(with_bias(conv("", {2, 32, 5, 5}, {64, 32, 1, 1})), "conv_1x1_bias"),
      named(per_channel(conv("", {1, 16, 8, 8}, {16, 4, 3, 3},
                             {{"group", int64_t{4}}, {"pads", Ints{1, 1, 1, 1}}})),
            "conv_grouped"),
      named(with_bias(per_channel(depthwise)), "conv_depthwise_stride2"),
      named(with_bias(conv("", {4, 1, 28, 28}, {8, 1, 3, 3}, kPad1)), "conv_one_input_channel"),
      conv("conv_1d", {2, 8, 20}, {16, 8, 5}),
      conv("conv_auto_pad_same", {1, 8, 7, 7}, {8, 8, 3, 3},
           {{"auto_pad", std::string("SAME_UPPER")}}),
      named(fused(with_bias(per_channel(conv3x3)), kRelu), "qfusedconv_relu"),
      named(fused(per_channel(conv3x3), kClip), "qfusedconv_clip"),
      named(fused(with_bias(conv3x3), {}, kU8), "qfusedconv_sum"),
      named(fused(with_bias(per_channel(conv3x3)), kRelu, kS8), "qfusedconv_s8_sum_relu"),
      named(fused(types(conv3x3, kS8, kS8), kClip, kU8), "qfusedconv_s8_out_u8_sum_clip"),
      named(fused(with_bias(per_channel(depthwise)), kRelu), "qfusedconv_depthwise_relu"),
      named(with_y_max(fused(with_bias(per_channel(conv3x3)), kRelu)), "qfusedconv_relu_y_max"),
      named(with_y_max(fused(types(conv3x3, kS8, kS8), kClip, kU8)),
            "qfusedconv_s8_out_sum_clip_y_max"),
      named(with_y_max(fused(with_bias(per_channel(depthwise)), kRelu)),
            "qfusedconv_depthwise_relu_y_max"),
      named(per_channel(matmul("", {6, 32}, {32, 24})), "matmul_2d_const_per_column"),
      named(types(matmul("", {2, 17, 64}, {64, 48}), kS8, kS8), "matmul_3d_const_s8"),
      matmul("matmul_batched_runtime_u8_u8", {2, 4, 17, 16}, {2, 4, 16, 17}),
      matmul("matmul_broadcast_runtime", {1, 4, 9, 8}, {3, 1, 8, 5}),
      matmul("matmul_const_u8_b", {5, 40}, {40, 12}),
      named(fused(with_bias(per_channel(matmul("", {3, 7, 32}, {32, 16}))), kRelu),
            "qfusedmatmul_bias_relu"),
      named(fused(matmul("", {2, 9, 24}, {24, 10}), kClip, kU8), "qfusedmatmul_sum_clip"),
      named(fused(types(matmul("", {2, 4, 9, 8}, {2, 4, 8, 9}), kU8, kS8), {}, kS8),
            "qfusedmatmul_runtime_sum"),
      named(with_bias(qgemm("", {4, 64}, {10, 64}, {{"transB", int64_t{1}}, {"alpha", 0.5f}})),
            "qgemm_transB_alpha_bias"),
      named(per_channel(qgemm("", {16, 5}, {16, 12}, {{"transA", int64_t{1}}})),
            "qgemm_transA_per_column"),
      named(types(with_bias(qgemm("", {3, 32}, {32, 8}, {})), kU8, DType::kFloat32),
            "qgemm_float_output"),
      named(types(qgemm("", {3, 32}, {8, 32}, {{"transB", int64_t{1}}}), kS8, kS8), "qgemm_s8"),
  };
  // Matrix products whose B is at run time or u8.
  for (QCase& c : t) {
    if (c.name == "matmul_batched_runtime_u8_u8" || c.name == "matmul_broadcast_runtime" ||
        c.name == "qfusedmatmul_runtime_sum") {
      c.w_at_run_time = true;
    }
    if (c.name == "matmul_batched_runtime_u8_u8" || c.name == "matmul_const_u8_b") {
      c.w_type = kU8;
      c.w_zero_point = 3;  // 131 as stored
    }
    if (c.name == "matmul_broadcast_runtime") c.w_zero_point = -9;
  }
  // What oneDNN leaves to quench's x86 kernels (or to the reference): weights with a zero point
  // (conv), u8 weights (conv), an empty batch (both decline it).
  QCase w_zero_point = named(conv3x3, "conv_weight_zero_point_not_onednn");
  w_zero_point.w_zero_point = 4;
  w_zero_point.fast = false;
  t.push_back(w_zero_point);
  QCase empty_batch = named(conv("", {0, 16, 9, 9}, {32, 16, 3, 3}, kPad1), "conv_empty_batch");
  empty_batch.fast = false;
  empty_batch.x86 = false;
  t.push_back(empty_batch);
  QCase u8_weights = named(conv3x3, "conv_u8_weights_not_onednn");
  u8_weights.w_type = kU8;
  u8_weights.fast = false;
  t.push_back(u8_weights);
  return t;
}

INSTANTIATE_TEST_SUITE_P(Table, OnednnInt8, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// The implementation each kind of layer gets (preferred_int8_conv_impls): on AMX, oneDNN's AMX
// kernels for dense layers of 64 or more products per output (its direct AMX kernel only for large
// ones); with AVX-512 VNNI alone, the direct kernel (the brgemm 1x1 one for few positions and many
// channels, brdgmm for depthwise outputs of width 7 or less); the direct kernel for narrower layers
// and wide depthwise ones either way. Other CPUs name
// their kernels otherwise.
TEST(OnednnInt8Impl, LayersGetThePreferredImplementation) {
  const auto vnni = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_vnni);
  if ((static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & vnni) != vnni) {
    GTEST_SKIP() << "oneDNN does not run AVX-512 VNNI kernels on this CPU";
  }
  auto impl = [](const QCase& c) {
    const Built b = build(c);
    SessionOptions options;
    options.threads = 1;
    return impl_of(Session(b.model, options), b.feeds, c.op);
  };
  // Zero points 0 (ReLU outputs in and out); oneDNN's AMX brgemm kernels take no source zero
  // point on a padded layer.
  QCase dense_case = conv("dense", {2, 16, 14, 14}, {32, 16, 3, 3}, kPad1);
  QCase one_by_one_case = conv("1x1", {2, 64, 14, 14}, {32, 64, 1, 1});
  dense_case.x_zero_point = dense_case.y_zero_point = 0;
  one_by_one_case.x_zero_point = one_by_one_case.y_zero_point = 0;
  const std::string dense = impl(dense_case);
  const std::string one_by_one = impl(one_by_one_case);
  if (onednn::uses_amx()) {
    EXPECT_NE(dense.find("brgconv:avx512_core_amx"), std::string::npos) << dense;
    EXPECT_NE(one_by_one.find("brgconv_1x1:avx512_core_amx"), std::string::npos) << one_by_one;
  } else {
    EXPECT_NE(dense.find("jit_int8"), std::string::npos) << dense;
    EXPECT_NE(one_by_one.find("jit_int8_1x1"), std::string::npos) << one_by_one;
  }
  // A destination zero point, applied as the last post-op, leaves the AMX kernels available.
  const std::string shifted = impl(conv("shifted", {2, 64, 14, 14}, {32, 64, 1, 1}));
  EXPECT_NE(shifted.find(onednn::uses_amx() ? "brgconv_1x1:avx512_core_amx" : "jit_int8_1x1"),
            std::string::npos)
      << shifted;
  // A source zero point on a padded layer, which the AMX brgemm kernels decline: oneDNN's direct
  // AMX kernel from 2^24 multiply-adds per run, else the direct VNNI kernel.
  const std::string small_shifted_input =
      impl(conv("small", {2, 16, 14, 14}, {32, 16, 3, 3}, kPad1));
  EXPECT_NE(small_shifted_input.find("jit_int8"), std::string::npos) << small_shifted_input;
  const std::string large_shifted_input =
      impl(conv("large", {32, 32, 28, 28}, {32, 32, 3, 3}, kPad1));
  EXPECT_NE(large_shifted_input.find(onednn::uses_amx() ? "jit:avx512_core_amx" : "jit_int8"),
            std::string::npos)
      << large_shifted_input;
  // Fewer than 64 products per output (taps x input channels): the direct kernel.
  const std::string first = impl(conv("first", {2, 1, 14, 14}, {16, 1, 3, 3}, kPad1));
  EXPECT_NE(first.find("jit_int8"), std::string::npos) << first;
  const std::string narrow = impl(conv("narrow", {2, 32, 14, 14}, {64, 32, 1, 1}));
  EXPECT_NE(narrow.find("jit_int8_1x1"), std::string::npos) << narrow;
  const std::string depthwise = impl(conv("dw", {2, 32, 14, 14}, {32, 1, 3, 3},
                                          {{"group", int64_t{32}}, {"pads", Ints{1, 1, 1, 1}}}));
  EXPECT_NE(depthwise.find("jit_int8"), std::string::npos) << depthwise;
  if (onednn::uses_amx()) return;
  // Few output positions and many output channels: the brgemm 1x1 kernel; a narrow depthwise
  // output (7 wide): brdgmm.
  QCase wide_case = conv("wide", {1, 64, 4, 4}, {512, 64, 1, 1});
  wide_case.x_zero_point = wide_case.y_zero_point = 0;
  const std::string wide = impl(wide_case);
  EXPECT_NE(wide.find("brgconv_1x1"), std::string::npos) << wide;
  QCase small_dw_case = conv("dw7", {1, 32, 7, 7}, {32, 1, 3, 3},
                             {{"group", int64_t{32}}, {"pads", Ints{1, 1, 1, 1}}});
  small_dw_case.x_zero_point = small_dw_case.y_zero_point = 0;
  const std::string small_dw = impl(small_dw_case);
  EXPECT_NE(small_dw.find("brdgmm_dw"), std::string::npos) << small_dw;
}

// Two convolutions in a row keep their channels-last activations: the only reorder is the final
// conversion of the graph output to plain. Power-of-two multipliers make every requantization
// exact (no ties), so the chain matches the reference bit for bit.
TEST(OnednnInt8Chain, ConsecutiveConvsStayChannelsLast) {
  std::mt19937 rng(5);
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets[kInternalDomain] = 17;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{kU8, symbolic(Shape{2, 16, 8, 8}), ""};
  g.initializers["sx"] = Tensor::scalar(0.5f);
  g.initializers["zx"] = Tensor::scalar(uint8_t{128});
  g.initializers["w1"] = random_quant(kS8, {16, 16, 3, 3}, rng);
  g.initializers["w2"] = random_quant(kS8, {16, 16, 3, 3}, rng);
  g.initializers["sw"] = Tensor::scalar(1.f / 1024);
  g.initializers["zw"] = Tensor::scalar(int8_t{0});
  g.initializers["b"] = Tensor::from_vector<int32_t>({16}, std::vector<int32_t>(16, 300));
  Node first;
  first.op_type = "QLinearConv";
  first.name = "first";
  first.inputs = {"x", "sx", "zx", "w1", "sw", "zw", "sx", "zx", "b"};
  first.outputs = {"h"};
  first.set_attr("pads", Ints{1, 1, 1, 1});
  Node second = first;
  second.op_type = "QFusedConv";
  second.domain = kInternalDomain;
  second.name = "second";
  second.inputs = {"h", "sx", "zx", "w2", "sw", "zw", "sx", "zx", "b", "h", "sx", "zx"};
  second.outputs = {"y"};
  second.set_attr("act_min", 0.f);
  g.nodes = {first, second};
  g.outputs = {"y"};
  const std::vector<Tensor> feeds{random_quant(kU8, {2, 16, 8, 8}, rng)};
  SessionOptions ref_options;
  ref_options.fast_kernels = false;
  const Tensor want = Session(m, ref_options).run(feeds)[0];
  const Session fast(m, SessionOptions{});
  EXPECT_TRUE(fast.run(feeds)[0].equals(want));
  if (!onednn::int8_products_exact()) GTEST_SKIP() << "oneDNN's int8 products are not exact here";
  int reorders = 0;
  for (const StepInfo& s : fast.plan_steps({feeds[0].shape()})) {
    if (s.op_type == "Reorder")
      ++reorders;
    else
      EXPECT_EQ(s.impl.rfind("onednn:", 0), 0u) << s.node << ": " << s.impl;
  }
  EXPECT_EQ(reorders, 1);
}

// ONNX Runtime's QOperator fixtures run their integer convolutions and matrix products on oneDNN
// and give the reference's logits within kModelLogitTolerance: a ±1 difference in one layer moves
// the next layer's sums, so the bound is in units of the logits, not exact.
constexpr double kModelLogitTolerance = 0.25;

class OnednnInt8Model : public ::testing::TestWithParam<std::string> {};

TEST_P(OnednnInt8Model, FastKernelsRunTheIntegerOps) {
  const Model model = load_model(testing::test_model("ort/" + GetParam() + ".ort_qoperator.onnx"));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> pixel(0.f, 1.f);
  Tensor x = Tensor::empty(DType::kFloat32, {4, 1, 28, 28});
  for (float& v : x.values<float>()) v = pixel(rng);
  SessionOptions ref_options;
  ref_options.fast_kernels = false;
  const Tensor want = Session(model, ref_options).run({x})[0];
  const Session fast(model, SessionOptions{});
  const Tensor got = fast.run({x})[0];
  EXPECT_TRUE(testing::tensors_near(got, want, kModelLogitTolerance, 0));
  // oneDNN's kernels where they are exact, else quench's x86 ones (exact: equal logits).
  const bool onednn = onednn::int8_products_exact();
  if (!onednn && x86::cpu_features().avx2) {
    EXPECT_TRUE(got.equals(want));
  }
  for (const StepInfo& s : fast.plan_steps({x.shape()})) {
    if (s.op_type == "QLinearConv" || s.op_type == "QLinearMatMul" || s.op_type == "QGemm") {
      const std::string expected = onednn ? "onednn:" : x86::cpu_features().avx2 ? "x86:" : "ref";
      // quench's AVX-512 VNNI depthwise kernel (eq. (163)) comes before oneDNN's.
      if (s.impl == "x86:vnni_depthwise") continue;
      EXPECT_EQ(s.impl.rfind(expected, 0), 0u) << s.node << " (" << s.op_type << "): " << s.impl;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnednnInt8Model,
                         ::testing::Values("cnn", "resnet20", "mobilenetv2", "vit"));

}  // namespace
}  // namespace quench
