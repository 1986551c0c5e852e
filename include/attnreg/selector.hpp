// attnreg/selector.hpp: choosing an attention backend for a configuration on
// a platform, with a reason for every candidate (vLLM's
// Platform.get_attn_backend_cls / get_valid_backends, vllm/platforms/*.py).
//
// The candidates are the platform's priority list (backend_priorities), or
// the one backend requested by the caller or by the environment variable
// ATTNREG_ATTENTION_BACKEND. Each candidate's class comes from
// member.get_class(), so a backend overridden with register_backend is judged
// (and chosen) through its override's class; a class that cannot be imported
// makes the candidate fail with the import error as its reason.
//
// Thread safety: every function here may be called from any thread (the
// registry and import system are thread-safe, and the selector keeps no
// state). The environment variable is read with std::getenv at each call;
// as for any getenv, do not setenv/unsetenv concurrently.
#pragma once

#include <attnreg/backend.hpp>
#include <attnreg/platform.hpp>
#include <attnreg/registry.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnreg {

/// Environment variable naming a backend member (e.g. "FLASH_ATTN"), honoured
/// as a request when select_backend gets none; empty counts as unset.
inline constexpr const char* kBackendEnvVar = "ATTNREG_ATTENTION_BACKEND";

/// How a candidate came to be considered.
enum class CandidateOrigin {
  REQUESTED,  ///< the `requested` argument of select_backend
  ENV,        ///< the ATTNREG_ATTENTION_BACKEND environment variable
  PRIORITY,   ///< the platform's priority list
};

/// "requested", "env" or "priority".
std::string_view to_string(CandidateOrigin origin) noexcept;

/// One backend the selector considered, and its verdict.
struct CandidateReport {
  AttentionBackendEnum member = AttentionBackendEnum::CUSTOM;
  /// The class path judged (override included); "" when the member has none.
  std::string path;
  CandidateOrigin origin = CandidateOrigin::PRIORITY;
  /// Its class imported and validate_configuration returned no reason.
  bool valid = false;
  /// It is the one chosen.
  bool selected = false;
  /// Why it is not valid: validate_configuration's reasons, or one
  /// "not available: <import error>" when its class cannot be had. Empty
  /// when valid.
  std::vector<std::string> reasons;
  /// One line for a table: "selected", "valid, lower priority than X",
  /// "valid, not requested (X was)" or "not valid" from select_backend;
  /// "valid" or "not valid" from judge_candidates, which chooses nothing.
  std::string verdict;
};

/// The outcome of select_backend: the chosen member and every candidate.
struct Selection {
  AttentionBackendEnum chosen = AttentionBackendEnum::CUSTOM;
  /// How the chosen member came to be considered.
  CandidateOrigin origin = CandidateOrigin::PRIORITY;
  Platform platform;
  /// The configuration as validated (device and capability from platform).
  AttentionConfig config;
  /// The requested backend first (if any), then the priority list in order.
  std::vector<CandidateReport> candidates;

  /// The chosen backend's class (respects overrides).
  const AttentionBackend& backend() const;

  /// A readable report: platform, configuration, the choice, and a table of
  /// every candidate with its path, verdict and reasons.
  std::string explain() const;
};

/// The platform's candidates in priority order, as vLLM orders them (see
/// src/selector/priorities.cpp for the source): CPU: CPU_ATTN; CUDA by
/// compute capability and MLA. Attention-free configurations
/// (config.has_attention == false) get NO_ATTENTION first on every platform.
/// Thread safety: pure, may be called from any thread.
std::vector<AttentionBackendEnum> backend_priorities(const Platform& platform, const AttentionConfig& config);

/// The reasons `backend` is not valid for config on platform (empty when it
/// is valid): its class's validate_configuration, or one "not available: ..."
/// reason when the class cannot be imported or the member has no path.
/// Thread safety: may be called from any thread.
std::vector<std::string> candidate_reasons(AttentionBackendEnum backend, const AttentionConfig& config,
                                           const Platform& platform);

/// Every candidate select_backend considers, judged but none chosen (each
/// verdict is "valid" or "not valid"): the request (argument, else a
/// non-empty ATTNREG_ATTENTION_BACKEND) first, then backend_priorities without
/// it. Unlike select_backend it does not throw for invalid candidates, so a
/// caller can show why nothing fits; an unknown name in the environment
/// variable still throws from_name's ValueError.
std::vector<CandidateReport> judge_candidates(const AttentionConfig& config, const Platform& platform,
                                              std::optional<AttentionBackendEnum> requested = {});

/// The candidate table of Selection::explain: one row per candidate (a '*'
/// marks the selected one) with origin, verdict and class path, then its
/// reasons, one per line. Thread safety: pure, may be called from any thread.
std::string candidates_table(const std::vector<CandidateReport>& candidates);

/// Chooses the backend for config on platform. config's device and
/// device_capability are replaced by the platform's.
///
/// With `requested` (or, when absent, a non-empty ATTNREG_ATTENTION_BACKEND
/// parsed by AttentionBackendEnum::from_name), that backend is chosen if
/// valid, and otherwise ValueError is thrown (vLLM's text):
///   "Selected backend AttentionBackendEnum.FLASH_ATTN is not valid for this
///    configuration. Reason: ['device not supported: cpu (supported: cuda)']"
/// Without one, the first valid backend of backend_priorities is chosen; when
/// none is valid, ValueError:
///   "No valid attention backend found for cpu with AttentionConfig(...).
///    Reasons: {CPU_ATTN: [head_size not supported: ...]}."
/// An unknown name in the environment variable throws from_name's ValueError
/// (with its did-you-mean).
Selection select_backend(const AttentionConfig& config, const Platform& platform,
                         std::optional<AttentionBackendEnum> requested = {});

/// vLLM-style repr of a configuration, as used in the "No valid attention
/// backend" message: "AttentionConfig(head_size=128, dtype=bfloat16, ...)".
/// Thread safety: pure, may be called from any thread.
std::string config_repr(const AttentionConfig& config);

}  // namespace attnreg
