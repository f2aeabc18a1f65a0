// The int8 fast kernels of kernels/onednn/q*.cc (pooling, QLinearAdd/Mul, QLinearConcat,
// QLinearSoftmax, QLookup, QuantizeLinear/DequantizeLinear) against the reference kernels, from a
// table of cases: each runs the fast kernel on inputs stored in the case's layouts (plain,
// channels-last, blocked; made by oneDNN reorders) and the reference on plain inputs. Cases with
// plain inputs also run through a Session, which must choose the fast kernel. Also: int8 reorder
// round trips, and int8 values kept in oneDNN layouts across a chain of these kernels.
#include <cmath>
#include <limits>
#include <random>

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "passes/runtime_passes.h"
#include "quench/session.h"
#include "runtime/kernel_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using tag = dnnl::memory::format_tag;
using Ints = std::vector<int64_t>;
using Attrs = std::vector<std::pair<std::string, AttributeValue>>;

constexpr char kMs[] = "com.microsoft";
// Tolerances of the fast kernels, in units of the quantized output (docs/quantization.md).
constexpr int kBitExact = 0;
constexpr int kOneStep = 1;  // oneDNN's float requantization (QLinearAveragePool, eq. (55))

// Where a value is stored: plain, or a oneDNN layout given by its format tag.
struct Place {
  tag format = tag::undef;  // undef: plain
};
const Place kPlain{};
const Place kNhwc{tag::acdb};
const Place kNChw16c{tag::aBcd16b};
const Place kNChw8c{tag::aBcd8b};

Layout layout_of(const Place& place, DType dtype, const Shape& shape) {
  if (place.format == tag::undef) return Layout{};
  const dnnl::memory::desc desc(onednn::to_dims(shape), onednn::to_dnnl(dtype), place.format);
  return onednn::layout_from_desc(desc, onednn::plain_desc(dtype, shape));
}

// Storage for one value in `layout` (bytes of a blocked layout include its padding).
std::shared_ptr<void> storage(DType dtype, const Shape& shape, const Layout& layout) {
  const size_t bytes = layout.plain() ? static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype)
                                      : layout.blocked_bytes;
  return aligned_alloc_shared(std::max<size_t>(bytes, 64));
}

// Runs one kernel once, with its own state and scratch.
void run_kernel(const Kernel& kernel, const std::vector<const void*>& inputs,
                const std::vector<void*>& outputs) {
  auto state = kernel.make_state();
  auto scratch = aligned_alloc_shared(std::max<size_t>(kernel.scratch_bytes(), 64));
  kernel.run(KernelArgs{inputs.data(), outputs.data(), scratch.get(), state.get()});
}

// Converts a value between layouts with the runtime's reorder kernel.
void reorder(DType dtype, const Shape& shape, const Layout& from, const void* src, const Layout& to,
             void* dst) {
  auto k = make_reorder_kernel(dtype, shape, from, to);
  run_kernel(*k, {src}, {dst});
}

// ---- test data ----

Tensor quantized(DType dtype, const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t = Tensor::empty(dtype, shape);
  if (dtype == DType::kUInt8) {
    std::uniform_int_distribution<int> u(0, 255);
    for (uint8_t& v : t.values<uint8_t>()) v = static_cast<uint8_t>(u(rng));
  } else {
    std::uniform_int_distribution<int> u(-128, 127);
    for (int8_t& v : t.values<int8_t>()) v = static_cast<int8_t>(u(rng));
  }
  return t;
}

Tensor floats(const Shape& shape, uint32_t seed, float range) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-range, range);
  Tensor t = Tensor::empty(DType::kFloat32, shape);
  for (float& v : t.values<float>()) v = u(rng);
  return t;
}

Tensor scale(float s) { return Tensor::scalar(s); }
Tensor zero_point(DType dtype, int z) {
  return dtype == DType::kUInt8 ? Tensor::scalar(static_cast<uint8_t>(z))
                                : Tensor::scalar(static_cast<int8_t>(z));
}

// ---- cases ----

struct Input {
  Tensor value;  // undefined: an absent optional input
  bool constant = false;
  Place place = kPlain;
};

struct Case {
  std::string name;
  Node node;
  std::vector<Input> inputs;
  int tolerance = kBitExact;
  int64_t opset = 17;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Input data(Tensor t, Place place = kPlain) { return Input{std::move(t), false, place}; }
Input param(Tensor t) { return Input{std::move(t), true, kPlain}; }

Node node_of(const std::string& op, size_t inputs, const Attrs& attrs, const std::string& domain) {
  Node n;
  n.op_type = op;
  n.domain = domain;
  n.name = op + "_under_test";
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  n.outputs = {"out"};
  for (const auto& [k, v] : attrs) n.set_attr(k, v);
  return n;
}

Case make(std::string name, const std::string& op, const std::string& domain,
          std::vector<Input> inputs, Attrs attrs = {}, int tolerance = kBitExact) {
  Node n = node_of(op, inputs.size(), attrs, domain);
  return Case{std::move(name), std::move(n), std::move(inputs), tolerance};
}

// QLinearAdd / QLinearMul of a and b (same dtype) with per-tensor parameters.
Case qbinary(std::string name, const std::string& op, DType t, const Shape& shape, Place a_place,
             Place b_place, float sa, int za, float sb, int zb, float sy, int zy) {
  return make(std::move(name), op, kMs,
              {data(quantized(t, shape, 1), a_place), param(scale(sa)), param(zero_point(t, za)),
               data(quantized(t, shape, 2), b_place), param(scale(sb)), param(zero_point(t, zb)),
               param(scale(sy)), param(zero_point(t, zy))});
}

// The same with operands of different (broadcasting) shapes, plain layout.
Case qbinary2(std::string name, const std::string& op, DType t, const Shape& a_shape,
              const Shape& b_shape, float sa, int za, float sb, int zb, float sy, int zy) {
  return make(std::move(name), op, kMs,
              {data(quantized(t, a_shape, 1)), param(scale(sa)), param(zero_point(t, za)),
               data(quantized(t, b_shape, 2)), param(scale(sb)), param(zero_point(t, zb)),
               param(scale(sy)), param(zero_point(t, zy))});
}

// The same with each operand's shape and layout given: one value per channel against a
// channels-last operand (a squeeze-excite scale).
Case qbinary_placed(std::string name, const std::string& op, DType t, const Shape& a_shape,
                    Place a_place, const Shape& b_shape, Place b_place, float sa, int za, float sb,
                    int zb, float sy, int zy) {
  return make(std::move(name), op, kMs,
              {data(quantized(t, a_shape, 1), a_place), param(scale(sa)), param(zero_point(t, za)),
               data(quantized(t, b_shape, 2), b_place), param(scale(sb)), param(zero_point(t, zb)),
               param(scale(sy)), param(zero_point(t, zy))});
}

Case max_pool(std::string name, DType t, const Shape& shape, Place place, Attrs attrs) {
  return make(std::move(name), "MaxPool", "", {data(quantized(t, shape, 3), place)},
              std::move(attrs));
}

Case qpool(std::string name, const std::string& op, DType t, const Shape& shape, Place place,
           Attrs attrs, int zx, int zy, int tolerance) {
  return make(std::move(name), op, kMs,
              {data(quantized(t, shape, 4), place), param(scale(0.037f)), param(zero_point(t, zx)),
               param(scale(0.029f)), param(zero_point(t, zy))},
              std::move(attrs), tolerance);
}

// The internal DequantizeGlobalAveragePool (a float result, eq. (152)).
Case dequantize_gap(std::string name, DType t, const Shape& shape, Place place, int zx,
                    Attrs attrs = {}) {
  return make(std::move(name), "DequantizeGlobalAveragePool", "quench.internal",
              {data(quantized(t, shape, 4), place), param(scale(0.037f)), param(zero_point(t, zx))},
              std::move(attrs));
}

// QLinearSoftmax over `axis` with ONNX Runtime's `opset` attribute; y's scale is 1/256 and its
// zero point the type's lowest value, as ONNX Runtime's quantizer writes them.
Case qsoftmax(std::string name, DType t, const Shape& shape, int64_t axis, int64_t opset,
              float x_scale, int x_zero_point) {
  return make(
      std::move(name), "QLinearSoftmax", kMs,
      {data(quantized(t, shape, 12)), param(scale(x_scale)), param(zero_point(t, x_zero_point)),
       param(scale(1.f / 256)), param(zero_point(t, t == DType::kUInt8 ? 0 : -128))},
      {{"axis", axis}, {"opset", opset}});
}

// QLookup of x (stored at `place`) through a random constant table of type `table_type`.
Case qlookup(std::string name, DType x_type, DType table_type, const Shape& shape, Place place) {
  return make(std::move(name), "QLookup", "quench.internal",
              {data(quantized(x_type, shape, 13), place), param(quantized(table_type, {256}, 14))});
}

// QuantizeLinear of float x with the given scale and zero point tensors.
Case quantize(std::string name, Tensor x, Tensor y_scale, Tensor y_zero_point, Attrs attrs = {}) {
  return make(std::move(name), "QuantizeLinear", "",
              {data(std::move(x)), param(std::move(y_scale)), param(std::move(y_zero_point))},
              std::move(attrs));
}

Case dequantize(std::string name, Tensor x, Tensor x_scale, Tensor x_zero_point, Attrs attrs = {}) {
  return make(std::move(name), "DequantizeLinear", "",
              {data(std::move(x)), param(std::move(x_scale)), param(std::move(x_zero_point))},
              std::move(attrs));
}

// Values that exercise Q's rounding and saturation: exact ties (k + 0.5 steps) of both parities,
// values a division rounds onto a tie, saturation both ways, infinities and NaN.
Tensor quantize_edge_values() {
  // The special values first, where the fast kernels' 16-lane loops read them.
  std::vector<float> v = {29.949999f,
                          -29.949999f,
                          1e9f,
                          -1e9f,
                          0.f,
                          -0.f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(),
                          1e-30f};
  for (int k = -140; k <= 140; ++k) v.push_back((static_cast<float>(k) + 0.5f) * 0.25f);
  return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
}

// Floats within a few units in the last place of (k + 1/2) · step: where x / step and
// x · (1 / step) round to different integers (eq. (31) divides).
Tensor near_ties(float step) {
  std::vector<float> v;
  for (int k = -120; k < 120; ++k) {
    float x = (static_cast<float>(k) + 0.5f) * step;
    for (int i = 0; i < 4; ++i) x = std::nextafter(x, -1e9f);
    for (int i = 0; i < 9; ++i, x = std::nextafter(x, 1e9f)) v.push_back(x);
  }
  return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
}

Case concat(std::string name, DType t, const std::vector<Shape>& shapes, int64_t axis,
            const std::vector<std::pair<float, int>>& params, std::pair<float, int> y) {
  std::vector<Input> in{param(scale(y.first)), param(zero_point(t, y.second))};
  for (size_t i = 0; i < shapes.size(); ++i) {
    in.push_back(data(quantized(t, shapes[i], 10 + static_cast<uint32_t>(i))));
    in.push_back(param(scale(params[i].first)));
    in.push_back(param(zero_point(t, params[i].second)));
  }
  return make(std::move(name), "QLinearConcat", kMs, std::move(in), {{"axis", axis}});
}

const DType u8 = DType::kUInt8;
const DType s8 = DType::kInt8;

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    const Attrs k3s2p1{{"kernel_shape", Ints{3, 3}},
                       {"strides", Ints{2, 2}},
                       {"pads", Ints{1, 1, 1, 1}},
                       {"ceil_mode", int64_t{1}}};
    const Attrs k2s2{{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}};
    std::vector<Case> c = {
        // QLinearAdd, QLinearMul: the residual case and the layouts the runtime hands over.
        qbinary("add_u8_plain", "QLinearAdd", u8, {2, 16, 7, 7}, kPlain, kPlain, 0.05f, 128, 0.03f,
                120, 0.06f, 125),
        qbinary("add_s8_plain", "QLinearAdd", s8, {3, 5, 11}, kPlain, kPlain, 0.02f, -3, 0.07f, 5,
                0.04f, -1),
        qbinary("add_u8_nhwc", "QLinearAdd", u8, {2, 16, 7, 7}, kNhwc, kNhwc, 0.05f, 128, 0.03f,
                120, 0.06f, 125),
        qbinary("add_u8_nhwc_plain", "QLinearAdd", u8, {2, 16, 5, 6}, kNhwc, kPlain, 0.05f, 10,
                0.03f, 200, 0.02f, 0),
        qbinary("add_s8_padded_nhwc", "QLinearAdd", s8, {2, 20, 5, 5}, kNChw16c, kNhwc, 0.01f, 0,
                0.03f, 7, 0.02f, 3),
        qbinary("add_u8_blocked16", "QLinearAdd", u8, {1, 32, 4, 3}, kNChw16c, kNChw16c, 0.1f, 0,
                0.1f, 0, 0.1f, 0),
        qbinary("add_u8_saturating", "QLinearAdd", u8, {4, 64}, kPlain, kPlain, 1.f, 0, 1.f, 0,
                0.5f, 17),
        // A ratio of 0.7f: 0.7f · 5 = 3.4999999 rounds to 3, but its float product is 3.5, which
        // rounds
        // to 4. The float path must hand such near ties to the exact one.
        qbinary("add_u8_near_ties", "QLinearAdd", u8, {3, 100}, kPlain, kPlain, 0.7f, 3, 0.5f, 0,
                1.f, 1),
        // Ratios too large for the float path (eq. (56)).
        qbinary("add_s8_large_ratios", "QLinearAdd", s8, {2, 70}, kPlain, kPlain, 1.f, 0, 1.f, 1,
                1e-3f, 0),
        qbinary("add_empty", "QLinearAdd", u8, {0, 8}, kPlain, kPlain, 0.1f, 1, 0.1f, 2, 0.1f, 3),
        // Broadcasting (plain): a bias, a scalar, a leading 1, operands repeating in turn.
        qbinary2("add_u8_bias", "QLinearAdd", u8, {192}, {4, 50, 192}, 0.01f, 128, 0.05f, 120,
                 0.06f, 125),
        qbinary2("add_s8_scalar", "QLinearAdd", s8, {4, 50, 64}, {}, 0.02f, 3, 0.7f, -5, 0.03f, 1),
        qbinary2("add_u8_leading_one", "QLinearAdd", u8, {1, 50, 64}, {3, 50, 64}, 0.02f, 100,
                 0.02f, 130, 0.05f, 128),
        qbinary2("mul_u8_row_column", "QLinearMul", u8, {6, 1}, {6, 33}, 0.02f, 100, 0.03f, 110,
                 0.01f, 128),
        qbinary2("mul_s8_both_broadcast", "QLinearMul", s8, {3, 1, 5}, {1, 4, 1}, 0.05f, 0, 0.04f,
                 -9, 0.02f, 2),
        qbinary("mul_u8_plain", "QLinearMul", u8, {2, 8, 9, 9}, kPlain, kPlain, 0.02f, 130, 0.01f,
                100, 0.2f, 140),
        qbinary("mul_s8_nhwc", "QLinearMul", s8, {2, 8, 3, 5}, kNhwc, kNhwc, 0.05f, 2, 0.04f, -9,
                0.01f, 0),
        qbinary("mul_u8_blocked8_plain", "QLinearMul", u8, {1, 16, 3, 3}, kNChw8c, kPlain, 0.5f, 0,
                0.5f, 0, 1.f, 0),
        // One value per channel (and image) against a channels-last operand, either side.
        qbinary_placed("mul_u8_se_scale_nhwc", "QLinearMul", u8, {2, 24, 5, 6}, kNhwc,
                       {2, 24, 1, 1}, kPlain, 0.05f, 3, 0.004f, 0, 0.03f, 2),
        qbinary_placed("mul_s8_channel_first_nhwc", "QLinearMul", s8, {1, 32, 1, 1}, kPlain,
                       {1, 32, 4, 4}, kNhwc, 0.01f, -2, 0.05f, 4, 0.02f, 1),
        qbinary_placed("add_u8_shared_channel_nhwc", "QLinearAdd", u8, {3, 16, 4, 4}, kNhwc,
                       {1, 16, 1, 1}, kPlain, 0.05f, 128, 0.03f, 120, 0.06f, 125),
        // 117 pixels of 40 channels: loop calls of 52, 52 and 13 pixels per image.
        qbinary_placed("mul_u8_se_scale_nhwc_pixel_tiles", "QLinearMul", u8, {2, 40, 9, 13}, kNhwc,
                       {2, 40, 1, 1}, kPlain, 0.05f, 3, 0.004f, 0, 0.03f, 2),
        qbinary_placed("add_s8_shared_channel_nhwc_pixel_tiles", "QLinearAdd", s8, {1, 40, 1, 1},
                       kPlain, {3, 40, 9, 13}, kNhwc, 0.05f, 1, 0.03f, -3, 0.06f, 2),
        // MaxPool on oneDNN's int8 pooling.
        max_pool("maxpool_u8_plain", u8, {2, 16, 9, 9}, kPlain, k3s2p1),
        max_pool("maxpool_s8_nhwc", s8, {2, 24, 8, 8}, kNhwc, k2s2),
        max_pool("maxpool_u8_blocked16", u8, {1, 20, 7, 7}, kNChw16c, k3s2p1),
        max_pool("maxpool_u8_dilated", u8, {1, 8, 10, 10}, kPlain,
                 {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}),
        max_pool("maxpool_s8_1d", s8, {2, 5, 13}, kPlain,
                 {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}}),
        max_pool("maxpool_u8_3d", u8, {1, 4, 5, 6, 7}, kPlain,
                 {{"kernel_shape", Ints{2, 2, 2}}, {"pads", Ints{1, 0, 1, 0, 1, 0}}}),
        // QLinearAveragePool: oneDNN's float mean, requantized by a post-op (±1).
        qpool("qavgpool_u8_plain", "QLinearAveragePool", u8, {2, 16, 9, 9}, kPlain,
              {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}}, 120, 130, kOneStep),
        qpool("qavgpool_s8_nhwc_ceil", "QLinearAveragePool", s8, {2, 16, 8, 8}, kNhwc, k3s2p1, -5,
              3, kOneStep),
        qpool("qavgpool_u8_include_pad", "QLinearAveragePool", u8, {1, 8, 6, 6}, kPlain,
              {{"kernel_shape", Ints{3, 3}},
               {"pads", Ints{1, 1, 1, 1}},
               {"count_include_pad", int64_t{1}}},
              0, 128, kOneStep),
        qpool("qavgpool_u8_channels_last", "QLinearAveragePool", u8, {2, 9, 9, 16}, kPlain,
              {{"kernel_shape", Ints{2, 2}}, {"channels_last", int64_t{1}}}, 100, 90, kOneStep),
        // QLinearGlobalAveragePool: integer sums and eq. (42), bit-exact.
        qpool("qgap_u8_plain", "QLinearGlobalAveragePool", u8, {2, 64, 7, 7}, kPlain, {}, 128, 0,
              kBitExact),
        qpool("qgap_s8_plain_1x1", "QLinearGlobalAveragePool", s8, {4, 96, 1, 1}, kPlain, {}, 3, -2,
              kBitExact),
        qpool("qgap_u8_nhwc", "QLinearGlobalAveragePool", u8, {2, 40, 5, 5}, kNhwc, {}, 7, 250,
              kBitExact),
        qpool("qgap_u8_blocked16", "QLinearGlobalAveragePool", u8, {2, 20, 4, 4}, kNChw16c, {}, 0,
              5, kBitExact),
        qpool("qgap_s8_channels_last", "QLinearGlobalAveragePool", s8, {2, 3, 5, 24}, kPlain,
              {{"channels_last", int64_t{1}}}, -128, 127, kBitExact),
        // DequantizeGlobalAveragePool: the same sums, a float result (eq. (152)), bit-exact.
        dequantize_gap("dqgap_u8_plain", u8, {2, 64, 7, 7}, kPlain, 128),
        dequantize_gap("dqgap_s8_nhwc", s8, {2, 40, 5, 5}, kNhwc, -3),
        dequantize_gap("dqgap_u8_blocked16", u8, {2, 20, 4, 4}, kNChw16c, 9),
        dequantize_gap("dqgap_s8_channels_last", s8, {2, 3, 5, 24}, kPlain, 100,
                       {{"channels_last", int64_t{1}}}),
        // QLinearConcat: a copy where the parameters agree, tables elsewhere.
        concat("concat_u8_same_params", u8, {{2, 3, 4, 4}, {2, 5, 4, 4}}, 1,
               {{0.1f, 128}, {0.1f, 128}}, {0.1f, 128}),
        concat("concat_s8_tables", s8, {{2, 3, 8}, {2, 1, 8}, {2, 4, 8}}, -2,
               {{0.1f, 0}, {0.05f, 3}, {0.2f, -7}}, {0.1f, 0}),
        concat("concat_u8_axis0", u8, {{1, 6}, {3, 6}}, 0, {{0.03f, 10}, {0.02f, 140}},
               {0.03f, 10}),
        // QLinearSoftmax: the last axis, a middle axis (strided groups), opset 11's coercion.
        qsoftmax("softmax_u8_last_axis", u8, {4, 3, 50, 50}, -1, 13, 0.1f, 100),
        qsoftmax("softmax_s8_middle_axis", s8, {2, 7, 3, 5}, 1, 13, 0.05f, -3),
        qsoftmax("softmax_u8_opset11_coerced", u8, {3, 4, 5}, 1, 11, 0.2f, 0),
        qsoftmax("softmax_s8_sharp", s8, {5, 40}, -1, 13, 1.5f, 0),
        // Rows of 512 equal values: every p / s_y is exactly 1/2, each row redone by eq. (41).
        make("softmax_u8_exact_ties", "QLinearSoftmax", kMs,
             {data(Tensor::from_vector<uint8_t>({3, 512}, std::vector<uint8_t>(3 * 512, 77))),
              param(scale(0.1f)), param(zero_point(u8, 0)), param(scale(1.f / 256)),
              param(zero_point(u8, 0))},
             {{"axis", int64_t{-1}}, {"opset", int64_t{13}}}),
        // QLookup: 64-value steps and the remainder, u8 and s8 indices, dense layouts.
        qlookup("lookup_u8_to_u8_nhwc", u8, u8, {2, 16, 7, 7}, kNhwc),
        qlookup("lookup_s8_to_u8_plain", s8, u8, {3, 100}, kPlain),
        qlookup("lookup_u8_to_s8_blocked16", u8, s8, {1, 32, 4, 3}, kNChw16c),
        qlookup("lookup_s8_to_s8_short", s8, s8, {5}, kPlain),
        // QuantizeLinear / DequantizeLinear, per tensor and per axis.
        quantize("quantize_u8_edges", quantize_edge_values(), scale(0.25f), zero_point(u8, 7)),
        quantize("quantize_s8_edges", quantize_edge_values(), scale(0.25f), zero_point(s8, -1)),
        quantize("quantize_u8_random", floats({4, 1, 28, 28}, 5, 3.f), scale(0.1f),
                 zero_point(u8, 128)),
        quantize("quantize_s8_division", near_ties(0.1f), scale(0.1f), zero_point(s8, 0)),
        make("quantize_no_zero_point", "QuantizeLinear", "",
             {data(floats({3, 7}, 6, 20.f)), param(scale(0.1f))}),
        quantize("quantize_s8_axis1", floats({2, 3, 4, 5}, 7, 2.f),
                 Tensor::from_vector<float>({3}, {0.01f, 0.02f, 0.03f}),
                 Tensor::from_vector<int8_t>({3}, {0, -4, 9})),
        quantize("quantize_u8_axis0", floats({3, 8}, 8, 2.f),
                 Tensor::from_vector<float>({3}, {0.01f, 0.02f, 0.03f}),
                 Tensor::from_vector<uint8_t>({3}, {0, 128, 255}), {{"axis", int64_t{0}}}),
        dequantize("dequantize_u8", quantized(u8, {2, 16, 7, 7}, 9), scale(0.023f),
                   zero_point(u8, 131)),
        dequantize("dequantize_s8_axis1", quantized(s8, {2, 3, 4, 5}, 10),
                   Tensor::from_vector<float>({3}, {0.5f, 0.25f, 0.125f}),
                   Tensor::from_vector<int8_t>({3}, {-128, 0, 127})),
        dequantize("dequantize_empty", quantized(u8, {0, 3}, 11), scale(1.f), zero_point(u8, 0)),
    };
    return c;
  }();
  return all;
}

std::vector<ValueInfo> input_infos(const Case& c) {
  std::vector<ValueInfo> infos;
  for (const Input& in : c.inputs) {
    infos.push_back(in.value.defined() ? ValueInfo{in.value.dtype(), symbolic(in.value.shape()), ""}
                                       : ValueInfo{});
  }
  return infos;
}

KernelContext context(const Case& c, const std::vector<ValueInfo>& outputs, bool use_places) {
  KernelContext ctx{c.node, c.opset, {}, {}, 1, use_places};
  for (const Input& in : c.inputs) {
    if (!in.value.defined()) {
      ctx.inputs.emplace_back();
      continue;
    }
    TensorDesc d{in.value.dtype(), in.value.shape(), in.constant ? &in.value : nullptr, {}};
    if (use_places) d.layout = layout_of(in.place, d.dtype, d.shape);
    ctx.inputs.push_back(d);
  }
  for (const ValueInfo& out : outputs) {
    ctx.outputs.push_back(TensorDesc{out.dtype, *concrete(*out.shape), nullptr, {}});
  }
  return ctx;
}

const FastKernel& int8_kernel(const Node& node) {
  const OpDef* def = kernel_registry().find(node.domain, node.op_type);
  for (const FastKernel& fk : def->fast) {
    if (fk.name == "onednn-int8") return fk;
  }
  throw Error(ErrorKind::kInternal, "no onednn-int8 kernel for " + node.op_type);
}

// The largest |got − want| over the elements (integers), or whether they are equal (floats, NaN
// equal to NaN).
::testing::AssertionResult within(const Tensor& got, const Tensor& want, int tolerance) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) {
    return ::testing::AssertionFailure() << "shape or type differs";
  }
  if (got.dtype() == DType::kFloat32) return testing::tensors_near(got, want, 0, 0);
  const auto g = got.to_int64_vector();
  const auto w = want.to_int64_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::abs(g[i] - w[i]) > tolerance) {
      return ::testing::AssertionFailure() << "element " << i << ": got " << g[i] << ", want "
                                           << w[i] << " (tolerance " << tolerance << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

class Int8Kernel : public ::testing::TestWithParam<Case> {};

// The fast kernel on inputs in the case's layouts against the reference on plain inputs.
// The fast kernel for `c` against the reference. With `blocked_layouts`, inputs are stored in the
// case's layouts and the kernel may choose a blocked output; without, everything is plain.
void check_fast_kernel(const Case& c, bool blocked_layouts) {
  std::vector<const Tensor*> constants;
  for (const Input& in : c.inputs) constants.push_back(in.constant ? &in.value : nullptr);
  const std::vector<ValueInfo> outputs =
      testing::infer_node(c.node, input_infos(c), c.opset, constants);
  ASSERT_EQ(outputs.size(), 1u);

  std::vector<Tensor> plain_inputs;
  for (const Input& in : c.inputs) plain_inputs.push_back(in.value);
  const Tensor want = testing::run_node(c.node, plain_inputs, c.opset).at(0);

  KernelContext ctx = context(c, outputs, blocked_layouts);
  std::unique_ptr<Kernel> kernel = int8_kernel(c.node).make(ctx);
  ASSERT_NE(kernel, nullptr) << "the fast kernel declined the case";
  EXPECT_EQ(kernel->impl().rfind("onednn:", 0), 0u) << kernel->impl();

  std::vector<std::shared_ptr<void>> buffers;
  std::vector<const void*> in_ptrs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const TensorDesc& d = ctx.inputs[i];
    if (!d.present()) {
      in_ptrs.push_back(nullptr);
    } else if (d.layout.plain()) {
      in_ptrs.push_back(c.inputs[i].value.raw_data());
    } else {
      buffers.push_back(storage(d.dtype, d.shape, d.layout));
      reorder(d.dtype, d.shape, Layout{}, c.inputs[i].value.raw_data(), d.layout,
              buffers.back().get());
      in_ptrs.push_back(buffers.back().get());
    }
  }
  const TensorDesc& out = ctx.outputs[0];
  if (!blocked_layouts) {
    EXPECT_TRUE(out.layout.plain());
  }
  Tensor got = Tensor::empty(out.dtype, out.shape);
  auto out_buffer = storage(out.dtype, out.shape, out.layout);
  run_kernel(*kernel, in_ptrs, {out.layout.plain() ? got.raw_data() : out_buffer.get()});
  if (!out.layout.plain()) {
    reorder(out.dtype, out.shape, out.layout, out_buffer.get(), Layout{}, got.raw_data());
  }
  EXPECT_TRUE(within(got, want, c.tolerance));
}

TEST_P(Int8Kernel, MatchesReference) { check_fast_kernel(GetParam(), true); }

// As a plan with a tensor callback builds it: plain inputs, plain output.
TEST_P(Int8Kernel, MatchesReferenceInPlainLayouts) { check_fast_kernel(GetParam(), false); }

// The cases whose inputs are all plain: a Session's graph inputs are plain (blocked inputs come
// from producers), so only these can be fed to one directly.
std::vector<Case> plain_input_cases() {
  std::vector<Case> out;
  for (const Case& c : cases()) {
    bool plain = true;
    for (const Input& in : c.inputs) plain &= in.place.format == tag::undef;
    if (plain) out.push_back(c);
  }
  return out;
}

class Int8KernelInSession : public Int8Kernel {};

// With plain inputs, a Session chooses the fast kernel and agrees with the reference session.
TEST_P(Int8KernelInSession, ChosenBySession) {
  const Case& c = GetParam();
  Model m;
  m.graph.opsets[""] = c.opset;
  m.graph.opsets[kMs] = 1;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const std::string& name = c.node.inputs[i];
    const Tensor& t = c.inputs[i].value;
    if (c.inputs[i].constant) {
      m.graph.initializers[name] = t;
    } else {
      m.graph.inputs.push_back(name);
      m.graph.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
      feeds.push_back(t);
    }
  }
  m.graph.nodes.push_back(c.node);
  m.graph.outputs = {"out"};
  SessionOptions ref_options;
  ref_options.fast_kernels = false;
  const Session ref(m, ref_options);
  const Session fast(m, SessionOptions{});
  EXPECT_TRUE(within(fast.run(feeds).at(0), ref.run(feeds).at(0), c.tolerance));
  std::vector<Shape> shapes;
  for (const Tensor& t : feeds) shapes.push_back(t.shape());
  bool chosen = false;
  for (const StepInfo& s : fast.plan_steps(shapes)) {
    chosen |= s.op_type == c.node.op_type && s.impl.rfind("onednn:", 0) == 0;
  }
  EXPECT_TRUE(chosen) << "the fast kernel was not selected";
}

INSTANTIATE_TEST_SUITE_P(Table, Int8Kernel, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });
INSTANTIATE_TEST_SUITE_P(Table, Int8KernelInSession, ::testing::ValuesIn(plain_input_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

// ---- reorders of integer values ----

struct ReorderCase {
  DType dtype;
  Shape shape;
  Place place;
};

Tensor integers(DType dtype, const Shape& shape) {
  if (dtype != DType::kInt32) return quantized(dtype, shape, 21);
  Tensor t = Tensor::empty(dtype, shape);
  // Steps through the whole int32 range, wrapping (in unsigned arithmetic: no signed overflow).
  uint32_t next = 0x80000000u;
  for (int32_t& v : t.values<int32_t>()) v = static_cast<int32_t>(next += 0x01234567u);
  return t;
}

TEST(Int8Reorder, RoundTripsIntegerValues) {
  const std::vector<ReorderCase> cases = {
      {DType::kUInt8, {2, 20, 5, 7}, kNhwc},    {DType::kUInt8, {2, 20, 5, 7}, kNChw16c},
      {DType::kInt8, {3, 17, 4, 4}, kNChw16c},  {DType::kInt8, {1, 64, 2, 3}, kNhwc},
      {DType::kInt32, {2, 20, 3, 3}, kNChw8c},  {DType::kInt32, {2, 9, 3, 3}, kNhwc},
      {DType::kUInt8, {0, 16, 3, 3}, kNChw16c},
  };
  for (const ReorderCase& c : cases) {
    SCOPED_TRACE(std::string(dtype_name(c.dtype)) + " " + shape_str(c.shape));
    const Tensor x = integers(c.dtype, c.shape);
    const Layout blocked = layout_of(c.place, c.dtype, c.shape);
    auto buffer = storage(c.dtype, c.shape, blocked);
    reorder(c.dtype, c.shape, Layout{}, x.raw_data(), blocked, buffer.get());
    // Through a second layout, then back to plain.
    const Layout other = layout_of(c.place.format == tag::acdb ? kNChw8c : kNhwc, c.dtype, c.shape);
    auto other_buffer = storage(c.dtype, c.shape, other);
    reorder(c.dtype, c.shape, blocked, buffer.get(), other, other_buffer.get());
    Tensor back = Tensor::zeros(c.dtype, c.shape);
    reorder(c.dtype, c.shape, other, other_buffer.get(), Layout{}, back.raw_data());
    EXPECT_TRUE(back.equals(x));
  }
}

TEST(Int8Reorder, ChannelsLastPutsChannelsInnermost) {
  const Tensor x = Tensor::from_vector<int8_t>({1, 2, 1, 3}, {1, 2, 3, -1, -2, -3});
  const Layout nhwc = layout_of(kNhwc, DType::kInt8, x.shape());
  std::vector<int8_t> got(6);
  reorder(DType::kInt8, x.shape(), Layout{}, x.raw_data(), nhwc, got.data());
  EXPECT_EQ(got, (std::vector<int8_t>{1, -1, 2, -2, 3, -3}));
}

TEST(Int8Reorder, ChannelsLastIsNotOneDnnsAlone) {
  // Channels last is a plain permutation every backend reads: even 8-byte integers, which oneDNN
  // does not store, convert (quench's own transpose does it).
  EXPECT_NE(dynamic_cast<const PermutedLayout*>(
                layout_of(kNhwc, DType::kInt8, {1, 2, 1, 2}).blocked.get()),
            nullptr);
  const Tensor x = Tensor::from_vector<int64_t>({1, 2, 1, 2}, {1, 2, -1, -2});
  const Layout nhwc = channels_last_layout(DType::kInt64, x.shape());
  std::vector<int64_t> got(4);
  reorder(DType::kInt64, x.shape(), Layout{}, x.raw_data(), nhwc, got.data());
  EXPECT_EQ(got, (std::vector<int64_t>{1, -1, 2, -2}));
}

TEST(Int8Reorder, TypesOneDnnDoesNotStoreAreUnsupportedInItsBlockedLayouts) {
  const Shape shape{1, 16, 2, 2};
  const Layout blocked = layout_of(kNChw16c, DType::kInt32, shape);
  try {
    make_reorder_kernel(DType::kInt64, shape, Layout{}, blocked);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  }
  // A layout of another type than the value's is a planner bug.
  EXPECT_THROW(make_reorder_kernel(DType::kUInt8, shape, Layout{}, blocked), Error);
}

// ---- errors and declined configurations ----

// QLinearAdd writing over one of its operands (as the runtime runs it): a chunk holding a near tie
// is recomputed exactly from inputs the chunk's float results have not yet overwritten.
TEST(Int8Kernels, AddInPlaceRecomputesNearTiesFromIntactInputs) {
  const Case c = qbinary("add_in_place", "QLinearAdd", DType::kUInt8, {5, 100}, kPlain, kPlain,
                         0.7f, 3, 0.5f, 0, 1.f, 1);
  std::vector<const Tensor*> constants;
  std::vector<Tensor> plain_inputs;
  for (const Input& in : c.inputs) {
    constants.push_back(in.constant ? &in.value : nullptr);
    plain_inputs.push_back(in.value);
  }
  const std::vector<ValueInfo> outputs =
      testing::infer_node(c.node, input_infos(c), c.opset, constants);
  const Tensor want = testing::run_node(c.node, plain_inputs, c.opset).at(0);
  KernelContext ctx = context(c, outputs, false);
  const std::unique_ptr<Kernel> kernel = int8_kernel(c.node).make(ctx);
  ASSERT_NE(kernel, nullptr);
  for (const size_t over : {size_t{0}, size_t{3}}) {  // over A, then over B
    Tensor y = plain_inputs[over].clone();
    std::vector<const void*> in_ptrs;
    for (const Tensor& t : plain_inputs) in_ptrs.push_back(t.raw_data());
    in_ptrs[over] = y.raw_data();
    run_kernel(*kernel, in_ptrs, {y.raw_data()});
    EXPECT_TRUE(within(y, want, kBitExact)) << "in place over input " << over;
  }
}

TEST(Int8Kernels, ParametersWithSeveralValuesAreInvalid) {
  Case c = qbinary("bad", "QLinearAdd", u8, {2, 3}, kPlain, kPlain, 0.1f, 0, 0.1f, 0, 0.1f, 0);
  c.inputs[1] = param(Tensor::from_vector<float>({2}, {0.1f, 0.2f}));
  KernelContext ctx = context(c, {ValueInfo{u8, symbolic(Shape{2, 3}), ""}}, false);
  try {
    int8_kernel(c.node).make(ctx);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel);
  }
}

// Declined configurations go to the reference kernel, which handles (or reports) them.
TEST(Int8Kernels, DeclinesWhatTheReferenceHandles) {
  // Broadcasting a blocked operand.
  Case add =
      qbinary("b", "QLinearAdd", u8, {2, 16, 3, 3}, kNhwc, kPlain, 0.1f, 0, 0.1f, 0, 0.1f, 0);
  add.inputs[3].value = quantized(u8, {16, 1, 1}, 1);
  KernelContext add_ctx = context(add, {ValueInfo{u8, symbolic(Shape{2, 16, 3, 3}), ""}}, true);
  EXPECT_EQ(int8_kernel(add.node).make(add_ctx), nullptr);
  // Parameters known only at run time.
  Case q = quantize("q", floats({4}, 1, 1.f), scale(0.1f), zero_point(u8, 0));
  q.inputs[1].constant = false;
  KernelContext q_ctx = context(q, {ValueInfo{u8, symbolic(Shape{4}), ""}}, false);
  EXPECT_EQ(int8_kernel(q.node).make(q_ctx), nullptr);
  // MaxPool's Indices output.
  Case pool = max_pool("p", u8, {1, 2, 4, 4}, kPlain, {{"kernel_shape", Ints{2, 2}}});
  pool.node.outputs.push_back("indices");
  KernelContext pool_ctx = context(pool,
                                   {ValueInfo{u8, symbolic(Shape{1, 2, 3, 3}), ""},
                                    ValueInfo{DType::kInt64, symbolic(Shape{1, 2, 3, 3}), ""}},
                                   false);
  EXPECT_EQ(int8_kernel(pool.node).make(pool_ctx), nullptr);
}

// A per-axis scale that does not match the axis is left to the reference kernel, which reports it.
TEST(Int8Kernels, MismatchedPerAxisScaleFailsInTheReference) {
  Case q = quantize("q", floats({2, 3}, 1, 1.f), Tensor::from_vector<float>({2}, {0.1f, 0.2f}),
                    Tensor::from_vector<uint8_t>({2}, {0, 0}));
  KernelContext ctx = context(q, {ValueInfo{u8, symbolic(Shape{2, 3}), ""}}, false);
  EXPECT_EQ(int8_kernel(q.node).make(ctx), nullptr);
  const OpDef* def = op_registry().find("", "QuantizeLinear");
  EXPECT_THROW(def->reference(ctx), Error);
}

// ---- int8 values kept in oneDNN's layout between kernels ----

// Whether `fast` (a session of `m` on the fast kernels) gives the reference kernels' first output,
// bit for bit.
::testing::AssertionResult fast_equals_reference(const Model& m, const Session& fast,
                                                 const std::vector<Tensor>& feeds) {
  SessionOptions ref_options;
  ref_options.fast_kernels = false;
  const Session ref(m, ref_options);
  return within(fast.run(feeds).at(0), ref.run(feeds).at(0), kBitExact);
}

// MaxPool (channels-last output) → QLinearAdd → QLinearMul → QLinearGlobalAveragePool: the
// channels-last values flow through without any layout conversion, and the result is exact.
TEST(Int8Layouts, ChannelsLastFlowsThroughAChain) {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.opsets[kMs] = 1;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{u8, symbolic(Shape{4, 32, 10, 10}), ""};
  auto constant = [&](const std::string& name, Tensor t) {
    g.initializers[name] = std::move(t);
    return name;
  };
  const std::string s1 = constant("s1", scale(0.04f)), z1 = constant("z1", zero_point(u8, 100));
  const std::string s2 = constant("s2", scale(0.07f)), z2 = constant("z2", zero_point(u8, 90));
  g.nodes.push_back(testing::make_node("MaxPool", {"x"}, {"p"},
                                       {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}));
  g.nodes.push_back(
      testing::make_node("QLinearAdd", {"p", s1, z1, "p", s1, z1, s2, z2}, {"a"}, {}, kMs));
  g.nodes.push_back(
      testing::make_node("QLinearMul", {"a", s2, z2, "p", s1, z1, s1, z1}, {"b"}, {}, kMs));
  g.nodes.push_back(
      testing::make_node("QLinearGlobalAveragePool", {"b", s1, z1, s2, z2}, {"y"}, {}, kMs));
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  g.outputs = {"y"};

  const Session fast(m, SessionOptions{});
  const std::vector<Tensor> feeds{quantized(u8, {4, 32, 10, 10}, 5)};
  EXPECT_TRUE(fast_equals_reference(m, fast, feeds));
  for (const StepInfo& s : fast.plan_steps({feeds[0].shape()})) {
    EXPECT_NE(s.op_type, "Reorder") << "at " << s.node;
    EXPECT_EQ(s.impl.rfind("onednn:", 0), 0u) << s.op_type << " runs " << s.impl;
  }
}

// x·f(x) as QLookup -> QLinearMul of the same x (swish after lowering): the session runs one
// QLookup whose table is the product (fuse_lookup_products, eq. (149)), bit-exact with the pair
// on the reference kernels, with the lookup's output as either operand.
TEST(Int8Fusions, ProductOfAValueAndItsLookupIsOneLookup) {
  for (const bool lookup_first : {false, true}) {
    for (const DType t : {u8, s8}) {
      Model m;
      Graph& g = m.graph;
      g.opsets[""] = 17;
      g.opsets[kMs] = 1;
      g.opsets["quench.internal"] = 1;
      g.inputs = {"x"};
      g.values["x"] = ValueInfo{t, symbolic(Shape{2, 16, 5, 5}), ""};
      g.initializers["table"] = quantized(t, {256}, 9);
      g.initializers["sx"] = scale(0.05f);
      g.initializers["zx"] = zero_point(t, t == u8 ? 120 : -3);
      g.initializers["sf"] = scale(0.004f);
      g.initializers["zf"] = zero_point(t, t == u8 ? 7 : 0);
      g.initializers["sy"] = scale(0.03f);
      g.initializers["zy"] = zero_point(t, t == u8 ? 20 : 1);
      g.nodes.push_back(
          testing::make_node("QLookup", {"x", "table"}, {"f"}, {}, "quench.internal"));
      std::vector<std::string> in = {"x", "sx", "zx", "f", "sf", "zf", "sy", "zy"};
      if (lookup_first) in = {"f", "sf", "zf", "x", "sx", "zx", "sy", "zy"};
      g.nodes.push_back(testing::make_node("QLinearMul", in, {"y"}, {}, kMs));
      g.nodes[0].name = "lookup";
      g.nodes[1].name = "mul";
      g.outputs = {"y"};

      const Session fast(m, SessionOptions{});
      const std::vector<Tensor> feeds{quantized(t, {2, 16, 5, 5}, 6)};
      EXPECT_TRUE(fast_equals_reference(m, fast, feeds))
          << dtype_name(t) << (lookup_first ? ", lookup as A" : ", lookup as B");
      const std::vector<StepInfo> steps = fast.plan_steps({feeds[0].shape()});
      ASSERT_EQ(steps.size(), 1u);
      EXPECT_EQ(steps[0].op_type, "QLookup");
      Graph copy = g;
      EXPECT_EQ(fuse_lookup_products(copy), 1);
    }
  }
}

}  // namespace
}  // namespace quench
