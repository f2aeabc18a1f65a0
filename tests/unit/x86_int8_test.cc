// quench's own exact int8 products for x86 without VNNI (kernels/x86/int8_*.h) against the
// reference kernels, bit for bit: the GEMM core against a naive loop, every kernel on a table of
// cases (each run through its factory directly, with one and two threads, and through a session,
// which must choose it where oneDNN's int8 kernels are not exact), and every integer product of
// the ONNX Runtime fixture models on their own activations.
#include <omp.h>

#include <cstring>
#include <map>
#include <optional>
#include <random>

#include "core/file_util.h"
#include "kernels/layout.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_conv.h"
#include "kernels/x86/int8_gemm.h"
#include "kernels/x86/int8_matmul.h"
#include "ops/evaluate.h"
#include "ops/fused.h"
#include "ops/op_registry.h"
#include "ops/quantized/qfused.h"
#include "passes/runtime_passes.h"
#include "quench/model_io.h"
#include "quench/session.h"
#include "session_test_util.h"
#include "test_util.h"

namespace quench {
namespace {

constexpr DType kU8 = DType::kUInt8, kS8 = DType::kInt8;
constexpr DType kF32 = DType::kFloat32;
using Ints = std::vector<int64_t>;
using Attrs = std::vector<std::pair<std::string, AttributeValue>>;

bool has_avx2() { return x86::cpu_features().avx2; }

// ---- The GEMM core ----

struct CoreShape {
  int64_t m, n, k;
};

TEST(X86Int8Gemm, CoreEqualsNaiveLoop) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> value(-255, 255);
  // Edge tiles in both dims, K odd and 1, one row, one column.
  const CoreShape shapes[] = {{1, 1, 1},   {6, 16, 2}, {7, 17, 3},    {13, 31, 64}, {5, 48, 1},
                              {18, 1, 37}, {1, 40, 9}, {25, 33, 128}, {12, 16, 255}};
  for (const CoreShape& s : shapes) {
    SCOPED_TRACE(fmt::format("{}x{}x{}", s.m, s.n, s.k));
    std::vector<int16_t> a(static_cast<size_t>(s.m * s.k)), b_t(static_cast<size_t>(s.n * s.k));
    for (int16_t& v : a) v = static_cast<int16_t>(value(rng));
    for (int16_t& v : b_t) v = static_cast<int16_t>(value(rng));
    std::vector<int32_t> packed_a(static_cast<size_t>(x86::packed_a_size(s.m, s.k)));
    std::vector<int32_t> packed_b(static_cast<size_t>(x86::packed_b_size(s.k, s.n)));
    x86::pack_a(a.data(), s.m, s.k, packed_a.data());
    x86::pack_b_transposed(b_t.data(), s.n, s.k, packed_b.data());
    std::vector<int32_t> c(static_cast<size_t>(s.m * s.n), -1);
    x86::avx2::gemm_s16(s.m, s.n, x86::pair_count(s.k), x86::packed_a_view(packed_a.data(), s.k),
                        x86::packed_b_view(packed_b.data(), s.k), c.data(), s.n);
    for (int64_t i = 0; i < s.m; ++i) {
      for (int64_t j = 0; j < s.n; ++j) {
        int64_t sum = 0;
        for (int64_t k = 0; k < s.k; ++k) sum += int64_t{a[i * s.k + k]} * b_t[j * s.k + k];
        ASSERT_EQ(c[i * s.n + j], static_cast<int32_t>(sum)) << "row " << i << ", column " << j;
      }
    }
  }
}

// Eq. (62): the int32 accumulators wrap exactly as the int64 sums narrowed to int32 do.
TEST(X86Int8Gemm, CoreWrapsLikeTheNarrowedSum) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  const int64_t m = 2, n = 3, k = 40001;  // 40001 · 255 · 255 > 2^31
  std::vector<int16_t> a(static_cast<size_t>(m * k), 255), b_t(static_cast<size_t>(n * k), -255);
  b_t[5] = 255;
  std::vector<int32_t> packed_a(static_cast<size_t>(x86::packed_a_size(m, k)));
  std::vector<int32_t> packed_b(static_cast<size_t>(x86::packed_b_size(k, n)));
  x86::pack_a(a.data(), m, k, packed_a.data());
  x86::pack_b_transposed(b_t.data(), n, k, packed_b.data());
  std::vector<int32_t> c(static_cast<size_t>(m * n));
  x86::avx2::gemm_s16(m, n, x86::pair_count(k), x86::packed_a_view(packed_a.data(), k),
                      x86::packed_b_view(packed_b.data(), k), c.data(), n);
  for (int64_t j = 0; j < n; ++j) {
    int64_t sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += int64_t{a[i]} * b_t[j * k + i];
    EXPECT_NE(sum, static_cast<int32_t>(sum));  // the sum does leave int32
    EXPECT_EQ(c[j], static_cast<int32_t>(sum));
  }
}

// ---- The kernels, case by case ----

// How a parameter pair (scale, zero point) or an operand reaches the kernel.
enum class Given { kConstant, kRunTime };

struct Case {
  std::string name;
  std::string op;  // QLinearConv, QFusedConv, ConvInteger, QLinearMatMul, QFusedMatMul,
                   // MatMulInteger, QGemm, MatMulIntegerToFloat
  Shape x, w;      // conv: X, W; products: A, B
  DType x_type = kU8, w_type = kS8;
  DType y_type = kU8;  // ignored for the integer ops (int32); kF32: QGemm without y_scale
  std::optional<int> x_zero_point;  // else 131 (u8) or -7 (s8)
  std::optional<int> y_zero_point;  // else 120 (u8) or 5 (s8)
  int w_zero_point = 0;             // as stored (u8 weights: 128 + this unless set explicitly)
  bool w_zero_points_vary = false;  // per channel: w_zero_point + channel % 5 − 2
  bool per_channel = false;
  bool bias = false;
  DType sum_type = DType::kUndefined;
  bool y_max = false;               // QFusedConv's per-channel upper bounds (eq. (157))
  Given params = Given::kConstant;  // the scales, and x's, y's and the sum's zero points
  Given w_zero_point_given = Given::kConstant;
  bool x_zero_point_fed = false;  // x's zero point at run time (DynamicQuantizeLinear's)
  Given bias_given = Given::kConstant;
  Given w_given = Given::kConstant;
  Attrs attrs;
  uint8_t x_fill = 0, w_fill = 0;  // nonzero: every byte this value (sums past int32)
  Shape c_shape;                   // QGemm's C when `bias`: default [N]
  // Scales instead of the random ones (ties of eq. (63): sums on or near half-integers).
  std::optional<float> x_scale, w_scale, y_scale, sum_scale;
  bool a_per_row = false;  // QLinearMatMul: A's parameters per row
  std::string impl;        // the x86 kernel expected, or "" when it must decline
  bool onednn = false;     // oneDNN takes it where its int8 products are exact
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

bool is_conv(const Case& c) { return c.op.find("Conv") != std::string::npos; }
bool is_integer(const Case& c) { return c.op == "ConvInteger" || c.op == "MatMulInteger"; }
bool fused(const Case& c) { return c.op == "QFusedConv" || c.op == "QFusedMatMul"; }

bool attr_set(const Case& c, const char* name) {
  for (const auto& [k, v] : c.attrs) {
    if (k == name) return std::get<int64_t>(v) != 0;
  }
  return false;
}

// Output channels (the per-channel parameters' count) and the reduction length.
int64_t channels(const Case& c) {
  if (is_conv(c)) return c.w[0];
  if (c.op == "QGemm") return attr_set(c, "transB") ? c.w[0] : c.w[1];
  return c.w.size() == 1 ? 1 : c.w.back();
}
int64_t reduction(const Case& c) {
  if (is_conv(c)) return shape_numel(c.w) / c.w[0];
  if (c.op == "QGemm") return attr_set(c, "transB") ? c.w[1] : c.w[0];
  return c.w.size() == 1 ? c.w[0] : c.w[c.w.size() - 2];
}

Tensor random_quant(DType type, const Shape& shape, std::mt19937& rng, uint8_t fill = 0) {
  Tensor t = Tensor::empty(type, shape);
  std::uniform_int_distribution<int> byte(0, 255);
  auto* data = static_cast<uint8_t*>(t.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i) {
    data[i] = fill != 0 ? fill : static_cast<uint8_t>(byte(rng));
  }
  return t;
}

Tensor quant_values(DType type, const std::vector<int>& values, bool scalar) {
  Tensor t = scalar ? Tensor::empty(type, {}) : Tensor::empty(type, {int64_t(values.size())});
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == kS8) {
      static_cast<int8_t*>(t.raw_data())[i] = static_cast<int8_t>(values[i]);
    } else {
      static_cast<uint8_t*>(t.raw_data())[i] = static_cast<uint8_t>(values[i]);
    }
  }
  return t;
}

// One input of the node: name (empty: absent), value, constant when the kernel is built.
struct Input {
  std::string name;
  Tensor value;
  bool constant = true;
};

struct Built {
  Node node;
  std::vector<Input> inputs;
};

Built build(const Case& c) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> unit(0.5f, 1.5f);
  const int64_t n = channels(c);
  const bool params_constant = c.params == Given::kConstant;
  const float x_scale = c.x_scale.value_or(0.02f * unit(rng));
  std::vector<float> w_scales(c.per_channel ? n : 1);
  for (float& s : w_scales) s = c.w_scale.value_or(0.004f * unit(rng));
  // y's scale puts the typical output about 40 steps from its zero point.
  const float y_scale =
      c.y_scale.value_or(x_scale * 0.004f * 74.f * 74.f * std::sqrt(float(reduction(c))) / 40.f);
  const bool x_signed = c.x_type == kS8, w_signed = c.w_type == kS8;
  const int x_zero_point = c.x_zero_point.value_or(x_signed ? -7 : 131);
  std::vector<int> w_zero_points(c.per_channel || c.w_zero_points_vary ? n : 1);
  for (size_t i = 0; i < w_zero_points.size(); ++i) {
    const int shift = c.w_zero_points_vary ? static_cast<int>(i % 5) - 2 : 0;
    w_zero_points[i] = c.w_zero_point + (w_signed ? 0 : 128) + shift;
  }
  const bool w_scalar = w_zero_points.size() == 1 && !c.per_channel;
  std::vector<float> w_scale_values = w_scales;
  if (c.w_zero_points_vary && !c.per_channel) w_scale_values.assign(n, w_scales[0]);

  const Tensor x = random_quant(c.x_type, c.x, rng, c.x_fill);
  const Tensor w = random_quant(c.w_type, c.w, rng, c.w_fill);
  Tensor x_scale_t = Tensor::scalar(x_scale), x_zp_t = quant_values(c.x_type, {x_zero_point}, true);
  if (c.a_per_row) {
    const int64_t rows = c.x[c.x.size() - 2];
    std::vector<float> scales(static_cast<size_t>(rows));
    std::vector<int> zero_points(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      scales[r] = x_scale * (1.f + 0.01f * r);
      zero_points[r] = x_zero_point - static_cast<int>(r % 3);
    }
    x_scale_t = Tensor::from_vector({rows}, scales);
    x_zp_t = quant_values(c.x_type, zero_points, false);
  }
  const Tensor w_scale_t = w_scale_values.size() == 1 ? Tensor::scalar(w_scale_values[0])
                                                      : Tensor::from_vector({n}, w_scale_values);
  const Tensor w_zp_t = quant_values(c.w_type, w_zero_points, w_scalar);
  const Tensor y_scale_t = Tensor::scalar(y_scale);
  const Tensor y_zp_t =
      quant_values(c.y_type, {c.y_zero_point.value_or(c.y_type == kS8 ? 5 : 120)}, true);
  std::vector<int32_t> bias_values(static_cast<size_t>(n));
  std::uniform_int_distribution<int32_t> bias_value(-20000, 20000);
  for (int32_t& b : bias_values) b = bias_value(rng);

  Built b;
  Node& node = b.node;
  node.op_type = c.op;
  node.name = "op";
  node.outputs = {"y"};
  if (fused(c)) node.domain = kInternalDomain;
  if (c.op == "QGemm") node.domain = "com.microsoft";
  for (const auto& [k, v] : c.attrs) node.set_attr(k, v);
  const bool w_constant = c.w_given == Given::kConstant;
  auto param = [&](const char* name, Tensor t) {
    return Input{name, std::move(t), params_constant};
  };
  const Input x_zp{"x_zero_point", x_zp_t, params_constant && !c.x_zero_point_fed};
  const Input w_zp{"w_zero_point", w_zp_t, c.w_zero_point_given == Given::kConstant};
  if (c.op == "MatMulIntegerToFloat") {
    // A's scale and zero point at run time (DynamicQuantizeLinear's), a float bias.
    node.domain = "com.microsoft";
    std::vector<float> float_bias(static_cast<size_t>(n));
    std::uniform_real_distribution<float> bias_real(-2.f, 2.f);
    for (float& v : float_bias) v = bias_real(rng);
    b.inputs = {{"x", x, false},
                {"w", w, w_constant},
                {"x_scale", x_scale_t, !c.x_zero_point_fed},
                param("w_scale", w_scale_t),
                x_zp,
                w_zp};
    if (c.bias) {
      b.inputs.push_back(
          {"bias", Tensor::from_vector({n}, float_bias), c.bias_given == Given::kConstant});
    }
  } else if (is_integer(c)) {
    b.inputs = {{"x", x, false}, {"w", w, w_constant}, x_zp, w_zp};
  } else {
    b.inputs = {{"x", x, false},      param("x_scale", x_scale_t), x_zp,
                {"w", w, w_constant}, param("w_scale", w_scale_t), w_zp};
    Input bias{"bias", Tensor::from_vector({n}, bias_values), c.bias_given == Given::kConstant};
    if (c.op == "QGemm") {
      if (c.bias && !c.c_shape.empty()) {
        std::vector<int32_t> values(static_cast<size_t>(shape_numel(c.c_shape)));
        for (int32_t& v : values) v = bias_value(rng);
        bias.value = Tensor::from_vector(c.c_shape, values);
      }
      b.inputs.push_back(c.bias ? bias : Input{});
      if (c.y_type != kF32) {
        b.inputs.push_back(param("y_scale", y_scale_t));
        b.inputs.push_back(param("y_zero_point", y_zp_t));
      }
    } else {
      b.inputs.push_back(param("y_scale", y_scale_t));
      b.inputs.push_back(param("y_zero_point", y_zp_t));
      const bool has_bias_slot = c.bias || c.sum_type != DType::kUndefined;
      if (has_bias_slot) b.inputs.push_back(c.bias ? bias : Input{});
    }
  }
  if (c.sum_type != DType::kUndefined) {
    // The sum has the output's shape: infer it from the node without the sum.
    std::vector<ValueInfo> infos;
    for (const Input& i : b.inputs) {
      node.inputs.push_back(i.name);
      infos.push_back(i.value.defined() ? ValueInfo{i.value.dtype(), symbolic(i.value.shape()), ""}
                                        : ValueInfo{});
    }
    const Shape y_shape = *concrete(*testing::infer_node(node, infos)[0].shape);
    b.inputs.push_back({"sum", random_quant(c.sum_type, y_shape, rng), false});
    b.inputs.push_back(param("sum_scale", Tensor::scalar(c.sum_scale.value_or(y_scale * 1.3f))));
    b.inputs.push_back(
        param("sum_zero_point", quant_values(c.sum_type, {c.sum_type == kS8 ? -3 : 110}, true)));
  }
  if (c.y_max) {
    // Around y's zero point: some channels cut most outputs, some few, some none.
    const bool s8 = c.y_type == kS8;
    const int z = c.y_zero_point.value_or(s8 ? 5 : 120), top = s8 ? 127 : 255;
    std::vector<int> bounds(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      bounds[i] = i % 4 == 3 ? top : std::min(top, z - 5 + static_cast<int>(i * 7 % 40));
    }
    b.inputs.resize(QFusedInputs::kYMax);
    b.inputs.push_back({"y_max", quant_values(c.y_type, bounds, false)});
  }
  node.inputs.clear();
  for (const Input& i : b.inputs) node.inputs.push_back(i.name);
  return b;
}

// The x86 factory of an op.
KernelFactory x86_factory(const std::string& op) {
  if (op == "QLinearConv" || op == "QFusedConv") return x86::make_qconv;
  if (op == "ConvInteger") return x86::make_conv_integer;
  if (op == "QLinearMatMul" || op == "QFusedMatMul") return x86::make_qmatmul;
  if (op == "MatMulInteger") return x86::make_matmul_integer;
  if (op == "MatMulIntegerToFloat") return x86::make_matmul_integer_to_float;
  return x86::make_qgemm;
}

struct FastRun {
  std::string impl;  // empty: the factory declined
  Tensor output;     // plain
};

// A [N, C, spatial...] tensor's elements in channels-last order ([N, spatial..., C]), or back.
Tensor reorder_channels(const Tensor& t, bool to_last) {
  const Shape& shape = t.shape();
  const int64_t n = shape[0], c = shape[1], plane = shape_numel(shape) / (n * c);
  const int64_t size = static_cast<int64_t>(dtype_size(t.dtype()));
  Tensor out = Tensor::empty(t.dtype(), shape);
  const auto* from = static_cast<const uint8_t*>(t.raw_data());
  auto* to = static_cast<uint8_t*>(out.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t first = (i * c + ch) * plane + p, last = (i * plane + p) * c + ch;
        std::memcpy(to + (to_last ? last : first) * size, from + (to_last ? first : last) * size,
                    static_cast<size_t>(size));
      }
    }
  }
  return out;
}

// How a run lays out the activations (convolutions).
enum class Layouts { kPlain, kChannelsLastOutput, kChannelsLast };

// Runs `b` on the kernel `make` builds, as the runtime would: constant inputs known when it is
// built, the others only at run time; `threads` OpenMP threads. With channels-last layouts, the
// kernel may store its output channels last (kChannelsLastOutput) and is also given its input and
// residual sum channels last (kChannelsLast); the output is returned plain.
FastRun run_kernel(const Built& b, KernelFactory make, int threads,
                   Layouts layouts = Layouts::kPlain) {
  std::vector<ValueInfo> infos;
  for (const Input& i : b.inputs) {
    infos.push_back(i.name.empty() ? ValueInfo{}
                                   : ValueInfo{i.value.dtype(), symbolic(i.value.shape()), ""});
  }
  const ValueInfo out = testing::infer_node(b.node, infos)[0];
  KernelContext ctx{b.node, 17, {}, {}, threads, layouts != Layouts::kPlain};
  std::vector<Tensor> values;
  for (size_t index = 0; index < b.inputs.size(); ++index) {
    const Input& i = b.inputs[index];
    if (i.name.empty()) {
      ctx.inputs.emplace_back();
      values.emplace_back();
      continue;
    }
    TensorDesc d{i.value.dtype(), i.value.shape(), i.constant ? &i.value : nullptr, {}};
    values.push_back(i.value);
    // x (input 0) and a residual sum: activations, stored channels last.
    const bool activation = index == 0 || i.name == "sum";
    if (layouts == Layouts::kChannelsLast && activation && d.shape.size() >= 3) {
      d.layout = channels_last_layout(d.dtype, d.shape);
      values.back() = reorder_channels(i.value, true);
    }
    ctx.inputs.push_back(d);
  }
  const Shape shape = *concrete(*out.shape);
  ctx.outputs.push_back(TensorDesc{out.dtype, shape, nullptr, {}});
  const std::unique_ptr<Kernel> kernel = make(ctx);
  FastRun run;
  if (!kernel) return run;
  run.impl = kernel->impl();
  run.output = Tensor::empty(out.dtype, shape);
  std::vector<const void*> inputs;
  for (const Tensor& t : values) inputs.push_back(t.defined() ? t.raw_data() : nullptr);
  void* outputs[] = {run.output.raw_data()};
  const std::shared_ptr<void> scratch = aligned_alloc_shared(kernel->scratch_bytes());
  const int previous = omp_get_max_threads();
  omp_set_num_threads(threads);
  kernel->run(KernelArgs{inputs.data(), outputs, scratch.get(), nullptr});
  omp_set_num_threads(previous);
  if (!ctx.outputs[0].layout.plain()) run.output = reorder_channels(run.output, false);
  return run;
}

Tensor run_reference(const Built& b) {
  std::vector<const Tensor*> values;
  for (const Input& i : b.inputs) values.push_back(i.name.empty() ? nullptr : &i.value);
  return evaluate_node(b.node, 17, values)[0];
}

// The node as a one-node model: constant inputs as initializers, the others fed.
Model as_model(const Built& b, std::vector<Tensor>& feeds) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets[kInternalDomain] = 17;
  g.opsets["com.microsoft"] = 1;
  for (const Input& i : b.inputs) {
    if (i.name.empty()) continue;
    if (i.constant) {
      g.initializers[i.name] = i.value;
    } else {
      g.inputs.push_back(i.name);
      g.values[i.name] = ValueInfo{i.value.dtype(), symbolic(i.value.shape()), ""};
      feeds.push_back(i.value);
    }
  }
  g.nodes = {b.node};
  g.outputs = {"y"};
  return m;
}

class X86Int8 : public ::testing::TestWithParam<Case> {};

TEST_P(X86Int8, EqualsReferenceBitForBit) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  const Case& c = GetParam();
  const Built b = build(c);
  const Tensor want = run_reference(b);
  const FastRun one = run_kernel(b, x86_factory(c.op), 1);
  if (c.impl.empty()) {
    EXPECT_EQ(one.impl, "") << "the x86 kernel should decline";
  } else {
    ASSERT_EQ(one.impl, c.impl);
    EXPECT_TRUE(one.output.equals(want)) << testing::tensors_near(one.output, want, 0, 0).message();
    const FastRun two = run_kernel(b, x86_factory(c.op), 2);
    EXPECT_TRUE(two.output.equals(want)) << "two threads";
    if (is_conv(c)) {
      // Activations channels last, as convolutions keep them between each other.
      const FastRun last_out = run_kernel(b, x86_factory(c.op), 1, Layouts::kChannelsLastOutput);
      EXPECT_TRUE(last_out.output.equals(want)) << "output channels last";

      const FastRun last = run_kernel(b, x86_factory(c.op), 2, Layouts::kChannelsLast);
      if (!last.impl.empty()) {
        EXPECT_TRUE(last.output.equals(want)) << "all channels last";
      }
    }
  }
  // Through a session: oneDNN where its int8 products are exact, else this kernel, else the
  // reference.
  std::vector<Tensor> feeds;
  const Model model = as_model(b, feeds);
  const Session session(model, testing::one_thread(true));
  const std::string impl = testing::impl_of(session, feeds, c.op);
  const Tensor got = session.run(feeds)[0];
  if (c.onednn && testing::onednn_int8_exact()) {
    // oneDNN requantizes in float: within ±1 of the reference; its exact sums taken to float by
    // quench's loop (MatMulIntegerToFloat) are the reference's bit for bit.
    EXPECT_EQ(impl.rfind("onednn:", 0), 0u) << impl;
    if (c.op == "MatMulIntegerToFloat") {
      EXPECT_TRUE(got.equals(want)) << testing::tensors_near(got, want, 0, 0).message();
    } else {
      EXPECT_TRUE(testing::tensors_near(got, want, 1, 0)) << impl;
    }
  } else {
    EXPECT_EQ(impl, c.impl.empty() ? "ref" : c.impl);
    EXPECT_TRUE(got.equals(want));
  }
}

// Case builders, applied to copies.
Case conv(std::string name, Shape x, Shape w, Attrs attrs = {}) {
  Case c;
  c.name = std::move(name);
  c.op = "QLinearConv";
  c.x = std::move(x);
  c.w = std::move(w);
  c.attrs = std::move(attrs);
  c.impl = "x86:avx2_gemm";
  c.onednn = true;
  return c;
}
Case matmul(std::string name, Shape a, Shape b) {
  Case c = conv(std::move(name), std::move(a), std::move(b));
  c.op = "QLinearMatMul";
  c.impl = "x86:avx2_gemm";
  return c;
}
Case qgemm(std::string name, Shape a, Shape b, Attrs attrs) {
  Case c = matmul(std::move(name), std::move(a), std::move(b));
  c.op = "QGemm";
  c.attrs = std::move(attrs);
  return c;
}
template <class F>
Case with(Case c, std::string name, F change) {
  c.name = std::move(name);
  change(c);
  return c;
}
Case as_fused(Case c, std::string name, Attrs act, DType sum = DType::kUndefined) {
  c.name = std::move(name);
  c.op = is_conv(c) ? "QFusedConv" : "QFusedMatMul";
  c.attrs.insert(c.attrs.end(), act.begin(), act.end());
  c.sum_type = sum;
  return c;
}
Case as_integer(Case c, std::string name) {
  c.name = std::move(name);
  c.op = is_conv(c) ? "ConvInteger" : "MatMulInteger";
  c.x_zero_point_fed = true;  // as DynamicQuantizeLinear computes it
  return c;
}
Case as_to_float(Case c, std::string name, bool bias = true) {
  c = as_integer(std::move(c), std::move(name));
  c.op = "MatMulIntegerToFloat";
  c.bias = bias;
  return c;
}
Case depthwise(std::string name, Shape x, Shape w, Attrs attrs) {
  Case c = conv(std::move(name), std::move(x), std::move(w), std::move(attrs));
  c.impl = "x86:avx2_depthwise";
  return c;
}

const Attrs kPad1{{"pads", Ints{1, 1, 1, 1}}};
const Attrs kRelu{{"act_min", 0.f}};
const Attrs kClip{{"act_min", -0.4f}, {"act_max", 1.2f}};

Attrs group(int64_t groups, Attrs more = {}) {
  more.emplace_back("group", groups);
  return more;
}

std::vector<Case> conv_cases() {
  const Case conv3x3 = conv("", {2, 16, 9, 9}, {32, 16, 3, 3}, kPad1);
  const Case dw = depthwise("", {2, 32, 10, 10}, {32, 1, 3, 3},
                            group(32, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}));
  return {
      with(conv3x3, "conv_3x3_pad_per_channel_bias",
           [](Case& c) {
             c.per_channel = true;
             c.bias = true;
           }),
      with(conv("", {1, 8, 7, 7}, {8, 8, 3, 3}), "conv_s8_x_s8_y",
           [](Case& c) {
             c.x_type = kS8;
             c.y_type = kS8;
           }),
      with(conv3x3, "conv_s8_x_u8_y_per_channel",
           [](Case& c) {
             c.x_type = kS8;
             c.per_channel = true;
           }),
      conv("conv_strides_dilations_asymmetric_pads", {1, 8, 12, 12}, {16, 8, 3, 3},
           {{"strides", Ints{2, 2}}, {"dilations", Ints{2, 2}}, {"pads", Ints{1, 2, 1, 0}}}),
      with(conv("", {2, 32, 5, 5}, {64, 32, 1, 1}), "conv_1x1_bias",
           [](Case& c) { c.bias = true; }),
      conv("conv_1x1_stride_2", {2, 16, 9, 9}, {24, 16, 1, 1}, {{"strides", Ints{2, 2}}}),
      with(conv("", {1, 16, 8, 8}, {16, 4, 3, 3}, group(4, kPad1)), "conv_grouped",
           [](Case& c) { c.per_channel = true; }),
      conv("conv_grouped_odd_channels", {2, 15, 6, 6}, {12, 5, 3, 3}, group(3, kPad1)),
      with(dw, "depthwise_stride_2",
           [](Case& c) {
             c.per_channel = true;
             c.bias = true;
           }),
      depthwise("depthwise_channel_multiplier", {1, 8, 7, 7}, {16, 1, 3, 3}, group(8, kPad1)),
      depthwise("depthwise_5x5_dilated_20_channels", {1, 20, 11, 11}, {20, 1, 5, 5},
                group(20, {{"dilations", Ints{2, 2}}, {"pads", Ints{4, 4, 4, 4}}})),
      depthwise("depthwise_1d", {2, 24, 17}, {24, 1, 3}, group(24, {{"pads", Ints{1, 1}}})),
      depthwise("depthwise_3d", {1, 16, 5, 6, 7}, {16, 1, 3, 3, 3},
                group(16, {{"pads", Ints{1, 1, 1, 1, 1, 1}}})),
      depthwise("depthwise_2x2_images", {5, 40, 2, 2}, {40, 1, 3, 3}, group(40, kPad1)),
      with(conv("", {4, 1, 28, 28}, {8, 1, 3, 3}, kPad1), "conv_one_input_channel",
           [](Case& c) { c.bias = true; }),
      conv("conv_patches", {3, 1, 28, 28}, {16, 1, 4, 4}, {{"strides", Ints{4, 4}}}),
      // One input channel: pairs of taps (kw, kw + 1), here 2 apart, the fifth paired with 0.
      conv("conv_one_channel_dilated_5_wide", {2, 1, 12, 13}, {6, 1, 3, 5},
           {{"dilations", Ints{1, 2}}, {"pads", Ints{1, 4, 1, 4}}}),
      conv("conv_one_channel_1d_strided", {2, 1, 30}, {4, 1, 7}, {{"strides", Ints{2}}}),
      conv("conv_1d", {2, 8, 20}, {16, 8, 5}),
      conv("conv_3d", {1, 4, 6, 7, 5}, {8, 4, 3, 3, 3},
           {{"strides", Ints{1, 2, 1}}, {"pads", Ints{1, 1, 1, 1, 1, 1}}}),
      conv("conv_auto_pad_same", {1, 8, 7, 7}, {8, 8, 3, 3},
           {{"auto_pad", std::string("SAME_UPPER")}}),
      conv("conv_odd_reduction", {1, 3, 9, 9}, {5, 3, 3, 3}),
      conv("conv_reduction_of_one", {2, 1, 6, 6}, {4, 1, 1, 1}),
      conv("conv_edges_21_channels_98_positions", {2, 10, 7, 7}, {21, 10, 3, 3}, kPad1),
      conv("conv_wide_rows", {1, 6, 5, 40}, {7, 6, 3, 3}, kPad1),
      with(conv("", {1, 8, 7, 7}, {8, 8, 3, 3}, kPad1), "conv_u8_weights_zero_point_131",
           [](Case& c) {
             c.w_type = kU8;
             c.w_zero_point = 3;
             c.onednn = false;
           }),
      with(conv3x3, "conv_weight_zero_points_per_channel",
           [](Case& c) {
             c.per_channel = true;
             c.w_zero_point = 4;
             c.w_zero_points_vary = true;
             c.onednn = false;
           }),
      with(conv3x3, "conv_parameters_at_run_time",
           [](Case& c) {
             c.params = Given::kRunTime;
             c.per_channel = true;
             c.bias = true;
             c.bias_given = Given::kRunTime;
             c.onednn = false;
           }),
      with(conv("", {1, 8, 3, 3}, {4, 8, 3, 3}), "conv_u8_x_zero_point_255",
           [](Case& c) { c.x_zero_point = 255; }),
      with(conv3x3, "conv_weights_at_run_time_decline",
           [](Case& c) {
             c.w_given = Given::kRunTime;
             c.impl = "";
             c.onednn = false;
           }),
      as_fused(with(conv3x3, "", [](Case& c) { c.bias = true, c.per_channel = true; }),
               "qfusedconv_relu", kRelu),
      as_fused(with(conv3x3, "", [](Case& c) { c.per_channel = true; }), "qfusedconv_clip", kClip),
      as_fused(with(conv3x3, "", [](Case& c) { c.bias = true; }), "qfusedconv_sum", {}, kU8),
      as_fused(with(conv3x3, "", [](Case& c) { c.bias = true, c.per_channel = true; }),
               "qfusedconv_s8_sum_relu", kRelu, kS8),
      as_fused(with(conv3x3, "", [](Case& c) { c.x_type = c.y_type = kS8; }),
               "qfusedconv_s8_y_u8_sum_clip", kClip, kU8),
      as_fused(with(dw, "", [](Case& c) { c.bias = true; }), "qfusedconv_depthwise_relu_sum", kRelu,
               kU8),
      as_fused(conv("", {3, 24, 5, 5}, {32, 24, 1, 1}), "qfusedconv_1x1_sum_across_images", {},
               kS8),
      as_fused(with(conv3x3, "", [](Case& c) { c.bias = true, c.per_channel = c.y_max = true; }),
               "qfusedconv_relu_y_max", kRelu),
      as_fused(with(conv3x3, "", [](Case& c) { c.x_type = c.y_type = kS8, c.y_max = true; }),
               "qfusedconv_s8_sum_clip_y_max", kClip, kU8),
      as_fused(with(dw, "", [](Case& c) { c.bias = true, c.y_max = true; }),
               "qfusedconv_depthwise_relu_y_max", kRelu),
      as_fused(with(conv3x3, "", [](Case& c) { c.params = Given::kRunTime, c.onednn = false; }),
               "qfusedconv_sum_parameters_at_run_time", kClip, kU8),
      // Eq. (63): M = 1/2 and r_sum = 1/2 put half the results on exact ties; M = 1 and r_sum =
      // 0.7 put results where the float sum rounds to a tie the double sum misses
      // (0.7f · 5 = 3.4999999 in double, 3.5 in float).
      as_fused(with(conv("", {2, 8, 6, 6}, {8, 8, 1, 1}), "",
                    [](Case& c) {
                      c.x_scale = c.y_scale = 1.f;
                      c.w_scale = 0.5f;
                      c.sum_scale = 0.5f;
                      c.w_fill = 0x01;
                    }),
               "qfusedconv_sum_exact_ties", {}, kU8),
      as_fused(with(conv("", {2, 8, 6, 6}, {8, 8, 1, 1}), "",
                    [](Case& c) {
                      c.x_scale = c.w_scale = c.y_scale = 1.f;
                      c.sum_scale = 0.7f;
                      c.w_fill = 0x01;
                      c.x_zero_point = 0;
                      c.x_fill = 0x01;
                    }),
               "qfusedconv_sum_float_ties_double_does_not", {}, kU8),
      // M = 1e20 / 1e-20 is infinite in float: a zero sum gives NaN, which saturates to q_min
      // (not to the clamp's bound), and the rest saturate to either end.
      as_fused(with(conv("", {1, 4, 5, 5}, {6, 4, 3, 3}, kPad1), "",
                    [](Case& c) {
                      c.x_scale = 1.f;
                      c.w_scale = 1e20f;
                      c.y_scale = 1e-20f;
                      c.onednn = false;  // oneDNN declines infinite multipliers
                      c.x_zero_point = 3;
                      c.x_fill = 3;
                    }),
               "qfusedconv_infinite_multiplier_relu", kRelu),
      as_fused(with(conv("", {1, 4, 5, 5}, {6, 4, 3, 3}, kPad1), "",
                    [](Case& c) {
                      c.x_scale = 1.f;
                      c.w_scale = 1e20f;
                      c.y_scale = 1e-20f;
                      c.onednn = false;  // oneDNN declines infinite multipliers
                      c.x_zero_point = 3;
                      c.x_fill = 3;
                      c.y_type = kS8;
                      c.y_zero_point = -5;
                    }),
               "qfusedconv_infinite_multiplier_s8_negative_zero_point", kRelu),
      as_fused(with(conv("", {1, 4, 5, 5}, {6, 4, 1, 1}), "",
                    [](Case& c) {
                      c.x_scale = 1.f;
                      c.w_scale = 1e20f;
                      c.y_scale = 1e-20f;
                      c.onednn = false;  // oneDNN declines infinite multipliers
                      c.sum_scale = 1e20f;
                    }),
               "qfusedconv_infinite_multiplier_and_sum_ratio", kClip, kS8),
      as_integer(conv3x3, "convinteger_3x3"),
      as_integer(with(conv3x3, "", [](Case& c) { c.x_type = kS8; }), "convinteger_s8_x"),
      as_integer(with(conv3x3, "", [](Case& c) { c.w_type = kU8; }), "convinteger_u8_weights"),
      as_integer(with(conv3x3, "", [](Case& c) { c.w_zero_point = 3, c.onednn = false; }),
                 "convinteger_weight_zero_point"),
      as_integer(with(conv3x3, "", [](Case& c) { c.w_zero_points_vary = true, c.onednn = false; }),
                 "convinteger_weight_zero_points_per_channel"),
      as_integer(dw, "convinteger_depthwise"),
      as_integer(with(conv3x3, "", [](Case& c) { c.x_zero_point_fed = false; }),
                 "convinteger_constant_x_zero_point"),
      as_integer(with(conv3x3, "",
                      [](Case& c) {
                        c.w_zero_point_given = Given::kRunTime;
                        c.impl = "";
                        c.onednn = false;
                      }),
                 "convinteger_weight_zero_point_at_run_time_declines"),
      as_integer(conv("", {2, 8, 20}, {16, 8, 5}), "convinteger_1d"),
      as_integer(conv("", {2, 24, 7, 7}, {40, 24, 1, 1}), "convinteger_1x1"),
      // 36 000 taps of 255 · (−255): far past int32, which wraps as ONNX allows (eq. (34)).
      as_integer(with(conv("", {1, 4000, 3, 3}, {2, 4000, 3, 3}), "",
                      [](Case& c) {
                        c.x_zero_point = 0;
                        c.x_fill = 255;
                        c.w_type = kU8;
                        c.w_zero_point = 127;  // 255 as stored
                        c.w_fill = 0x01;
                        c.onednn = false;
                      }),
                 "convinteger_int32_wraps"),
  };
}

std::vector<Case> matmul_cases() {
  const Case mm = matmul("", {6, 32}, {32, 24});
  return {
      with(mm, "matmul_2d_per_column", [](Case& c) { c.per_channel = true; }),
      with(matmul("", {2, 17, 64}, {64, 48}), "matmul_3d_s8",
           [](Case& c) { c.x_type = c.w_type = c.y_type = kS8; }),
      with(matmul("", {2, 4, 17, 16}, {2, 4, 16, 17}), "matmul_batched_run_time_u8_u8",
           [](Case& c) {
             c.w_given = Given::kRunTime;
             c.w_type = kU8;
             c.w_zero_point = 3;
           }),
      with(matmul("", {1, 4, 9, 8}, {3, 1, 8, 5}), "matmul_broadcast_run_time",
           [](Case& c) {
             c.w_given = Given::kRunTime;
             c.w_zero_point = -9;
           }),
      with(matmul("", {5, 40}, {40, 12}), "matmul_u8_b",
           [](Case& c) {
             c.w_type = kU8;
             c.w_zero_point = 3;
           }),
      matmul("matmul_odd_reduction", {7, 33}, {33, 19}),
      matmul("matmul_reduction_of_one", {5, 1}, {1, 7}),
      // oneDNN's products take operands of rank 2 and more only.
      with(matmul("", {16}, {16, 9}), "matmul_vector_a", [](Case& c) { c.onednn = false; }),
      with(matmul("", {3, 10}, {10}), "matmul_vector_b", [](Case& c) { c.onednn = false; }),
      matmul("matmul_constant_batched_b", {2, 5, 8}, {2, 8, 6}),
      with(matmul("", {4, 30}, {30, 8}), "matmul_b_zero_points_per_column",
           [](Case& c) {
             c.w_type = kU8;
             c.w_zero_point = 12;
             c.w_zero_points_vary = true;
             c.onednn = false;
           }),
      with(mm, "matmul_parameters_at_run_time",
           [](Case& c) {
             c.params = Given::kRunTime;
             c.onednn = false;
           }),
      with(matmul("", {5, 12}, {12, 7}), "matmul_a_per_row_declines",
           [](Case& c) {
             c.a_per_row = true;
             c.impl = "";
             c.onednn = false;
           }),
      as_fused(with(matmul("", {3, 7, 32}, {32, 16}), "",
                    [](Case& c) { c.bias = true, c.per_channel = true; }),
               "qfusedmatmul_bias_relu", kRelu),
      as_fused(matmul("", {2, 9, 24}, {24, 10}), "qfusedmatmul_sum_clip", kClip, kU8),
      as_fused(with(matmul("", {2, 4, 9, 8}, {2, 4, 8, 9}), "",
                    [](Case& c) { c.w_given = Given::kRunTime; }),
               "qfusedmatmul_run_time_b_s8_sum", {}, kS8),
      // oneDNN's product takes a constant bias only.
      as_fused(with(mm, "",
                    [](Case& c) {
                      c.bias = true, c.bias_given = Given::kRunTime;
                      c.onednn = false;
                    }),
               "qfusedmatmul_bias_at_run_time", kRelu),
      as_fused(with(mm, "",
                    [](Case& c) {
                      c.x_scale = 1.f;
                      c.w_scale = 1e20f;
                      c.y_scale = 1e-20f;
                      c.onednn = false;  // oneDNN declines infinite multipliers
                      c.x_zero_point = 3;
                      c.x_fill = 3;
                    }),
               "qfusedmatmul_infinite_multiplier_relu", kRelu),
      as_integer(mm, "matmulinteger_u8_s8"),
      as_integer(with(matmul("", {2, 17, 64}, {64, 48}), "", [](Case& c) { c.w_type = kU8; }),
                 "matmulinteger_u8_u8_3d"),
      as_integer(with(matmul("", {3, 5, 32}, {32, 16}), "", [](Case& c) { c.x_type = kS8; }),
                 "matmulinteger_s8_s8"),
      as_integer(with(mm, "", [](Case& c) { c.w_zero_point = -5; }), "matmulinteger_b_zero_point"),
      as_integer(with(matmul("", {4, 30}, {30, 8}), "",
                      [](Case& c) {
                        c.w_type = kU8;
                        c.w_zero_point = 12;
                        c.w_zero_points_vary = true;
                        c.onednn = false;
                      }),
                 "matmulinteger_b_zero_points_per_column"),
      as_integer(with(matmul("", {2, 3, 6, 16}, {2, 3, 16, 10}), "",
                      [](Case& c) {
                        c.w_given = Given::kRunTime;
                        c.w_type = kU8;
                      }),
                 "matmulinteger_b_at_run_time"),
      as_integer(with(mm, "", [](Case& c) { c.x_zero_point = 255; }),
                 "matmulinteger_zero_point_255"),
      as_to_float(mm, "matmulintegertofloat_bias"),
      as_to_float(mm, "matmulintegertofloat_no_bias", false),
      as_to_float(with(mm, "", [](Case& c) { c.per_channel = true; }),
                  "matmulintegertofloat_per_column"),
      as_to_float(with(matmul("", {2, 17, 64}, {64, 48}), "",
                       [](Case& c) {
                         c.w_type = kU8;
                         c.per_channel = true;
                       }),
                  "matmulintegertofloat_u8_u8_3d_per_column"),
      as_to_float(with(matmul("", {3, 5, 32}, {32, 16}), "", [](Case& c) { c.x_type = kS8; }),
                  "matmulintegertofloat_s8_s8"),
      as_to_float(with(mm, "", [](Case& c) { c.w_zero_point = -5; }),
                  "matmulintegertofloat_b_zero_point"),
      as_to_float(with(matmul("", {2, 3, 6, 16}, {2, 3, 16, 10}), "",
                       [](Case& c) {
                         c.w_given = Given::kRunTime;
                         c.bias_given = Given::kRunTime;
                       }),
                  "matmulintegertofloat_b_and_bias_at_run_time"),
      as_to_float(with(matmul("", {3, 5, 32}, {32, 16}), "",
                       [](Case& c) {
                         c.x_zero_point_fed = false;
                         c.params = Given::kConstant;
                       }),
                  "matmulintegertofloat_constant_a_parameters"),
      as_integer(with(mm, "",
                      [](Case& c) {
                        c.w_zero_point_given = Given::kRunTime;
                        c.onednn = false;
                      }),
                 "matmulinteger_b_zero_point_at_run_time"),
      as_integer(with(matmul("", {3, 40001}, {40001, 4}), "",
                      [](Case& c) {
                        c.x_zero_point = 0;
                        c.x_fill = 255;
                        c.w_type = kU8;
                        c.w_zero_point = 127;
                        c.w_fill = 0x01;
                        c.onednn = false;
                      }),
                 "matmulinteger_int32_wraps"),
      with(qgemm("", {4, 64}, {10, 64}, {{"transB", int64_t{1}}, {"alpha", 0.5f}}),
           "qgemm_trans_b_alpha_bias", [](Case& c) { c.bias = true; }),
      with(qgemm("", {16, 5}, {16, 12}, {{"transA", int64_t{1}}}), "qgemm_trans_a_per_column",
           [](Case& c) { c.per_channel = true; }),
      with(qgemm("", {3, 32}, {32, 8}, {}), "qgemm_float_output",
           [](Case& c) {
             c.bias = true;
             c.y_type = kF32;
           }),
      with(qgemm("", {3, 32}, {8, 32}, {{"transB", int64_t{1}}}), "qgemm_s8",
           [](Case& c) { c.x_type = c.y_type = kS8; }),
      with(qgemm("", {7, 20}, {20, 9}, {}), "qgemm_c_per_row_and_column",
           [](Case& c) {
             c.bias = true;
             c.c_shape = {7, 9};
             c.onednn = false;
           }),
      with(qgemm("", {7, 20}, {20, 9}, {}), "qgemm_c_per_row",
           [](Case& c) {
             c.bias = true;
             c.c_shape = {7, 1};
             c.onednn = false;
           }),
  };
}

std::vector<Case> all_cases() {
  std::vector<Case> cases = conv_cases();
  for (Case& c : matmul_cases()) cases.push_back(std::move(c));
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Table, X86Int8, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

// ---- The AVX-512 VNNI depthwise convolution (eq. (163)) ----

Case vnni_depthwise(std::string name, Shape x, Shape w, Attrs attrs) {
  Case c = conv(std::move(name), std::move(x), std::move(w), std::move(attrs));
  c.impl = "x86:vnni_depthwise";
  return c;
}

// M = 1e20 / 1e-20 is infinite in float: eq. (46)'s steps one by one (a zero sum gives NaN,
// which saturates to q_min).
void infinite_multiplier(Case& c) {
  c.x_scale = 1.f;
  c.w_scale = 1e20f;
  c.y_scale = 1e-20f;
  c.x_zero_point = 3;
  c.x_fill = 3;
}

Case declined(Case c) {
  c.impl.clear();
  return c;
}

std::vector<Case> vnni_depthwise_cases() {
  const Case mobilenet = vnni_depthwise("", {1, 48, 14, 14}, {48, 1, 3, 3}, group(48, kPad1));
  return {
      as_fused(with(mobilenet, "", [](Case& c) { c.bias = c.per_channel = true; }),
               "relu_per_channel_bias", kRelu),
      with(mobilenet, "clip_s8_in_s8_out",
           [](Case& c) {
             c.x_type = c.y_type = kS8;
             c.op = "QFusedConv";
             c.attrs.insert(c.attrs.end(), kClip.begin(), kClip.end());
           }),
      with(vnni_depthwise("", {2, 32, 11, 10}, {32, 1, 3, 3},
                          group(32, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}})),
           "stride_2_two_images", [](Case& c) { c.bias = true; }),
      // 20 channels: one whole block and one of 4; a 5x5 window, two kernel-row groups.
      vnni_depthwise("5x5_dilated_20_channels", {1, 20, 11, 11}, {20, 1, 5, 5},
                     group(20, {{"dilations", Ints{2, 2}}, {"pads", Ints{4, 4, 4, 4}}})),
      // 7x7 (the path without weights in registers), asymmetric pads, strides 2 by 1.
      with(vnni_depthwise("", {1, 40, 9, 12}, {40, 1, 7, 7},
                          group(40, {{"strides", Ints{2, 1}}, {"pads", Ints{3, 2, 1, 3}}})),
           "7x7_asymmetric_pads", [](Case& c) { c.per_channel = true; }),
      vnni_depthwise("1x1_no_pads", {1, 16, 5, 5}, {16, 1, 1, 1}, group(16)),
      vnni_depthwise("1d", {2, 24, 17}, {24, 1, 3}, group(24, {{"pads", Ints{1, 1}}})),
      vnni_depthwise("window_wider_than_image", {1, 16, 2, 3}, {16, 1, 3, 3},
                     group(16, {{"pads", Ints{2, 2, 2, 2}}})),
      // u8 weights centered at 128: within int8 after centering.
      with(mobilenet, "u8_weights", [](Case& c) { c.w_type = kU8; }),
      // The extremes: 255 · (−128) at every tap.
      with(mobilenet, "extreme_bytes",
           [](Case& c) {
             c.x_fill = 0xFF;
             c.w_fill = 0x80;
             c.x_zero_point = 0;
           }),
      as_fused(with(mobilenet, "",
                    [](Case& c) {
                      c.bias = c.y_max = true;
                      c.params = Given::kRunTime;
                    }),
               "y_max_parameters_at_run_time", kRelu),
      as_fused(with(vnni_depthwise("", {1, 20, 5, 5}, {20, 1, 3, 3}, group(20, kPad1)), "",
                    infinite_multiplier),
               "infinite_multiplier_relu", kRelu),
      // 64 channels at a time (eq. (163)'s wide groups): 144 = two groups and a block of 16;
      // pairs of output rows from one fill (an odd count: the last row alone).
      as_fused(with(vnni_depthwise("", {1, 144, 9, 7}, {144, 1, 3, 3}, group(144, kPad1)), "",
                    [](Case& c) { c.bias = c.per_channel = true; }),
               "wide_pairs_144_channels_odd_rows", kRelu),
      with(vnni_depthwise("", {2, 96, 11, 10}, {96, 1, 3, 3},
                          group(96, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}})),
           "wide_stride_2_96_channels", [](Case& c) { c.bias = true; }),
      with(vnni_depthwise("", {1, 64, 6, 6}, {64, 1, 3, 3}, group(64, kPad1)), "wide_s8_in_s8_out",
           [](Case& c) { c.x_type = c.y_type = kS8; }),
      vnni_depthwise("wide_four_kernel_rows", {1, 64, 8, 8}, {64, 1, 4, 3},
                     group(64, {{"pads", Ints{1, 1, 2, 1}}})),
      vnni_depthwise("wide_pairs_2x2", {1, 128, 5, 5}, {128, 1, 2, 2}, group(128)),
      vnni_depthwise("wide_dilated", {1, 64, 9, 9}, {64, 1, 3, 3},
                     group(64, {{"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}})),
      with(vnni_depthwise("", {1, 64, 4, 4}, {64, 1, 3, 3}, group(64, kPad1)),
           "wide_extreme_bytes_u8_weights",
           [](Case& c) {
             c.w_type = kU8;
             c.x_fill = 0xFF;
             c.w_fill = 0x01;  // 1 − 128 = −127
             c.x_zero_point = 0;
           }),
      as_fused(with(vnni_depthwise("", {1, 64, 5, 5}, {64, 1, 3, 3}, group(64, kPad1)), "",
                    [](Case& c) {
                      c.bias = c.y_max = true;
                      c.params = Given::kRunTime;
                    }),
               "wide_y_max_parameters_at_run_time", kClip),
      as_fused(with(vnni_depthwise("", {1, 64, 5, 5}, {64, 1, 3, 3}, group(64, kPad1)), "",
                    [](Case& c) {
                      infinite_multiplier(c);
                      c.y_type = kS8;
                      c.y_zero_point = -5;
                    }),
               "wide_infinite_multiplier_s8", kRelu),
      // What the path leaves to the others.
      declined(with(mobilenet, "u8_weights_off_center",
                    [](Case& c) {
                      c.w_type = kU8;
                      c.w_zero_points_vary = true;
                    })),
      declined(as_fused(with(mobilenet, "", [](Case& c) { c.bias = true; }), "residual_sum", kRelu,
                        kU8)),
      declined(vnni_depthwise("channel_multiplier", {1, 8, 7, 7}, {16, 1, 3, 3}, group(8, kPad1))),
      declined(vnni_depthwise("3d", {1, 16, 5, 6, 7}, {16, 1, 3, 3, 3},
                              group(16, {{"pads", Ints{1, 1, 1, 1, 1, 1}}}))),
      declined(as_integer(mobilenet, "convinteger")),
      declined(conv("dense", {1, 16, 6, 6}, {16, 16, 3, 3}, kPad1)),
  };
}

class X86VnniDepthwise : public ::testing::TestWithParam<Case> {};

TEST_P(X86VnniDepthwise, EqualsReferenceBitForBit) {
  if (!x86::cpu_features().avx512 || !x86::cpu_features().avx512_vnni) {
    GTEST_SKIP() << "no AVX-512 VNNI";
  }
  const Case& c = GetParam();
  const Built b = build(c);
  const KernelFactory make = x86::make_qdepthwise_conv;
  if (c.impl.empty()) {
    EXPECT_EQ(run_kernel(b, make, 1, Layouts::kChannelsLast).impl, "");
    return;
  }
  const Tensor want = run_reference(b);
  for (const int threads : {1, 2}) {
    const FastRun run = run_kernel(b, make, threads, Layouts::kChannelsLast);
    ASSERT_EQ(run.impl, c.impl);
    EXPECT_TRUE(run.output.equals(want))
        << threads << " threads: " << testing::tensors_near(run.output, want, 0, 0).message();
  }
  // Plain activations are the other kernels'.
  EXPECT_EQ(run_kernel(b, make, 1, Layouts::kPlain).impl, "");
  EXPECT_EQ(run_kernel(b, make, 1, Layouts::kChannelsLastOutput).impl, "");
}

INSTANTIATE_TEST_SUITE_P(Table, X86VnniDepthwise, ::testing::ValuesIn(vnni_depthwise_cases()),
                         [](const auto& info) { return info.param.name; });

// A residual sum produced by another convolution and read by no one else: the runtime may give
// the fused convolution's output the sum's buffer (inplace_input), and each output must still be
// computed from the sum before anything overwrites it.
TEST(X86Int8Chain, ResidualSumInPlaceEqualsReference) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(5);
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets[kInternalDomain] = 17;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{kU8, symbolic(Shape{3, 16, 9, 9}), ""};
  g.initializers["sx"] = Tensor::scalar(0.05f);
  g.initializers["zx"] = Tensor::scalar(uint8_t{128});
  g.initializers["w1"] = random_quant(kS8, {16, 16, 3, 3}, rng);
  g.initializers["w2"] = random_quant(kS8, {16, 16, 3, 3}, rng);
  g.initializers["sw"] = Tensor::scalar(0.003f);
  g.initializers["zw"] = Tensor::scalar(int8_t{0});
  g.initializers["sy"] = Tensor::scalar(0.37f);
  g.initializers["zy"] = Tensor::scalar(uint8_t{120});
  Node first;
  first.op_type = "QLinearConv";
  first.name = "first";
  first.inputs = {"x", "sx", "zx", "w1", "sw", "zw", "sx", "zx"};
  first.outputs = {"h"};
  first.set_attr("pads", Ints{1, 1, 1, 1});
  Node second = first;
  second.op_type = "QFusedConv";
  second.domain = kInternalDomain;
  second.name = "second";
  second.inputs = {"x", "sx", "zx", "w2", "sw", "zw", "sy", "zy", "", "h", "sx", "zx"};
  second.outputs = {"y"};
  second.set_attr("act_min", 0.f);
  // y feeds a third convolution, so it lives in the arena where the sum's buffer may be reused.
  Node third = first;
  third.name = "third";
  third.inputs = {"y", "sy", "zy", "w1", "sw", "zw", "sx", "zx"};
  third.outputs = {"z"};
  g.nodes = {first, second, third};
  g.outputs = {"z"};
  const std::vector<Tensor> feeds{random_quant(kU8, {3, 16, 9, 9}, rng)};
  const Tensor want = Session(m, testing::one_thread(false)).run(feeds)[0];
  const Session fast(m, testing::one_thread(true));
  EXPECT_TRUE(fast.run(feeds)[0].equals(want));
  if (!testing::onednn_int8_exact()) {
    EXPECT_EQ(testing::impl_of(fast, feeds, "second"), "x86:avx2_gemm");
  }
}

// ---- The fixture models ----

bool is_product(const std::string& op) {
  return op == "QLinearConv" || op == "QFusedConv" || op == "ConvInteger" ||
         op == "QLinearMatMul" || op == "QFusedMatMul" || op == "MatMulInteger" || op == "QGemm";
}

// Every integer product of `model` on the activations it receives from the first test images:
// each node alone, its weights constant, on the x86 kernel and on the reference, bit for bit.
void expect_products_exact(const Model& model, int64_t images) {
  const Tensor x = testing::fmnist_images_or_random(images);
  std::map<std::string, Tensor> values;
  RunOptions capture;
  capture.on_tensor = [&](const std::string& name, const Tensor& t) { values[name] = t.clone(); };
  const Session reference(model, testing::one_thread(false));
  values[reference.inputs()[0].name] = x;
  reference.run({x}, capture);
  const Graph& g = reference.graph();
  int products = 0;
  for (const Node& node : g.nodes) {
    if (!is_product(node.op_type)) continue;
    SCOPED_TRACE(node.name);
    Built b;
    b.node = node;
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        b.inputs.emplace_back();
      } else if (const Tensor* constant = g.initializer(name)) {
        b.inputs.push_back({name, *constant, true});
      } else {
        ASSERT_TRUE(values.count(name)) << name;
        b.inputs.push_back({name, values.at(name), false});
      }
    }
    const FastRun fast = run_kernel(b, x86_factory(node.op_type), 1);
    ASSERT_FALSE(fast.impl.empty()) << node.op_type << " declined";
    EXPECT_TRUE(fast.output.equals(run_reference(b))) << node.op_type;
    ++products;
  }
  EXPECT_GT(products, 0);
}

// The QDQ model as a session lowers it: integer ops where the float QDQ units were.
Model lowered(const Model& qdq) {
  Model m = qdq;
  m.graph = Session(qdq).graph();
  lower_qdq(m.graph);
  return m;
}

class X86Int8Model : public ::testing::TestWithParam<std::string> {};

TEST_P(X86Int8Model, EveryProductEqualsReference) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  const std::string& name = GetParam();
  const auto path = testing::test_model("ort/" + name + ".onnx");
  const Model model = load_model(path);
  expect_products_exact(name.find("qdq") != std::string::npos ? lowered(model) : model, 8);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, X86Int8Model,
                         ::testing::Values("cnn.ort_qdq", "resnet20.ort_qdq", "mobilenetv2.ort_qdq",
                                           "vit.ort_qdq", "cnn.ort_qoperator",
                                           "resnet20.ort_qoperator", "mobilenetv2.ort_qoperator",
                                           "vit.ort_qoperator", "cnn.ort_dynamic",
                                           "resnet20.ort_dynamic", "mobilenetv2.ort_dynamic",
                                           "vit.ort_dynamic"),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '.', '_');
                           return s;
                         });

// Whole models whose only kernels besides the products are exact integer ones (or the same float
// operations): the fast session's logits equal the reference session's bit for bit, and every
// product runs on the x86 kernels where oneDNN's are not exact.
class X86Int8WholeModel : public ::testing::TestWithParam<std::string> {};

TEST_P(X86Int8WholeModel, FastSessionEqualsReference) {
  if (!has_avx2() || testing::onednn_int8_exact()) {
    GTEST_SKIP() << "oneDNN's int8 products run here (within ±1), or no AVX2";
  }
  const std::string& name = GetParam();
  Model model = load_model(testing::test_model("ort/" + name + ".onnx"));
  if (name.find("qdq") != std::string::npos) model = lowered(model);
  const Tensor x = testing::fmnist_images_or_random(64);
  SessionOptions fast = testing::one_thread(true), reference = testing::one_thread(false);
  fast.fuse = reference.fuse = false;  // the graph as given (QDQ: already lowered)
  const Session session(model, fast);
  EXPECT_TRUE(session.run({x})[0].equals(Session(model, reference).run({x})[0]));
  int products = 0;
  for (const StepInfo& s : session.plan_steps({x.shape()})) {
    if (!is_product(s.op_type)) continue;
    EXPECT_EQ(s.impl.rfind("x86:", 0), 0u) << s.node << ": " << s.impl;
    ++products;
  }
  EXPECT_GT(products, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, X86Int8WholeModel,
                         ::testing::Values("cnn.ort_qdq", "resnet20.ort_qdq", "mobilenetv2.ort_qdq",
                                           "cnn.ort_qoperator", "resnet20.ort_qoperator",
                                           "mobilenetv2.ort_qoperator"),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '.', '_');
                           return s;
                         });

}  // namespace
}  // namespace quench
