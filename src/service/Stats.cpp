#include "trkaas/service/Stats.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sys/resource.h>

#include <chrono>
#include <utility>

namespace trkaas {

nlohmann::json timeSummary(const TimeHistogram& h) {
  return {{"count", h.count()},     {"mean", h.mean()},        {"p50", h.quantile(0.5)},
          {"p90", h.quantile(0.9)}, {"p99", h.quantile(0.99)}, {"max", h.max()}};
}

double unixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double processCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto ms = [](const timeval& t) {
    return 1e3 * double(t.tv_sec) + 1e-3 * double(t.tv_usec);
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

namespace {

nlohmann::json scopeSummary(const TrackMetrics& m, std::int64_t events) {
  const double n = events > 0 ? double(events) : 1.0;
  return {{"efficiency_pt_gt_1gev", m.efficiencyHighPt()},
          {"efficiency_all", m.efficiency()},
          {"fake_rate", m.fakeRate()},
          {"duplicate_rate", m.duplicateRate()},
          {"trackml_score", events > 0 ? m.score / n : 0.0},
          {"trackml_score_fraction", m.scoreFraction()},
          {"particles_pt_gt_1gev", m.particlesHighPt},
          {"particles", m.particles},
          {"tracks", m.tracks},
          {"hits_per_event", events > 0 ? double(m.hits) / n : 0.0}};
}

std::string scopeLine(const std::string& title, const nlohmann::json& p) {
  return fmt::format(
      "{}: efficiency {:.3f} (pT > 1 GeV, {} particles), {:.3f} (all), fake rate {:.3f}, "
      "duplicate rate {:.3f}, TrackML score {:.3f} ({:.3f} of these hits' weight)",
      title, p["efficiency_pt_gt_1gev"].get<double>(),
      p["particles_pt_gt_1gev"].get<std::int64_t>(), p["efficiency_all"].get<double>(),
      p["fake_rate"].get<double>(), p["duplicate_rate"].get<double>(),
      p["trackml_score"].get<double>(), p["trackml_score_fraction"].get<double>());
}

}  // namespace

nlohmann::json physicsSummary(const PhysicsMetrics& m, std::int64_t events,
                              const TrackMetricsConfig& config) {
  return {{"selection",
           {{"processed_volumes", config.volumes},
            {"pt_min_gev", config.ptMin},
            {"min_hits", config.minHits},
            {"rule", metricsSelection(config)}}},
          {"processed", scopeSummary(m.processed, events)},
          {"event", scopeSummary(m.event, events)}};
}

std::vector<std::string> physicsLines(const nlohmann::json& physics) {
  const auto& volumes = physics["selection"]["processed_volumes"];
  const auto& processed = physics["processed"];
  const auto& event = physics["event"];
  std::vector<std::string> lines;
  if (volumes.empty()) {
    lines.push_back(scopeLine("physics on the whole event (all hits processed)", event));
  } else if (processed["hits_per_event"] == event["hits_per_event"]) {
    lines.push_back(scopeLine(fmt::format("physics on the whole event (every hit is in the "
                                          "processed volumes {})",
                                          fmt::join(volumes.get<std::vector<int>>(), ", ")),
                              event));
  } else {
    const double all = event["hits_per_event"].get<double>();
    const double share = all > 0 ? processed["hits_per_event"].get<double>() / all : 0.0;
    lines.push_back(
        scopeLine(fmt::format("physics on the processed hits (volumes {}: {:.0f}% of the hits)",
                              fmt::join(volumes.get<std::vector<int>>(), ", "), 100.0 * share),
                  processed));
    lines.push_back(
        scopeLine("physics on the whole event (hits outside those volumes have no track)", event));
  }
  lines.push_back("physics selection: " + physics["selection"]["rule"].get<std::string>());
  return lines;
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
