// `attnreg run`.
#pragma once

#include <CLI/CLI.hpp>

namespace attnreg::cli {

/// Adds the `run` subcommand: one forward of a backend on a synthetic mixed
/// batch in a paged cache (host memory), its time and throughput, and with
/// --check a comparison against the float64 reference (exit 1 on FAIL).
void add_run_command(CLI::App& app);

}  // namespace attnreg::cli
