#include "ir/shape_util.h"

#include <algorithm>

#include "core/check.h"

namespace quench {

std::optional<SymbolicShape> broadcast_shapes(const SymbolicShape& a, const SymbolicShape& b) {
  const size_t rank = std::max(a.size(), b.size());
  SymbolicShape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Dim da = i < rank - a.size() ? Dim(1) : a[i - (rank - a.size())];
    const Dim db = i < rank - b.size() ? Dim(1) : b[i - (rank - b.size())];
    if (da.known() && db.known()) {
      if (da.value != db.value && da.value != 1 && db.value != 1) return std::nullopt;
      out[i] = Dim(da.value == 1 ? db.value : da.value);
    } else if (da.known() && da.value == 1) {
      out[i] = db;
    } else if (db.known() && db.value == 1) {
      out[i] = da;
    } else if (da.known()) {
      out[i] = da;  // the other is unknown: it must be 1 or equal
    } else if (db.known()) {
      out[i] = db;
    } else {
      out[i] = (da == db) ? da : Dim();
    }
  }
  return out;
}

std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  auto s = broadcast_shapes(symbolic(a), symbolic(b));
  if (!s) return std::nullopt;
  return concrete(*s);
}

int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node) {
  QUENCH_CHECK(axis >= -rank && axis < rank, ErrorKind::kInvalidModel,
               "{}: axis {} is out of range for rank {}", node.describe(), axis, rank);
  return axis < 0 ? axis + rank : axis;
}

Shape strides_of(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

}  // namespace quench
