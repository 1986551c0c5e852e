// `attnreg list`.
#pragma once

#include <CLI/CLI.hpp>

namespace attnreg::cli {

/// Adds the `list` subcommand: every member of both enums with its default
/// path, override and whether it resolves in this build (--json for JSON).
void add_list_command(CLI::App& app);

}  // namespace attnreg::cli
