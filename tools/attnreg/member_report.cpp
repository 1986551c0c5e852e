// Resolving a member for the CLI, keeping the error's type and full text.
#include "member_report.hpp"

#include <attnreg/errors.hpp>

namespace attnreg::cli {
namespace {

// The Python-style name of an attnreg exception, most derived first.
std::string error_type_of(const Error& e) {
  if (dynamic_cast<const ModuleNotFoundError*>(&e)) return "ModuleNotFoundError";
  if (dynamic_cast<const ImportError*>(&e)) return "ImportError";
  if (dynamic_cast<const ValueError*>(&e)) return "ValueError";
  if (dynamic_cast<const NotImplementedError*>(&e)) return "NotImplementedError";
  return "Error";
}

template <class Enum>
MemberReport report_of(Enum member, std::string enum_name) {
  MemberReport r;
  r.enum_name = std::move(enum_name);
  r.name = member.name();
  r.default_path = member.value();
  try {
    const std::string path = member.get_path();
    r.path = path;
    if (member.is_overridden()) r.override = path;
  } catch (const ValueError&) {
    // No path: the resolution below reports the same error with its type.
  }
  try {
    r.class_name = member.get_class().get_name();
    r.resolves = true;
  } catch (const Error& e) {
    r.error_type = error_type_of(e);
    r.error = e.what();
  }
  return r;
}

nlohmann::json or_null(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nullptr; }

}  // namespace

MemberReport report(AttentionBackendEnum member) { return report_of(member, "AttentionBackendEnum"); }
MemberReport report(MambaAttentionBackendEnum member) {
  return report_of(member, "MambaAttentionBackendEnum");
}

nlohmann::json to_json(const MemberReport& r) {
  return {{"enum", r.enum_name},
          {"name", r.name},
          {"default_path", r.default_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.default_path)},
          {"override", or_null(r.override)},
          {"path", or_null(r.path)},
          {"resolves", r.resolves},
          {"class_name", r.resolves ? nlohmann::json(r.class_name) : nlohmann::json(nullptr)},
          {"error_type", r.resolves ? nlohmann::json(nullptr) : nlohmann::json(r.error_type)},
          {"error", r.resolves ? nlohmann::json(nullptr) : nlohmann::json(r.error)}};
}

}  // namespace attnreg::cli
