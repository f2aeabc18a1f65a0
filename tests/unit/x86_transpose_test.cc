// The fast Transpose kernel (kernels/x86/transpose.cc) against the reference, byte for byte:
// every permutation of ranks 3 and 4, random permutations of ranks 2 to 6, the element sizes 1, 2,
// 4 and 8 (u8, s8, f16, f32, i64), size-1 dims, empty tensors; and the kernel chosen by a Session.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "quench/session.h"
#include "runtime/kernel_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using Ints = std::vector<int64_t>;

// A tensor whose bytes are all different from their neighbours (a misplaced element shows).
Tensor patterned(DType dtype, const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::empty(dtype, shape);
  std::mt19937 rng(seed);
  auto* bytes = static_cast<uint8_t*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) bytes[i] = static_cast<uint8_t>(rng());
  return t;
}

// A Transpose node; `perm` null: the attribute absent.
Node transpose_node(const Ints* perm) {
  return perm ? testing::make_node("Transpose", {"x"}, {"y"}, {{"perm", *perm}})
              : testing::make_node("Transpose", {"x"}, {"y"});
}

const FastKernel& fast_transpose() {
  const OpDef* def = kernel_registry().find("", "Transpose");
  for (const FastKernel& fk : def->fast) {
    if (fk.name == "x86") return fk;
  }
  throw Error(ErrorKind::kInternal, "no x86 Transpose kernel");
}

// Runs the fast kernel on `x`; an undefined Tensor when it declined.
Tensor run_fast(const Node& node, const Tensor& x) {
  const std::vector<ValueInfo> outputs =
      testing::infer_node(node, {ValueInfo{x.dtype(), symbolic(x.shape()), ""}});
  KernelContext ctx{node, 17, {}, {}, 1, false};
  ctx.inputs.push_back(TensorDesc{x.dtype(), x.shape(), nullptr, {}});
  ctx.outputs.push_back(
      TensorDesc{outputs.at(0).dtype, *concrete(*outputs.at(0).shape), nullptr, {}});
  std::unique_ptr<Kernel> kernel = fast_transpose().make(ctx);
  if (kernel == nullptr) return Tensor();
  EXPECT_EQ(kernel->impl().rfind("x86:", 0), 0u) << kernel->impl();
  Tensor y = Tensor::empty(ctx.outputs[0].dtype, ctx.outputs[0].shape);
  auto scratch = aligned_alloc_shared(std::max<size_t>(kernel->scratch_bytes(), 64));
  auto state = kernel->make_state();
  const void* inputs[] = {x.raw_data()};
  void* outputs_ptrs[] = {y.raw_data()};
  kernel->run(KernelArgs{inputs, outputs_ptrs, scratch.get(), state.get()});
  return y;
}

// The fast kernel's output equals the reference's byte for byte.
void expect_matches_reference(DType dtype, const Shape& shape, const Ints* perm, uint32_t seed) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + shape_str(shape) + " perm " +
               (perm ? shape_str(*perm) : std::string("default")));
  const Tensor x = patterned(dtype, shape, seed);
  const Node node = transpose_node(perm);
  const Tensor want = testing::run_node(node, {x}).at(0);
  const Tensor got = run_fast(node, x);
  ASSERT_TRUE(got.defined()) << "the fast kernel declined";
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()), 0);
}

const DType kTypes[] = {DType::kUInt8, DType::kInt8, DType::kFloat16, DType::kFloat32,
                        DType::kInt64};

TEST(FastTranspose, EveryPermutationOfRank3And4) {
  const std::vector<Shape> shapes = {{5, 3, 7},     {4, 17, 16},    {3, 1, 33},
                                     {2, 5, 3, 19}, {2, 17, 4, 16}, {1, 18, 1, 20}};
  for (DType dtype : kTypes) {
    for (const Shape& shape : shapes) {
      Ints perm(shape.size());
      std::iota(perm.begin(), perm.end(), 0);
      do {
        expect_matches_reference(dtype, shape, &perm, 1);
      } while (std::next_permutation(perm.begin(), perm.end()));
    }
  }
}

TEST(FastTranspose, RandomPermutationsOfRank2To6) {
  std::mt19937 rng(7);
  for (size_t rank = 2; rank <= 6; ++rank) {
    for (int trial = 0; trial < 12; ++trial) {
      Shape shape(rank);
      // Dims of 1 to 40 for small ranks, fewer as the rank grows; 1s appear too.
      std::uniform_int_distribution<int64_t> dim(1, rank <= 3 ? 40 : rank == 4 ? 12 : 6);
      for (int64_t& d : shape) d = dim(rng);
      Ints perm(rank);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      for (DType dtype : kTypes) expect_matches_reference(dtype, shape, &perm, trial);
    }
  }
}

TEST(FastTranspose, LargeTilesAndLongRuns) {
  const Ints swap_last{0, 2, 1};
  const Ints keep_last{1, 0, 2};
  for (DType dtype : kTypes) {
    expect_matches_reference(dtype, {3, 70, 45}, &swap_last, 2);  // partial tiles both ways
    expect_matches_reference(dtype, {40, 30, 100}, &keep_last, 3);
  }
}

TEST(FastTranspose, DefaultPermReversesDims) {
  for (DType dtype : kTypes) expect_matches_reference(dtype, {2, 3, 4, 5}, nullptr, 4);
  const Tensor x = Tensor::from_vector<uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor y = run_fast(transpose_node(nullptr), x);
  ASSERT_TRUE(y.defined());
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
}

TEST(FastTranspose, IdentityScalarAndSizeOneDims) {
  const Ints identity{0, 1, 2};
  const Ints one_dims{2, 0, 1};
  const Ints none{};
  for (DType dtype : kTypes) {
    expect_matches_reference(dtype, {4, 5, 6}, &identity, 5);
    expect_matches_reference(dtype, {1, 1, 1}, &one_dims, 6);
    expect_matches_reference(dtype, {7, 1, 1}, &one_dims, 7);
    expect_matches_reference(dtype, {}, &none, 8);
  }
}

TEST(FastTranspose, EmptyTensors) {
  const Ints perm{2, 0, 1};
  for (DType dtype : kTypes) {
    expect_matches_reference(dtype, {0, 3, 4}, &perm, 9);
    expect_matches_reference(dtype, {3, 4, 0}, &perm, 9);
    expect_matches_reference(dtype, {5, 0, 0}, &perm, 9);
  }
}

TEST(FastTranspose, InvalidPermIsLeftToTheReference) {
  const Ints repeated{0, 0, 1};
  const Tensor x = patterned(DType::kFloat32, {2, 3, 4}, 10);
  const Node node = transpose_node(&repeated);
  KernelContext ctx{node, 17, {}, {}, 1, false};
  ctx.inputs.push_back(TensorDesc{x.dtype(), x.shape(), nullptr, {}});
  ctx.outputs.push_back(TensorDesc{x.dtype(), x.shape(), nullptr, {}});
  EXPECT_EQ(fast_transpose().make(ctx), nullptr);
  EXPECT_THROW(testing::run_node(node, {x}), Error);
}

// A Session chooses the fast kernel for float and 8-bit data and agrees with the reference one.
TEST(FastTranspose, ChosenBySession) {
  const Ints perm{2, 0, 3, 1, 4};
  for (DType dtype : {DType::kFloat32, DType::kUInt8}) {
    Model m;
    m.graph.opsets[""] = 17;
    m.graph.inputs = {"x"};
    m.graph.values["x"] = ValueInfo{dtype, symbolic(Shape{2, 17, 3, 4, 16}), ""};
    m.graph.nodes.push_back(transpose_node(&perm));
    m.graph.outputs = {"y"};
    SessionOptions ref_options;
    ref_options.fast_kernels = false;
    const Session ref(m, ref_options);
    const Session fast(m, SessionOptions{});
    const Tensor x = patterned(dtype, {2, 17, 3, 4, 16}, 11);
    EXPECT_TRUE(fast.run({x}).at(0).equals(ref.run({x}).at(0)));
    bool chosen = false;
    for (const StepInfo& s : fast.plan_steps({x.shape()})) {
      chosen |= s.op_type == "Transpose" && s.impl == "x86:transpose_loop";
    }
    EXPECT_TRUE(chosen) << "the fast kernel was not selected";
  }
}

}  // namespace
}  // namespace quench
