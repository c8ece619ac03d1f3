// The server loop: the main thread talks MPI (receives requests, sends results); worker
// threads share one queue and one set of models.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include "ServiceInternal.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
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
  ServerLoop(MPI_Comm comm, const ServiceConfig& config, int server, int producers, int threads,
             int device, ProgressBoard* board)
      : m_comm(comm),
        m_server(server),
        m_producers(producers),
        m_workers(config.workers),
        m_threads(threads),
        m_device(device),
        m_board(board),
        m_pipeline(pipelineConfig(config, threads)),
        m_busyMs(static_cast<std::size_t>(config.workers), 0.0) {}

  nlohmann::json run() {
    const Clock::time_point start = Clock::now();
    logger().info("server {}: {} worker(s), {} torch/graph thread(s) each, {}", m_server, m_workers,
                  m_pipeline.config().threads,
                  m_device >= 0 ? fmt::format("GPU {} assigned, but this build runs the "
                                              "pipeline on the CPU",
                                              m_device)
                                : std::string("CPU"));
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
    double busy = 0;
    for (double b : m_busyMs) busy += b;
    return {{"role", "server"},
            {"index", m_server},
            {"workers", m_workers},
            {"threads", m_threads},
            {"device", m_device},
            {"requests", m_served},
            {"failed", m_failedCount},
            {"wall_ms", wallMs},
            {"busy_ms", busy},
            {"busy_fraction", wallMs > 0 ? busy / (wallMs * m_workers) : 0.0}};
  }

 private:
  static PipelineConfig pipelineConfig(const ServiceConfig& c, int threads) {
    PipelineConfig p = c.pipeline;
    p.threads = std::max(1, threads / std::max(1, c.workers));
    return p;
  }

  void communicate() {
    int done = 0;
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
      while (receiveIf(m_comm, kTagDone, bytes, source)) {
        ++done;
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
      if (m_board != nullptr) m_board->pump(m_comm);
      if (done == m_producers) {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_queue.empty() && m_running == 0 && m_results.empty() && sending.empty()) break;
      }
      if (!worked) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::min(2000, 50 << std::min(idle, 6))));
        ++idle;
      } else {
        idle = 0;
      }
    }
  }

  void work(int w) {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_wake.wait(lock, [&] { return m_stop || !m_queue.empty(); });
        if (m_queue.empty()) return;  // stopping
        job = std::move(m_queue.front());
        m_queue.pop_front();
        ++m_running;
      }
      const Clock::time_point t0 = Clock::now();
      Outgoing out;
      out.dest = job.source;
      Result& r = out.result;
      r.requestId = job.request.requestId;
      r.eventId = job.request.eventId;
      r.queueMs = std::chrono::duration<double, std::milli>(t0 - job.received).count();
      try {
        Event event;
        event.eventId = job.request.eventId;
        event.hits = std::move(job.request.hits);
        event.cells = std::move(job.request.cells);
        PipelineResult p = m_pipeline.run(event, fmt::format("request from rank {}", job.source));
        r.label = std::move(p.tracks.label);
        r.record = p.record;
        r.ok = true;
      } catch (const std::exception& e) {
        r.ok = false;
        r.error = fmt::format("server {}: {}", m_server, e.what());
      }
      r.serviceMs = msSince(job.received);
      const double busy = msSince(t0);
      {
        std::lock_guard<std::mutex> lock(m_mutex);
        --m_running;
        m_busyMs[static_cast<std::size_t>(w)] += busy;
        ++m_served;
        if (!r.ok) ++m_failedCount;
        m_results.push_back(std::move(out));
      }
    }
  }

  MPI_Comm m_comm;
  int m_server, m_producers, m_workers, m_threads, m_device;
  ProgressBoard* m_board;
  const Pipeline m_pipeline;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<Job> m_queue;
  std::deque<Outgoing> m_results;
  int m_running = 0;
  bool m_stop = false;
  std::vector<double> m_busyMs;
  std::int64_t m_served = 0, m_failedCount = 0;
};

}  // namespace

nlohmann::json runServer(MPI_Comm comm, const ServiceConfig& config, int server, int producers,
                         int threads, int device, ProgressBoard* board) {
  ServerLoop loop(comm, config, server, producers, threads, device, board);
  return loop.run();
}

}  // namespace trkaas::service
