// attnreg/plugin.hpp: writing a plugin shared library.
//
//   #include <attnreg/plugin.hpp>
//   ATTNREG_PLUGIN(m) {                 // m: the module being loaded
//     m.add_class<MyBackend>("MyBackend");
//   }
//
// Build it as a MODULE library named after the module's last component and
// put it at <dir>/<module path with dots as slashes>.so on the search path
// (attnreg_add_plugin() in the CMake package does both). The macro stamps
// ATTNREG_ABI_VERSION into the library; the loader refuses another version.
// Classes added by an init that throws are discarded: a plugin loads whole or
// not at all.
#pragma once

#include <attnreg/backend.hpp>
#include <attnreg/version.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace attnreg {

/// The module a plugin's init fills: classes added here become resolvable as
/// "<name()>.<class_name>" once init returns.
class PluginModule {
 public:
  PluginModule(std::string module_name, std::string file);
  PluginModule(const PluginModule&) = delete;
  PluginModule& operator=(const PluginModule&) = delete;
  ~PluginModule();

  /// The dotted module name, e.g. "attnreg.backends.flash_attn".
  std::string_view name() const noexcept { return name_; }
  /// The file being loaded.
  std::string_view file() const noexcept { return file_; }

  /// Adds T (derived from AttentionBackend, default constructible) under
  /// class_name (an identifier). Throws ValueError for a bad name or a name
  /// added twice.
  template <class T>
  void add_class(std::string_view class_name) {
    static_assert(std::is_base_of_v<AttentionBackend, T>, "T must derive from attnreg::AttentionBackend");
    add_class_object(class_name, typeid(T), std::make_unique<T>());
  }

  /// Type-erased form of add_class.
  void add_class_object(std::string_view class_name, const std::type_info& type,
                        std::unique_ptr<AttentionBackend> object);

  struct Entry {
    std::string class_name;
    const std::type_info* type;
    std::unique_ptr<AttentionBackend> object;
  };
  /// The classes added so far (read by the loader).
  std::vector<Entry>& entries() noexcept { return entries_; }

 private:
  std::string name_;
  std::string file_;
  std::vector<Entry> entries_;
};

/// Signatures of the two entry points the loader looks up.
using PluginAbiVersionFn = std::uint32_t (*)();
using PluginInitFn = int (*)(PluginModule* module, char* error, std::size_t error_size);

}  // namespace attnreg

#define ATTNREG_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

/// Defines the plugin's entry points; the block that follows is its init.
#define ATTNREG_PLUGIN(m)                                                                          \
  static void attnreg_plugin_body_(::attnreg::PluginModule& m);                                    \
  ATTNREG_PLUGIN_EXPORT std::uint32_t attnreg_plugin_abi_version() { return ATTNREG_ABI_VERSION; } \
  ATTNREG_PLUGIN_EXPORT int attnreg_plugin_init(::attnreg::PluginModule* module, char* error,      \
                                                std::size_t error_size) {                          \
    try {                                                                                          \
      attnreg_plugin_body_(*module);                                                               \
      return 0;                                                                                    \
    } catch (const std::exception& e) {                                                            \
      ::attnreg::detail::copy_error(e.what(), error, error_size);                                  \
    } catch (...) {                                                                                \
      ::attnreg::detail::copy_error("unknown exception", error, error_size);                       \
    }                                                                                              \
    return 1;                                                                                      \
  }                                                                                                \
  static void attnreg_plugin_body_(::attnreg::PluginModule& m)

namespace attnreg::detail {
/// Copies message into a C buffer of size bytes (always NUL-terminated).
inline void copy_error(const char* message, char* buffer, std::size_t size) noexcept {
  if (size == 0) return;
  std::size_t n = 0;
  for (; n + 1 < size && message[n] != '\0'; ++n) buffer[n] = message[n];
  buffer[n] = '\0';
}
}  // namespace attnreg::detail
