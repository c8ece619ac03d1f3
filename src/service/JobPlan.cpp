// The job plan: rank 0 locks the output directory, reads the journals and the inputs and
// decides which events this run does; every rank hears the plan.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
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

}  // namespace trkaas::service
