// The `attnreg` command line: one subcommand per file, each added here.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <attnreg/errors.hpp>
#include <cstdio>

#include "cmd_bench.hpp"
#include "cmd_list.hpp"
#include "cmd_run.hpp"
#include "cmd_select.hpp"
#include "cmd_show.hpp"

int main(int argc, char** argv) {
  CLI::App app{"attnreg: the attention backend registry"};
  app.require_subcommand(1);
  attnreg::cli::add_list_command(app);
  attnreg::cli::add_show_command(app);
  attnreg::cli::add_select_command(app);
  attnreg::cli::add_run_command(app);
  attnreg::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const attnreg::Error& e) {
    // A command's failure: the library's message already says what was wrong
    // and what would be right.
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
