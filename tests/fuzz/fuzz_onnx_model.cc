// ONNX model: parse, verify, infer shapes, make a session, plan for small concrete input shapes
// and run once on zeros, as `quench run` would. External data resolves against an empty folder.
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "quench/inspect.h"
#include "quench/model_io.h"
#include "quench/passes.h"
#include "quench/session.h"

namespace {

// Unknown dims become 1; inputs with more than this many elements are not run (the fuzzer would
// spend its time in kernels instead of parsers and planners).
constexpr int64_t kMaxInputElements = 1 << 12;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quench;
  fuzz::set_fuzz_limits();
  static const auto empty_dir = fuzz::as_file(data, 0, ".onnx").parent_path() / "model-dir";
  std::filesystem::create_directories(empty_dir);
  try {
    const Model model = parse_model(std::string_view(reinterpret_cast<const char*>(data), size),
                                    empty_dir, "fuzz.onnx");
    // inspect's report: structure, unsupported nodes, shape inference, a plan at batch 1.
    if (!model_problems(model).empty()) return 0;
    const Session session(model, SessionOptions{1});
    std::vector<Tensor> zeros;
    for (const IoInfo& input : session.inputs()) {
      Shape shape;
      int64_t elements = 1;
      for (const Dim& d : input.shape) {
        shape.push_back(d.known() ? d.value : 1);
        elements *= std::max<int64_t>(shape.back(), 1);
        if (elements > kMaxInputElements) return 0;
      }
      zeros.push_back(Tensor::zeros(input.dtype, shape));
    }
    session.run(zeros);
  } catch (const Error&) {
  }
  return 0;
}
