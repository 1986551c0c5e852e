// Internal: loading one plugin shared library into the import state.
#pragma once

#include "import/import_state.hpp"

#include <string>
#include <string_view>

namespace attnreg::detail {

/// Loads the plugin file for module, checks its ABI, runs its init and
/// publishes its classes. The caller holds state.lock. Throws ImportError
/// (message: module, file, cause) for a library that cannot be loaded, a
/// missing entry point, another ABI, an init that fails, or a class path
/// another provider already has; then nothing is published and the module is
/// not recorded as loaded, so a later lookup tries again.
void load_plugin(ImportState& state, std::string_view module, const std::string& file);

/// How a class's provider is named in messages: "the plugin file '...'" or
/// "an in-process class (register_class)".
std::string describe_origin(const ClassRecord& record);

}  // namespace attnreg::detail
