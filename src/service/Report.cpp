// Rank 0's final report: every rank's statistics merged, written as JSON and logged.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ServiceInternal.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/pipeline/TruthMetrics.hpp"
#include "trkaas/service/Stats.hpp"

namespace trkaas::service {

nlohmann::json makeReport(const ServiceConfig& c, const JobPlan& plan,
                          const std::map<int, nlohmann::json>& finals, double wallMs,
                          const std::string& layout) {
  std::int64_t done = 0, failed = 0, left = 0, hits = 0;
  bool stopped = false, truth = false;
  TimeHistogram latency, queue;
  std::map<std::string, TimeHistogram> stages;
  PhysicsMetrics m;
  nlohmann::json producers = nlohmann::json::array(), servers = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  std::vector<std::string> fileErrors;
  double readMs = 0, sendMs = 0, writeMs = 0;
  double firstEvent = 0, lastEvent = 0;  // Unix seconds; 0: no event finished
  for (const auto& [rank, s] : finals) {
    if (s["role"] == "server") {
      const auto v = s.get<ServerStats>();
      servers.push_back({{"rank", rank},
                         {"index", v.index},
                         {"pipeline", v.pipeline},
                         {"requests", v.requests},
                         {"batches", v.batches},
                         {"failed", v.failed},
                         {"busy_fraction", v.busyFraction},
                         {"cpu_per_wall", v.wallMs > 0 ? v.cpuMs / v.wallMs : 0.0},
                         {"workers", v.workers},
                         {"threads", v.threads},
                         {"device", v.device},
                         {"gpu", v.gpu},
                         {"gpu_stats", v.gpuStats}});
      continue;
    }
    const auto p = s.get<ProducerStats>();
    done += p.eventsDone;
    failed += p.eventsFailed;
    left += p.eventsLeft;
    hits += p.hits;
    stopped = stopped || p.stopped;
    readMs += p.readMs;
    sendMs += p.sendMs;
    writeMs += p.writeMs;
    if (p.firstEventUnix > 0) {
      firstEvent = firstEvent > 0 ? std::min(firstEvent, p.firstEventUnix) : p.firstEventUnix;
      lastEvent = std::max(lastEvent, p.lastEventUnix);
    }
    latency += p.latencyMs;
    queue += p.queueMs;
    for (const auto& [stage, h] : p.stagesMs) stages[stage] += h;
    for (const auto& e : p.errors) errors.push_back(e);
    for (const auto& e : p.fileErrors) fileErrors.push_back(e);
    const double n = std::max<double>(1, double(p.eventsDone + p.eventsFailed));
    producers.push_back({{"rank", rank},
                         {"index", p.index},
                         {"events", p.eventsDone},
                         {"failed", p.eventsFailed},
                         {"wait_fraction", p.wallMs > 0 ? p.waitMs / p.wallMs : 0.0},
                         {"cpu_per_wall", p.wallMs > 0 ? p.cpuMs / p.wallMs : 0.0},
                         {"read_ms_per_event", p.readMs / n},
                         {"send_ms_per_event", p.sendMs / n},
                         {"write_ms_per_event", p.writeMs / n}});
    if (p.truth) {
      truth = true;
      m += p.physics;
    }
  }
  nlohmann::json stageReport;
  for (const auto& [stage, h] : stages) stageReport[stage] = timeSummary(h);
  const double events = double(done + failed);
  nlohmann::json report = {
      {"mode", c.direct ? "direct" : "service"},
      {"output_dir", c.outputDir},
      {"run", plan.run},
      {"layout", layout},
      {"concurrency", c.concurrency},
      {"workers", c.workers},
      {"batch_hits", c.batchHits},
      {"events_total", plan.totalEvents},
      {"events_done_before", plan.alreadyDone},
      {"events_failed_before", plan.alreadyFailed},
      {"events_done", done},
      {"events_failed", failed},
      {"events_left", left},
      {"stopped", stopped},
      {"wall_s", wallMs / 1000.0},
      {"events_per_s", wallMs > 0 ? 1000.0 * double(done) / wallMs : 0.0},
      {"hits_per_event", done > 0 ? double(hits) / double(done) : 0.0},
      {"latency_ms", timeSummary(latency)},
      {"queue_ms", timeSummary(queue)},
      {"stage_ms", stageReport},
      {"producer_ms_per_event",
       {{"read", events > 0 ? readMs / events : 0.0},
        {"send", events > 0 ? sendMs / events : 0.0},
        {"write", events > 0 ? writeMs / events : 0.0}}},
      {"servers", servers},
      {"producers", producers},
      {"errors", errors},
      {"file_errors", fileErrors},
      {"timeline", {{"first_event_unix", firstEvent}, {"last_event_unix", lastEvent}}}};
  if (truth) {
    TrackMetricsConfig metrics;
    metrics.volumes = c.pipeline.volumes;
    metrics.tracks = describeTracks(c.pipeline);
    report["physics"] = physicsSummary(m, done, metrics);
  }
  return report;
}

void printReport(const nlohmann::json& r) {
  const auto q = [](const nlohmann::json& j) {
    return fmt::format("p50 {:.1f} / p90 {:.1f} / p99 {:.1f} ms", j["p50"].get<double>(),
                       j["p90"].get<double>(), j["p99"].get<double>());
  };
  logger().info(
      "{} mode, run {}: {} event(s) done, {} failed{} in {:.1f} s: {:.2f} events/s "
      "({:.0f} hits/event)",
      r["mode"].get<std::string>(), r["run"].get<int>(), r["events_done"].get<std::int64_t>(),
      r["events_failed"].get<std::int64_t>(),
      r["stopped"].get<bool>() ? fmt::format(", {} left for the next run (stopped)",
                                             r["events_left"].get<std::int64_t>())
                               : std::string(),
      r["wall_s"].get<double>(), r["events_per_s"].get<double>(),
      r["hits_per_event"].get<double>());
  logger().info("request latency {}; queue {}", q(r["latency_ms"]), q(r["queue_ms"]));
  std::string stages;
  std::vector<std::string> names;
  for (Stage stage : kStages) names.emplace_back(stageName(stage));
  names.emplace_back("total");
  for (const std::string& s : names) {
    if (r["stage_ms"].contains(s)) {
      stages += fmt::format(" {} {:.1f}", s, r["stage_ms"][s]["mean"].get<double>());
    }
  }
  logger().info("stage mean ms:{}", stages);
  const auto& pm = r["producer_ms_per_event"];
  logger().info("producer side per event: read {:.2f} ms, send {:.2f} ms, write {:.2f} ms",
                pm["read"].get<double>(), pm["send"].get<double>(), pm["write"].get<double>());
  for (const auto& s : r["servers"]) {
    logger().info(
        "server {} (rank {}): {} request(s) ({} batch(es) of several), busy {:.1f}%, "
        "GPU {}",
        s["index"].get<int>(), s["rank"].get<int>(), s["requests"].get<std::int64_t>(),
        s["batches"].get<std::int64_t>(), 100.0 * s["busy_fraction"].get<double>(),
        s["gpu"].get<std::string>());
  }
  for (const auto& p : r["producers"]) {
    logger().info("producer {} (rank {}): {} event(s), waiting {:.1f}% of its time",
                  p["index"].get<int>(), p["rank"].get<int>(), p["events"].get<std::int64_t>(),
                  100.0 * p["wait_fraction"].get<double>());
  }
  if (r.contains("physics")) {
    for (const std::string& line : physicsLines(r["physics"])) logger().info("{}", line);
  }
  for (const auto& f : r["file_errors"])
    logger().error("unreadable input: {}", f.get<std::string>());
  if (r["events_failed"].get<std::int64_t>() > 0) {
    logger().error(
        "{} event(s) failed (error records in the journals, first reasons in "
        "report.json)",
        r["events_failed"].get<std::int64_t>());
  }
}

}  // namespace trkaas::service
