// The job plan: rank 0 locks the output directory and lists the journals; every rank reads a
// share of the journals and the ranks 1..N-1 count the inputs' events (a share each); rank 0
// combines the journals' shares, decides which events this run does, as ranges of events per
// file; every rank hears the plan and takes its share of it.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ServiceInternal.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/service/Journal.hpp"

namespace trkaas::service {

namespace fs = std::filesystem;

DirectoryLock::DirectoryLock(const std::string& dir) {
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
    logger().warn("output directory '{}': cannot lock it ({}); make sure no other run uses it", dir,
                  std::strerror(err));
    return;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string who = fmt::format("host {}, pid {}", host, ::getpid());
  if (::ftruncate(m_fd, 0) != 0 || ::pwrite(m_fd, who.data(), who.size(), 0) < 0) {
    logger().debug("lock file of '{}': cannot record the holder", dir);
  }
}

DirectoryLock::~DirectoryLock() {
  if (m_fd >= 0) ::close(m_fd);
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

std::vector<InputCount> countInputs(const std::vector<std::string>& inputs, int rank, int ranks) {
  // Rank 0 reads the journals meanwhile: the others count, unless it is alone.
  const int counters = ranks > 1 ? ranks - 1 : 1;
  const int counter = ranks > 1 ? rank - 1 : 0;
  std::vector<InputCount> out;
  if (counter < 0) return out;
  for (std::size_t k = static_cast<std::size_t>(counter); k < inputs.size();
       k += static_cast<std::size_t>(counters)) {
    InputCount count;
    count.input = static_cast<std::int64_t>(k);
    std::error_code ec;
    count.path = fs::weakly_canonical(fs::absolute(inputs[k]), ec).string();
    if (count.path.empty()) count.path = fs::absolute(inputs[k]).lexically_normal().string();
    try {
      const EventFileReader reader(count.path);
      count.events = static_cast<std::int64_t>(reader.numEvents());
    } catch (const std::exception& e) {
      count.events = -1;
      count.error = e.what();
    }
    out.push_back(std::move(count));
  }
  return out;
}

std::vector<std::vector<char>> gatherBytes(MPI_Comm comm, const std::vector<char>& mine,
                                           const char* what) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // Every rank learns the total, so that all of them refuse together (no rank left waiting).
  std::int64_t total = static_cast<std::int64_t>(mine.size());
  MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_INT64_T, MPI_SUM, comm);
  if (total > std::numeric_limits<int>::max()) {
    throw Error(
        fmt::format("{} take {} bytes, over MPI's int limit: split the job's inputs "
                    "over several jobs",
                    what, total));
  }
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(rank == 0 ? static_cast<std::size_t>(size) : 0);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, comm);
  std::vector<int> offsets(lengths.size(), 0);
  for (std::size_t r = 1; r < lengths.size(); ++r) offsets[r] = offsets[r - 1] + lengths[r - 1];
  std::vector<char> all(rank == 0 ? static_cast<std::size_t>(total) : 0);
  MPI_Gatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE,
              0, comm);
  std::vector<std::vector<char>> out;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    out.emplace_back(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r]);
  }
  return out;
}

std::vector<InputCount> gatherCounts(MPI_Comm comm, const std::vector<InputCount>& mine,
                                     std::size_t inputs) {
  nlohmann::json list = nlohmann::json::array();
  for (const InputCount& count : mine) {
    list.push_back({count.input, count.path, count.events, count.error});
  }
  const std::string text = list.dump();
  const std::vector<std::vector<char>> parts =
      gatherBytes(comm, std::vector<char>(text.begin(), text.end()), "the input counts");
  std::vector<InputCount> out;
  if (parts.empty()) return out;  // not rank 0
  out.resize(inputs);
  for (const std::vector<char>& part : parts) {
    for (const auto& entry : nlohmann::json::parse(part.begin(), part.end())) {
      const auto k = entry[0].get<std::size_t>();
      if (k >= inputs) throw Error(fmt::format("input count for input {} of {}", k, inputs));
      out[k] = {entry[0].get<std::int64_t>(), entry[1].get<std::string>(),
                entry[2].get<std::int64_t>(), entry[3].get<std::string>()};
    }
  }
  return out;
}

std::vector<std::string> openOutput(const ServiceConfig& c, int& lastRun) {
  std::error_code ec;
  fs::create_directories(c.outputDir, ec);
  if (!fs::is_directory(c.outputDir)) {
    throw Error("output directory '" + c.outputDir + "': cannot create it" +
                (ec ? ": " + ec.message() : std::string()));
  }
  return listJournals(c.outputDir, &lastRun);
}

void bcastJournals(MPI_Comm comm, std::vector<std::string>& journals, int& lastRun) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::vector<char> bytes;
  if (rank == 0) {
    const std::string text = nlohmann::json({lastRun, journals}).dump();
    bytes.assign(text.begin(), text.end());
  }
  bcastBytes(comm, bytes);
  if (rank == 0) return;
  const auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
  lastRun = j[0].get<int>();
  journals = j[1].get<std::vector<std::string>>();
}

JournalDigest readJournalShare(const std::vector<std::string>& journals, int rank, int ranks) {
  JournalDigest share;
  for (std::size_t k = static_cast<std::size_t>(rank); k < journals.size();
       k += static_cast<std::size_t>(ranks)) {
    share.read(journals[k], static_cast<int>(k));
  }
  return share;
}

JournalState gatherJournals(MPI_Comm comm, JournalDigest share, const std::string& dir,
                            int lastRun) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  // Rank 0's own share stays where it is; the others' come as bytes.
  std::vector<std::vector<char>> parts =
      gatherBytes(comm, rank == 0 ? std::vector<char>() : share.encode(), "the journals' records");
  if (rank != 0) return {};
  for (std::size_t r = 1; r < parts.size(); ++r) {
    share.merge(JournalDigest::decode(parts[r]));
    std::vector<char>().swap(parts[r]);
  }
  return share.state(dir, lastRun);
}

void tidyOutput(const ServiceConfig& c, const JournalState& state) {
  std::error_code ec;
  // Tracks files of runs that never committed (killed hard): their events are done again
  // now, so the files must not stay beside the committed ones.
  for (const std::string& f : state.uncommittedFiles) {
    const fs::path p = fs::path(c.outputDir) / f;
    if (fs::exists(p, ec)) fs::rename(p, p.string() + ".uncommitted", ec);
  }
  // Unfinished tracks files: in the run directories, and in the directory itself (the
  // layout before run directories).
  std::error_code walk;
  for (fs::recursive_directory_iterator it(c.outputDir, walk), end; !walk && it != end;
       it.increment(walk)) {
    if (it.depth() > 0) it.disable_recursion_pending();
    if (it->path().extension() == ".part") fs::remove(it->path(), ec);
  }
  if (state.ignoredLines > 0) {
    logger().warn("journals in '{}': {} unreadable line(s) ignored (a run killed mid-write)",
                  c.outputDir, state.ignoredLines);
  }
}

namespace {

/// Events of earlier runs this run skips, per input path, sorted by position, each with
/// whether it is done (else failed and not retried). Error records of whole files
/// (position -1) fall outside every file.
using SkippedEvents = std::map<std::string, std::vector<std::pair<std::int64_t, bool>>>;

SkippedEvents skippedEvents(const JournalState& state, bool retryFailed) {
  SkippedEvents skipped;
  for (const EventKey& key : state.done) skipped[key.first].emplace_back(key.second, true);
  if (!retryFailed) {
    for (const auto& [key, reason] : state.failed) {
      skipped[key.first].emplace_back(key.second, false);
    }
  }
  for (auto& [file, events] : skipped) std::sort(events.begin(), events.end());
  return skipped;
}

}  // namespace

JobPlan decidePlan(const ServiceConfig& c, const JournalState& state,
                   const std::vector<InputCount>& counts) {
  JobPlan plan;
  plan.run = state.lastRun + 1;
  std::set<std::string> seen;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    const InputCount& in = counts[k];
    if (!seen.insert(in.path).second) {
      logger().warn("input '{}' is given more than once; read once", c.inputs[k]);
      continue;
    }
    plan.files.push_back(in.path);
    plan.counts.push_back(in.events);
    plan.fileErrors.push_back(in.events < 0 ? in.error : std::string());
    if (in.events < 0) {
      logger().error(
          "input '{}' cannot be read: {} (recorded as an error; the other inputs "
          "go on)",
          in.path, in.error);
    }
  }
  const SkippedEvents skipped = skippedEvents(state, c.retryFailed);
  const std::vector<std::pair<std::int64_t, bool>> none;
  const auto room = [&] {
    return c.maxEvents < 0 ? std::numeric_limits<std::int64_t>::max()
                           : c.maxEvents - plan.todoEvents;
  };
  const auto add = [&](std::int64_t file, std::int64_t begin, std::int64_t end) {
    end = begin + std::min(end - begin, room());
    if (end <= begin) return;
    plan.todo.push_back({file, begin, end});
    plan.todoEvents += end - begin;
  };
  for (std::size_t f = 0; f < plan.files.size(); ++f) {
    const std::int64_t n = plan.counts[f];
    if (n <= 0) continue;
    plan.totalEvents += n;
    const auto it = skipped.find(plan.files[f]);
    const auto& skip = it != skipped.end() ? it->second : none;
    std::int64_t next = 0;  // first event not yet placed
    for (const auto& [index, done] : skip) {
      if (index < 0 || index >= n) continue;
      ++(done ? plan.alreadyDone : plan.alreadyFailed);
      add(static_cast<std::int64_t>(f), next, index);
      next = index + 1;
    }
    add(static_cast<std::int64_t>(f), next, n);
  }
  if (plan.run > 1) {
    logger().info(
        "resuming in '{}' (run {}): {} of {} event(s) already done, {} with error "
        "records{}, {} to do now",
        c.outputDir, plan.run, plan.alreadyDone, plan.totalEvents, plan.alreadyFailed,
        c.retryFailed ? "" : " (not retried: --retry-failed)", plan.todoEvents);
  }
  return plan;
}

std::vector<WorkItem> planShare(const JobPlan& plan, int k, int n) {
  const auto [first, last] = shareOf(plan.todoEvents, k, n);
  std::vector<WorkItem> items;
  items.reserve(static_cast<std::size_t>(last - first));
  std::int64_t at = 0;  // position of the range's first event in the whole list
  for (const TodoRange& r : plan.todo) {
    if (at >= last) break;
    const std::int64_t size = r.end - r.begin;
    for (std::int64_t i = std::max(first, at); i < std::min(last, at + size); ++i) {
      items.push_back({r.file, r.begin + (i - at)});
    }
    at += size;
  }
  return items;
}

std::vector<char> encodePlan(const JobPlan& p) {
  nlohmann::json j = {{"files", p.files},          {"counts", p.counts},
                      {"errors", p.fileErrors},    {"run", p.run},
                      {"total", p.totalEvents},    {"done", p.alreadyDone},
                      {"failed", p.alreadyFailed}, {"todo_events", p.todoEvents}};
  const std::string text = j.dump();
  std::vector<char> bytes(sizeof(std::uint64_t) + text.size() + p.todo.size() * sizeof(TodoRange));
  const std::uint64_t n = text.size();
  std::memcpy(bytes.data(), &n, sizeof(n));
  std::memcpy(bytes.data() + sizeof(n), text.data(), text.size());
  std::memcpy(bytes.data() + sizeof(n) + text.size(), p.todo.data(),
              p.todo.size() * sizeof(TodoRange));
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
  p.todoEvents = j["todo_events"].get<std::int64_t>();
  const std::size_t ranges = (bytes.size() - sizeof(n) - n) / sizeof(TodoRange);
  p.todo.resize(ranges);
  std::memcpy(p.todo.data(), bytes.data() + sizeof(n) + n, ranges * sizeof(TodoRange));
  return p;
}

}  // namespace trkaas::service
