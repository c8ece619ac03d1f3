#pragma once
/// Typed statistics of a run and their JSON forms (nlohmann's struct mapping): what a
/// producer sends rank 0 at the end, and the one summary of times that every report uses
/// (one-process direct mode's and the MPI job's report.json). Times travel as
/// TimeHistogram summaries of fixed size, never one value per event.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trkaas/core/TimeHistogram.hpp"
#include "trkaas/pipeline/TruthMetrics.hpp"

namespace trkaas {

/// {"count", "mean", "p50", "p90", "p99", "max"} (ms): the summary of a time in every report.
nlohmann::json timeSummary(const TimeHistogram& h);

/// Seconds since the Unix epoch (wall clock, comparable across nodes and with `date`).
double unixSeconds();

/// CPU time of this process so far (user and system, all threads), in milliseconds.
double processCpuMs();

/// The physics of `events` events in every report, labelled by scope:
///   {"selection": {"processed_volumes", "pt_min_gev", "min_hits", "rule"},
///    "processed": {...}, "event": {...}}
/// each scope with efficiency_pt_gt_1gev, efficiency_all, fake_rate, duplicate_rate,
/// trackml_score (official: matched weight per event, whole-event weights summing to 1),
/// trackml_score_fraction (of the scope's own weight), particles_pt_gt_1gev, particles,
/// tracks, hits_per_event.
nlohmann::json physicsSummary(const PhysicsMetrics& m, std::int64_t events,
                              const TrackMetricsConfig& config);

/// The report's physics as two labelled lines ("physics on the processed hits (volumes 7,
/// 8, 9; 41% of the hits): ..." and "physics on the whole event: ...") and the selection.
std::vector<std::string> physicsLines(const nlohmann::json& physics);

/// Wire forms: {"count", "sum", "min", "max", "bins": [[bin, count], ...]}.
void to_json(nlohmann::json& j, const TimeHistogram& h);
/// Throws trkaas::Error (or nlohmann's exception) on a malformed histogram.
void from_json(const nlohmann::json& j, TimeHistogram& h);
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrackMetrics, particles, particlesHighPt, matched, matchedHighPt,
                                   tracks, fakes, duplicates, score, hits, weight)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PhysicsMetrics, processed, event)

namespace service {

/// What one producer did, sent to rank 0 when it ends.
struct ProducerStats {
  int index = 0;
  std::int64_t eventsDone = 0, eventsFailed = 0, eventsLeft = 0, hits = 0;
  bool stopped = false;
  /// Times of the whole run and its parts (ms); cpuMs: the process's CPU time (user and
  /// system, all threads) over the same span.
  double wallMs = 0, readMs = 0, sendMs = 0, writeMs = 0, waitMs = 0, cpuMs = 0;
  /// Per event: request latency (sent to result), server queue time.
  TimeHistogram latencyMs, queueMs;
  /// Per event and stage, by stageName(), and "total".
  std::map<std::string, TimeHistogram> stagesMs;
  /// The first error records (file, event, reason), at most 100.
  nlohmann::json errors = nlohmann::json::array();
  std::vector<std::string> fileErrors;
  std::string tracksFile;
  /// Whether the events carried truth; then physics sums their metrics.
  bool truth = false;
  PhysicsMetrics physics;
  /// When its first and last event finished (tracks or error record), in seconds since the
  /// Unix epoch (0: none): the report's start-up and end times.
  double firstEventUnix = 0, lastEventUnix = 0;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ProducerStats, index, eventsDone, eventsFailed, eventsLeft, hits,
                                   stopped, wallMs, readMs, sendMs, writeMs, waitMs, cpuMs,
                                   latencyMs, queueMs, stagesMs, errors, fileErrors, tracksFile,
                                   truth, physics, firstEventUnix, lastEventUnix)

/// What one server did, sent to rank 0 when it ends.
struct ServerStats {
  int index = 0;
  /// Where its pipeline ran, and why not on the GPU ("pipeline on GPU 0 (cuda:0, float32)").
  std::string pipeline;
  int workers = 1, threads = 1;
  /// The layout's GPU (-1: none).
  int device = -1;
  std::int64_t requests = 0, batches = 0, failed = 0;
  /// wallMs from the first request on; cpuMs: the process's CPU time (user and system, all
  /// threads: workers, torch, BLAS, the communication thread) over the same span.
  double wallMs = 0, busyMs = 0, cpuMs = 0;
  /// busyMs over wallMs times the workers.
  double busyFraction = 0;
  /// The GPU monitor's line ("busy 93.1%, peak memory ..." or "n/a (reason)"), and its
  /// numbers where it had some (null otherwise).
  std::string gpu;
  nlohmann::json gpuStats;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServerStats, index, pipeline, workers, threads, device, requests,
                                   batches, failed, wallMs, busyMs, cpuMs, busyFraction, gpu,
                                   gpuStats)

}  // namespace service
}  // namespace trkaas
