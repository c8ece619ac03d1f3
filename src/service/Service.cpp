// The job: where ranks are, who does what, which events this run does (rank 0 decides,
// everyone hears it), the roles' loops, and rank 0's final report.
#include "trkaas/service/Service.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "ServiceInternal.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/pipeline/TruthMetrics.hpp"
#include "trkaas/service/Journal.hpp"

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

ProgressBoard::ProgressBoard(int ranks, std::int64_t total, double seconds)
    : m_done(static_cast<std::size_t>(ranks), 0),
      m_failed(static_cast<std::size_t>(ranks), 0),
      m_total(total),
      m_seconds(seconds) {}

void ProgressBoard::setOwn(std::int64_t done, std::int64_t failed) {
  m_done[0] = done;
  m_failed[0] = failed;
}

void ProgressBoard::addFinal(int rank, nlohmann::json stats) {
  if (stats.value("role", "") == "producer") {
    m_done[rank] = stats.value("events_done", std::int64_t{0});
    m_failed[rank] = stats.value("events_failed", std::int64_t{0});
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

/// The GPUs this rank sees, as ids: CUDA_VISIBLE_DEVICES when set (Slurm sets it per
/// task with --gpus-per-task), else the node's /dev/nvidiaN devices.
std::vector<std::string> visibleGpus() {
  std::vector<std::string> ids;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    const std::string s = v;
    if (s.empty() || s == "NoDevFiles") return ids;
    std::size_t from = 0;
    while (from <= s.size()) {
      const std::size_t comma = std::min(s.find(',', from), s.size());
      if (comma > from) ids.push_back(s.substr(from, comma - from));
      from = comma + 1;
    }
    return ids;
  }
  for (int n = 0; n < 64 && fs::exists("/dev/nvidia" + std::to_string(n)); ++n) {
    ids.push_back(std::to_string(n));
  }
  return ids;
}

/// This process's CUDA ordinal of the node's GPU `device` (an index into the node's GPU
/// ids), or -1 with the reason when this rank does not see that GPU.
int cudaOrdinal(const RankPlace& place, int device, std::string& why) {
  if (device < 0 || device >= static_cast<int>(place.gpuIds.size())) {
    why = "no GPU";
    return -1;
  }
  const std::string& id = place.gpuIds[static_cast<std::size_t>(device)];
  const std::vector<std::string> mine = visibleGpus();
  const auto it = std::find(mine.begin(), mine.end(), id);
  if (it == mine.end()) {
    const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES");
    why = "GPU " + id + " of the node is not visible to this rank (CUDA_VISIBLE_DEVICES=" +
          (cvd != nullptr ? std::string(cvd) : std::string("unset")) + ")";
    return -1;
  }
  return static_cast<int>(it - mine.begin());
}

int nodeCores() {
  if (const char* v = std::getenv("SLURM_CPUS_ON_NODE")) {
    const int n = std::atoi(v);
    if (n > 0) return n;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// Cores this process may run on (its affinity mask: mpirun or srun may bind it).
int ownCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return nodeCores();
  return std::max(1, CPU_COUNT(&set));
}

/// Where every rank runs: node index (by lowest world rank), local rank and size.
std::vector<RankPlace> gatherPlaces(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int local = 0, localSize = 1;
  MPI_Comm_rank(node, &local);
  MPI_Comm_size(node, &localSize);
  MPI_Comm leaders;
  MPI_Comm_split(comm, local == 0 ? 0 : MPI_UNDEFINED, rank, &leaders);
  int nodeIndex = 0;
  if (leaders != MPI_COMM_NULL) {
    MPI_Comm_rank(leaders, &nodeIndex);
    MPI_Comm_free(&leaders);
  }
  MPI_Bcast(&nodeIndex, 1, MPI_INT, 0, node);
  MPI_Comm_free(&node);
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  MPI_Get_processor_name(host, &len);
  struct Packed {
    int node, local, size, cores;
    char host[64];
    char gpus[192];  // comma-separated GPU ids this rank sees
  } mine{nodeIndex, local, localSize, nodeCores(), {}, {}};
  std::snprintf(mine.host, sizeof(mine.host), "%s", host);
  std::string ids;
  for (const std::string& id : visibleGpus()) ids += id + ",";
  std::snprintf(mine.gpus, sizeof(mine.gpus), "%s", ids.c_str());
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<Packed> all(static_cast<std::size_t>(size));
  MPI_Allgather(&mine, sizeof(Packed), MPI_BYTE, all.data(), sizeof(Packed), MPI_BYTE, comm);
  // A node's GPUs: every id any of its ranks sees (with one GPU per task each rank sees
  // only its own).
  std::map<int, std::set<std::string>> nodeGpus;
  for (const Packed& p : all) {
    std::string list = p.gpus;
    for (std::size_t from = 0, comma; (comma = list.find(',', from)) != std::string::npos;
         from = comma + 1) {
      nodeGpus[p.node].insert(list.substr(from, comma - from));
    }
  }
  std::vector<RankPlace> places;
  for (const Packed& p : all) {
    std::vector<std::string> ids(nodeGpus[p.node].begin(), nodeGpus[p.node].end());
    // Numbers in numeric order (10 after 9), other ids (UUIDs) as text.
    std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
      const auto numeric = [](const std::string& s) {
        return !s.empty() && s.size() < 10 &&
               s.find_first_not_of("0123456789") == std::string::npos;
      };
      if (numeric(a) && numeric(b)) return std::stoi(a) < std::stoi(b);
      return a < b;
    });
    places.push_back({p.node, p.local, p.size, p.cores, static_cast<int>(ids.size()), p.host, ids});
  }
  return places;
}

void bcastBytes(MPI_Comm comm, std::vector<char>& bytes) {
  std::uint64_t n = bytes.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm);
  bytes.resize(n);
  // In pieces: MPI counts are int.
  for (std::uint64_t off = 0; off < n; off += (1u << 30)) {
    const int len = static_cast<int>(std::min<std::uint64_t>(n - off, 1u << 30));
    MPI_Bcast(bytes.data() + off, len, MPI_BYTE, 0, comm);
  }
}

/// Rank 0: the inputs, what earlier runs did, and the events of this run.
/// An exclusive lock on DIR/.trkaas-lock, held by rank 0 for the whole run: a second job on
/// the same output directory (a campaign chunk resubmitted while it still runs) would set
/// aside the first one's files and redo its events. The kernel drops the lock when the
/// process ends, however it ends. Where the file system has no locks (Lustre mounted
/// without flock), it warns and goes on.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    const std::string path = (fs::path(dir) / ".trkaas-lock").string();
    m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0) {
      throw Error("output directory '" + dir + "': cannot create the lock file '" + path +
                  "': " + std::strerror(errno));
    }
    if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        char holder[256] = {};
        const ssize_t n = ::pread(m_fd, holder, sizeof holder - 1, 0);
        ::close(m_fd);
        m_fd = -1;
        throw Error("output directory '" + dir + "' is in use by another trkaas run (" +
                    (n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "unknown") +
                    "): two runs on one directory would redo each other's events; wait for it "
                    "to end or give another --output");
      }
      logger().warn("output directory '{}': cannot lock it ({}); make sure no other run uses it",
                    dir, std::strerror(err));
      return;
    }
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const std::string who = fmt::format("host {}, pid {}", host, ::getpid());
    if (::ftruncate(m_fd, 0) != 0 || ::pwrite(m_fd, who.data(), who.size(), 0) < 0) {
      logger().debug("lock file of '{}': cannot record the holder", dir);
    }
  }
  ~DirectoryLock() {
    if (m_fd >= 0) ::close(m_fd);
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int m_fd = -1;
};

JobPlan makePlan(const ServiceConfig& c) {
  JobPlan plan;
  std::error_code ec;
  fs::create_directories(c.outputDir, ec);
  if (!fs::is_directory(c.outputDir)) {
    throw Error("output directory '" + c.outputDir + "': cannot create it" +
                (ec ? ": " + ec.message() : std::string()));
  }
  const JournalState state = loadJournals(c.outputDir);
  plan.run = state.lastRun + 1;
  // Tracks files of runs that never committed (killed hard): their events are done again
  // now, so the files must not stay beside the committed ones.
  for (const std::string& f : state.uncommittedFiles) {
    const fs::path p = fs::path(c.outputDir) / f;
    if (fs::exists(p, ec)) fs::rename(p, p.string() + ".uncommitted", ec);
  }
  for (const auto& entry : fs::directory_iterator(c.outputDir)) {
    if (entry.path().extension() == ".part") fs::remove(entry.path(), ec);
  }
  if (state.ignoredLines > 0) {
    logger().warn("journals in '{}': {} unreadable line(s) ignored (a run killed mid-write)",
                  c.outputDir, state.ignoredLines);
  }
  std::set<std::string> seen;
  for (const std::string& input : c.inputs) {
    const std::string path = fs::weakly_canonical(fs::absolute(input), ec).string();
    if (!seen.insert(path).second) {
      logger().warn("input '{}' is given more than once; read once", input);
      continue;
    }
    plan.files.push_back(path);
    try {
      const EventFileReader reader(path);
      plan.counts.push_back(static_cast<std::int64_t>(reader.numEvents()));
      plan.fileErrors.emplace_back();
    } catch (const std::exception& e) {
      plan.counts.push_back(-1);
      plan.fileErrors.push_back(e.what());
      logger().error(
          "input '{}' cannot be read: {} (recorded as an error; the other inputs "
          "go on)",
          path, e.what());
    }
  }
  for (std::size_t f = 0; f < plan.files.size(); ++f) {
    for (std::int64_t i = 0; i < plan.counts[f]; ++i) {
      ++plan.totalEvents;
      const EventKey key{plan.files[f], i};
      if (state.done.count(key) != 0) {
        ++plan.alreadyDone;
      } else if (!c.retryFailed && state.failed.count(key) != 0) {
        ++plan.alreadyFailed;
      } else if (c.maxEvents < 0 || static_cast<std::int64_t>(plan.todo.size()) < c.maxEvents) {
        plan.todo.push_back({static_cast<std::int64_t>(f), i});
      }
    }
  }
  if (plan.run > 1) {
    logger().info(
        "resuming in '{}' (run {}): {} of {} event(s) already done, {} with error "
        "records{}, {} to do now",
        c.outputDir, plan.run, plan.alreadyDone, plan.totalEvents, plan.alreadyFailed,
        c.retryFailed ? "" : " (not retried: --retry-failed)", plan.todo.size());
  }
  return plan;
}

std::vector<char> encodePlan(const JobPlan& p) {
  nlohmann::json j = {
      {"files", p.files},       {"counts", p.counts},    {"errors", p.fileErrors},   {"run", p.run},
      {"total", p.totalEvents}, {"done", p.alreadyDone}, {"failed", p.alreadyFailed}};
  const std::string text = j.dump();
  std::vector<char> bytes(sizeof(std::uint64_t) + text.size() + p.todo.size() * sizeof(WorkItem));
  const std::uint64_t n = text.size();
  std::memcpy(bytes.data(), &n, sizeof(n));
  std::memcpy(bytes.data() + sizeof(n), text.data(), text.size());
  std::memcpy(bytes.data() + sizeof(n) + text.size(), p.todo.data(),
              p.todo.size() * sizeof(WorkItem));
  return bytes;
}

JobPlan decodePlan(const std::vector<char>& bytes) {
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), sizeof(n));
  const nlohmann::json j =
      nlohmann::json::parse(bytes.begin() + sizeof(n), bytes.begin() + sizeof(n) + n);
  JobPlan p;
  p.files = j["files"].get<std::vector<std::string>>();
  p.counts = j["counts"].get<std::vector<std::int64_t>>();
  p.fileErrors = j["errors"].get<std::vector<std::string>>();
  p.run = j["run"].get<int>();
  p.totalEvents = j["total"].get<std::int64_t>();
  p.alreadyDone = j["done"].get<std::int64_t>();
  p.alreadyFailed = j["failed"].get<std::int64_t>();
  const std::size_t items = (bytes.size() - sizeof(n) - n) / sizeof(WorkItem);
  p.todo.resize(items);
  std::memcpy(p.todo.data(), bytes.data() + sizeof(n) + n, items * sizeof(WorkItem));
  return p;
}

nlohmann::json quantiles(std::vector<double> v) {
  if (v.empty()) return {{"mean", 0.0}, {"p50", 0.0}, {"p90", 0.0}, {"p99", 0.0}};
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  const auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  return {{"mean", sum / double(v.size())}, {"p50", at(0.5)}, {"p90", at(0.9)}, {"p99", at(0.99)}};
}

/// Rank 0: the final report from every rank's statistics.
nlohmann::json makeReport(const ServiceConfig& c, const JobPlan& plan,
                          const std::map<int, nlohmann::json>& finals, double wallMs,
                          const std::string& layout) {
  std::int64_t done = 0, failed = 0, left = 0, hits = 0;
  bool stopped = false, truth = false;
  std::vector<double> latency, queue;
  std::map<std::string, std::vector<double>> stages;
  TrackMetrics m;
  nlohmann::json producers = nlohmann::json::array(), servers = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  std::vector<std::string> fileErrors;
  double readMs = 0, sendMs = 0, writeMs = 0;
  for (const auto& [rank, s] : finals) {
    if (s["role"] == "server") {
      servers.push_back({{"rank", rank},
                         {"index", s["index"]},
                         {"requests", s["requests"]},
                         {"batches", s["batches"]},
                         {"busy_fraction", s["busy_fraction"]},
                         {"workers", s["workers"]},
                         {"threads", s["threads"]},
                         {"device", s["device"]},
                         {"gpu", s["gpu"]},
                         {"gpu_stats", s["gpu_stats"]}});
      continue;
    }
    done += s["events_done"].get<std::int64_t>();
    failed += s["events_failed"].get<std::int64_t>();
    left += s["events_left"].get<std::int64_t>();
    hits += s["hits"].get<std::int64_t>();
    stopped = stopped || s["stopped"].get<bool>();
    readMs += s["read_ms"].get<double>();
    sendMs += s["send_ms"].get<double>();
    writeMs += s["write_ms"].get<double>();
    for (double v : s["latency_ms"]) latency.push_back(v);
    for (double v : s["queue_ms"]) queue.push_back(v);
    for (const auto& [stage, v] : s["stages_ms"].items()) {
      for (double x : v) stages[stage].push_back(x);
    }
    for (const auto& e : s["errors"]) errors.push_back(e);
    for (const auto& e : s["file_errors"]) fileErrors.push_back(e);
    const double wall = s["wall_ms"].get<double>();
    const double n = std::max<double>(1, double(s["events_done"]) + double(s["events_failed"]));
    producers.push_back({{"rank", rank},
                         {"index", s["index"]},
                         {"events", s["events_done"]},
                         {"failed", s["events_failed"]},
                         {"wait_fraction", wall > 0 ? s["wait_ms"].get<double>() / wall : 0.0},
                         {"read_ms_per_event", s["read_ms"].get<double>() / n},
                         {"send_ms_per_event", s["send_ms"].get<double>() / n},
                         {"write_ms_per_event", s["write_ms"].get<double>() / n}});
    if (s["truth"].get<bool>() && s.contains("physics")) {
      truth = true;
      const auto& p = s["physics"];
      TrackMetrics t;
      t.particles = p["particles"];
      t.particlesHighPt = p["particles_high_pt"];
      t.matched = p["matched"];
      t.matchedHighPt = p["matched_high_pt"];
      t.tracks = p["tracks"];
      t.fakes = p["fakes"];
      t.duplicates = p["duplicates"];
      t.score = p["score"];
      m += t;
    }
  }
  nlohmann::json stageReport;
  for (const auto& [stage, v] : stages) stageReport[stage] = quantiles(v);
  const double events = double(done + failed);
  nlohmann::json report = {{"mode", c.direct ? "direct" : "service"},
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
                           {"latency_ms", quantiles(latency)},
                           {"queue_ms", quantiles(queue)},
                           {"stage_ms", stageReport},
                           {"producer_ms_per_event",
                            {{"read", events > 0 ? readMs / events : 0.0},
                             {"send", events > 0 ? sendMs / events : 0.0},
                             {"write", events > 0 ? writeMs / events : 0.0}}},
                           {"servers", servers},
                           {"producers", producers},
                           {"errors", errors},
                           {"file_errors", fileErrors}};
  if (truth) {
    report["physics"] = {{"efficiency_pt_gt_1gev", m.efficiencyHighPt()},
                         {"efficiency_all", m.efficiency()},
                         {"fake_rate", m.fakeRate()},
                         {"duplicate_rate", m.duplicateRate()},
                         {"trackml_score", done > 0 ? m.score / double(done) : 0.0},
                         {"particles_pt_gt_1gev", m.particlesHighPt},
                         {"tracks", m.tracks}};
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
  for (const char* s : {"features", "embedding", "graph", "filter", "gnn", "tracks", "total"}) {
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
    const auto& p = r["physics"];
    logger().info(
        "physics: efficiency {:.3f} (pT > 1 GeV, {} particles), {:.3f} (all), fake "
        "rate {:.3f}, duplicate rate {:.3f}, TrackML score {:.3f}",
        p["efficiency_pt_gt_1gev"].get<double>(), p["particles_pt_gt_1gev"].get<std::int64_t>(),
        p["efficiency_all"].get<double>(), p["fake_rate"].get<double>(),
        p["duplicate_rate"].get<double>(), p["trackml_score"].get<double>());
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
    return 1;
  }
  RankPlan& mine = layout.ranks[rank];
  // A rank bound to fewer cores (mpirun/srun binding) cannot use more threads than that.
  mine.threads = std::min(mine.threads, ownCores());
  const bool server = mine.role == Role::kServer;
  setLogIdentity(rank, server ? "server" : "producer");
  const std::string layoutText = layout.describe(places);
  if (rank == 0) logger().info("layout: {}", layoutText);

  // Rank 0 plans the run; everyone hears the plan, or the reason there is none.
  std::vector<char> bytes;
  std::string failure;
  std::unique_ptr<DirectoryLock> directoryLock;
  if (rank == 0) {
    try {
      directoryLock = std::make_unique<DirectoryLock>(config.outputDir);
      bytes = encodePlan(makePlan(config));
    } catch (const std::exception& e) {
      failure = e.what();
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
    return 1;
  }
  bcastBytes(comm, bytes);
  const JobPlan plan = decodePlan(bytes);
  if (rank == 0) {
    logger().info("{} mode: {} event(s) in {} file(s), {} to do in run {} -> {}",
                  config.direct ? "direct" : "service", plan.totalEvents, plan.files.size(),
                  plan.todo.size(), plan.run, config.outputDir);
  }

  std::vector<int> workers(layout.servers.size(), config.workers);
  std::unique_ptr<ProgressBoard> board;
  if (rank == 0) {
    board = std::make_unique<ProgressBoard>(size, static_cast<std::int64_t>(plan.todo.size()),
                                            config.progressSeconds);
  }
  MPI_Barrier(comm);
  const Clock::time_point start = Clock::now();
  nlohmann::json stats;
  try {
    if (server) {
      ServerDevice device;
      device.layout = mine.device;
      device.cuda = cudaOrdinal(places[rank], mine.device, device.why);
      stats = runServer(comm, config, mine.index, static_cast<int>(layout.producers.size()),
                        mine.threads, device, board.get());
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
    board->addFinal(0, stats);
    while (!board->allFinal()) {
      board->pump(comm);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const double wallMs = msSince(start);
    nlohmann::json report = makeReport(config, plan, board->finals(), wallMs, layoutText);
    int nodes = 0;
    for (const RankPlace& p : places) nodes = std::max(nodes, p.node + 1);
    report["nodes"] = nodes;
    printReport(report);
    const std::string text = report.dump(2) + "\n";
    std::ofstream(fs::path(config.outputDir) / fmt::format("report-r{:03d}.json", plan.run))
        << text;
    std::ofstream(fs::path(config.outputDir) / "report.json") << text;
    if (!config.reportJson.empty()) std::ofstream(config.reportJson) << text;
    code =
        report["events_failed"].get<std::int64_t>() > 0 || !report["file_errors"].empty() ? 1 : 0;
  } else {
    const std::string text = stats.dump();
    MPI_Send(text.data(), static_cast<int>(text.size()), MPI_BYTE, 0, kTagFinal, comm);
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, comm);
  return code;
}

}  // namespace trkaas
