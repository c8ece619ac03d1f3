#include "trkaas/core/Logger.hpp"

#include <memory>

#include <spdlog/sinks/stdout_color_sinks.h>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {
std::shared_ptr<spdlog::logger> makeLogger() {
  auto log = spdlog::stderr_color_mt("trkaas");
  log->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  log->set_level(spdlog::level::info);
  return log;
}
}  // namespace

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = makeLogger();
  return *instance;
}

void setLogIdentity(int rank, const std::string& role) {
  std::string who;
  if (rank >= 0) who = "[r" + std::to_string(rank) + (role.empty() ? "" : " " + role) + "] ";
  logger().set_pattern("[%H:%M:%S.%e] [%^%l%$] " + who + "%v");
}

void setLogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      logger().set_level(spdlog::level::debug);
      break;
    case LogLevel::kInfo:
      logger().set_level(spdlog::level::info);
      break;
    case LogLevel::kWarning:
      logger().set_level(spdlog::level::warn);
      break;
    case LogLevel::kError:
      logger().set_level(spdlog::level::err);
      break;
  }
}

LogLevel parseLogLevel(const std::string& name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warning" || name == "warn") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  throw Error("unknown log level '" + name + "' (use debug, info, warning or error)");
}

}  // namespace trkaas
