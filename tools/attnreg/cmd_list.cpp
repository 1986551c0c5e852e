// `attnreg list`: the whole registry at a glance.
#include "cmd_list.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "member_report.hpp"

namespace attnreg::cli {
namespace {

std::vector<MemberReport> all_reports() {
  std::vector<MemberReport> out;
  for (auto m : AttentionBackendEnum::members()) out.push_back(report(m));
  for (auto m : MambaAttentionBackendEnum::members()) out.push_back(report(m));
  return out;
}

// "yes (NAME)" or "no (ErrorType)": the full error text is `show`'s job.
std::string resolves_cell(const MemberReport& r) {
  return r.resolves ? fmt::format("yes ({})", r.class_name) : fmt::format("no ({})", r.error_type);
}

void print_table(const std::vector<MemberReport>& reports) {
  const std::vector<std::string> header = {"MEMBER", "DEFAULT PATH", "OVERRIDE", "RESOLVES"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : reports)
    rows.push_back({fmt::format("{}.{}", r.enum_name, r.name), r.default_path.empty() ? "-" : r.default_path,
                    r.override.value_or("-"), resolves_cell(r)});
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  const auto print_row = [&](const std::vector<std::string>& row) {
    // Pad every column but the last, which may be long and needs no padding.
    for (std::size_t c = 0; c + 1 < row.size(); ++c) fmt::print("{:<{}}  ", row[c], width[c]);
    fmt::print("{}\n", row.back());
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

}  // namespace

void add_list_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("list", "List every backend of both registries and whether it resolves");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print the list as a JSON array of members");
  cmd->callback([json] {
    const auto reports = all_reports();
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : reports) out.push_back(to_json(r));
      fmt::print("{}\n", out.dump(2));
    } else {
      print_table(reports);
    }
  });
}

}  // namespace attnreg::cli
