// Multi-input data: npy:NAME=FILE,... datasets, DataBinding (names, shapes, types, integer
// conversion) and calibration feeding every input of a two-input model.
#include <gtest/gtest.h>

#include "quench/data.h"
#include "quench/evaluate.h"
#include "quench/quantize.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make_node;
using testing::TempDir;

// y = a * b + c where a, b are float [N, 4] and ids int32 [N, 2] is summed in as float.
Model two_float_one_int_inputs() {
  Model m;
  Graph& g = m.graph;
  g.opsets[""] = 17;
  g.inputs = {"a", "b", "ids"};
  g.outputs = {"y"};
  g.values["a"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), Dim(4)}, ""};
  g.values["b"] = ValueInfo{DType::kFloat32, SymbolicShape{Dim("N"), Dim(4)}, ""};
  g.values["ids"] = ValueInfo{DType::kInt32, SymbolicShape{Dim("N"), Dim(2)}, ""};
  Node cast = make_node("Cast", {"ids"}, {"idf"});
  cast.set_attr("to", int64_t{1});
  g.initializers["axes"] = Tensor::from_vector<int64_t>({1}, {1});
  g.nodes = {make_node("Mul", {"a", "b"}, {"p"}), cast,
             make_node("ReduceSum", {"idf", "axes"}, {"ids_sum"}),
             make_node("Add", {"p", "ids_sum"}, {"y"})};
  return m;
}

struct Files {
  TempDir dir;
  std::string a, b, ids, labels;
};

void write_arrays(Files& f, int64_t n) {
  Tensor a = Tensor::empty(DType::kFloat32, {n, 4}), b = Tensor::empty(DType::kFloat32, {n, 4});
  Tensor ids = Tensor::empty(DType::kInt64, {n, 2}), labels = Tensor::empty(DType::kInt64, {n});
  for (int64_t i = 0; i < 4 * n; ++i) {
    a.data<float>()[i] = 0.25f * static_cast<float>(i % 9) - 1.f;
    b.data<float>()[i] = 0.5f * static_cast<float>(i % 5);
  }
  for (int64_t i = 0; i < 2 * n; ++i) ids.data<int64_t>()[i] = i % 7;
  for (int64_t i = 0; i < n; ++i) labels.data<int64_t>()[i] = i % 3;
  f.a = f.dir.file("a.npy");
  f.b = f.dir.file("b.npy");
  f.ids = f.dir.file("ids.npy");
  f.labels = f.dir.file("labels.npy");
  write_npy(a, f.a);
  write_npy(b, f.b);
  write_npy(ids, f.ids);
  write_npy(labels, f.labels);
}

TEST(NamedArrays, OneArrayPerInputWithLabels) {
  Files f;
  write_arrays(f, 6);
  const auto data =
      open_dataset("npy:a=" + f.a + ",ids=" + f.ids + ",b=" + f.b + ",labels=" + f.labels);
  ASSERT_EQ(data->inputs().size(), 3u);
  EXPECT_EQ(data->inputs()[1].name, "ids");
  EXPECT_EQ(data->inputs()[1].dtype, DType::kInt64);
  EXPECT_EQ(data->inputs()[1].sample_shape, (Shape{2}));
  EXPECT_TRUE(data->has_labels());
  const Batch batch = data->batch(2, 3);
  ASSERT_EQ(batch.inputs.size(), 3u);
  EXPECT_EQ(batch.inputs[0].shape(), (Shape{3, 4}));
  EXPECT_EQ(batch.inputs[0].data<float>()[0], 0.25f * 8 - 1.f);  // element 8 of a
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{2, 0, 1}));
}

TEST(NamedArrays, BindingFeedsEveryInputByName) {
  Files f;
  write_arrays(f, 5);
  const Session session(two_float_one_int_inputs());
  const auto data = open_dataset("npy:ids=" + f.ids + ",b=" + f.b + ",a=" + f.a);
  const DataBinding binding(session, *data, "test data");
  const std::vector<Tensor> feeds = binding.feeds(data->batch(0, 5));
  ASSERT_EQ(feeds.size(), 3u);
  EXPECT_EQ(feeds[2].dtype(), DType::kInt32);  // int64 data narrowed to the model's int32
  EXPECT_EQ(feeds[2].data<int32_t>()[3], 3);
  const Tensor y = session.run(feeds)[0];
  // Row 0: a = [-1, -0.75, -0.5, -0.25], b = [0, 0.5, 1, 1.5], ids = [0, 1].
  EXPECT_FLOAT_EQ(y.data<float>()[0], -1.f * 0.f + 1.f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], -0.75f * 0.5f + 1.f);
}

TEST(NamedArrays, BindingNamesWhatIsMissingOrExtra) {
  Files f;
  write_arrays(f, 4);
  const Session session(two_float_one_int_inputs());
  auto error_of = [&](const std::string& spec) {
    try {
      DataBinding(session, *open_dataset(spec), "the data");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("npy:a=" + f.a + ",b=" + f.b).find("nothing for model input 'ids'"),
            std::string::npos);
  EXPECT_NE(error_of("npy:a=" + f.a + ",b=" + f.b + ",ids=" + f.ids + ",extra=" + f.a)
                .find("input 'extra', which the model does not take"),
            std::string::npos);
  EXPECT_NE(error_of(f.a).find("one unnamed input, but the model takes 3"), std::string::npos);
  EXPECT_NE(error_of("npy:a=" + f.ids + ",b=" + f.b + ",ids=" + f.ids).find("expects [N,4]"),
            std::string::npos);
  EXPECT_THROW(open_dataset("npy:a=" + f.a + ",a=" + f.b), Error);
  EXPECT_THROW(open_dataset("npy:a=" + f.a + ",=" + f.b), Error);
  DataOptions resize;
  resize.resize_height = resize.resize_width = 4;
  EXPECT_THROW(open_dataset("npy:a=" + f.a, resize), Error);
}

TEST(NamedArrays, CalibrationObservesEveryInput) {
  Files f;
  write_arrays(f, 8);
  const Model prepared = prepare_for_quantization(two_float_one_int_inputs());
  CalibrateOptions options;
  options.progress = false;
  options.batch = 3;
  const CalibrationTable table =
      calibrate(prepared, *open_dataset("npy:a=" + f.a + ",b=" + f.b + ",ids=" + f.ids),
                QuantRecipe{}, options);
  EXPECT_EQ(table.samples, 8);
  ASSERT_TRUE(table.observers.count("a") && table.observers.count("b"));
  EXPECT_EQ(table.observers.at("a").min(), -1.f);
  EXPECT_EQ(table.observers.at("b").max(), 2.f);
}

}  // namespace
}  // namespace quench
