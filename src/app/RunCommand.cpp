#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "Commands.hpp"
#include "PipelineOptions.hpp"
#include "Progress.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/core/TextFile.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TrackMLCsv.hpp"
#include "trkaas/io/TracksFile.hpp"
#include "trkaas/pipeline/Pipeline.hpp"
#include "trkaas/pipeline/TruthMetrics.hpp"

namespace trkaas::app {

namespace {

struct RunOptions {
  std::string mode = "direct";
  std::string config = "models/pipeline.yaml";
  std::string input;
  std::string output;
  std::string submission;
  std::string metricsJson;
  std::int64_t maxEvents = -1;
  int threads = 0;
  bool force = false;
};

/// Mean, p50 and p99 of a list of times.
nlohmann::json summary(std::vector<double> ms) {
  if (ms.empty()) return {{"mean", 0.0}, {"p50", 0.0}, {"p99", 0.0}};
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  const auto at = [&](double q) {
    return ms[std::min(ms.size() - 1,
                       static_cast<std::size_t>(q * static_cast<double>(ms.size())))];
  };
  return {{"mean", sum / static_cast<double>(ms.size())}, {"p50", at(0.5)}, {"p99", at(0.99)}};
}

double peakRssMb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

void runDirect(const RunOptions& o) {
  if (o.mode != "direct") {
    throw Error("--mode " + o.mode +
                " is not available yet (only 'direct': the service comes "
                "with the MPI layer)");
  }
  if (fileExists(o.output) && !o.force) {
    throw Error("output '" + o.output + "' exists; use --force to overwrite it");
  }
  if (isDirectory(o.output)) throw Error("output '" + o.output + "' is a directory");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables == nullptr ||
      std::string(tunables).find("glibc.malloc.hugetlb=1") == std::string::npos) {
    // trkaas restarts itself with the tunable unless told not to (main.cpp); measured on
    // the development machines: a pile-up-200 event took 57 s instead of 9 s without it.
    logger().warn(
        "malloc huge pages are off (GLIBC_TUNABLES={}): the models may run several "
        "times slower (small-page faults on large tensors)",
        tunables != nullptr ? tunables : "");
  }
  PipelineConfig config = loadPipelineConfig(o.config);
  config.threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  logger().info("pipeline from {}: {}", o.config, describePipelineConfig(config));
  const Pipeline pipeline(config);

  EventFileReader reader(o.input);
  const std::int64_t total = o.maxEvents >= 0
                                 ? std::min<std::int64_t>(o.maxEvents, reader.numEvents())
                                 : static_cast<std::int64_t>(reader.numEvents());
  logger().info("direct mode: {} events from {} -> {}", total, o.input, o.output);
  TracksFileWriter writer(o.output);
  std::unique_ptr<TrackMLSubmissionWriter> submission;
  if (!o.submission.empty()) {
    submission = std::make_unique<TrackMLSubmissionWriter>(
        o.submission,
        o.submission.size() > 3 && o.submission.compare(o.submission.size() - 3, 3, ".gz") == 0);
  }

  std::vector<double> features, embedding, graph, filter, gnn, tracks, totalMs;
  TrackMetrics metrics;
  EdgeMetrics graphEdges, filterEdges, gnnEdges;
  bool anyTruth = false;
  std::int64_t failed = 0, hits = 0;
  Progress progress("processed", total);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < total; ++i) {
    try {
      const Event event = reader.read(static_cast<std::size_t>(i));
      const PipelineResult r = pipeline.run(event, o.input);
      writer.append(r.tracks);
      if (submission) submission->write(r.tracks);
      const StageRecord& s = r.record;
      features.push_back(s.featuresMs);
      embedding.push_back(s.embeddingMs);
      graph.push_back(s.graphMs);
      filter.push_back(s.filterMs);
      gnn.push_back(s.gnnMs);
      tracks.push_back(s.tracksMs);
      totalMs.push_back(s.totalMs());
      hits += s.hits;
      if (event.hasTruth()) {
        metrics += trackMetrics(event, r.tracks.label);
        graphEdges += edgeMetrics(event, r.rows, r.edges.graph);
        filterEdges += edgeMetrics(event, r.rows, r.edges.filter);
        gnnEdges += edgeMetrics(event, r.rows, r.edges.gnn);
        anyTruth = true;
      }
      logger().debug("event {}: {} hits, {} graph / {} filter / {} gnn edges, {} tracks, {:.1f} ms",
                     event.eventId, s.hits, s.graphEdges, s.filterEdges, s.gnnEdges, s.tracks,
                     s.totalMs());
    } catch (const InputError& e) {
      // One bad event does not stop the others; it is reported and counted.
      logger().error("event at position {} failed: {}", i, e.what());
      ++failed;
    }
    progress.update(i + 1);
  }
  writer.close();
  if (submission) submission->close();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::int64_t done = total - failed;

  nlohmann::json report = {
      {"mode", "direct"},
      {"input", o.input},
      {"output", o.output},
      {"events", done},
      {"failed_events", failed},
      {"threads", config.threads},
      {"events_per_second", wall > 0 ? static_cast<double>(done) / wall : 0.0},
      {"hits_per_event", done ? static_cast<double>(hits) / static_cast<double>(done) : 0.0},
      {"peak_rss_mb", peakRssMb()},
      {"stage_ms",
       {{"features", summary(features)},
        {"embedding", summary(embedding)},
        {"graph", summary(graph)},
        {"filter", summary(filter)},
        {"gnn", summary(gnn)},
        {"tracks", summary(tracks)},
        {"total", summary(totalMs)}}}};
  if (anyTruth) {
    report["physics"] = {{"efficiency_pt_gt_1gev", metrics.efficiencyHighPt()},
                         {"efficiency_all", metrics.efficiency()},
                         {"fake_rate", metrics.fakeRate()},
                         {"duplicate_rate", metrics.duplicateRate()},
                         {"trackml_score", done ? metrics.score / static_cast<double>(done) : 0.0},
                         {"particles_pt_gt_1gev", metrics.particlesHighPt},
                         {"tracks", metrics.tracks}};
    for (const auto& [stage, m] : {std::pair<const char*, const EdgeMetrics&>{"graph", graphEdges},
                                   {"filter", filterEdges},
                                   {"gnn", gnnEdges}}) {
      report["physics"][std::string("edge_efficiency_") + stage] = m.efficiency();
      report["physics"][std::string("edge_purity_") + stage] = m.purity();
    }
  }
  std::string text = fmt::format(
      "{} events in {:.1f} s: {:.2f} events/s, {:.0f} hits/event, "
      "peak RSS {:.0f} MB, {} thread(s)\n",
      done, wall, report["events_per_second"].get<double>(), report["hits_per_event"].get<double>(),
      peakRssMb(), config.threads);
  text += "stage        mean ms    p50 ms    p99 ms\n";
  for (const char* stage : {"features", "embedding", "graph", "filter", "gnn", "tracks", "total"}) {
    const auto& s = report["stage_ms"][stage];
    text += fmt::format("{:<10} {:>9.2f} {:>9.2f} {:>9.2f}\n", stage, s["mean"].get<double>(),
                        s["p50"].get<double>(), s["p99"].get<double>());
  }
  if (anyTruth) {
    text += fmt::format(
        "physics: efficiency {:.3f} (pT > 1 GeV, {} particles), {:.3f} (all), fake rate {:.3f}, "
        "duplicate rate {:.3f}, TrackML score {:.3f}\n",
        metrics.efficiencyHighPt(), metrics.particlesHighPt, metrics.efficiency(),
        metrics.fakeRate(), metrics.duplicateRate(),
        report["physics"]["trackml_score"].get<double>());
  }
  if (anyTruth) {
    text += fmt::format(
        "edges (efficiency/purity): graph {:.3f}/{:.3f}, filter {:.3f}/{:.3f}, gnn "
        "{:.3f}/{:.3f}\n",
        graphEdges.efficiency(), graphEdges.purity(), filterEdges.efficiency(),
        filterEdges.purity(), gnnEdges.efficiency(), gnnEdges.purity());
  }
  std::fputs(text.c_str(), stdout);
  if (!o.metricsJson.empty()) std::ofstream(o.metricsJson) << report.dump(2) << "\n";
  if (failed > 0) {
    throw Error(std::to_string(failed) + " of " + std::to_string(total) +
                " events failed (errors above); the others are in '" + o.output + "'");
  }
}

}  // namespace

void addRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run the track-finding pipeline (features, embedding, radius graph, filter, GNN, "
      "connected components) on an event file and write one track label per hit.\n"
      "--mode direct runs it in this process (the baseline of the MPI service). At the end: "
      "events/s, per-stage mean/p50/p99 ms, peak memory, and physics when the events carry "
      "truth.");
  cmd->add_option("--mode", o->mode, "direct (the MPI service modes come later)")
      ->capture_default_str();
  cmd->add_option("--config,-c", o->config, "pipeline YAML (models and settings)")
      ->capture_default_str();
  cmd->add_option("--input,-i", o->input, "event file (.h5)")->required();
  cmd->add_option("--output,-o", o->output, "tracks file (.h5)")->required();
  cmd->add_option("--submission", o->submission,
                  "also write a TrackML submission CSV (.csv or .csv.gz)");
  cmd->add_option("--metrics-json", o->metricsJson, "write the report as JSON");
  cmd->add_option("--events,-n", o->maxEvents, "process at most this many events");
  cmd->add_option("--threads,-j", o->threads,
                  "threads for torch and graph building (default: all cores)");
  cmd->add_flag("--force,-f", o->force, "overwrite the output file if it exists");
  cmd->callback([o] { runDirect(*o); });
}

}  // namespace trkaas::app
