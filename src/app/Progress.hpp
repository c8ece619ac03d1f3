#pragma once
// Progress lines for long commands: at most one every few seconds, and one at the end.

#include <chrono>
#include <cstdint>
#include <string>

#include "trkaas/core/Logger.hpp"

namespace trkaas::app {

class Progress {
 public:
  /// `what` names the work ("generated", "processed"); `total` events are expected.
  Progress(std::string what, std::int64_t total, double everySeconds = 5.0)
      : m_what(std::move(what)), m_total(total), m_every(everySeconds) {}

  /// Reports `done` events, with `extra` appended (e.g. hits per event).
  void update(std::int64_t done, const std::string& extra = "") {
    const auto now = Clock::now();
    if (done != m_total && seconds(m_last, now) < m_every) return;
    m_last = now;
    const double elapsed = seconds(m_start, now);
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(m_total - done) / rate : 0.0;
    logger().info("{} {}/{} events | {:.2f} events/s{} | ETA {:.0f} s", m_what, done, m_total, rate,
                  extra, eta);
  }

  double elapsed() const { return seconds(m_start, Clock::now()); }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }

  std::string m_what;
  std::int64_t m_total;
  double m_every;
  Clock::time_point m_start = Clock::now();
  Clock::time_point m_last = Clock::now();
};

}  // namespace trkaas::app
