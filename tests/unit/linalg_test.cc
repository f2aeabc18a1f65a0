#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/op_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::run_node;
using testing::tensors_near;

// Float results of a handful of products of small integers are exact.
constexpr double kExact = 0.0;
constexpr double kFloatTol = 1e-6;

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}

// Row-major [rows, cols] values stored transposed, as [cols, rows].
std::vector<float> transposed(const std::vector<float>& v, int64_t rows, int64_t cols) {
  std::vector<float> t(v.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = v[r * cols + c];
  }
  return t;
}

// Output types and shapes inferred for `node`; an input with no type and no shape is absent.
std::vector<ValueInfo> infer(const Node& node, std::vector<ValueInfo> inputs, int64_t opset = 17) {
  std::vector<const ValueInfo*> ptrs;
  for (const ValueInfo& v : inputs) {
    ptrs.push_back(v.dtype == DType::kUndefined && !v.shape ? nullptr : &v);
  }
  std::vector<ValueInfo> outputs(node.outputs.size());
  InferContext ctx(node, opset, ptrs, std::vector<const Tensor*>(inputs.size(), nullptr), outputs);
  op_registry().find(node.domain, node.op_type)->infer(ctx);
  return outputs;
}

ValueInfo info(SymbolicShape shape, DType dtype = DType::kFloat32) {
  return ValueInfo{dtype, std::move(shape), ""};
}

template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// op(A) = [[1,2,3],[4,5,6]], op(B) = [[7,8],[9,10],[11,12]]: op(A) op(B) = [[58,64],[139,154]].
const std::vector<float> kA = {1, 2, 3, 4, 5, 6};
const std::vector<float> kB = {7, 8, 9, 10, 11, 12};
const std::vector<float> kAB = {58, 64, 139, 154};

class GemmTranspose : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(GemmTranspose, EveryCombination) {
  const auto [trans_a, trans_b] = GetParam();
  const Tensor a = trans_a ? f32({3, 2}, transposed(kA, 2, 3)) : f32({2, 3}, kA);
  const Tensor b = trans_b ? f32({2, 3}, transposed(kB, 3, 2)) : f32({3, 2}, kB);
  const Node node = make_node("Gemm", {"a", "b"}, {"y"},
                              {{"transA", int64_t{trans_a}}, {"transB", int64_t{trans_b}}});
  const auto y = run_node(node, {a, b});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2}, kAB), kExact, 0));
}

INSTANTIATE_TEST_SUITE_P(Linalg, GemmTranspose,
                         ::testing::Values(std::pair{0, 0}, std::pair{0, 1}, std::pair{1, 0},
                                           std::pair{1, 1}));

struct BiasCase {
  const char* name;
  Shape c_shape;
  std::vector<float> c;
  std::vector<float> want;  // 2 * AB + 0.5 * C
};

class GemmBias : public ::testing::TestWithParam<BiasCase> {};

TEST_P(GemmBias, BroadcastsC) {
  const BiasCase& bc = GetParam();
  const Node node = make_node("Gemm", {"a", "b", "c"}, {"y"}, {{"alpha", 2.f}, {"beta", 0.5f}});
  const auto y = run_node(node, {f32({2, 3}, kA), f32({3, 2}, kB), f32(bc.c_shape, bc.c)});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2}, bc.want), kExact, 0));
}

INSTANTIATE_TEST_SUITE_P(
    Linalg, GemmBias,
    ::testing::Values(BiasCase{"scalar", {}, {2}, {117, 129, 279, 309}},
                      BiasCase{"single", {1}, {2}, {117, 129, 279, 309}},
                      BiasCase{"row_vector", {2}, {2, 4}, {117, 130, 279, 310}},
                      BiasCase{"one_by_n", {1, 2}, {2, 4}, {117, 130, 279, 310}},
                      BiasCase{"m_by_one", {2, 1}, {2, 4}, {117, 129, 280, 310}},
                      BiasCase{"full", {2, 2}, {2, 4, 6, 8}, {117, 130, 281, 312}}),
    [](const ::testing::TestParamInfo<BiasCase>& info) { return std::string(info.param.name); });

TEST(Gemm, WithoutC) {
  const Node node = make_node("Gemm", {"a", "b"}, {"y"}, {{"alpha", 0.5f}});
  const auto y = run_node(node, {f32({2, 3}, kA), f32({3, 2}, kB)}, 11);
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2}, {29, 32, 69.5f, 77}), kExact, 0));
}

TEST(Gemm, BetaZeroDoesNotReadC) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Node node = make_node("Gemm", {"a", "b", "c"}, {"y"}, {{"beta", 0.f}});
  const auto y = run_node(node, {f32({2, 3}, kA), f32({3, 2}, kB), f32({2}, {nan, nan})});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2}, kAB), kExact, 0));
}

TEST(Gemm, Double) {
  const Node node = make_node("Gemm", {"a", "b", "c"}, {"y"}, {{"transB", int64_t{1}}});
  const auto y = run_node(node, {Tensor::from_vector<double>({1, 2}, {1, 2}),
                                 Tensor::from_vector<double>({2, 2}, {3, 4, 5, 6}),
                                 Tensor::from_vector<double>({1}, {0.5})});
  EXPECT_TRUE(tensors_near(y[0], Tensor::from_vector<double>({1, 2}, {11.5, 17.5}), kExact, 0));
}

TEST(Gemm, EmptyK) {
  const Node node = make_node("Gemm", {"a", "b", "c"}, {"y"});
  const auto y = run_node(node, {f32({2, 0}, {}), f32({0, 2}, {}), f32({2}, {1, 2})});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2}, {1, 2, 1, 2}), kExact, 0));
}

TEST(Gemm, InfersSymbolicShape) {
  const Node node = make_node("Gemm", {"a", "b", "c"}, {"y"}, {{"transB", int64_t{1}}});
  const auto out = infer(node, {info({Dim("M"), Dim(4)}), info({Dim("N"), Dim(4)}), info({1})});
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("M"), Dim("N")}));
  const auto partial = infer(
      node, {ValueInfo{DType::kFloat32, std::nullopt, ""}, info({Dim(5), Dim(4)}), info({1})});
  EXPECT_EQ(*partial[0].shape, (SymbolicShape{Dim(), Dim(5)}));
}

TEST(Gemm, Errors) {
  const Node node = make_node("Gemm", {"a", "b", "c"}, {"y"});
  EXPECT_NE(error_of([&] {
              infer(node, {info({2, 3}), info({4, 5}), info({5})});
            }).find("inner dimensions differ: A is [2,3] (transA=0), B is [4,5] (transB=0)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              infer(node, {info({2, 3}), info({3, 4}), info({3, 4})});
            }).find("C of shape [3,4] cannot be broadcast to the output shape [2,4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              infer(node, {info({2, 3, 1}), info({3, 4}), info({4})});
            }).find("A must be 2-D"),
            std::string::npos);
  const Node no_c = make_node("Gemm", {"a", "b"}, {"y"});
  EXPECT_NE(error_of([&] {
              infer(no_c, {info({2, 3}), info({3, 4})}, 9);
            }).find("input C is required before opset 11"),
            std::string::npos);
  try {
    run_node(node,
             {Tensor::from_vector<int32_t>({1, 1}, {1}), Tensor::from_vector<int32_t>({1, 1}, {1}),
              Tensor::from_vector<int32_t>({1}, {1})});
    ADD_FAILURE() << "int32 Gemm ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  }
}

TEST(MatMul, TwoByTwo) {
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  const auto y = run_node(node, {f32({2, 3}, kA), f32({3, 2}, kB)});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2}, kAB), kExact, 0));
}

TEST(MatMul, VectorOperands) {
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  // [3] x [3,2] -> [2]: the vector is a row.
  auto y = run_node(node, {f32({3}, {1, 2, 3}), f32({3, 2}, kB)});
  EXPECT_TRUE(tensors_near(y[0], f32({2}, {58, 64}), kExact, 0));
  // [2,3] x [3] -> [2]: the vector is a column.
  y = run_node(node, {f32({2, 3}, kA), f32({3}, {1, 0, -1})});
  EXPECT_TRUE(tensors_near(y[0], f32({2}, {-2, -2}), kExact, 0));
  // [3] x [3] -> []: a dot product.
  y = run_node(node, {f32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})});
  EXPECT_TRUE(tensors_near(y[0], f32({}, {32}), kExact, 0));
  // [2,2,3] x [3] -> [2,2].
  y = run_node(node, {f32({2, 2, 3}, {1, 2, 3, 4, 5, 6, 0, 0, 1, 1, 0, 0}), f32({3}, {1, 0, -1})});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2}, {-2, -2, -1, 1}), kExact, 0));
}

TEST(MatMul, BroadcastsBatchDims) {
  // A is [2,1,2,2] and B[j] = (j + 1) * I for j < 3, so Y[i][j] = (j + 1) * A[i].
  const std::vector<float> a = {1, 2, 3, 4, -1, 0, 5, 7};
  std::vector<float> b;
  for (int j = 0; j < 3; ++j) b.insert(b.end(), {float(j + 1), 0, 0, float(j + 1)});
  std::vector<float> want;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int e = 0; e < 4; ++e) want.push_back(float(j + 1) * a[i * 4 + e]);
    }
  }
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  const auto y = run_node(node, {f32({2, 1, 2, 2}, a), f32({3, 2, 2}, b)});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 3, 2, 2}, want), kExact, 0));
}

TEST(MatMul, SharedRightOperand) {
  // [B,H,S,D] x [D,E] = [2,2,1,3] x [3,2]: every row of A times the same B.
  std::vector<float> a(12);
  for (int i = 0; i < 12; ++i) a[i] = float(i);
  std::vector<float> want;
  for (int row = 0; row < 4; ++row) {
    const float* r = &a[row * 3];
    want.push_back(r[0] * 7 + r[1] * 9 + r[2] * 11);
    want.push_back(r[0] * 8 + r[1] * 10 + r[2] * 12);
  }
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  const auto y = run_node(node, {f32({2, 2, 1, 3}, a), f32({3, 2}, kB)});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 2, 1, 2}, want), kExact, 0));
}

TEST(MatMul, EmptyDims) {
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  auto y = run_node(node, {f32({2, 0}, {}), f32({0, 3}, {})});
  EXPECT_TRUE(tensors_near(y[0], f32({2, 3}, {0, 0, 0, 0, 0, 0}), kExact, 0));
  y = run_node(node, {f32({0, 2, 2}, {}), f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(y[0].shape(), (Shape{0, 2, 3}));
}

TEST(MatMul, Double) {
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  const auto y = run_node(node, {Tensor::from_vector<double>({1, 2}, {0.1, 0.2}),
                                 Tensor::from_vector<double>({2, 1}, {3, 4})});
  EXPECT_TRUE(tensors_near(y[0], Tensor::from_vector<double>({1, 1}, {1.1}), kFloatTol, 0));
}

TEST(MatMul, InfersSymbolicShapes) {
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  auto out = infer(node, {info({Dim("N"), Dim("S"), Dim(4)}), info({4, 5})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("N"), Dim("S"), Dim(5)}));
  out = infer(node, {info({1, Dim("H"), Dim("S"), 8}), info({Dim("B"), 1, 8, Dim("S")})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{Dim("B"), Dim("H"), Dim("S"), Dim("S")}));
  out = infer(node, {info({Dim("K")}), info({Dim("K"), 3})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{3}));
  out = infer(node, {info({2, Dim("K")}), info({Dim("K")})});
  EXPECT_EQ(*out[0].shape, (SymbolicShape{2}));
  out = infer(node, {ValueInfo{DType::kFloat32, std::nullopt, ""}, info({4, 5})});
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_FALSE(out[0].shape.has_value());
}

TEST(MatMul, Errors) {
  const Node node = make_node("MatMul", {"a", "b"}, {"y"});
  EXPECT_NE(error_of([&] {
              infer(node, {info({2, 3}), info({4, 5})});
            }).find("inner dimensions differ: A is [2,3], B is [4,5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              infer(node, {info({2, 3, 4}), info({3, 4, 5})});
            }).find("batch dimensions cannot be broadcast"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              infer(node, {info({}), info({3})});
            }).find("scalars"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              infer(node, {info({2}), info({2}, DType::kFloat64)});
            }).find("different element types"),
            std::string::npos);
  EXPECT_THROW(run_node(node, {f32({2, 3}, kA), f32({2, 3}, kA)}), Error);
}

}  // namespace
}  // namespace quench
