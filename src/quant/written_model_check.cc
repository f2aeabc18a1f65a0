#include "quant/written_model_check.h"

#include <fmt/format.h>

#include "core/check.h"
#include "quench/model_io.h"
#include "quench/passes.h"

namespace quench::quant {

void check_written_model(const Model& model, std::string_view what,
                         std::vector<std::string>& notes) {
  const std::string newer = newer_than_checker(model);
  if (!newer.empty()) {
    try {
      verify_graph(model.graph);
    } catch (const Error& e) {
      fail(ErrorKind::kInternal, "{} fails quench's graph checks: {}", what, e.what());
    }
    notes.push_back(fmt::format(
        "the ONNX checker of this build does not know {}; {} was checked by quench's graph "
        "checks only",
        newer, what));
    return;
  }
  try {
    check_model(model);
  } catch (const Error& e) {
    fail(ErrorKind::kInternal, "{} fails the ONNX checker: {}", what, e.what());
  }
}

}  // namespace quench::quant
