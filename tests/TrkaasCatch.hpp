#pragma once
// One include for Catch2 v2 (Debian 12) and v3 (the GPU machine).
// Use HasSubstring(...) for "string contains": v2 calls it Contains, v3 ContainsSubstring.
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
namespace trkaas::test {
inline auto HasSubstring(const std::string& s) { return Catch::Matchers::ContainsSubstring(s); }
}  // namespace trkaas::test
#else
#include <catch2/catch.hpp>
namespace trkaas::test {
inline auto HasSubstring(const std::string& s) { return Catch::Matchers::Contains(s); }
}  // namespace trkaas::test
#endif
using trkaas::test::HasSubstring;

// TRKAAS_SKIP(message): the running test is skipped, with the reason, and ctest reports it
// as skipped: Catch2 v3 SKIP (exit code 4), Catch2 v2 a warning starting with "[skipped]"
// (trkaas_add_test sets both as the tests' skip conditions). With v3 the test ends there;
// with v2 the caller returns.
#ifdef SKIP
#define TRKAAS_SKIP(message) SKIP("[skipped] " << message)
#else
#define TRKAAS_SKIP(message) WARN("[skipped] " << message)
#endif
