// The C++ pipeline's speed at several pile-ups: events are read first (not timed), one
// warm-up event per file, then every event is timed stage by stage. Per point: events/s,
// per-stage mean ms, p50/p99 of the total, edges per stage; over the points, the exponent
// of time versus hits (least squares on log-log); the peak RSS. With --faiss, the same
// embeddings also go through GraphBuilder's FAISS flat backend, to compare graph building.
//
// Usage: bench_pipeline [-c models/pipeline.yaml] [-n events per file] [-j threads]
//                       [--faiss N events] [--json out.json] LABEL=FILE.h5 ...
// bench/pipeline_compare.sh runs it beside the Python pipeline (bench/python_pipeline.py).

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "PipelineOptions.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/pipeline/FeatureBuilder.hpp"
#include "trkaas/pipeline/GraphBuilder.hpp"
#include "trkaas/pipeline/Pipeline.hpp"
#include "trkaas/pipeline/TorchModel.hpp"

namespace {

using namespace trkaas;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string config = "models/pipeline.yaml";
  std::int64_t events = 5;
  int threads = 1;
  std::int64_t faissEvents = 0;
  std::string json;
  std::vector<std::pair<std::string, std::string>> inputs;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "%s\nusage: bench_pipeline [-c pipeline.yaml] [-n events per file] [-j threads] "
               "[--faiss N] [--json out.json] LABEL=FILE.h5 ...\n",
               why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(s + " needs a value");
      return argv[++i];
    };
    if (s == "-c") {
      a.config = value();
    } else if (s == "-n") {
      a.events = std::stoll(value());
    } else if (s == "-j") {
      a.threads = std::stoi(value());
    } else if (s == "--faiss") {
      a.faissEvents = std::stoll(value());
    } else if (s == "--json") {
      a.json = value();
    } else if (s.find('=') != std::string::npos) {
      a.inputs.emplace_back(s.substr(0, s.find('=')), s.substr(s.find('=') + 1));
    } else {
      usage("unknown argument " + s);
    }
  }
  if (a.inputs.empty()) usage("no input files");
  if (a.events < 1 || a.threads < 1) usage("-n and -j must be at least 1");
  return a;
}

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double peakRssMb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

/// The hits of the configured volumes, as the pipeline selects them.
Event selectVolumes(const Event& event, const std::vector<std::int32_t>& volumes) {
  if (volumes.empty()) return event;
  Event s;
  s.eventId = event.eventId;
  const Hits& h = event.hits;
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (std::find(volumes.begin(), volumes.end(), h.volumeId[i]) == volumes.end()) continue;
    s.hits.push_back(h.hitId[i], h.x[i], h.y[i], h.z[i], h.volumeId[i], h.layerId[i],
                     h.moduleId[i]);
  }
  s.cells = event.cells;
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  PipelineConfig config = app::loadPipelineConfig(args.config);
  config.threads = args.threads;
  Pipeline pipeline(config);
  std::printf("pipeline %s, %d thread(s), %lld events per file after 1 warm-up\n",
              args.config.c_str(), args.threads, static_cast<long long>(args.events));

  // For --faiss: the same embeddings through both graph backends.
  const FeatureBuilder features(config.features);
  TorchModel::Config ec;
  ec.path = config.embeddingModel;
  ec.numFeatures = features.numFeatures();
  ec.name = "embedding";
  const TorchModel embedding(ec);
  GraphBuilder::Config gc = config.graph;
  gc.threads = args.threads;
  const GraphBuilder grid(gc);
  gc.backend = GraphBuilder::Backend::kFaiss;
  const bool haveFaiss = GraphBuilder::faissAvailable();
  if (args.faissEvents > 0 && !haveFaiss) std::printf("--faiss: this build has no FAISS\n");

  nlohmann::json points = nlohmann::json::array();
  std::printf("\n%-8s %9s %9s %8s | %8s %8s %8s %8s %8s %8s | %9s %9s %9s | %9s %9s %9s\n", "point",
              "hits", "model", "ev/s", "feat", "embed", "graph", "filter", "gnn", "tracks", "total",
              "p50", "p99", "e.graph", "e.filter", "e.gnn");
  std::vector<double> logHits, logMs;
  for (const auto& [label, path] : args.inputs) {
    EventFileReader reader(path);
    const std::int64_t want =
        std::min<std::int64_t>(args.events + 1, static_cast<std::int64_t>(reader.numEvents()));
    if (want < 2) throw Error("file '" + path + "': needs at least 2 events (1 warm-up)");
    std::vector<Event> events;
    for (std::int64_t i = 0; i < want; ++i) events.push_back(reader.read(std::size_t(i)));
    pipeline.run(events[0], path);  // warm-up: first-call costs of torch and the allocator

    std::map<std::string, std::vector<double>> ms;
    double hits = 0, modelHits = 0, eg = 0, ef = 0, en = 0;
    for (std::size_t i = 1; i < events.size(); ++i) {
      const PipelineResult r = pipeline.run(events[i], path);
      const StageRecord& s = r.record;
      for (Stage stage : kStages) ms[stageName(stage)].push_back(s.ms[stage]);
      ms["total"].push_back(s.totalMs());
      hits += static_cast<double>(events[i].hits.size());
      modelHits += static_cast<double>(r.rows.empty() ? events[i].hits.size() : r.rows.size());
      eg += static_cast<double>(s.graphEdges);
      ef += static_cast<double>(s.filterEdges);
      en += static_cast<double>(s.gnnEdges);
    }
    const double n = static_cast<double>(events.size() - 1);
    const double total = mean(ms["total"]);
    std::printf(
        "%-8s %9.0f %9.0f %8.2f | %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f | %9.1f %9.1f %9.1f | "
        "%9.0f %9.0f %9.0f\n",
        label.c_str(), hits / n, modelHits / n, 1000.0 / total, mean(ms["features"]),
        mean(ms["embedding"]), mean(ms["graph"]), mean(ms["filter"]), mean(ms["gnn"]),
        mean(ms["tracks"]), total, quantile(ms["total"], 0.5), quantile(ms["total"], 0.99), eg / n,
        ef / n, en / n);
    std::fflush(stdout);
    logHits.push_back(std::log(modelHits / n));
    logMs.push_back(std::log(total));

    nlohmann::json stages;
    for (const auto& [stage, v] : ms) {
      stages[stage] = {{"mean", mean(v)}, {"p50", quantile(v, 0.5)}, {"p99", quantile(v, 0.99)}};
    }
    nlohmann::json point = {
        {"label", label},
        {"input", path},
        {"events", events.size() - 1},
        {"hits_mean", hits / n},
        {"model_hits_mean", modelHits / n},
        {"events_per_s", 1000.0 / total},
        {"stages_ms", stages},
        {"edges_mean", {{"graph", eg / n}, {"filter", ef / n}, {"gnn", en / n}}},
        {"peak_rss_mb_so_far", peakRssMb()}};

    // Graph building on the same embeddings: grid against FAISS flat.
    if (args.faissEvents > 0 && haveFaiss) {
      const GraphBuilder faiss(gc);
      std::vector<double> gridMs, faissMs;
      bool same = true;
      for (std::int64_t i = 1; i <= std::min<std::int64_t>(args.faissEvents, want - 1); ++i) {
        const Event sel = selectVolumes(events[std::size_t(i)], config.volumes);
        const std::int64_t m = static_cast<std::int64_t>(sel.hits.size());
        const std::vector<float> x = features.build(sel, path);
        const std::vector<float> e = embedding.embed(x.data(), m);
        auto t0 = Clock::now();
        const EdgeList a = grid.build(e.data(), m, embedding.outputDim());
        gridMs.push_back(msSince(t0));
        t0 = Clock::now();
        const EdgeList b = faiss.build(e.data(), m, embedding.outputDim());
        faissMs.push_back(msSince(t0));
        same = same && a.src == b.src && a.dst == b.dst;
      }
      std::printf(
          "%-8s graph on the same embeddings: grid %.1f ms, FAISS flat %.1f ms "
          "(%.0fx), edge sets %s\n",
          label.c_str(), mean(gridMs), mean(faissMs), mean(faissMs) / mean(gridMs),
          same ? "identical" : "DIFFERENT");
      point["graph_compare"] = {{"events", gridMs.size()},
                                {"grid_ms", mean(gridMs)},
                                {"faiss_flat_ms", mean(faissMs)},
                                {"speedup", mean(faissMs) / mean(gridMs)},
                                {"identical", same}};
    }
    points.push_back(point);
  }

  // Exponent b of total time ~ hits^b over the points (least squares in log-log).
  double exponent = 0;
  if (logHits.size() >= 2) {
    const double mx = mean(logHits), my = mean(logMs);
    double sxy = 0, sxx = 0;
    for (std::size_t i = 0; i < logHits.size(); ++i) {
      sxy += (logHits[i] - mx) * (logMs[i] - my);
      sxx += (logHits[i] - mx) * (logHits[i] - mx);
    }
    exponent = sxx > 0 ? sxy / sxx : 0;
    std::printf("\ntime per event ~ (model hits)^%.2f over %zu points\n", exponent, logHits.size());
  }
  std::printf("peak RSS %.0f MB\n", peakRssMb());
  if (!args.json.empty()) {
    nlohmann::json out = {{"implementation", "cpp"},           {"config", args.config},
                          {"threads", args.threads},           {"points", points},
                          {"time_vs_hits_exponent", exponent}, {"peak_rss_mb", peakRssMb()}};
    std::ofstream(args.json) << out.dump(2) << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_pipeline: %s\n", e.what());
  return 1;
}
