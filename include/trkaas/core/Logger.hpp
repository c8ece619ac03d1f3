#pragma once
/// One small logger for the whole code base.
///
/// Every line carries the time, the level and, once `setLogIdentity` was called,
/// the MPI rank and role ("[r3 producer]"), so that interleaved output from many
/// ranks stays readable. Helpers never print directly; they log through this.

#include <string>

#include <spdlog/spdlog.h>

namespace trkaas {

/// Log verbosity, from most to least chatty.
enum class LogLevel { kDebug, kInfo, kWarning, kError };

/// Sets rank and role shown on every line (rank < 0: not shown).
void setLogIdentity(int rank, const std::string& role);

/// Sets the minimum level printed; "debug", "info", "warning", "error".
void setLogLevel(LogLevel level);
LogLevel parseLogLevel(const std::string& name);

/// The process-wide logger (stderr, thread safe).
spdlog::logger& logger();

}  // namespace trkaas
