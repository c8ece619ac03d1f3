#include "trkaas/core/Error.hpp"

#include <utility>

namespace trkaas {

namespace {
std::string composeMessage(const std::string& file, std::int64_t event, const std::string& reason) {
  std::string msg = "file '" + file + "'";
  if (event != InputError::kNoEvent) {
    msg += ", event " + std::to_string(event);
  }
  return msg + ": " + reason;
}
}  // namespace

InputError::InputError(std::string file, std::int64_t event, std::string reason)
    : Error(composeMessage(file, event, reason)),
      m_file(std::move(file)),
      m_event(event),
      m_reason(std::move(reason)) {}

}  // namespace trkaas
