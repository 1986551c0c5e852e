// `attnreg show`.
#pragma once

#include <CLI/CLI.hpp>

namespace attnreg::cli {

/// Adds the `show NAME` subcommand: one member's path, override and the
/// result of resolving it (the class name, or the full error). An unknown
/// NAME ends the command with the registry's ValueError.
void add_show_command(CLI::App& app);

}  // namespace attnreg::cli
