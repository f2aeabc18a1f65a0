// The last step of every writer: the model it wrote passes the ONNX checker, or quench's own
// structure checks where the model is newer than the checker knows.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "quench/graph.h"

namespace quench::quant {

// Runs the ONNX checker on a model a writer produced; a failure is quench's bug (kInternal,
// `what` names the model, e.g. "the quantized model"). A model whose IR version or opset is newer
// than this build's checker (the writers keep the input's) is verified by verify_graph() instead,
// and a note saying so is added to `notes`.
void check_written_model(const Model& model, std::string_view what,
                         std::vector<std::string>& notes);

}  // namespace quench::quant
