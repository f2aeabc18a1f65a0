#include "quench/cli.h"

namespace quench::cli {

void add_eval_command(CLI::App&, Action&) {}

}  // namespace quench::cli
