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
