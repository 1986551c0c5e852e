// What `list` and `show` say about one registry member: its paths, override,
// and the outcome of resolving it in this build.
#pragma once

#include <attnreg/registry.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace attnreg::cli {

/// One member of either enum, resolved once.
struct MemberReport {
  std::string enum_name;                ///< "AttentionBackendEnum" or "MambaAttentionBackendEnum"
  std::string name;                     ///< "FLASH_ATTN"
  std::string default_path;             ///< "" where the member has none
  std::optional<std::string> override;  ///< the registered path, when overridden
  std::optional<std::string> path;      ///< get_path(), when it has one
  bool resolves = false;                ///< get_class() succeeded
  std::string class_name;               ///< get_class().get_name(), when it resolves
  std::string error_type;               ///< "ValueError", "ModuleNotFoundError", ... when it does not
  std::string error;                    ///< the full message, when it does not
};

/// Reports on member, calling get_class() (which may load a plugin).
MemberReport report(AttentionBackendEnum member);
MemberReport report(MambaAttentionBackendEnum member);

/// The report as a JSON object (absent values as null).
nlohmann::json to_json(const MemberReport& r);

}  // namespace attnreg::cli
