#include "quench/cli.h"

namespace quench::cli {

void add_run_command(CLI::App&, Action&) {}

}  // namespace quench::cli
