// The low-bit options of `quench quantize` (quench::LowBitOptions, include/quench/lowbit.h).
#pragma once

#include "quench/cli.h"
#include "quench/lowbit.h"

namespace quench::cli {

void add_lowbit_options(CLI::App& cmd, LowBitOptions& o);

}  // namespace quench::cli
