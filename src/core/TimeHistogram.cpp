#include "trkaas/core/TimeHistogram.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {

constexpr double kFirst = 1e-3;  // ms: the lower edge of bin 0
constexpr int kLastBin = 12 * TimeHistogram::kBinsPerDecade - 1;

int binOf(double ms) {
  if (!(ms > kFirst)) return 0;
  const double b = std::floor(std::log10(ms / kFirst) * TimeHistogram::kBinsPerDecade);
  return static_cast<int>(std::min<double>(b, kLastBin));
}

double centreOf(int bin) {
  return kFirst * std::pow(10.0, (bin + 0.5) / TimeHistogram::kBinsPerDecade);
}

}  // namespace

void TimeHistogram::add(double ms) {
  if (std::isnan(ms)) return;
  m_min = m_count > 0 ? std::min(m_min, ms) : ms;
  m_max = m_count > 0 ? std::max(m_max, ms) : ms;
  ++m_count;
  m_sum += ms;
  ++m_bins[binOf(ms)];
}

TimeHistogram& TimeHistogram::operator+=(const TimeHistogram& o) {
  if (o.m_count == 0) return *this;
  m_min = m_count > 0 ? std::min(m_min, o.m_min) : o.m_min;
  m_max = m_count > 0 ? std::max(m_max, o.m_max) : o.m_max;
  m_count += o.m_count;
  m_sum += o.m_sum;
  for (const auto& [bin, n] : o.m_bins) m_bins[bin] += n;
  return *this;
}

double TimeHistogram::mean() const {
  return m_count > 0 ? m_sum / static_cast<double>(m_count) : 0.0;
}

double TimeHistogram::quantile(double q) const {
  if (m_count == 0) return 0.0;
  const std::int64_t rank = std::min<std::int64_t>(
      m_count - 1, static_cast<std::int64_t>(std::clamp(q, 0.0, 1.0) * double(m_count)));
  // The smallest and the largest are known exactly.
  if (rank == 0) return m_min;
  if (rank == m_count - 1) return m_max;
  std::int64_t seen = 0;
  for (const auto& [bin, n] : m_bins) {
    seen += n;
    if (seen > rank) return std::clamp(centreOf(bin), m_min, m_max);
  }
  return m_max;
}

TimeHistogram TimeHistogram::fromParts(std::int64_t count, double sum, double min, double max,
                                       std::map<int, std::int64_t> bins) {
  std::int64_t total = 0;
  for (const auto& [bin, n] : bins) {
    if (n < 0 || bin < 0 || bin > kLastBin) {
      throw Error("time histogram: bad bin " + std::to_string(bin) + " with count " +
                  std::to_string(n));
    }
    total += n;
  }
  if (total != count) {
    throw Error("time histogram: bins hold " + std::to_string(total) + " values, count says " +
                std::to_string(count));
  }
  TimeHistogram h;
  h.m_count = count;
  h.m_sum = sum;
  h.m_min = min;
  h.m_max = max;
  h.m_bins = std::move(bins);
  return h;
}

}  // namespace trkaas
