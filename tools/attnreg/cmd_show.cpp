// `attnreg show NAME`: one member in detail.
#include "cmd_show.hpp"

#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <memory>

#include "member_report.hpp"

namespace attnreg::cli {
namespace {

struct ShowOptions {
  std::string name;
  bool mamba = false;
  bool json = false;
};

// NAME in AttentionBackendEnum, or in MambaAttentionBackendEnum with --mamba
// or when only that table has it; otherwise the attention registry's error
// (with its did-you-mean) ends the command.
MemberReport find(const ShowOptions& o) {
  if (o.mamba) return report(MambaAttentionBackendEnum::from_name(o.name));
  try {
    return report(AttentionBackendEnum::from_name(o.name));
  } catch (const ValueError&) {
    for (auto m : MambaAttentionBackendEnum::members())
      if (m.name() == o.name) return report(m);
    throw;
  }
}

void print(const MemberReport& r) {
  fmt::print("{}.{}\n", r.enum_name, r.name);
  fmt::print("  default path: {}\n", r.default_path.empty() ? "(none)" : r.default_path);
  fmt::print("  override:     {}\n", r.override.value_or("(none)"));
  fmt::print("  path:         {}\n", r.path.value_or("(none)"));
  if (r.resolves)
    fmt::print("  resolves to:  {}\n", r.class_name);
  else
    fmt::print("  resolves to:  nothing: {}: {}\n", r.error_type, r.error);
}

}  // namespace

void add_show_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("show", "Show one backend's path, override and what it resolves to");
  auto opts = std::make_shared<ShowOptions>();
  cmd->add_option("NAME", opts->name, "Member name, e.g. FLASH_ATTN")->required();
  cmd->add_flag("--mamba", opts->mamba, "Look NAME up in MambaAttentionBackendEnum (e.g. for CUSTOM)");
  cmd->add_flag("--json", opts->json, "Print the member as a JSON object");
  cmd->callback([opts] {
    const MemberReport r = find(*opts);
    if (opts->json)
      fmt::print("{}\n", to_json(r).dump(2));
    else
      print(r);
  });
}

}  // namespace attnreg::cli
