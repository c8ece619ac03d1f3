// One GPU server's throughput: the models loaded once on the GPU (PipelineModels), W worker
// threads each with its own Pipeline instance (stream, pinned buffers) taking events from one
// shared counter, as the service's server does. For each W of --workers: events/s over
// --passes passes of the preloaded events (after one warm-up pass), mean latency, GPU busy
// and peak memory from NVML (GpuMonitor). With --batch-hits, workers take consecutive
// events together up to that many hits (runBatch), as --batch-hits does in the service.
//
// Usage: bench_gpu_server [-c pipeline.yaml] [-n events] [--workers 1,2,4,8]
//                         [--precision float32|float16|bfloat16] [--batch-hits N]
//                         [--passes P] [--device D] [-j host threads] [--json out.json] FILE.h5
// bench/gpu_bench.sh runs the whole GPU benchmark (BENCHMARKS.md). Needs a GPU and a build
// with CUDA libtorch; elsewhere it says why and exits 2.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "PipelineOptions.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/device/GpuMonitor.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/pipeline/Pipeline.hpp"

namespace {

using namespace trkaas;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string config = "models/pipeline.yaml";
  std::string input, json;
  std::int64_t events = 20;
  std::vector<int> workers = {1, 2, 4, 8};
  ExecutionOptions::Precision precision = ExecutionOptions::kFloat32;
  std::int64_t batchHits = 0;
  int passes = 3;
  int device = 0;
  int threads = 1;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "%s\nusage: bench_gpu_server [-c pipeline.yaml] [-n events] [--workers 1,2,4,8] "
               "[--precision float32|float16|bfloat16] [--batch-hits N] [--passes P] "
               "[--device D] [-j threads] [--json out.json] FILE.h5\n",
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
    } else if (s == "--workers") {
      a.workers.clear();
      std::stringstream list(value());
      for (std::string w; std::getline(list, w, ',');) a.workers.push_back(std::stoi(w));
    } else if (s == "--precision") {
      const std::string p = value();
      if (p == "float32") {
        a.precision = ExecutionOptions::kFloat32;
      } else if (p == "float16") {
        a.precision = ExecutionOptions::kFloat16;
      } else if (p == "bfloat16") {
        a.precision = ExecutionOptions::kBFloat16;
      } else {
        usage("unknown precision " + p);
      }
    } else if (s == "--batch-hits") {
      a.batchHits = std::stoll(value());
    } else if (s == "--passes") {
      a.passes = std::stoi(value());
    } else if (s == "--device") {
      a.device = std::stoi(value());
    } else if (s == "-j") {
      a.threads = std::stoi(value());
    } else if (s == "--json") {
      a.json = value();
    } else if (a.input.empty() && s[0] != '-') {
      a.input = s;
    } else {
      usage("unknown argument " + s);
    }
  }
  if (a.input.empty()) usage("no input file");
  if (a.events < 1 || a.passes < 1 || a.workers.empty()) usage("-n, --passes, --workers");
  for (int w : a.workers) {
    if (w < 1) usage("--workers must be >= 1");
  }
  return a;
}

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  std::string why;
  if (!gpuPipelineAvailable(why)) {
    std::fprintf(stderr, "bench_gpu_server: the GPU pipeline cannot run here: %s\n", why.c_str());
    return 2;
  }
  PipelineConfig config = app::loadPipelineConfig(args.config);
  config.threads = args.threads;
  std::vector<Event> events;
  {
    EventFileReader reader(args.input);
    const std::int64_t n = std::min<std::int64_t>(args.events, reader.numEvents());
    for (std::int64_t i = 0; i < n; ++i) events.push_back(reader.read(static_cast<std::size_t>(i)));
  }
  double hits = 0;
  for (const Event& e : events) hits += static_cast<double>(e.hits.size());
  hits /= static_cast<double>(events.size());
  ExecutionOptions options;
  options.device = args.device;
  options.precision = args.precision;
  options.stageEdges = false;  // as in a server
  const auto models = PipelineModels::load(config, options);
  std::printf("%s: %zu events of %.0f hits, %s, models %s, batch-hits %lld, %d pass(es)\n",
              args.input.c_str(), events.size(), hits, toString(args.precision).c_str(),
              args.config.c_str(), static_cast<long long>(args.batchHits), args.passes);
  std::printf("%8s %10s %12s %10s %12s %s\n", "workers", "events/s", "latency ms", "GPU busy",
              "peak MiB", "GPU");
  nlohmann::json rows = nlohmann::json::array();
  for (int w : args.workers) {
    std::vector<Pipeline> pipelines;
    for (int k = 0; k < w; ++k) pipelines.emplace_back(config, options, models);
    // Warm-up: every instance once (kernels, allocator, cuDNN/cuBLAS handles).
    for (Pipeline& p : pipelines) p.run(events.front(), "warm-up");
    device::GpuMonitor::Config mc;
    mc.device = args.device;
    mc.intervalSeconds = 0.2;
    device::GpuMonitor monitor(mc);
    monitor.start();
    const std::int64_t total = static_cast<std::int64_t>(events.size()) * args.passes;
    std::atomic<std::int64_t> next{0};
    std::mutex mutex;
    double latencySum = 0;
    std::int64_t done = 0;
    std::string failure;
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int k = 0; k < w; ++k) {
      threads.emplace_back([&, k] {
        Pipeline& p = pipelines[static_cast<std::size_t>(k)];
        try {
          while (true) {
            // One event, or consecutive events up to the hit budget.
            std::vector<const Event*> batch;
            std::int64_t budget = 0;
            std::int64_t i = next.fetch_add(1);
            if (i >= total) return;
            batch.push_back(&events[static_cast<std::size_t>(i % events.size())]);
            budget += static_cast<std::int64_t>(batch.back()->hits.size());
            while (args.batchHits > 0) {
              const Event& e = events[static_cast<std::size_t>((i + 1) % events.size())];
              if (budget + static_cast<std::int64_t>(e.hits.size()) > args.batchHits) break;
              std::int64_t expected = i + 1;
              if (expected >= total || !next.compare_exchange_strong(expected, i + 2)) break;
              ++i;
              batch.push_back(&e);
              budget += static_cast<std::int64_t>(e.hits.size());
            }
            const auto t = Clock::now();
            if (batch.size() == 1) {
              p.run(*batch.front(), "bench");
            } else {
              p.runBatch(batch, "bench");
            }
            const double ms = msSince(t);
            std::lock_guard<std::mutex> lock(mutex);
            latencySum += ms * static_cast<double>(batch.size());
            done += static_cast<std::int64_t>(batch.size());
          }
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(mutex);
          failure = e.what();
          next.store(total);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const double seconds = msSince(t0) / 1000.0;
    monitor.stop();
    if (!failure.empty()) throw Error("with " + std::to_string(w) + " worker(s): " + failure);
    const device::GpuMonitor::Summary g = monitor.summary();
    const double rate = static_cast<double>(done) / seconds;
    const double latency = done > 0 ? latencySum / static_cast<double>(done) : 0.0;
    std::printf("%8d %10.2f %12.1f %10s %12s %s\n", w, rate, latency,
                g.available ? fmt::format("{:.0f}%", 100 * g.busyFraction).c_str() : "n/a",
                g.available ? fmt::format("{:.0f}", g.peakMemoryUsedMiB).c_str() : "n/a",
                g.available ? g.deviceName.c_str() : g.reason.c_str());
    std::fflush(stdout);
    rows.push_back(
        {{"workers", w},
         {"events_per_s", rate},
         {"latency_ms", latency},
         {"gpu_busy", g.available ? nlohmann::json(g.busyFraction) : nullptr},
         {"peak_memory_mib", g.available ? nlohmann::json(g.peakMemoryUsedMiB) : nullptr},
         {"gpu", g.available ? g.deviceName : g.reason}});
  }
  if (!args.json.empty()) {
    std::ofstream(args.json) << nlohmann::json{
        {"input", args.input},
        {"events", events.size()},
        {"hits_per_event", hits},
        {"config", args.config},
        {"precision", toString(args.precision)},
        {"batch_hits", args.batchHits},
        {"rows", rows}}.dump(2);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_gpu_server: %s\n", e.what());
  return 1;
}
