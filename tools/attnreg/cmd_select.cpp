// `attnreg select`: which backend the selector picks for a layer on a
// platform, and why each candidate was or was not chosen.
#include "cmd_select.hpp"

#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <attnreg/selector.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "layer_options.hpp"

namespace attnreg::cli {
namespace {

nlohmann::json to_json(const std::vector<CandidateReport>& candidates) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : candidates)
    out.push_back({{"backend", c.member.name()},
                   {"path", c.path},
                   {"origin", to_string(c.origin)},
                   {"valid", c.valid},
                   {"selected", c.selected},
                   {"verdict", c.verdict},
                   {"reasons", c.reasons}});
  return out;
}

nlohmann::json to_json(const Platform& p) {
  nlohmann::json capability = nullptr;
  if (p.capability) capability = fmt::format("{}.{}", p.capability->major, p.capability->minor);
  return {{"device", to_string(p.device)}, {"name", p.name}, {"capability", capability}};
}

struct SelectOptions {
  LayerOptions layer;
  bool attention_free = false;
  bool json = false;
};

// Prints the selection; when nothing can be selected, prints every candidate
// with its reasons first and then lets the ValueError end the command.
void run_select(const SelectOptions& o) {
  AttentionConfig config = to_config(o.layer);
  config.has_attention = !o.attention_free;
  const Platform platform = to_platform(o.layer);
  const auto requested = requested_backend(o.layer);
  try {
    const Selection s = select_backend(config, platform, requested);
    if (o.json) {
      const nlohmann::json out = {{"platform", to_json(platform)}, {"config", config_repr(s.config)},
                                  {"selected", s.chosen.name()},   {"path", s.chosen.get_path()},
                                  {"origin", to_string(s.origin)}, {"candidates", to_json(s.candidates)}};
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{}", s.explain());
    }
  } catch (const ValueError& e) {
    const auto candidates = judge_candidates(config, platform, requested);
    if (o.json) {
      const nlohmann::json out = {{"platform", to_json(platform)},
                                  {"selected", nullptr},
                                  {"error", e.what()},
                                  {"candidates", to_json(candidates)}};
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("platform: {}\nselected: none\n\n{}", to_string(platform), candidates_table(candidates));
    }
    std::fflush(stdout);  // the table first, then main's error line on stderr
    throw;
  }
}

}  // namespace

void add_select_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("select", "Choose the attention backend for a layer and explain every candidate");
  auto opts = std::make_shared<SelectOptions>();
  add_layer_options(*cmd, opts->layer, /*shape_required=*/true,
                    "cpu or cuda (default: the detected platform)");
  cmd->add_flag("--attention-free", opts->attention_free, "The model has no attention layers (NO_ATTENTION)");
  cmd->add_flag("--json", opts->json, "Print the selection as JSON");
  cmd->callback([opts] { run_select(*opts); });
}

}  // namespace attnreg::cli
