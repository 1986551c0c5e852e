// PluginModule: the object a plugin's init fills with its classes.
#include <attnreg/classes.hpp>
#include <attnreg/errors.hpp>
#include <attnreg/plugin.hpp>

#include <fmt/format.h>

namespace attnreg {

PluginModule::PluginModule(std::string module_name, std::string file)
    : name_(std::move(module_name)), file_(std::move(file)) {}

PluginModule::~PluginModule() = default;

void PluginModule::add_class_object(std::string_view class_name, const std::type_info& type,
                                    std::unique_ptr<AttentionBackend> object) {
  // One component only: the class lives directly in this module.
  if (class_name.empty() || class_name.find('.') != std::string_view::npos)
    throw ValueError(
        fmt::format("Plugin module '{}' (file '{}'): class name '{}' is not an identifier; "
                    "add_class takes the bare class name, e.g. 'MyBackend'",
                    name_, file_, class_name));
  try {
    validate_class_path(class_name);
  } catch (const ValueError& e) {
    throw ValueError(fmt::format("Plugin module '{}' (file '{}'): class name '{}' is not an identifier ({})",
                                 name_, file_, class_name, e.what()));
  }
  for (const auto& e : entries_)
    if (e.class_name == class_name)
      throw ValueError(
          fmt::format("Plugin module '{}' (file '{}'): class '{}' was added twice; "
                      "each class name may be added once",
                      name_, file_, class_name));
  entries_.push_back({std::string(class_name), &type, std::move(object)});
}

}  // namespace attnreg
