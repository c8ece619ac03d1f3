#pragma once
// Internal to the service: message tags, the job plan, rank 0's progress board, the
// producer and server loops, placement and the report. MPI types are allowed here (not in public
// headers).
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trkaas/service/Journal.hpp"
#include "trkaas/service/Layout.hpp"
#include "trkaas/service/Service.hpp"

namespace trkaas::service {

enum Tag : int {
  kTagRequest = 101,   // producer -> server: encoded Request
  kTagResult = 102,    // server -> producer: encoded Result
  kTagDone = 103,      // producer -> rank 0: every request of mine is answered
  kTagProgress = 104,  // any -> rank 0: int64 [done, failed]
  kTagFinal = 105,     // any -> rank 0: this rank's statistics (JSON text)
  kTagEnd = 106,       // rank 0 -> server: every producer is done, no request will come
};

using Clock = std::chrono::steady_clock;
inline double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// How long a loop with nothing to do sleeps before it polls MPI again: doubling from
/// 50 us while idle, up to 1% of the typical time it waits for (`typicalMs`, the request
/// latency or service time seen so far), within [0.1, 20] ms. Polling costs system calls
/// (expensive in some containers) and steals cycles from the pipeline; sleeping delays
/// the reply by at most 1% of its own time.
inline std::chrono::microseconds pollSleep(int idle, double typicalMs) {
  const double capUs = typicalMs > 0 ? std::clamp(10.0 * typicalMs, 100.0, 20000.0) : 2000.0;
  return std::chrono::microseconds(
      static_cast<long>(std::min(capUs, 50.0 * double(1 << std::min(idle, 12)))));
}

/// Set by SIGTERM, SIGINT and SIGUSR1: producers stop taking new events.
extern std::atomic<int> g_stopSignal;

/// One input event of the job: file (index into JobPlan::files) and position in it.
struct WorkItem {
  std::int64_t file = 0;
  std::int64_t index = 0;
};

/// Events [begin, end) of one input file (index into JobPlan::files).
struct TodoRange {
  std::int64_t file = 0;
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

/// What this run does, decided by rank 0 and broadcast. Its size grows with the files and
/// with the gaps earlier runs left, not with the events: a fresh run is one range per file.
struct JobPlan {
  std::vector<std::string> files;       ///< absolute paths
  std::vector<std::int64_t> counts;     ///< events per file (-1: unreadable)
  std::vector<std::string> fileErrors;  ///< why a file is unreadable ("" when fine)
  std::vector<TodoRange> todo;          ///< events of this run, in order
  std::int64_t todoEvents = 0;          ///< events in `todo`
  int run = 1;
  std::int64_t totalEvents = 0;    ///< events in all readable inputs
  std::int64_t alreadyDone = 0;    ///< done by earlier runs
  std::int64_t alreadyFailed = 0;  ///< error records of earlier runs not retried
};

/// The contiguous share [first, last) of `count` items of member `k` of `n`.
inline std::pair<std::int64_t, std::int64_t> shareOf(std::int64_t count, int k, int n) {
  return {count * k / n, count * (k + 1) / n};
}

/// The events of producer `k` of `n`: its contiguous share of the plan's events, in order
/// (the same split as if the whole list were written out).
std::vector<WorkItem> planShare(const JobPlan& plan, int k, int n);

/// Receives one waiting message with this tag (from any source) if there is one.
bool receiveIf(MPI_Comm comm, int tag, std::vector<char>& bytes, int& source);

/// Rank 0's view of the run: progress lines, the end of the requests and the final
/// statistics of every rank.
///
/// The end: each producer tells rank 0 once when every request it sent is answered
/// (kTagDone); when the last producer has, rank 0 tells each server once (kTagEnd) that no
/// request will come. P + S messages instead of one per producer and server; a server still
/// stops only after all its requests are answered, because a producer is done only then.
class ProgressBoard {
 public:
  /// `producers`: how many producers will say they are done; `servers`: the server ranks
  /// to release then (none in direct mode).
  ProgressBoard(int ranks, std::int64_t total, double seconds, int producers,
                std::vector<int> servers);
  /// Handles waiting progress, done and final messages; releases the servers when every
  /// producer is done; prints a line when it is time.
  void pump(MPI_Comm comm);
  /// Rank 0's own producer is done (its requests all answered).
  void ownProducerDone() { ++m_producersDone; }
  /// Every producer is done: what a server on rank 0 waits for.
  bool producersDone() const { return m_producersDone == m_producers; }
  /// This rank's (rank 0's) own counters.
  void setOwn(std::int64_t done, std::int64_t failed);
  void addFinal(int rank, nlohmann::json stats);
  bool allFinal() const { return m_finals.size() == m_done.size(); }
  const std::map<int, nlohmann::json>& finals() const { return m_finals; }
  void printLine();

 private:
  std::vector<std::int64_t> m_done, m_failed;
  std::map<int, nlohmann::json> m_finals;
  int m_producers = 0, m_producersDone = 0;
  std::vector<int> m_servers;
  bool m_serversReleased = false;
  std::int64_t m_total;
  double m_seconds;
  Clock::time_point m_start = Clock::now(), m_last = Clock::now();
};

/// Producer side: sends `plan`'s share of this producer, writes tracks and journal.
/// Returns its statistics (JSON). `servers` empty: direct mode (own pipeline).
nlohmann::json runProducer(MPI_Comm comm, const ServiceConfig& config, const JobPlan& plan,
                           int producer, int producers, const std::vector<int>& servers,
                           const std::vector<int>& serverWorkers, int threads,
                           ProgressBoard* board);

/// Server side: serves requests until rank 0 says that every producer is done (kTagEnd;
/// on rank 0 itself, `board` says so).
/// A server's GPU: its index among the node's GPUs (layout, NVML), and the CUDA ordinal
/// of that GPU in this process (-1 with the reason when it does not see it, or none).
struct ServerDevice {
  int layout = -1;
  int cuda = -1;
  std::string why;
};

nlohmann::json runServer(MPI_Comm comm, const ServiceConfig& config, int server, int threads,
                         const ServerDevice& device, ProgressBoard* board);

// ---- placement (Placement.cpp): where ranks run, their cores and GPUs --------------------

/// The GPUs this rank sees, as ids: CUDA_VISIBLE_DEVICES when set, else /dev/nvidiaN.
std::vector<std::string> visibleGpus();
/// This process's CUDA ordinal of the node's GPU `device`, or -1 with the reason.
int cudaOrdinal(const RankPlace& place, int device, std::string& why);
/// Cores this process may run on (its affinity mask).
int ownCores();
/// Where every rank runs: node index (by lowest world rank), local rank and size, GPUs.
std::vector<RankPlace> gatherPlaces(MPI_Comm comm);

// ---- the job plan (JobPlan.cpp): counted by all, decided by rank 0, heard by all -----------

/// An exclusive lock on DIR/.trkaas-lock, held by rank 0 for the whole run: a second job on
/// the same output directory (a campaign chunk resubmitted while it still runs) would set
/// aside the first one's files and redo its events. The kernel drops the lock when the
/// process ends, however it ends. Where the file system has no locks (Lustre mounted
/// without flock), it warns and goes on.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int m_fd = -1;
};

/// One input as given (`ServiceConfig::inputs[input]`): its absolute path and its events,
/// or why it cannot be read.
struct InputCount {
  std::int64_t input = 0;
  std::string path;
  std::int64_t events = -1;  ///< -1: unreadable
  std::string error;
};

/// The inputs `which` of the ranks that count (every rank but rank 0 when there are
/// others, which lists the journals meanwhile): inputs k, k + n, ... for counter k of n.
/// Opens each of them once; a file that cannot be read gets its reason, never an exception.
std::vector<InputCount> countInputs(const std::vector<std::string>& inputs, int rank, int ranks);
/// Every rank's counts, on rank 0 in input order (empty elsewhere).
std::vector<InputCount> gatherCounts(MPI_Comm comm, const std::vector<InputCount>& mine,
                                     std::size_t inputs);
/// Every rank's bytes, on rank 0 by rank (empty elsewhere). Throws on every rank alike when
/// they add up to more than MPI's int counts allow (`what` names them).
std::vector<std::vector<char>> gatherBytes(MPI_Comm comm, const std::vector<char>& mine,
                                           const char* what);

/// Rank 0, under the directory's lock: creates the output directory and lists its journals
/// (listJournals' order; `lastRun` the highest run found).
std::vector<std::string> openOutput(const ServiceConfig& c, int& lastRun);
/// Rank 0's journal list and last run to every rank.
void bcastJournals(MPI_Comm comm, std::vector<std::string>& journals, int& lastRun);
/// The journals k, k + n, ... of `journals` for rank k of n, read: a share of a resume's
/// records (about 5 s per 10^6 by one rank alone).
JournalDigest readJournalShare(const std::vector<std::string>& journals, int rank, int ranks);
/// Every rank's share combined on rank 0 into the directory's JournalState, the same as
/// loadJournals(dir) (empty elsewhere).
JournalState gatherJournals(MPI_Comm comm, JournalDigest share, const std::string& dir,
                            int lastRun);
/// Rank 0, with the journals read: tracks files of runs that never committed set aside,
/// .part files removed, unreadable lines reported.
void tidyOutput(const ServiceConfig& c, const JournalState& state);
/// Rank 0: the plan from the journals and the counts (in input order): a file given twice
/// is read once; events done, or failed and not retried, are skipped; at most
/// `c.maxEvents`. No MPI, no file access.
JobPlan decidePlan(const ServiceConfig& c, const JournalState& state,
                   const std::vector<InputCount>& counts);
std::vector<char> encodePlan(const JobPlan& p);
JobPlan decodePlan(const std::vector<char>& bytes);
/// Broadcasts `bytes` from rank 0 (any size).
void bcastBytes(MPI_Comm comm, std::vector<char>& bytes);

// ---- the final report (Report.cpp) ----------------------------------------------------------

/// Rank 0: the final report from every rank's statistics.
nlohmann::json makeReport(const ServiceConfig& c, const JobPlan& plan,
                          const std::map<int, nlohmann::json>& finals, double wallMs,
                          const std::string& layout);
/// The report's lines in the log.
void printReport(const nlohmann::json& report);

}  // namespace trkaas::service
