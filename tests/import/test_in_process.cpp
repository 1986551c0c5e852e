// In-process classes: register_class, rebinding, malformed paths, and the
// "module exists but lacks the class" rule.
#include "import/class_slot.hpp"
#include "test_support.hpp"

namespace attnreg {
namespace {

using test::message_of;

class First final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "FIRST"; }
};

class Second final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "SECOND"; }
};

TEST(InProcess, RegisteredClassResolvesAndIsCached) {
  register_class<First>("inproc.cached.First");
  const AttentionBackend& a = resolve_class("inproc.cached.First");
  EXPECT_EQ(a.get_name(), "FIRST");
  EXPECT_EQ(&resolve_class("inproc.cached.First"), &a);
  const detail::ClassSlot& slot = detail::intern_class_path("inproc.cached.First");
  EXPECT_EQ(&slot, &detail::intern_class_path("inproc.cached.First"));
  EXPECT_EQ(slot.cls.load(), &a);
}

TEST(InProcess, RegisteringTheSameTypeAgainKeepsTheObject) {
  register_class<First>("inproc.same.First");
  const AttentionBackend* before = &resolve_class("inproc.same.First");
  register_class<First>("inproc.same.First");
  EXPECT_EQ(&resolve_class("inproc.same.First"), before);
}

TEST(InProcess, AnotherTypeRebindsThePathAndTheOldObjectStaysAlive) {
  register_class<First>("inproc.rebind.Klass");
  const AttentionBackend& old = resolve_class("inproc.rebind.Klass");
  register_class<Second>("inproc.rebind.Klass");
  EXPECT_EQ(resolve_class("inproc.rebind.Klass").get_name(), "SECOND");
  EXPECT_EQ(detail::intern_class_path("inproc.rebind.Klass").cls.load()->get_name(), "SECOND");
  EXPECT_EQ(old.get_name(), "FIRST");  // a reference handed out earlier stays valid
}

TEST(InProcess, KnownClassPathsAreSortedAndIncludeRegisteredClasses) {
  register_class<First>("inproc.known.B");
  register_class<First>("inproc.known.A");
  const auto paths = known_class_paths();
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  EXPECT_NE(std::find(paths.begin(), paths.end(), "inproc.known.A"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "inproc.known.B"), paths.end());
  const auto modules = available_modules();
  EXPECT_NE(std::find(modules.begin(), modules.end(), "inproc.known"), modules.end());
}

TEST(InProcess, MalformedPathsAreValueErrorsAndChangeNothing) {
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ValueError>([] { register_class<First>("inproc..Bad"); }),
            "Invalid class path 'inproc..Bad': empty component at offset 7 ('..'). Expected dotted "
            "identifiers such as 'my.module.MyBackend'");
  EXPECT_EQ(message_of<ValueError>([] { resolve_class(""); }),
            "Invalid class path '': it is empty. Expected dotted identifiers such as 'my.module.MyBackend'");
  EXPECT_EQ(message_of<ValueError>([] { resolve_class("inproc.9lives.Cat"); }),
            "Invalid class path 'inproc.9lives.Cat': component '9lives' is not an identifier (it must start "
            "with a letter or '_'). Expected dotted identifiers such as 'my.module.MyBackend'");
  EXPECT_EQ(message_of<ValueError>([] { resolve_class("inproc.mod."); }),
            "Invalid class path 'inproc.mod.': it ends with '.'. Expected dotted identifiers such as "
            "'my.module.MyBackend'");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST(InProcess, ModuleWithInProcessClassesButNotThisOneIsImportError) {
  register_class<First>("inproc.partial.Here");
  register_class<Second>("inproc.partial.AlsoHere");
  const test::ImportSnapshot before;
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("inproc.partial.Missing"); }),
            "Cannot import 'inproc.partial.Missing': module 'inproc.partial' (in-process classes) has no "
            "class 'Missing'; it provides: AlsoHere, Here");
  EXPECT_TRUE(before == test::ImportSnapshot{});
}

TEST(InProcess, OneComponentPathResolvesOnlyAsAnInProcessClass) {
  register_class<First>("LonelyClass");
  EXPECT_EQ(resolve_class("LonelyClass").get_name(), "FIRST");
  EXPECT_EQ(message_of<ImportError>([] { resolve_class("NoSuchLonelyClass"); }),
            "Cannot import 'NoSuchLonelyClass': no in-process class is registered under it, and a path of "
            "one component names no module to load; use 'module.Class', e.g. 'my.module.NoSuchLonelyClass'");
}

TEST(InProcess, FailuresAreNotCachedSoALaterRegistrationIsFound) {
  EXPECT_THROW(resolve_class("inproc.later.Klass"), ModuleNotFoundError);
  register_class<First>("inproc.later.Klass");
  EXPECT_EQ(resolve_class("inproc.later.Klass").get_name(), "FIRST");
}

}  // namespace
}  // namespace attnreg
