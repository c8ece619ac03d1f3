// The producer loop: read events, send requests (or run the own pipeline in direct mode),
// receive labels, write tracks and journal every finished event.
#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "ServiceInternal.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"
#include "trkaas/pipeline/TruthMetrics.hpp"
#include "trkaas/service/Journal.hpp"
#include "trkaas/service/Stats.hpp"
#include "trkaas/service/Wire.hpp"

namespace trkaas::service {

namespace {

/// One request on its way: what the producer needs when its result comes back.
struct InFlight {
  WorkItem item;
  Event event;                    // the whole event (hit ids for the output, truth)
  std::vector<std::size_t> rows;  // request hit k is event hit rows[k]
  Clock::time_point sent;
  int server = -1;
  MPI_Request send = MPI_REQUEST_NULL;
  std::vector<char> bytes;  // kept alive until the send completes
};

bool needsCells(const PipelineConfig& c) { return FeatureBuilder::needsCells(c.features); }

class ProducerLoop {
 public:
  ProducerLoop(MPI_Comm comm, const ServiceConfig& config, const JobPlan& plan, int producer,
               int producers, const std::vector<int>& servers,
               const std::vector<int>& serverWorkers, int threads, ProgressBoard* board)
      : m_comm(comm),
        m_config(config),
        m_plan(plan),
        m_producer(producer),
        m_servers(servers),
        m_capacity(serverWorkers),
        m_board(board),
        m_load(servers.size(), 0),
        m_sentSince(servers.size(), 0) {
    m_items = planShare(plan, producer, producers);
    m_last = static_cast<std::int64_t>(m_items.size());
    m_cells = needsCells(config.pipeline);
    m_metricsConfig.volumes = config.pipeline.volumes;
    m_metricsConfig.tracks = describeTracks(config.pipeline);
    if (servers.empty()) {
      PipelineConfig pc = config.pipeline;
      pc.threads = threads;
      m_pipeline = std::make_unique<Pipeline>(pc);
    }
    m_tracksName = tracksFileName(plan.run, producer);
    const std::filesystem::path dir(config.outputDir);
    m_writer = std::make_unique<TracksFileWriter>((dir / m_tracksName).string());
    m_journal =
        std::make_unique<JournalWriter>((dir / journalFileName(plan.run, producer)).string());
    // Whole files that could not be read: producer 0 records them once per run.
    if (producer == 0) {
      for (std::size_t f = 0; f < plan.files.size(); ++f) {
        if (!plan.fileErrors[f].empty()) {
          m_journal->error({plan.files[f], -1}, -1, plan.fileErrors[f]);
          m_fileErrors.push_back(plan.files[f] + ": " + plan.fileErrors[f]);
        }
      }
    }
  }

  nlohmann::json run() {
    const Clock::time_point start = Clock::now();
    const double cpuStart = processCpuMs();
    logger().info("producer {}: {} event(s) to do, {} in flight at most, {}", m_producer,
                  m_last - m_first, m_servers.empty() ? 1 : m_config.concurrency,
                  m_servers.empty() ? "own pipeline (direct mode)"
                                    : fmt::format("{} server(s)", m_servers.size()));
    const int concurrency = m_servers.empty() ? 1 : m_config.concurrency;
    auto lastProgress = Clock::now();
    int idle = 0;
    while (true) {
      if (!m_stopping && stopRequested()) {
        m_stopping = true;
        logger().warn(
            "producer {}: stopping ({}): finishing {} event(s) in flight, then closing the "
            "tracks file and journal; {} event(s) of this producer left for the next run",
            m_producer, m_stopReason, m_inFlight.size(), m_last - m_next);
      }
      bool worked = false;
      while (!m_stopping && static_cast<int>(m_inFlight.size()) < concurrency && m_next < m_last) {
        sendNext();
        worked = true;
        if (stopRequested()) break;
      }
      if (m_inFlight.empty() && (m_stopping || m_next >= m_last)) break;
      if (!m_servers.empty()) worked = receiveResults() || worked;
      if (m_board != nullptr) {
        m_board->setOwn(m_done, m_failed);
        m_board->pump(m_comm);
      } else if (msSince(lastProgress) > 1000.0 * m_config.progressSeconds) {
        sendProgress();
        lastProgress = Clock::now();
      }
      if (!worked) {
        // Waiting for the servers: back off a little, so that waiting costs no core.
        const auto t0 = Clock::now();
        std::this_thread::sleep_for(pollSleep(idle, m_typicalLatencyMs));
        ++idle;
        m_waitMs += msSince(t0);
      } else {
        idle = 0;
      }
    }
    if (!m_servers.empty()) {
      // Every request of this producer is answered: rank 0 releases the servers once every
      // producer has said so (one message each, not one per server).
      if (m_board != nullptr) {
        m_board->ownProducerDone();
      } else {
        MPI_Send(nullptr, 0, MPI_BYTE, 0, kTagDone, m_comm);
      }
    }
    auto t0 = Clock::now();
    m_writer->close();
    m_journal->commit(m_tracksName, m_done);
    m_writeMs += msSince(t0);
    if (m_board == nullptr) sendProgress();
    const double wallMs = msSince(start);
    ProducerStats& s = m_stats;
    s.index = m_producer;
    s.eventsDone = m_done;
    s.eventsFailed = m_failed;
    s.eventsLeft = m_last - m_next;
    s.stopped = m_stopping;
    s.hits = m_hits;
    s.wallMs = wallMs;
    s.cpuMs = processCpuMs() - cpuStart;
    s.readMs = m_readMs;
    s.sendMs = m_sendMs;
    s.writeMs = m_writeMs;
    s.waitMs = m_waitMs;
    s.fileErrors = m_fileErrors;
    s.tracksFile = m_tracksName;
    s.truth = m_truth;
    s.physics = m_metrics;
    nlohmann::json stats = s;
    stats["role"] = "producer";
    return stats;
  }

 private:
  bool stopRequested() {
    if (g_stopSignal.load() != 0) {
      m_stopReason = fmt::format("signal {}", g_stopSignal.load());
      return true;
    }
    if (m_config.stopAfter >= 0 && m_next - m_first >= m_config.stopAfter) {
      m_stopReason = fmt::format("--stop-after {}", m_config.stopAfter);
      return true;
    }
    return false;
  }

  const EventFileReader& reader(std::int64_t file) {
    if (m_readerFile != file) {
      m_reader.reset();
      m_reader = std::make_unique<EventFileReader>(m_plan.files[file]);
      m_readerFile = file;
    }
    return *m_reader;
  }

  void sendNext() {
    const WorkItem item = m_items[static_cast<std::size_t>(m_next++)];
    const std::string& path = m_plan.files[item.file];
    auto t0 = Clock::now();
    auto flight = std::make_unique<InFlight>();
    flight->item = item;
    try {
      flight->event = reader(item.file).read(static_cast<std::size_t>(item.index));
    } catch (const std::exception& e) {
      m_readMs += msSince(t0);
      m_readerFile = -1;  // reopen next time: the reader may be in a bad state
      fail(item, -1, e.what());
      return;
    }
    m_readMs += msSince(t0);
    const std::int64_t id = m_nextRequest++;
    if (m_servers.empty()) {
      // Direct mode: the own pipeline, right here.
      Result result;
      result.requestId = id;
      result.eventId = flight->event.eventId;
      try {
        PipelineResult r = m_pipeline->run(flight->event, path);
        result.ok = true;
        result.label = std::move(r.tracks.label);
        result.record = r.record;
      } catch (const std::exception& e) {
        result.error = e.what();
      }
      flight->sent = t0;
      finish(*flight, result, true);
      return;
    }
    t0 = Clock::now();
    Request request;
    request.requestId = id;
    request.eventId = flight->event.eventId;
    const Hits& hits = flight->event.hits;
    const auto& volumes = m_config.pipeline.volumes;
    for (std::size_t i = 0; i < hits.size(); ++i) {
      if (!volumes.empty() &&
          std::find(volumes.begin(), volumes.end(), hits.volumeId[i]) == volumes.end()) {
        continue;
      }
      flight->rows.push_back(i);
      request.hits.push_back(hits.hitId[i], hits.x[i], hits.y[i], hits.z[i], hits.volumeId[i],
                             hits.layerId[i], hits.moduleId[i]);
    }
    if (m_cells) request.cells = flight->event.cells;
    flight->bytes = encode(request);
    const int s = pickServer();
    flight->server = s;
    flight->sent = Clock::now();
    MPI_Isend(flight->bytes.data(), static_cast<int>(flight->bytes.size()), MPI_BYTE, m_servers[s],
              kTagRequest, m_comm, &flight->send);
    ++m_sentSince[s];
    m_sendMs += msSince(t0);
    m_inFlight.emplace(id, std::move(flight));
  }

  /// The server with the most free capacity as this producer knows it: its last reported
  /// load plus what this producer sent it since, per worker. Ties go round-robin from
  /// this producer's index, so that producers start on different servers.
  int pickServer() {
    const int n = static_cast<int>(m_servers.size());
    int best = -1;
    double bestLoad = 0;
    for (int k = 0; k < n; ++k) {
      const int s = (m_producer + m_rotation + k) % n;
      const double load = double(m_load[s] + m_sentSince[s]) / std::max(1, m_capacity[s]);
      if (best < 0 || load < bestLoad) {
        best = s;
        bestLoad = load;
      }
    }
    ++m_rotation;
    return best;
  }

  bool receiveResults() {
    bool any = false;
    std::vector<char> bytes;
    int source = -1;
    while (receiveIf(m_comm, kTagResult, bytes, source)) {
      any = true;
      Result result = decodeResult(bytes, fmt::format("rank {}", source));
      const auto it = m_inFlight.find(result.requestId);
      if (it == m_inFlight.end()) {
        throw Error(fmt::format("producer {}: result for unknown request {} from rank {}",
                                m_producer, result.requestId, source));
      }
      InFlight& flight = *it->second;
      MPI_Wait(&flight.send, MPI_STATUS_IGNORE);  // received, so complete
      const int s = flight.server;
      m_load[s] = result.serverLoad;
      m_sentSince[s] = 0;
      finish(flight, result, false);
      m_inFlight.erase(it);
    }
    return any;
  }

  void finish(InFlight& flight, const Result& result, bool direct) {
    noteFinished();
    const std::string& path = m_plan.files[flight.item.file];
    const EventKey key{path, flight.item.index};
    const double latency = msSince(flight.sent);
    m_stats.latencyMs.add(latency);
    m_typicalLatencyMs =
        m_typicalLatencyMs > 0 ? 0.8 * m_typicalLatencyMs + 0.2 * latency : latency;
    m_stats.queueMs.add(result.queueMs);
    if (!result.ok) {
      fail(flight.item, flight.event.eventId, result.error);
      return;
    }
    const auto t0 = Clock::now();
    Tracks tracks;
    tracks.eventId = flight.event.eventId;
    tracks.hitId = flight.event.hits.hitId;
    if (direct) {
      tracks.label = result.label;
    } else {
      if (result.label.size() != flight.rows.size()) {
        fail(flight.item, flight.event.eventId,
             fmt::format("server returned {} labels for {} hits", result.label.size(),
                         flight.rows.size()));
        return;
      }
      tracks.label.assign(tracks.hitId.size(), Tracks::kNoTrack);
      for (std::size_t k = 0; k < flight.rows.size(); ++k) {
        tracks.label[flight.rows[k]] = result.label[k];
      }
    }
    try {
      m_writer->append(tracks);
    } catch (const Error& e) {
      fail(flight.item, flight.event.eventId, std::string("writing tracks: ") + e.what());
      return;
    }
    m_journal->done(key, flight.event.eventId, m_tracksName);
    m_writeMs += msSince(t0);
    const StageRecord& r = result.record;
    for (Stage stage : kStages) m_stats.stagesMs[stageName(stage)].add(r.ms[stage]);
    m_stats.stagesMs["total"].add(r.totalMs());
    m_hits += static_cast<std::int64_t>(flight.event.hits.size());
    if (flight.event.hasTruth()) {
      m_truth = true;
      m_metrics += physicsMetrics(flight.event, tracks.label, m_metricsConfig);
    }
    ++m_done;
  }

  /// The wall-clock times of the first and last finished event (the report's timeline).
  void noteFinished() {
    m_stats.lastEventUnix = unixSeconds();
    if (m_stats.firstEventUnix == 0) m_stats.firstEventUnix = m_stats.lastEventUnix;
  }

  void fail(const WorkItem& item, std::int64_t eventId, const std::string& reason) {
    noteFinished();
    const std::string& path = m_plan.files[item.file];
    m_journal->error({path, item.index}, eventId, reason);
    logger().error("event {} (position {} of '{}') failed: {}", eventId, item.index, path, reason);
    if (m_stats.errors.size() < 100) {
      m_stats.errors.push_back(
          {{"file", path}, {"index", item.index}, {"event", eventId}, {"reason", reason}});
    }
    ++m_failed;
  }

  void sendProgress() {
    const std::int64_t counts[2] = {m_done, m_failed};
    MPI_Send(counts, 2, MPI_INT64_T, 0, kTagProgress, m_comm);
  }

  MPI_Comm m_comm;
  const ServiceConfig& m_config;
  const JobPlan& m_plan;
  int m_producer;
  std::vector<int> m_servers, m_capacity;
  ProgressBoard* m_board;
  std::vector<std::int64_t> m_load, m_sentSince;
  int m_rotation = 0;
  std::vector<WorkItem> m_items;  // this producer's share of the plan, in order
  std::int64_t m_first = 0, m_next = 0, m_last = 0, m_nextRequest = 0;
  bool m_cells = false, m_stopping = false, m_truth = false;
  std::string m_stopReason;
  std::unique_ptr<Pipeline> m_pipeline;
  std::string m_tracksName;
  std::unique_ptr<TracksFileWriter> m_writer;
  std::unique_ptr<JournalWriter> m_journal;
  std::unique_ptr<EventFileReader> m_reader;
  std::int64_t m_readerFile = -1;
  std::map<std::int64_t, std::unique_ptr<InFlight>> m_inFlight;
  std::int64_t m_done = 0, m_failed = 0, m_hits = 0;
  double m_readMs = 0, m_sendMs = 0, m_writeMs = 0, m_waitMs = 0;
  double m_typicalLatencyMs = 0;  // moving average of the request latency
  ProducerStats m_stats;          // the times, errors and physics sent to rank 0 at the end
  std::vector<std::string> m_fileErrors;
  PhysicsMetrics m_metrics;
  TrackMetricsConfig m_metricsConfig;  // the processed scope: the pipeline's volumes
};

}  // namespace

nlohmann::json runProducer(MPI_Comm comm, const ServiceConfig& config, const JobPlan& plan,
                           int producer, int producers, const std::vector<int>& servers,
                           const std::vector<int>& serverWorkers, int threads,
                           ProgressBoard* board) {
  ProducerLoop loop(comm, config, plan, producer, producers, servers, serverWorkers, threads,
                    board);
  return loop.run();
}

}  // namespace trkaas::service
