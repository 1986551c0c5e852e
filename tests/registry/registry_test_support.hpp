// Shared helpers for the registry tests.
#pragma once

#include <gtest/gtest.h>

#include <attnreg/errors.hpp>
#include <attnreg/legacy.hpp>
#include <attnreg/registry.hpp>
#include <string>

namespace attnreg::test {

/// Runs f, which must throw exactly E (or a subclass), and returns its message;
/// fails the test (and returns "") otherwise.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong type: " << typeid(e).name() << ": " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

/// Clears every override of both tables and the legacy overlay, before and
/// after each test, so tests do not leak registrations into each other.
class CleanRegistry : public ::testing::Test {
 protected:
  void SetUp() override { reset(); }
  void TearDown() override { reset(); }
  static void reset() {
    for (auto b : AttentionBackendEnum::members()) b.clear_override();
    for (auto b : MambaAttentionBackendEnum::members()) b.clear_override();
    legacy::BACKEND_MAPPING.clear();
  }
};

}  // namespace attnreg::test
