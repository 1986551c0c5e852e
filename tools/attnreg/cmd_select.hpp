// `attnreg select`.
#pragma once

#include <CLI/CLI.hpp>

namespace attnreg::cli {

/// Adds the `select` subcommand: the selector's choice for the layer the
/// flags describe, with a table (or --json) of every candidate and its reasons.
void add_select_command(CLI::App& app);

}  // namespace attnreg::cli
