// select_backend: judge every candidate, pick one, or say why none fits.
// The error texts follow vllm/platforms/cuda.py get_attn_backend_cls.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/selector.hpp>
#include <cstdlib>

#include "selector/py_repr.hpp"

namespace attnreg {
namespace {

AttentionConfig on_platform(AttentionConfig config, const Platform& platform) {
  config.device = platform.device;
  config.device_capability = platform.capability;
  return config;
}

// The class path judged for backend, or "" when the member has none (CUSTOM
// unregistered, TORCH_SDPA); the missing path is reported by reasons_for.
std::string path_or_empty(AttentionBackendEnum backend) {
  try {
    return backend.get_path();
  } catch (const ValueError&) {
    return "";
  }
}

// vLLM turns an ImportError into the reason "ImportError"; the message itself
// says far more (which module, where it was searched), so it is kept.
std::vector<std::string> reasons_for(AttentionBackendEnum backend, const AttentionConfig& on_device) {
  const AttentionBackend* cls = nullptr;
  try {
    cls = &backend.get_class();
  } catch (const ImportError& e) {
    return {fmt::format("not available: {}", e.what())};
  } catch (const ValueError& e) {  // no path: CUSTOM unregistered, TORCH_SDPA
    return {fmt::format("not available: {}", e.what())};
  }
  return cls->validate_configuration(on_device);
}

CandidateReport judge(AttentionBackendEnum backend, const AttentionConfig& on_device,
                      CandidateOrigin origin) {
  CandidateReport r;
  r.member = backend;
  r.path = path_or_empty(backend);
  r.origin = origin;
  r.reasons = reasons_for(backend, on_device);
  r.valid = r.reasons.empty();
  r.verdict = r.valid ? "valid" : "not valid";
  return r;
}

// The explicit request, else the environment variable's (empty = unset).
std::optional<std::pair<AttentionBackendEnum, CandidateOrigin>> request_of(
    std::optional<AttentionBackendEnum> requested) {
  if (requested) return std::pair{*requested, CandidateOrigin::REQUESTED};
  const char* env = std::getenv(kBackendEnvVar);
  if (env == nullptr || *env == '\0') return std::nullopt;
  return std::pair{AttentionBackendEnum::from_name(env), CandidateOrigin::ENV};
}

std::string reasons_table(const std::vector<CandidateReport>& candidates) {
  std::vector<std::string> parts;
  for (const auto& c : candidates)
    if (!c.valid) parts.push_back(fmt::format("{}: [{}]", c.member.name(), fmt::join(c.reasons, ", ")));
  return fmt::format("{{{}}}", fmt::join(parts, ", "));
}

}  // namespace

std::string_view to_string(CandidateOrigin origin) noexcept {
  switch (origin) {
    case CandidateOrigin::REQUESTED:
      return "requested";
    case CandidateOrigin::ENV:
      return "env";
    case CandidateOrigin::PRIORITY:
      return "priority";
  }
  return "priority";
}

std::vector<std::string> candidate_reasons(AttentionBackendEnum backend, const AttentionConfig& config,
                                           const Platform& platform) {
  return reasons_for(backend, on_platform(config, platform));
}

const AttentionBackend& Selection::backend() const { return chosen.get_class(); }

std::vector<CandidateReport> judge_candidates(const AttentionConfig& config, const Platform& platform,
                                              std::optional<AttentionBackendEnum> requested) {
  const AttentionConfig on_device = on_platform(config, platform);
  const auto request = request_of(requested);
  std::vector<CandidateReport> candidates;
  if (request) candidates.push_back(judge(request->first, on_device, request->second));
  for (const auto backend : backend_priorities(platform, on_device))
    if (!request || backend != request->first)
      candidates.push_back(judge(backend, on_device, CandidateOrigin::PRIORITY));
  return candidates;
}

Selection select_backend(const AttentionConfig& config, const Platform& platform,
                         std::optional<AttentionBackendEnum> requested) {
  Selection s;
  s.platform = platform;
  s.config = on_platform(config, platform);
  s.candidates = judge_candidates(config, platform, requested);

  // judge_candidates puts a request (argument or environment) first.
  const bool has_request = !s.candidates.empty() && s.candidates.front().origin != CandidateOrigin::PRIORITY;
  if (has_request && !s.candidates.front().valid) {
    const CandidateReport& r = s.candidates.front();
    throw ValueError(fmt::format("Selected backend {} is not valid for this configuration. Reason: {}",
                                 to_string(r.member), detail::py_list_repr(r.reasons)));
  }
  const auto first_valid = std::find_if(s.candidates.begin(), s.candidates.end(),
                                        [](const CandidateReport& c) { return c.valid; });
  if (first_valid == s.candidates.end())
    throw ValueError(fmt::format("No valid attention backend found for {} with {}. Reasons: {}.",
                                 to_string(platform.device), config_repr(s.config),
                                 reasons_table(s.candidates)));

  first_valid->selected = true;
  first_valid->verdict = "selected";
  s.chosen = first_valid->member;
  s.origin = first_valid->origin;
  for (auto& c : s.candidates) {
    if (!c.valid || c.selected) continue;
    c.verdict = has_request ? fmt::format("valid, not requested ({} was)", s.chosen.name())
                            : fmt::format("valid, lower priority than {}", s.chosen.name());
  }
  return s;
}

}  // namespace attnreg
