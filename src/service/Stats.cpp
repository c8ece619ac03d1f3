#include "trkaas/service/Stats.hpp"

#include <sys/resource.h>

#include <utility>

namespace trkaas {

nlohmann::json timeSummary(const TimeHistogram& h) {
  return {{"count", h.count()},     {"mean", h.mean()},        {"p50", h.quantile(0.5)},
          {"p90", h.quantile(0.9)}, {"p99", h.quantile(0.99)}, {"max", h.max()}};
}

double processCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto ms = [](const timeval& t) {
    return 1e3 * double(t.tv_sec) + 1e-3 * double(t.tv_usec);
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

nlohmann::json physicsSummary(const TrackMetrics& m, std::int64_t events) {
  return {{"efficiency_pt_gt_1gev", m.efficiencyHighPt()},
          {"efficiency_all", m.efficiency()},
          {"fake_rate", m.fakeRate()},
          {"duplicate_rate", m.duplicateRate()},
          {"trackml_score", events > 0 ? m.score / double(events) : 0.0},
          {"particles_pt_gt_1gev", m.particlesHighPt},
          {"tracks", m.tracks}};
}

void to_json(nlohmann::json& j, const TimeHistogram& h) {
  nlohmann::json bins = nlohmann::json::array();
  for (const auto& [bin, n] : h.bins()) bins.push_back({bin, n});
  j = {{"count", h.count()},
       {"sum", h.sum()},
       {"min", h.min()},
       {"max", h.max()},
       {"bins", std::move(bins)}};
}

void from_json(const nlohmann::json& j, TimeHistogram& h) {
  std::map<int, std::int64_t> bins;
  for (const auto& b : j.at("bins")) bins[b.at(0).get<int>()] += b.at(1).get<std::int64_t>();
  h = TimeHistogram::fromParts(j.at("count").get<std::int64_t>(), j.at("sum").get<double>(),
                               j.at("min").get<double>(), j.at("max").get<double>(),
                               std::move(bins));
}

}  // namespace trkaas
