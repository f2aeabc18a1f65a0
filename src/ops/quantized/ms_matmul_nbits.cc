// MatMulNBits of ONNX Runtime's com.microsoft domain: Y = A · dequantize(B) (+ bias), with B
// [N, k_blocks, blob] holding `bits`-wide elements per block of `block_size` rows along K, float
// scales [N · k_blocks], optional zero points (packed `bits`-wide per column, or float like the
// scales; 2^(bits-1) when absent), optional g_idx [K] and bias [N] (docs/quantization.md eqs.
// (120)-(121)). Written by quant/nbits_writer.cc and by ORT's MatMulNBitsQuantizer.
#include "core/check.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/domains.h"
#include "ops/quantized/integer_products.h"
#include "ops/quantized/matmul_nbits.h"
#include "ops/register.h"

namespace quench {

ref::NBitsShape parse_nbits_attributes(const Node& node) {
  for (const char* name : {"K", "N", "block_size"}) {
    if (!node.has_attr(name)) fail_node(node, "has no '{}' attribute (required)", name);
  }
  ref::NBitsShape s;
  s.k = node.attr_int("K", 0);
  s.n = node.attr_int("N", 0);
  s.bits = node.attr_int("bits", 4);
  s.block_size = node.attr_int("block_size", 0);
  if (s.k < 1 || s.n < 1) fail_node(node, "has K = {} and N = {}, expected both >= 1", s.k, s.n);
  if (s.bits < 2 || s.bits > 8) {
    fail_node(node, "has bits = {}, expected a width from 2 to 8", s.bits);
  }
  if (s.block_size < 16 || (s.block_size & (s.block_size - 1)) != 0) {
    fail_node(node, "has block_size = {}, expected a power of two >= 16", s.block_size);
  }
  s.accuracy_level = node.attr_int("accuracy_level", 0);
  if (s.accuracy_level < 0 || s.accuracy_level > 4) {
    fail_node(node, "has accuracy_level = {}, expected 0 to 4", s.accuracy_level);
  }
  return s;
}

namespace {

const char* input_name(size_t i) {
  static constexpr const char* kNames[] = {"A", "B", "scales", "zero_points", "g_idx", "bias"};
  return kNames[i];
}

// Fails unless the known dims of `shape` multiply to `count` (scales and packed zero points may
// be 1-D or [N, blocks]).
void check_count(const Node& node, size_t i, const SymbolicShape& shape, int64_t count,
                 const std::string& expected) {
  int64_t product = 1;
  for (const Dim& d : shape) {
    if (!d.known()) return;
    product *= d.value;
  }
  if (product != count) {
    fail_node(node, "input {} ({}) has shape {} ({} elements), expected {} = {} elements", i,
              input_name(i), shape_str(shape), product, expected, count);
  }
}

}  // namespace

void check_nbits_inputs(const Node& node, const ref::NBitsShape& s, const NBitsInputs& in) {
  if (node.inputs.size() < 3 || node.inputs.size() > kNBitsInputCount || node.outputs.size() != 1) {
    fail_node(node,
              "has {} inputs and {} outputs, expected 3 to 6 inputs (A, B, scales, zero_points, "
              "g_idx, bias) and 1 output",
              node.inputs.size(), node.outputs.size());
  }
  for (size_t i : {kNBitsA, kNBitsB, kNBitsScales}) {
    if (!in.present[i]) fail_node(node, "input {} ({}) is required", i, input_name(i));
  }
  auto type_is = [&](size_t i, std::initializer_list<DType> allowed, const char* what) {
    if (!in.present[i] || in.types[i] == DType::kUndefined) return;
    for (DType t : allowed) {
      if (in.types[i] == t) return;
    }
    fail_node(node, "input {} ({}) is {}, expected {}", i, input_name(i), dtype_name(in.types[i]),
              what);
  };
  type_is(kNBitsA, {DType::kFloat32}, "float (this build runs MatMulNBits in float only)");
  type_is(kNBitsB, {DType::kUInt8}, "uint8");
  type_is(kNBitsScales, {DType::kFloat32}, "float (A's type)");
  type_is(kNBitsZeroPoints, {DType::kUInt8, DType::kFloat32}, "uint8 (packed) or float");
  type_is(kNBitsGIdx, {DType::kInt32}, "int32");
  type_is(kNBitsBias, {DType::kFloat32}, "float (A's type)");
  const int64_t blocks = s.k_blocks();
  if (const SymbolicShape* a = in.shapes[kNBitsA]) {
    if (a->empty()) fail_node(node, "input 0 (A) is a scalar, expected rank >= 1 with last dim K");
    const Dim& k = a->back();
    if (k.known() && k.value != s.k) {
      fail_node(node, "input 0 (A) has shape {}, expected last dim K = {} (attribute K)",
                shape_str(*a), s.k);
    }
  }
  if (const SymbolicShape* b = in.shapes[kNBitsB]) {
    const SymbolicShape want{s.n, blocks, s.blob_bytes()};
    bool ok = b->size() == 3;
    for (size_t d = 0; ok && d < 3; ++d) ok = !(*b)[d].known() || (*b)[d].value == want[d].value;
    if (!ok) {
      fail_node(node,
                "input 1 (B) has shape {}, expected [N, ceil(K / block_size), block_size · bits / "
                "8] = {} (K = {}, N = {}, bits = {}, block_size = {})",
                shape_str(*b), shape_str(want), s.k, s.n, s.bits, s.block_size);
    }
  }
  if (const SymbolicShape* sc = in.shapes[kNBitsScales]) {
    check_count(node, kNBitsScales, *sc, s.n * blocks,
                fmt::format("N · k_blocks = {} · {}", s.n, blocks));
  }
  if (in.present[kNBitsZeroPoints] && in.shapes[kNBitsZeroPoints] != nullptr) {
    if (in.types[kNBitsZeroPoints] == DType::kFloat32) {
      check_count(node, kNBitsZeroPoints, *in.shapes[kNBitsZeroPoints], s.n * blocks,
                  fmt::format("N · k_blocks = {} · {} (float zero points)", s.n, blocks));
    } else if (in.types[kNBitsZeroPoints] == DType::kUInt8) {
      check_count(node, kNBitsZeroPoints, *in.shapes[kNBitsZeroPoints], s.n * s.zero_point_bytes(),
                  fmt::format("N · ceil(k_blocks · bits / 8) = {} · {} (packed zero points)", s.n,
                              s.zero_point_bytes()));
    }
  }
  if (in.present[kNBitsGIdx] && in.shapes[kNBitsGIdx] != nullptr) {
    check_count(node, kNBitsGIdx, *in.shapes[kNBitsGIdx], s.k, "[K]");
  }
  if (in.present[kNBitsBias] && in.shapes[kNBitsBias] != nullptr) {
    check_count(node, kNBitsBias, *in.shapes[kNBitsBias], s.n, "[N]");
  }
}

NBitsKernelPlan plan_nbits_kernel(const KernelContext& ctx) {
  NBitsKernelPlan p;
  p.shape = parse_nbits_attributes(ctx.node);
  NBitsInputs in;
  std::array<SymbolicShape, kNBitsInputCount> storage;
  for (size_t i = 0; i < kNBitsInputCount; ++i) {
    in.present[i] = ctx.has_input(i);
    if (!in.present[i]) continue;
    in.types[i] = ctx.inputs[i].dtype;
    storage[i] = symbolic(ctx.inputs[i].shape);
    in.shapes[i] = &storage[i];
  }
  check_nbits_inputs(ctx.node, p.shape, in);
  p.m = ctx.inputs[kNBitsA].numel() / p.shape.k;
  p.has_zero_points = in.present[kNBitsZeroPoints];
  p.float_zero_points = p.has_zero_points && in.types[kNBitsZeroPoints] == DType::kFloat32;
  p.has_g_idx = in.present[kNBitsGIdx];
  p.has_bias = in.present[kNBitsBias];
  if (p.has_g_idx && ctx.inputs[kNBitsGIdx].constant != nullptr) {
    const int32_t* g = ctx.inputs[kNBitsGIdx].constant->data<int32_t>();
    for (int64_t k = 0; k < p.shape.k; ++k) {
      if (g[k] < 0 || g[k] >= p.shape.k_blocks()) {
        ctx.fail(ErrorKind::kInvalidModel, "g_idx[{}] is {}, expected a block in [0, {})", k, g[k],
                 p.shape.k_blocks());
      }
    }
  }
  return p;
}

ref::NBitsWeights nbits_weights(const NBitsKernelPlan& p, const void* const* inputs) {
  ref::NBitsWeights w;
  w.shape = p.shape;
  w.b = static_cast<const uint8_t*>(inputs[kNBitsB]);
  w.scales = static_cast<const float*>(inputs[kNBitsScales]);
  if (p.has_zero_points) {
    if (p.float_zero_points) {
      w.float_zero_points = static_cast<const float*>(inputs[kNBitsZeroPoints]);
    } else {
      w.packed_zero_points = static_cast<const uint8_t*>(inputs[kNBitsZeroPoints]);
    }
  }
  if (p.has_g_idx) w.g_idx = static_cast<const int32_t*>(inputs[kNBitsGIdx]);
  return w;
}

namespace {

NBitsInputs infer_inputs(const InferContext& ctx) {
  NBitsInputs in;
  for (size_t i = 0; i < kNBitsInputCount; ++i) {
    in.present[i] = ctx.has_input(i);
    if (!in.present[i]) continue;
    in.types[i] = ctx.input_type(i);
    in.shapes[i] = ctx.input_shape(i);
  }
  return in;
}

void infer_matmul_nbits(InferContext& ctx) {
  const Node& node = ctx.node();
  const ref::NBitsShape s = parse_nbits_attributes(node);
  const NBitsInputs in = infer_inputs(ctx);
  check_nbits_inputs(node, s, in);
  if (const SymbolicShape* a = in.shapes[kNBitsA]) {
    SymbolicShape y = *a;
    y.back() = Dim(s.n);
    ctx.set_output(0, DType::kFloat32, std::move(y));
  } else {
    ctx.output(0).dtype = DType::kFloat32;
  }
}

std::unique_ptr<Kernel> ref_matmul_nbits(KernelContext& ctx) {
  NBitsKernelPlan p = plan_nbits_kernel(ctx);
  std::string node = ctx.node.describe();
  const size_t scratch = ref::matmul_nbits_scratch_bytes(p.shape);
  return ref::make_kernel(
      [p, node = std::move(node)](const KernelArgs& a) {
        const ref::NBitsWeights w = nbits_weights(p, a.inputs);
        if (w.g_idx != nullptr) {
          for (int64_t k = 0; k < p.shape.k; ++k) {
            QUENCH_CHECK(w.g_idx[k] >= 0 && w.g_idx[k] < p.shape.k_blocks(),
                         ErrorKind::kInvalidArgument,
                         "{}: g_idx[{}] is {}, expected a block in [0, {})", node, k, w.g_idx[k],
                         p.shape.k_blocks());
          }
        }
        ref::matmul_nbits(w, ref::in<float>(a, kNBitsA), p.m,
                          p.has_bias ? ref::in<float>(a, kNBitsBias) : nullptr,
                          ref::out<float>(a, 0), a.scratch);
      },
      scratch);
}

}  // namespace

void register_ms_matmul_nbits_op(OpRegistry& r) {
  r.add({kMsDomain, "MatMulNBits", 1, infer_matmul_nbits, ref_matmul_nbits, {}});
}

}  // namespace quench
