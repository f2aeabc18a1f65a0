// The ONNX backend tests (Debian's libonnx-testdata) as conformance tests, run with the reference
// kernels and with the fast kernels, outputs within the ONNX backend's default tolerance:
// - node tests: every test whose ops quench supports;
// - model tests (pytorch-converted, pytorch-operator, simple): every test, unless
//   tests/conformance/excluded.txt names it ("pytorch-operator/test_operator_index") with the
//   reason; a model test that cannot run and is not excluded fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "ops/op_registry.h"
#include "quench/model_io.h"
#include "quench/session.h"
#include "test_util.h"

namespace quench {
namespace {
namespace fs = std::filesystem;

// rtol/atol of onnx.backend.test (numpy.testing.assert_allclose defaults used there).
constexpr double kConformanceRtol = 1e-3;
constexpr double kConformanceAtol = 1e-7;

fs::path data_root() {
  const char* env = std::getenv("QUENCH_ONNX_TESTDATA");
  return env ? fs::path(env) : fs::path("/usr/share/libonnx-testdata/data");
}

// Cases excluded on purpose, with the reason (tests/conformance/excluded.txt: "name  reason").
const std::map<std::string, std::string>& excluded() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> t;
    std::ifstream in(fs::path(QUENCH_SOURCE_DIR) / "tests/conformance/excluded.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto space = line.find_first_of(" \t");
      t[line.substr(0, space)] =
          space == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", space));
    }
    return t;
  }();
  return table;
}

// The model suites: every case runs or is excluded with a reason.
constexpr const char* kModelSuites[] = {"pytorch-converted", "pytorch-operator", "simple"};

struct Case {
  std::string name;  // gtest-safe: "test_abs", "pytorch_operator__test_operator_add_broadcast"
  fs::path dir;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// A case applies when its model loads and every node's op is registered.
bool applicable(const fs::path& dir) {
  try {
    Model m = load_model(dir / "model.onnx");
    for (const Node& n : m.graph.nodes) {
      if (!unsupported_reason(n, m.graph).empty()) return false;
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

// "pytorch-operator/test_x" -> "pytorch_operator__test_x" (gtest names are C identifiers).
std::string case_name(const std::string& suite, const std::string& test) {
  if (suite == "node") return test;
  std::string name = suite + "__" + test;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::vector<Case> discover() {
  std::vector<Case> cases;
  std::error_code ec;
  const fs::path root = data_root() / "node";
  if (fs::is_directory(root, ec)) {
    for (const auto& entry : fs::directory_iterator(root)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_directory() || excluded().count(name)) continue;
      if (applicable(entry.path())) cases.push_back({name, entry.path()});
    }
  }
  // Model suites: no applicability filter; what cannot run must be in excluded.txt.
  for (const char* suite : kModelSuites) {
    const fs::path dir = data_root() / suite;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string test = entry.path().filename().string();
      if (!entry.is_directory() || excluded().count(std::string(suite) + "/" + test)) continue;
      cases.push_back({case_name(suite, test), entry.path()});
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const Case& a, const Case& b) { return a.name < b.name; });
  return cases;
}

std::vector<Tensor> load_numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<Tensor> out;
  for (int i = 0;; ++i) {
    const fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    out.push_back(load_tensor_proto(p));
  }
  return out;
}

void check_case(const Case& c, bool fast) {
  SessionOptions options;
  options.fast_kernels = fast;
  options.threads = 1;
  Session session(load_model(c.dir / "model.onnx"), options);
  int sets = 0;
  for (const auto& entry : fs::directory_iterator(c.dir)) {
    if (!entry.is_directory()) continue;
    ++sets;
    const auto inputs = load_numbered(entry.path(), "input_");
    const auto expected = load_numbered(entry.path(), "output_");
    const auto got = session.run(inputs);
    ASSERT_EQ(got.size(), expected.size()) << c.name;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].dtype(), expected[i].dtype()) << c.name << " output " << i;
      const bool exact = !dtype_info(expected[i].dtype()).is_float;
      EXPECT_TRUE(testing::tensors_near(got[i], expected[i], exact ? 0 : kConformanceAtol,
                                        exact ? 0 : kConformanceRtol))
          << c.name << " (" << (fast ? "fast" : "reference") << " kernels) output " << i;
    }
  }
  EXPECT_GT(sets, 0) << c.name << " has no test data";
}

class NodeTest : public ::testing::TestWithParam<Case> {};

TEST_P(NodeTest, ReferenceKernels) { check_case(GetParam(), false); }
TEST_P(NodeTest, FastKernels) { check_case(GetParam(), true); }

INSTANTIATE_TEST_SUITE_P(Onnx, NodeTest, ::testing::ValuesIn(discover()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NodeTest);

// Every excluded case must exist, so the list cannot silently hide renamed tests.
TEST(Conformance, ExcludedCasesExist) {
  if (!fs::is_directory(data_root() / "node")) GTEST_SKIP() << "libonnx-testdata is not installed";
  for (const auto& [name, reason] : excluded()) {
    const bool model_test = name.find('/') != std::string::npos;
    EXPECT_TRUE(
        fs::is_directory(data_root() / (model_test ? fs::path(name) : "node" / fs::path(name))))
        << name;
    EXPECT_FALSE(reason.empty()) << name << " is excluded without a reason";
  }
}

TEST(Conformance, DataIsInstalled) {
  ASSERT_TRUE(fs::is_directory(data_root() / "node"))
      << "libonnx-testdata is missing: apt-get install libonnx-testdata";
}

}  // namespace
}  // namespace quench
