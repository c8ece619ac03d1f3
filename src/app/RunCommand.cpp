#include <sys/resource.h>

#include <algorithm>
#include <array>
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
#include "trkaas/service/Layout.hpp"
#include "trkaas/service/MpiSession.hpp"
#include "trkaas/service/Service.hpp"
#include "trkaas/service/Stats.hpp"

namespace trkaas::app {

namespace {

struct RunOptions {
  std::string mode = "direct";
  std::string config = "models/pipeline.yaml";
  std::vector<std::string> inputs;
  std::string inputList;
  std::string input;  // the one input of a single-file direct run
  std::string output;
  std::string submission;
  std::string metricsJson;
  std::int64_t maxEvents = -1;
  int threads = 0;
  bool force = false;
  // The MPI job (service, or direct on every rank).
  int serversPerNode = 0;
  double producersPerServer = 0;
  std::string producerNodes;  // node lists such as "0,2-3"
  std::string serverNodes;
  int concurrency = 4;
  int workers = 1;
  std::int64_t batchHits = 0;
  double progressSeconds = 5.0;
  bool retryFailed = false;
  std::int64_t stopAfter = -1;
  std::string gpu = "auto";
  std::string precision = "float32";
  std::int64_t gpuEdgeChunk = 0;
};

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

double peakRssMb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

ExecutionOptions::Precision precisionOf(const std::string& name) {
  return name == "float16"    ? ExecutionOptions::kFloat16
         : name == "bfloat16" ? ExecutionOptions::kBFloat16
                              : ExecutionOptions::kFloat32;
}

void runDirect(const RunOptions& o) {
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
  // One-process direct mode runs on GPU 0 when --gpu allows and one is visible, else on
  // the CPU, saying why once in a GPU-capable build.
  ExecutionOptions exec;
  std::string why;
  if (o.gpu != "off" && gpuPipelineAvailable(why)) {
    exec.device = 0;
    exec.precision = precisionOf(o.precision);
    exec.edgeChunk = o.gpuEdgeChunk;
    logger().info("pipeline on GPU 0 (cuda:0, {})", toString(exec.precision));
  } else if (o.gpu == "require") {
    throw Error("--gpu require: " + why);
  } else {
    std::string words;
    exec.precision = cpuPrecision(precisionOf(o.precision), words);
    if (gpuPipelineBuilt()) {
      logger().info("pipeline on the CPU ({}; {})", o.gpu == "off" ? "--gpu off" : why, words);
    } else {
      logger().info("pipeline on the CPU ({})", words);
    }
  }
  Pipeline pipeline(config, exec);

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

  std::array<TimeHistogram, kNumStages> stageMs;
  TimeHistogram totalMs;
  PhysicsMetrics metrics;
  TrackMetricsConfig metricsConfig;  // the processed scope: the pipeline's volumes
  metricsConfig.volumes = config.volumes;
  metricsConfig.tracks = describeTracks(config);
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
      for (Stage stage : kStages) stageMs[static_cast<std::size_t>(stage)].add(s.ms[stage]);
      totalMs.add(s.totalMs());
      hits += s.hits;
      if (event.hasTruth()) {
        metrics += physicsMetrics(event, r.tracks.label, metricsConfig);
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
      {"events_done", done},
      {"events_failed", failed},
      {"threads", config.threads},
      {"wall_s", wall},
      {"events_per_s", wall > 0 ? static_cast<double>(done) / wall : 0.0},
      {"hits_per_event", done ? static_cast<double>(hits) / static_cast<double>(done) : 0.0},
      {"peak_rss_mb", peakRssMb()},
      {"stage_ms", nlohmann::json::object()}};
  for (Stage stage : kStages) {
    report["stage_ms"][stageName(stage)] = timeSummary(stageMs[static_cast<std::size_t>(stage)]);
  }
  report["stage_ms"]["total"] = timeSummary(totalMs);
  if (anyTruth) {
    report["physics"] = physicsSummary(metrics, done, metricsConfig);
    for (const auto& [stage, m] : {std::pair<const char*, const EdgeMetrics&>{"graph", graphEdges},
                                   {"filter", filterEdges},
                                   {"gnn", gnnEdges}}) {
      report["physics"]["processed"][std::string("edge_efficiency_") + stage] = m.efficiency();
      report["physics"]["processed"][std::string("edge_purity_") + stage] = m.purity();
    }
  }
  std::string text = fmt::format(
      "{} events in {:.1f} s: {:.2f} events/s, {:.0f} hits/event, "
      "peak RSS {:.0f} MB, {} thread(s)\n",
      done, wall, report["events_per_s"].get<double>(), report["hits_per_event"].get<double>(),
      peakRssMb(), config.threads);
  text += "stage        mean ms    p50 ms    p99 ms\n";
  std::vector<std::string> stages;
  for (Stage stage : kStages) stages.emplace_back(stageName(stage));
  stages.emplace_back("total");
  for (const std::string& stage : stages) {
    const auto& s = report["stage_ms"][stage];
    text += fmt::format("{:<10} {:>9.2f} {:>9.2f} {:>9.2f}\n", stage, s["mean"].get<double>(),
                        s["p50"].get<double>(), s["p99"].get<double>());
  }
  if (anyTruth) {
    for (const std::string& line : physicsLines(report["physics"])) text += line + "\n";
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
    // Done, with failed events: the service's and campaign verify's code (Service.hpp).
    logger().error("{} of {} events failed (errors above); the others are in '{}'", failed, total,
                   o.output);
    throw ExitCode{kExitDoneWithFailures};
  }
}

/// The MPI job: service (producers and servers) or direct on every rank, writing to an
/// output directory with journals. Returns the exit code.
int runJob(const RunOptions& o) {
  ServiceConfig c;
  c.inputs = o.inputs;
  if (!o.inputList.empty()) {
    for (std::string& f : readListFile(o.inputList)) c.inputs.push_back(std::move(f));
  }
  if (c.inputs.empty()) throw Error("no input files (--input or --input-list)");
  c.outputDir = o.output;
  c.pipeline = loadPipelineConfig(o.config);
  c.direct = o.mode == "direct";
  c.layout.serversPerNode = o.serversPerNode;
  c.layout.producersPerServer = o.producersPerServer;
  c.layout.serverThreads = o.threads;
  c.layout.producerNodes = parseNodeList(o.producerNodes, "--producer-nodes");
  c.layout.serverNodes = parseNodeList(o.serverNodes, "--server-nodes");
  c.concurrency = o.concurrency;
  c.workers = o.workers;
  c.batchHits = o.batchHits;
  c.progressSeconds = o.progressSeconds;
  c.maxEvents = o.maxEvents;
  c.retryFailed = o.retryFailed;
  c.reportJson = o.metricsJson;
  c.stopAfter = o.stopAfter;
  c.gpu = o.gpu == "off"       ? ServiceConfig::GpuUse::kOff
          : o.gpu == "require" ? ServiceConfig::GpuUse::kRequire
                               : ServiceConfig::GpuUse::kAuto;
  c.precision = precisionOf(o.precision);
  c.gpuEdgeChunk = o.gpuEdgeChunk;
  if (!o.submission.empty()) {
    throw Error(
        "--submission is for single-file runs; convert the tracks files of the "
        "directory with 'trkaas convert'");
  }
  const MpiSession mpi;
  if (mpi.rank() == 0)
    logger().info("pipeline from {}: {}", o.config, describePipelineConfig(c.pipeline));
  return runService(c);
}

}  // namespace

void addRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run the track-finding pipeline (features, embedding, radius graph, filter, GNN, "
      "connected components) on an event file and write one track label per hit.\n"
      "Under mpirun/srun, --mode service splits the ranks into producers (read events, write "
      "tracks and journals) and servers (run the pipeline); --mode direct runs a pipeline on "
      "every rank (the baseline). Without mpirun and with an output file (.h5), direct mode "
      "runs in this process. At the end: events/s, latency and per-stage times, server busy "
      "and producer waiting, and physics when the events carry truth. A stopped job (SIGTERM, "
      "SIGUSR1) resumes when rerun on the same output directory.");
  cmd->add_option("--mode", o->mode,
                  "service: producer ranks read events and send them to server ranks that "
                  "run the pipeline; direct: every rank runs its own pipeline")
      ->check(CLI::IsMember({"direct", "service"}))
      ->capture_default_str();
  cmd->add_option("--config,-c", o->config, "pipeline YAML (models and settings)")
      ->capture_default_str();
  cmd->add_option("--input,-i", o->inputs, "event file(s) (.h5)");
  cmd->add_option("--input-list", o->inputList,
                  "file with one event file path per line (# comments)");
  cmd->add_option("--output,-o", o->output,
                  "a directory: one run-RRR/ per run (per-producer tracks files and journals, "
                  "the run's report.json) and the latest run's report.json; rerun the same "
                  "command to resume. A file ending in .h5: one tracks file (direct "
                  "mode in one process without mpirun)")
      ->required();
  cmd->add_option("--submission", o->submission,
                  "also write a TrackML submission CSV (.csv or .csv.gz; single-file runs)");
  cmd->add_option("--metrics-json", o->metricsJson, "write the report as JSON here too");
  cmd->add_option("--events,-n", o->maxEvents, "process at most this many events");
  cmd->add_option("--threads,-j", o->threads,
                  "threads for torch and graph building per pipeline (default: the cores of "
                  "the node shared among the ranks that compute)");
  cmd->add_flag("--force,-f", o->force, "overwrite an output file (not a directory)");
  cmd->add_option("--servers-per-node", o->serversPerNode,
                  "server ranks per node (default: one per visible GPU, else one)");
  cmd->add_option("--producers-per-server", o->producersPerServer,
                  "the ratio instead: producers per server on each node");
  cmd->add_option("--producer-nodes", o->producerNodes,
                  "nodes with producers only, e.g. 0 or 0-3,8 (nodes are numbered from 0 in the "
                  "order of their first rank: a heterogeneous job's first component first)");
  cmd->add_option("--server-nodes", o->serverNodes,
                  "nodes with servers only (one per rank), numbered as for --producer-nodes");
  cmd->add_option("--concurrency,-C", o->concurrency, "requests each producer keeps in flight")
      ->capture_default_str();
  cmd->add_option("--workers,-W", o->workers,
                  "worker instances per server sharing its queue and models")
      ->capture_default_str();
  cmd->add_option("--batch-hits", o->batchHits,
                  "servers run queued small events together as one graph up to this many "
                  "hits (0: one at a time)")
      ->capture_default_str();
  cmd->add_option("--progress", o->progressSeconds, "seconds between progress lines")
      ->capture_default_str();
  cmd->add_flag("--retry-failed", o->retryFailed,
                "on resume, also redo events whose earlier attempt failed");
  cmd->add_option("--stop-after", o->stopAfter,
                  "(testing) each producer stops after this many events as if signalled");
  cmd->add_option("--gpu", o->gpu,
                  "servers given a GPU (and one-process direct mode: GPU 0) run the pipeline on "
                  "it: auto (when this build and the node allow, else on the CPU, saying why), "
                  "require (else the job fails), off")
      ->check(CLI::IsMember({"auto", "require", "off"}))
      ->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "arithmetic of the models: float32; bfloat16 (GPUs, and CPUs with AMX or AVX-512 "
                  "BF16: elsewhere emulated, slower); float16 (GPUs only: a CPU runs float32)")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}))
      ->capture_default_str();
  cmd->add_option("--gpu-edge-chunk", o->gpuEdgeChunk,
                  "edges per filter call on a GPU (0: 2^21, or the pipeline's filter_chunk if "
                  "larger)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  // The job scripts put their knobs first and a campaign chunk's or the user's arguments
  // after them: a later value of a single-valued option replaces an earlier one.
  for (const char* name :
       {"--mode", "--config", "--threads", "--servers-per-node", "--producers-per-server",
        "--producer-nodes", "--server-nodes", "--concurrency", "--workers", "--batch-hits",
        "--progress", "--events", "--stop-after", "--gpu", "--precision", "--gpu-edge-chunk"}) {
    cmd->get_option(name)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  cmd->callback([o] {
    const bool file = endsWith(o->output, ".h5") && !isDirectory(o->output);
    if (file && o->mode == "direct" && !MpiSession::launchedByMpi()) {
      if (o->inputs.size() != 1 || !o->inputList.empty()) {
        throw Error(
            "a single tracks file (.h5) takes exactly one --input; give an output "
            "directory for several inputs");
      }
      o->input = o->inputs[0];
      runDirect(*o);
      return;
    }
    if (file) {
      throw Error("--output '" + o->output + "' looks like a file, but " +
                  (o->mode == "service" ? std::string("the service") : std::string("an MPI job")) +
                  " writes a directory (tracks and journal per producer, report.json): give a "
                  "directory name");
    }
    const int code = runJob(*o);
    if (code != 0) throw ExitCode{code};
  });
}

}  // namespace trkaas::app
