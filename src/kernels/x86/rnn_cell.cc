#include "kernels/x86/rnn_cell.h"

#include "kernels/x86/cpu_features.h"

namespace quench::x86 {

// Each ISA's functions (rnn_cell_<isa>.cc).
namespace baseline {
CellFunctions cell_functions();
}
namespace avx2 {
CellFunctions cell_functions();
}
namespace avx512 {
CellFunctions cell_functions();
}

namespace {

const CellFunctions& cells() {
  static const CellFunctions chosen = cpu_features().avx512 ? avx512::cell_functions()
                                      : cpu_features().avx2 ? avx2::cell_functions()
                                                            : baseline::cell_functions();
  return chosen;
}

}  // namespace

void activate(const RnnActivation& activation, float* x, int64_t n) {
  cells().activate(activation, x, n);
}

void rnn_row(const CellMath& m, const float* xw, float* gates, float* h) {
  cells().rnn_row(m, xw, gates, h);
}

void gru_gates_row(const CellMath& m, const float* xw, float* gates, const float* h,
                   float* reset_h) {
  cells().gru_gates_row(m, xw, gates, h, reset_h);
}

void gru_update_row(const CellMath& m, const float* xw, float* recurrent, const float* update,
                    const float* reset, const float* rbh, float* h) {
  cells().gru_update_row(m, xw, recurrent, update, reset, rbh, h);
}

void lstm_row(const CellMath& m, const float* xw, const float* peephole, float* gates, float* h,
              float* c) {
  cells().lstm_row(m, xw, peephole, gates, h, c);
}

void integer_gates(const int32_t* x_acc, const float* x_multiplier, const int32_t* h_acc,
                   const float* h_multiplier, int64_t n, float* gates) {
  cells().integer_gates(x_acc, x_multiplier, h_acc, h_multiplier, n, gates);
}

}  // namespace quench::x86
