// TimeHistogram: quantiles within one bin of the exact ones on skewed random samples,
// merging equal to adding everything to one histogram, parts that rebuild it exactly.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/TimeHistogram.hpp"

using namespace trkaas;

namespace {

/// The exact q-quantile as TimeHistogram defines it: the sample at rank floor(q * n).
double exact(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const auto rank = std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size())));
  return v[rank];
}

}  // namespace

TEST_CASE("time histogram: quantiles within a bin, exact count, sum, min and max", "[core]") {
  std::mt19937 rng(3);
  std::lognormal_distribution<double> latency(2.0, 1.5);  // ms, over four decades
  std::vector<double> values;
  TimeHistogram h;
  for (int i = 0; i < 20000; ++i) {
    const double v = latency(rng);
    values.push_back(v);
    h.add(v);
  }
  CHECK(h.count() == 20000);
  double sum = 0;
  for (double v : values) sum += v;
  CHECK(h.sum() == Approx(sum).epsilon(1e-12));
  CHECK(h.mean() == Approx(sum / 20000).epsilon(1e-12));
  CHECK(h.min() == *std::min_element(values.begin(), values.end()));
  CHECK(h.max() == *std::max_element(values.begin(), values.end()));
  // A bin spans a factor 10^(1/100): its centre is within 1.16% of any value in it.
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    INFO("q = " << q);
    CHECK(std::abs(h.quantile(q) / exact(values, q) - 1.0) < 0.0116);
  }
  CHECK(h.quantile(0.0) == h.min());  // clamped to the sample
  CHECK(h.quantile(1.0) == h.max());
}

TEST_CASE("time histogram: merged histograms equal one of everything, parts round trip", "[core]") {
  std::mt19937 rng(5);
  std::exponential_distribution<double> wait(0.05);
  TimeHistogram a, b, all;
  for (int i = 0; i < 3000; ++i) {
    const double v = wait(rng);
    (i % 3 == 0 ? a : b).add(v);
    all.add(v);
  }
  a.add(0.0);  // below the first bin: counted in bin 0
  all.add(0.0);
  TimeHistogram merged = a;
  merged += b;
  merged += TimeHistogram{};  // an empty one changes nothing
  CHECK(merged.count() == all.count());
  CHECK(merged.bins() == all.bins());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  CHECK(merged.sum() == Approx(all.sum()).epsilon(1e-12));
  for (double q : {0.5, 0.9, 0.99}) CHECK(merged.quantile(q) == all.quantile(q));

  const TimeHistogram rebuilt =
      TimeHistogram::fromParts(all.count(), all.sum(), all.min(), all.max(), all.bins());
  CHECK(rebuilt.bins() == all.bins());
  CHECK(rebuilt.quantile(0.9) == all.quantile(0.9));
  CHECK_THROWS_WITH(TimeHistogram::fromParts(all.count() + 1, 0, 0, 0, all.bins()),
                    HasSubstring("count says"));
  CHECK_THROWS_WITH(TimeHistogram::fromParts(1, 0, 0, 0, {{-4, 1}}), HasSubstring("bad bin"));

  const TimeHistogram empty;
  CHECK(empty.count() == 0);
  CHECK(empty.mean() == 0.0);
  CHECK(empty.quantile(0.5) == 0.0);
}
