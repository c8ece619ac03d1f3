// The server loop: the main thread talks MPI (receives requests, sends results); worker
// threads share one queue and one set of models.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "ServiceInternal.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/device/GpuMonitor.hpp"
#include "trkaas/service/Stats.hpp"
#include "trkaas/service/Wire.hpp"

namespace trkaas::service {

namespace {

struct Job {
  Request request;
  int source = -1;
  Clock::time_point received;
};

struct Outgoing {
  Result result;
  int dest = -1;
};

struct Sending {
  MPI_Request request = MPI_REQUEST_NULL;
  std::vector<char> bytes;
};

class ServerLoop {
 public:
  ServerLoop(MPI_Comm comm, const ServiceConfig& config, int server, int threads,
             const ServerDevice& device, ProgressBoard* board)
      : m_comm(comm),
        m_server(server),
        m_workers(config.workers),
        m_threads(threads),
        m_device(device.layout),
        m_cudaDevice(device.cuda),
        m_board(board),
        m_busyMs(static_cast<std::size_t>(config.workers), 0.0),
        m_batchHits(config.batchHits) {
    makePipelines(config, device);
  }

  nlohmann::json run() {
    const Clock::time_point start = Clock::now();
    const double cpuStart = processCpuMs();
    logger().info("server {}: {} worker(s), {} torch/graph thread(s) each, {}", m_server, m_workers,
                  m_config.threads, m_where);
    // GPU busy and memory from NVML (loaded at run time; "n/a" without a driver).
    std::unique_ptr<device::GpuMonitor> monitor;
    // The monitor names the GPU by this process's CUDA index (it maps it to NVML's).
    if (m_cudaDevice >= 0) {
      device::GpuMonitor::Config mc;
      mc.device = m_cudaDevice;
      monitor = std::make_unique<device::GpuMonitor>(mc);
      monitor->start();
    }
    std::vector<std::thread> workers;
    for (int w = 0; w < m_workers; ++w) workers.emplace_back([this, w] { work(w); });
    try {
      communicate();
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
      }
      m_wake.notify_all();
      for (auto& t : workers) t.join();
      throw;
    }
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_all();
    for (auto& t : workers) t.join();
    const double wallMs = msSince(start);
    std::string gpu = "n/a (CPU server)";
    nlohmann::json gpuStats = nullptr;
    if (monitor) {
      monitor->stop();
      const device::GpuMonitor::Summary g = monitor->summary();
      gpu = device::GpuMonitor::describe(g);
      if (g.available) {
        gpuStats = {{"name", g.deviceName},
                    {"busy_fraction", g.busyFraction},
                    {"peak_memory_mib", g.peakMemoryUsedMiB},
                    {"total_memory_mib", g.totalMemoryMiB},
                    {"samples", g.samples}};
      }
    }
    ServerStats s;
    for (double b : m_busyMs) s.busyMs += b;
    s.index = m_server;
    s.pipeline = m_where;
    s.workers = m_workers;
    s.threads = m_threads;
    s.device = m_device;
    s.requests = m_served;
    s.batches = m_batches;
    s.failed = m_failedCount;
    s.wallMs = wallMs;
    s.cpuMs = processCpuMs() - cpuStart;
    s.busyFraction = wallMs > 0 ? s.busyMs / (wallMs * m_workers) : 0.0;
    s.gpu = gpu;
    s.gpuStats = gpuStats;
    nlohmann::json stats = s;
    stats["role"] = "server";
    return stats;
  }

 private:
  static PipelineConfig pipelineConfig(const ServiceConfig& c, int threads) {
    PipelineConfig p = c.pipeline;
    p.threads = std::max(1, threads / std::max(1, c.workers));
    // A request holds only the hits of the model's volumes (the producer selected them and
    // maps the labels back): the server does not select again.
    p.volumes.clear();
    return p;
  }

  /// The server's pipelines: the models loaded once, on the server's GPU when it has one and
  /// this build and node allow, else on the CPU; one instance per worker either way.
  /// m_where says which, and why not the GPU.
  void makePipelines(const ServiceConfig& c, const ServerDevice& device) {
    m_config = pipelineConfig(c, m_threads);
    ExecutionOptions exec;
    exec.stageEdges = false;  // only the counts go back to the producer
    std::string why;
    if (device.layout < 0) {
      why = "no GPU assigned";
    } else if (c.gpu == ServiceConfig::GpuUse::kOff) {
      why = fmt::format("GPU {} assigned, but --gpu off", device.layout);
    } else if (device.cuda < 0) {
      why = fmt::format("GPU {} assigned, but {}", device.layout, device.why);
    } else if (!gpuPipelineAvailable(why)) {
      why = fmt::format("GPU {} assigned, but {}", device.layout, why);
    } else {
      exec.device = device.cuda;
      exec.precision = c.precision;
      exec.edgeChunk = c.gpuEdgeChunk;
      m_where = fmt::format("pipeline on GPU {} (cuda:{}, {})", device.layout, device.cuda,
                            toString(c.precision));
    }
    if (exec.device < 0 && c.gpu == ServiceConfig::GpuUse::kRequire) {
      throw Error(device.layout >= 0
                      ? fmt::format("server {}: --gpu require: {}", m_server, why)
                      : fmt::format("server {}: --gpu require, but the layout gave it no GPU "
                                    "(none visible on its node)",
                                    m_server));
    }
    if (exec.device < 0) {
      std::string words;
      exec.precision = cpuPrecision(c.precision, words);
      if (device.layout < 0) {
        // A GPU-capable build on a node without a GPU says so (the layout line, once per
        // server); a CPU-only build just runs on the CPU.
        m_where = gpuPipelineBuilt() ? "pipeline on the CPU (this build has the GPU pipeline, "
                                       "but no GPU is visible on this node; " +
                                           words + ")"
                                     : "pipeline on the CPU (" + words + ")";
      } else {
        m_where = "pipeline on the CPU (" + why + "; " + words + ")";
      }
    }
    const std::shared_ptr<const PipelineModels> models = PipelineModels::load(m_config, exec);
    for (int w = 0; w < m_workers; ++w) m_pipelines.emplace_back(m_config, exec, models);
  }

  std::vector<PipelineResult> runBatch(int w, const std::vector<const Event*>& events) {
    return m_pipelines[static_cast<std::size_t>(w)].runBatch(events, "batch");
  }

  PipelineResult runOne(int w, const Event& event, const std::string& source) {
    return m_pipelines[static_cast<std::size_t>(w)].run(event, source);
  }

  void communicate() {
    bool end = false;  // rank 0 said that every producer is done
    int idle = 0;
    std::vector<char> bytes;
    std::list<Sending> sending;
    while (true) {
      bool worked = false;
      int source = -1;
      while (receiveIf(m_comm, kTagRequest, bytes, source)) {
        Job job;
        job.request = decodeRequest(bytes, fmt::format("rank {}", source));
        job.source = source;
        job.received = Clock::now();
        {
          std::lock_guard<std::mutex> lock(m_mutex);
          m_queue.push_back(std::move(job));
        }
        m_wake.notify_one();
        worked = true;
      }
      while (receiveIf(m_comm, kTagEnd, bytes, source)) {
        end = true;
        worked = true;
      }
      // Results of the workers go out as soon as they are ready.
      std::deque<Outgoing> ready;
      int load = 0;
      {
        std::lock_guard<std::mutex> lock(m_mutex);
        ready.swap(m_results);
        load = static_cast<int>(m_queue.size()) + m_running;
      }
      for (Outgoing& out : ready) {
        out.result.serverLoad = load;
        sending.emplace_back();
        Sending& s = sending.back();
        s.bytes = encode(out.result);
        MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, out.dest, kTagResult,
                  m_comm, &s.request);
        worked = true;
      }
      for (auto it = sending.begin(); it != sending.end();) {
        int complete = 0;
        MPI_Test(&it->request, &complete, MPI_STATUS_IGNORE);
        it = complete ? sending.erase(it) : std::next(it);
      }
      if (m_board != nullptr) {
        m_board->pump(m_comm);
        end = end || m_board->producersDone();
      }
      if (end) {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_queue.empty() && m_running == 0 && m_results.empty() && sending.empty()) break;
      }
      if (!worked) {
        // Sleep until a worker has a result (sent at once) or it is time to poll MPI.
        std::unique_lock<std::mutex> lock(m_mutex);
        m_resultReady.wait_for(lock, pollSleep(idle, m_typicalServiceMs),
                               [&] { return !m_results.empty(); });
        ++idle;
      } else {
        idle = 0;
      }
    }
  }

  void work(int w) {
    while (true) {
      std::vector<Job> jobs;
      {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_wake.wait(lock, [&] { return m_stop || !m_queue.empty(); });
        if (m_queue.empty()) return;  // stopping
        // Small events go together as one graph, up to the hit budget.
        std::int64_t hits = 0;
        do {
          hits += static_cast<std::int64_t>(m_queue.front().request.hits.size());
          jobs.push_back(std::move(m_queue.front()));
          m_queue.pop_front();
        } while (!m_queue.empty() && m_batchHits > 0 &&
                 hits + static_cast<std::int64_t>(m_queue.front().request.hits.size()) <=
                     m_batchHits);
        m_running += static_cast<int>(jobs.size());
      }
      const Clock::time_point t0 = Clock::now();
      std::vector<Event> events(jobs.size());
      std::vector<const Event*> pointers;
      std::deque<Outgoing> out(jobs.size());
      for (std::size_t k = 0; k < jobs.size(); ++k) {
        Request& q = jobs[k].request;
        events[k].eventId = q.eventId;
        events[k].hits = std::move(q.hits);
        events[k].cells = std::move(q.cells);
        pointers.push_back(&events[k]);
        out[k].dest = jobs[k].source;
        out[k].result.requestId = q.requestId;
        out[k].result.eventId = q.eventId;
        out[k].result.queueMs =
            std::chrono::duration<double, std::milli>(t0 - jobs[k].received).count();
      }
      const auto fill = [&](std::size_t k, PipelineResult&& p) {
        out[k].result.label = std::move(p.tracks.label);
        out[k].result.record = p.record;
        out[k].result.ok = true;
      };
      const auto fail = [&](std::size_t k, const std::exception& e) {
        out[k].result.ok = false;
        out[k].result.error = fmt::format("server {}: {}", m_server, e.what());
      };
      bool batched = false;
      if (jobs.size() > 1) {
        try {
          std::vector<PipelineResult> results = runBatch(w, pointers);
          for (std::size_t k = 0; k < jobs.size(); ++k) fill(k, std::move(results[k]));
          batched = true;
        } catch (const std::exception&) {
          // One of them is bad: run them alone, so that only that one fails.
        }
      }
      if (!batched) {
        for (std::size_t k = 0; k < jobs.size(); ++k) {
          try {
            fill(k, runOne(w, events[k], fmt::format("request from rank {}", out[k].dest)));
          } catch (const std::exception& e) {
            fail(k, e);
          }
        }
      }
      const double busy = msSince(t0);
      std::lock_guard<std::mutex> lock(m_mutex);
      m_running -= static_cast<int>(jobs.size());
      m_busyMs[static_cast<std::size_t>(w)] += busy;
      m_served += static_cast<std::int64_t>(jobs.size());
      m_batches += jobs.size() > 1 ? 1 : 0;
      for (std::size_t k = 0; k < jobs.size(); ++k) {
        out[k].result.serviceMs = msSince(jobs[k].received);
        if (!out[k].result.ok) ++m_failedCount;
        m_results.push_back(std::move(out[k]));
      }
      m_typicalServiceMs = m_typicalServiceMs > 0 ? 0.8 * m_typicalServiceMs + 0.2 * busy : busy;
      m_resultReady.notify_one();
    }
  }

  MPI_Comm m_comm;
  int m_server, m_workers, m_threads, m_device;
  int m_cudaDevice;  // this process's CUDA index of m_device (-1: none or not visible)
  ProgressBoard* m_board;
  PipelineConfig m_config;
  std::vector<Pipeline> m_pipelines;  // one per worker, sharing the models
  std::string m_where;                // which device, and why not the GPU
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_resultReady;
  double m_typicalServiceMs = 0;  // moving average of a worker's time per job (m_mutex)
  std::deque<Job> m_queue;
  std::deque<Outgoing> m_results;
  int m_running = 0;
  bool m_stop = false;
  std::vector<double> m_busyMs;
  std::int64_t m_served = 0, m_failedCount = 0, m_batches = 0;
  std::int64_t m_batchHits = 0;
};

}  // namespace

nlohmann::json runServer(MPI_Comm comm, const ServiceConfig& config, int server, int threads,
                         const ServerDevice& device, ProgressBoard* board) {
  ServerLoop loop(comm, config, server, threads, device, board);
  return loop.run();
}

}  // namespace trkaas::service
