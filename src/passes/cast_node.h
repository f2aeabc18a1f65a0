// A Cast node from one value to another, named after its output.
#pragma once

#include <cstdint>
#include <string>

#include "quench/graph.h"

namespace quench {

inline Node cast_node(const std::string& from, DType to, const std::string& output) {
  Node c;
  c.op_type = "Cast";
  c.name = output + "/Cast";
  c.inputs = {from};
  c.outputs = {output};
  c.set_attr("to", static_cast<int64_t>(to));
  return c;
}

}  // namespace quench
