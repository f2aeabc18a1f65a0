// quench: quantize neural networks and run them fast.
#include <cstdio>
#include <iostream>

#include "quench/cli.h"
#include "quench/error.h"
#include "quench/interrupt.h"

namespace {

// Exit codes by error kind (docs/cli.md).
int exit_code(quench::ErrorKind kind) {
  switch (kind) {
    case quench::ErrorKind::kInvalidArgument:
      return 2;
    case quench::ErrorKind::kInvalidModel:
      return 3;
    case quench::ErrorKind::kUnsupported:
      return 4;
    case quench::ErrorKind::kIo:
      return 5;
    case quench::ErrorKind::kResource:
      return 6;
    case quench::ErrorKind::kInterrupted:
      return 130;
    case quench::ErrorKind::kInternal:
      return 70;
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  quench::install_interrupt_handler();
  CLI::App app{"quench: quantize neural networks and run them fast"};
  app.set_version_flag("--version", "quench 0.1.0");
  app.require_subcommand(1);
  quench::cli::Action action;
  quench::cli::add_inspect_command(app, action);
  quench::cli::add_run_command(app, action);
  quench::cli::add_eval_command(app, action);
  quench::cli::add_bench_command(app, action);
  quench::cli::add_demo_command(app, action);
  quench::cli::add_calibrate_command(app, action);
  quench::cli::add_quantize_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    return action ? action() : 0;
  } catch (const quench::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "quench: error: %s\n", e.what());
    return exit_code(e.kind());
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "quench: internal error: %s\n", e.what());
    return 70;
  }
}
