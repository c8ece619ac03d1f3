#pragma once
/// Error types shared by every module.
///
/// Set-up mistakes (bad options, missing models) throw `Error`. Problems with one
/// input file or one event throw `InputError`, whose message always names the file,
/// the event (when there is one) and what is wrong, so that a physicist reading a
/// log line from rank 317 of a campaign knows which file to look at.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace trkaas {

/// Base class of all trkaas errors.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// A problem with one input: file (and event, when known) plus the reason.
class InputError : public Error {
 public:
  /// Event id meaning "the whole file, no particular event".
  static constexpr std::int64_t kNoEvent = -1;

  InputError(std::string file, std::int64_t event, std::string reason);

  const std::string& file() const { return m_file; }
  std::int64_t event() const { return m_event; }
  const std::string& reason() const { return m_reason; }

 private:
  std::string m_file;
  std::int64_t m_event;
  std::string m_reason;
};

}  // namespace trkaas
