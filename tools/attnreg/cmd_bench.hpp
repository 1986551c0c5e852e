// `attnreg bench`.
#pragma once

#include <CLI/CLI.hpp>

namespace attnreg::cli {

/// Adds the `bench` subcommand: decode and prefill sweeps of a backend on
/// synthetic batches, reporting GB/s (decode) and GFLOP/s (prefill) and their
/// fraction of this machine's measured read bandwidth / FMA peak.
void add_bench_command(CLI::App& app);

}  // namespace attnreg::cli
