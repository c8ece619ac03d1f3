#pragma once
// Helpers shared by the sim tests (portable between Catch2 v2 and v3).

#include <exception>
#include <string>

namespace trkaas::test {

/// Runs `f` and returns the message of the exception it throws ("" if none).
template <typename F>
std::string thrownMessage(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

/// True if `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace trkaas::test
