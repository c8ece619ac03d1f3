#pragma once
/// Times (milliseconds) kept as a log-binned histogram, so that a rank's latencies travel
/// and merge as a summary of fixed size instead of one value per event: count, sum, min
/// and max exact; quantiles to within one bin, 100 bins per decade (a value is reported
/// as its bin's geometric centre, at most 1.2% from the true one, clamped to [min, max]).
/// Bins cover 1 microsecond to 1e9 ms; smaller times fall in the first bin.

#include <cstdint>
#include <map>

namespace trkaas {

class TimeHistogram {
 public:
  /// Bins per decade of time.
  static constexpr int kBinsPerDecade = 100;

  void add(double ms);
  TimeHistogram& operator+=(const TimeHistogram& other);

  std::int64_t count() const { return m_count; }
  double sum() const { return m_sum; }
  /// 0 when empty.
  double mean() const;
  double min() const { return m_count > 0 ? m_min : 0.0; }
  double max() const { return m_count > 0 ? m_max : 0.0; }
  /// The q-quantile (0 <= q <= 1): the value of the sample at rank floor(q * count)
  /// (0-based, the largest for q = 1), to within its bin (the smallest and the largest
  /// exactly); 0 when empty.
  double quantile(double q) const;

  /// Sparse bins (index -> count), for the wire; fromParts() rebuilds a histogram from them.
  const std::map<int, std::int64_t>& bins() const { return m_bins; }
  /// Throws trkaas::Error when the parts do not agree (bin counts not summing to count).
  static TimeHistogram fromParts(std::int64_t count, double sum, double min, double max,
                                 std::map<int, std::int64_t> bins);

 private:
  std::int64_t m_count = 0;
  double m_sum = 0, m_min = 0, m_max = 0;
  std::map<int, std::int64_t> m_bins;
};

}  // namespace trkaas
