// The job: who does what (the layout, from the ranks' places: Placement.cpp), which events
// this run does (JobPlan.cpp), the roles' loops (Producer.cpp, Server.cpp), rank 0's
// progress board and final report (Report.cpp).
#include "trkaas/service/Service.hpp"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "ServiceInternal.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/service/Stats.hpp"

namespace trkaas {

namespace service {

std::atomic<int> g_stopSignal{0};

bool receiveIf(MPI_Comm comm, int tag, std::vector<char>& bytes, int& source) {
  int flag = 0;
  MPI_Message message;
  MPI_Status status;
  MPI_Improbe(MPI_ANY_SOURCE, tag, comm, &flag, &message, &status);
  if (!flag) return false;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  bytes.resize(static_cast<std::size_t>(count));
  MPI_Mrecv(bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE);
  source = status.MPI_SOURCE;
  return true;
}

ProgressBoard::ProgressBoard(int ranks, std::int64_t total, double seconds, int producers,
                             std::vector<int> servers)
    : m_done(static_cast<std::size_t>(ranks), 0),
      m_failed(static_cast<std::size_t>(ranks), 0),
      m_producers(producers),
      m_servers(std::move(servers)),
      m_total(total),
      m_seconds(seconds) {}

void ProgressBoard::setOwn(std::int64_t done, std::int64_t failed) {
  m_done[0] = done;
  m_failed[0] = failed;
}

void ProgressBoard::addFinal(int rank, nlohmann::json stats) {
  if (stats.value("role", "") == "producer") {
    const auto s = stats.get<ProducerStats>();
    m_done[rank] = s.eventsDone;
    m_failed[rank] = s.eventsFailed;
  }
  m_finals[rank] = std::move(stats);
}

void ProgressBoard::pump(MPI_Comm comm) {
  std::vector<char> bytes;
  int source = -1;
  while (receiveIf(comm, kTagProgress, bytes, source)) {
    if (bytes.size() == 2 * sizeof(std::int64_t)) {
      const auto* c = reinterpret_cast<const std::int64_t*>(bytes.data());
      m_done[source] = c[0];
      m_failed[source] = c[1];
    }
  }
  while (receiveIf(comm, kTagDone, bytes, source)) ++m_producersDone;
  if (!m_serversReleased && !m_servers.empty() && producersDone()) {
    // A server on rank 0 sees producersDone() itself.
    for (int server : m_servers) {
      if (server != 0) MPI_Send(nullptr, 0, MPI_BYTE, server, kTagEnd, comm);
    }
    m_serversReleased = true;
  }
  while (receiveIf(comm, kTagFinal, bytes, source)) {
    addFinal(source, nlohmann::json::parse(bytes.begin(), bytes.end()));
  }
  if (msSince(m_last) > 1000.0 * m_seconds) printLine();
}

void ProgressBoard::printLine() {
  m_last = Clock::now();
  std::int64_t done = 0, failed = 0;
  for (std::size_t r = 0; r < m_done.size(); ++r) {
    done += m_done[r];
    failed += m_failed[r];
  }
  const double s = msSince(m_start) / 1000.0;
  const double rate = s > 0 ? double(done + failed) / s : 0.0;
  const std::int64_t left = std::max<std::int64_t>(0, m_total - done - failed);
  logger().info("progress: {}/{} events ({} failed) | {:.2f} events/s | ETA {}", done + failed,
                m_total, failed, rate,
                rate > 0 ? fmt::format("{:.0f} s", double(left) / rate) : std::string("?"));
}

}  // namespace service

namespace {

using namespace service;
namespace fs = std::filesystem;

extern "C" void onStopSignal(int signal) { g_stopSignal.store(signal); }

void checkConfig(const ServiceConfig& c) {
  if (c.inputs.empty()) throw Error("no input files");
  if (c.outputDir.empty()) throw Error("no output directory");
  if (c.concurrency < 1) throw Error("concurrency must be at least 1");
  if (c.workers < 1) throw Error("workers must be at least 1");
  if (c.batchHits < 0) throw Error("the batch hit budget must be >= 0");
  if (!(c.progressSeconds > 0)) throw Error("progress interval must be positive");
}

}  // namespace

int runService(const ServiceConfig& config) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::signal(SIGTERM, onStopSignal);
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGUSR1, onStopSignal);

  // Set-up mistakes: the same on every rank, so every rank says so and nobody hangs.
  const std::vector<RankPlace> places = gatherPlaces(comm);
  Layout layout;
  try {
    checkConfig(config);
    if (config.direct) {
      for (int r = 0; r < size; ++r) {
        const RankPlace& p = places[r];
        RankPlan plan;
        plan.role = Role::kProducer;
        plan.index = r;
        plan.threads = std::max(1, p.cores / std::max(1, p.localSize));
        layout.ranks.push_back(plan);
        layout.producers.push_back(r);
      }
    } else {
      layout = planLayout(config.layout, places);
    }
  } catch (const Error& e) {
    logger().error("rank {}: {}", rank, e.what());
    return kExitFailed;
  }
  RankPlan& mine = layout.ranks[rank];
  // A rank bound to fewer cores (mpirun/srun binding) cannot use more threads than that.
  mine.threads = std::min(mine.threads, ownCores());
  const bool server = mine.role == Role::kServer;
  setLogIdentity(rank, server ? "server" : "producer");
  const std::string layoutText = layout.describe(places);
  if (rank == 0) logger().info("layout: {}", layoutText);

  // The plan: rank 0 locks the directory and lists the journals; every rank reads a share
  // of them and the other ranks count the inputs' events, a share each; rank 0 combines the
  // journals, decides and makes the run's directory; everyone hears the plan, or the reason
  // there is none.
  std::vector<char> bytes;
  std::string failure;
  std::unique_ptr<DirectoryLock> directoryLock;
  const Clock::time_point planStart = Clock::now();
  const double planStartUnix = unixSeconds();
  std::vector<std::string> journalFiles;
  int lastRun = 0;
  if (rank == 0) {
    try {
      directoryLock = std::make_unique<DirectoryLock>(config.outputDir);
      journalFiles = openOutput(config, lastRun);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  std::vector<InputCount> counts;
  JournalState journals;
  double journalsMs = 0;
  try {
    bcastJournals(comm, journalFiles, lastRun);
    Clock::time_point journalsStart = Clock::now();
    JournalDigest share = readJournalShare(journalFiles, rank, size);
    journalsMs = msSince(journalsStart);
    counts = gatherCounts(comm, countInputs(config.inputs, rank, size), config.inputs.size());
    journalsStart = Clock::now();
    journals = gatherJournals(comm, std::move(share), config.outputDir, lastRun);
    journalsMs += msSince(journalsStart);
  } catch (const std::exception& e) {
    logger().error("reading the journals or counting the inputs' events: {}; ending the job",
                   e.what());
    MPI_Abort(comm, 1);
  }
  if (rank == 0 && failure.empty()) {
    try {
      tidyOutput(config, journals);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (rank == 0) {
    if (failure.empty()) {
      try {
        const JobPlan decided = decidePlan(config, journals, counts);
        // The run's own directory, before any producer opens its files there.
        const fs::path runDir = fs::path(config.outputDir) / runDirName(decided.run);
        std::error_code ec;
        fs::create_directories(runDir, ec);
        if (!fs::is_directory(runDir)) {
          throw Error("run directory '" + runDir.string() + "': cannot create it" +
                      (ec ? ": " + ec.message() : std::string()));
        }
        bytes = encodePlan(decided);
      } catch (const std::exception& e) {
        failure = e.what();
      }
    }
    std::vector<char> status(failure.begin(), failure.end());
    bcastBytes(comm, status);
  } else {
    std::vector<char> status;
    bcastBytes(comm, status);
    failure.assign(status.begin(), status.end());
  }
  if (!failure.empty()) {
    logger().error("{}", failure);
    return kExitFailed;
  }
  bcastBytes(comm, bytes);
  const JobPlan plan = decodePlan(bytes);
  const double planMs = msSince(planStart);
  if (rank == 0) {
    logger().info("{} mode: {} event(s) in {} file(s), {} to do in run {} -> {}",
                  config.direct ? "direct" : "service", plan.totalEvents, plan.files.size(),
                  plan.todoEvents, plan.run, config.outputDir);
  }

  std::vector<int> workers(layout.servers.size(), config.workers);
  std::unique_ptr<ProgressBoard> board;
  if (rank == 0) {
    board =
        std::make_unique<ProgressBoard>(size, plan.todoEvents, config.progressSeconds,
                                        static_cast<int>(layout.producers.size()), layout.servers);
  }
  MPI_Barrier(comm);
  const Clock::time_point start = Clock::now();
  nlohmann::json stats;
  try {
    if (server) {
      ServerDevice device;
      device.layout = mine.device;
      device.cuda = cudaOrdinal(places[rank], mine.device, device.why);
      stats = runServer(comm, config, mine.index, mine.threads, device, board.get());
    } else {
      stats = runProducer(comm, config, plan, mine.index, static_cast<int>(layout.producers.size()),
                          layout.servers, workers, mine.threads, board.get());
    }
  } catch (const std::exception& e) {
    logger().error("fatal: {}; ending the job", e.what());
    MPI_Abort(comm, 1);
  }

  // Statistics to rank 0, which keeps showing progress until every rank has reported.
  int code = 0;
  if (rank == 0) {
    const Clock::time_point ownEnd = Clock::now();
    board->addFinal(0, stats);
    while (!board->allFinal()) {
      board->pump(comm);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const double wallMs = msSince(start);
    const double finalsMs = msSince(ownEnd);
    const Clock::time_point reportStart = Clock::now();
    nlohmann::json report = makeReport(config, plan, board->finals(), wallMs, layoutText);
    int nodes = 0;
    for (const RankPlace& p : places) nodes = std::max(nodes, p.node + 1);
    report["nodes"] = nodes;
    printReport(report);
    // Start-up and end at many ranks (bench/startup_bench.sh): the plan, then from rank 0's
    // own end to every rank's statistics in, then the report made and written.
    nlohmann::json& timeline = report["timeline"];
    timeline["ranks"] = size;
    timeline["plan_start_unix"] = planStartUnix;
    timeline["plan_s"] = planMs / 1000.0;
    timeline["journals"] = journalFiles.size();
    timeline["journals_s"] = journalsMs / 1000.0;  // rank 0's share and the combining
    timeline["finals_s"] = finalsMs / 1000.0;
    timeline["report_s"] = msSince(reportStart) / 1000.0;  // without writing the files
    const std::string text = report.dump(2) + "\n";
    // The run's report in its directory; DIR/report.json is always the latest run's.
    std::ofstream(fs::path(config.outputDir) / runReportName(plan.run)) << text;
    std::ofstream(fs::path(config.outputDir) / "report.json") << text;
    if (!config.reportJson.empty()) std::ofstream(config.reportJson) << text;
    if (report["stopped"].get<bool>() && report["events_left"].get<std::int64_t>() > 0) {
      code = kExitStoppedWithWorkLeft;
    } else if (report["events_failed"].get<std::int64_t>() > 0 || !report["file_errors"].empty()) {
      code = kExitDoneWithFailures;
    } else {
      code = kExitComplete;
    }
  } else {
    const std::string text = stats.dump();
    MPI_Send(text.data(), static_cast<int>(text.size()), MPI_BYTE, 0, kTagFinal, comm);
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, comm);
  return code;
}

}  // namespace trkaas
