// quench: quantize neural networks and run them fast.
#include <cstdio>
#include <iostream>
#include <new>

#include "quench/cli.h"
#include "quench/error.h"
#include "quench/interrupt.h"
#include "quench/limits.h"

int main(int argc, char** argv) {
  quench::install_interrupt_handler();
  quench::cli::set_command_line(argc, argv);
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
  quench::cli::add_compare_command(app, action);
  quench::cli::add_sensitivity_command(app, action);
  quench::cli::add_report_command(app, action);
  quench::cli::add_train_command(app, action);
  quench::cli::add_qat_command(app, action);
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
    return quench::cli::exit_code(e.kind());
  } catch (const std::bad_alloc&) {
    // Allocations quench checks against its limits fail earlier with a message; this is one it
    // does not (a container inside a library) failing under `ulimit -v` or a cgroup limit.
    std::fflush(stdout);
    std::fprintf(stderr, "quench: error: out of memory (%llu bytes are available to quench)\n",
                 static_cast<unsigned long long>(quench::available_memory_bytes()));
    return quench::cli::exit_code(quench::ErrorKind::kResource);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "quench: internal error: %s\n", e.what());
    return 70;
  }
}
