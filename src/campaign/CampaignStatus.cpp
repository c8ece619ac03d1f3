// Campaign status and verify: what the chunks' journals and tracks files say.
#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "CampaignDetail.hpp"
#include "trkaas/campaign/Campaign.hpp"
#include "trkaas/io/TracksFile.hpp"
#include "trkaas/service/Journal.hpp"

namespace trkaas::campaign {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {

/// What one chunk's journal records say about one of its input files, event by event.
struct FileTally {
  const InputInfo* input = nullptr;
  std::vector<std::uint16_t> records;  ///< per event: done records in usable tracks files
  std::vector<std::int32_t> error;     ///< per event: its last error's reason (-1: none)
  std::int32_t wholeFileError = -1;    ///< reason of an error record for the whole file
};

/// HDF5 is built without thread safety here: one thread at a time opens tracks files.
std::mutex& hdf5Mutex() {
  static std::mutex m;
  return m;
}

constexpr std::size_t kProblemsPerKind = 3;

/// Checks that the committed tracks file `name` holds exactly the event ids its done
/// records (`expected`) say, as many times each.
void checkTracksFile(const fs::path& dir, const std::string& name,
                     std::vector<std::int64_t> expected, ChunkStatus& st) {
  std::vector<std::int64_t> found;
  try {
    const std::lock_guard<std::mutex> lock(hdf5Mutex());
    const TracksFileReader reader((dir / name).string());
    found.reserve(reader.numEvents());
    for (std::size_t i = 0; i < reader.numEvents(); ++i) found.push_back(reader.eventId(i));
  } catch (const std::exception& e) {
    st.problems.push_back(firstLine(e.what(), 300));
    return;
  }
  std::sort(found.begin(), found.end());
  std::sort(expected.begin(), expected.end());
  std::size_t shown = 0, more = 0;
  const auto report = [&](std::string what) {
    if (shown++ < kProblemsPerKind) {
      st.problems.push_back(std::move(what));
    } else {
      ++more;
    }
  };
  // Walk both sorted lists id by id: n times in the file, m times in the journal.
  for (std::size_t f = 0, e = 0; f < found.size() || e < expected.size();) {
    const std::int64_t id = f == found.size()      ? expected[e]
                            : e == expected.size() ? found[f]
                                                   : std::min(found[f], expected[e]);
    std::size_t n = 0, m = 0;
    for (; f < found.size() && found[f] == id; ++f) ++n;
    for (; e < expected.size() && expected[e] == id; ++e) ++m;
    if (m == 0) {
      report(fmt::format("'{}' holds event id {} with no journal record", name, id));
    } else if (n == 0) {
      report(fmt::format("journal says event id {} is in '{}', but it is not there", id, name));
    } else if (n != m) {
      report(fmt::format("'{}' holds event id {} {} time(s), its journal {}", name, id, n, m));
    }
  }
  if (more > 0) st.problems.push_back(fmt::format("'{}': {} more such problem(s)", name, more));
}

ChunkStatus chunkStatus(const Campaign& c, const Chunk& ch, bool verify) {
  ChunkStatus st;
  st.index = ch.index;
  const fs::path dir = c.chunkDir(ch.index);
  const std::vector<JournalRecord> records = readJournalRecords(dir.string(), &st.runs);

  // Committed tracks files, each checked on disk once.
  std::unordered_map<std::string, bool> usable;
  for (const JournalRecord& r : records) {
    if (r.kind == JournalRecord::kCommit) usable.emplace(r.tracksFile, false);
  }
  std::error_code ec;
  for (auto& [name, present] : usable) present = fs::exists(dir / name, ec);
  const auto counts = [&](const std::string& tracks) {
    const auto it = usable.find(tracks);
    return it != usable.end() && it->second;
  };

  std::vector<FileTally> files;
  std::unordered_map<std::string, std::size_t> fileOf;
  for (int i : ch.inputs) {
    const InputInfo& in = c.inputs[i];
    FileTally t;
    t.input = &in;
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(in.events, 0));
    t.records.assign(n, 0);
    t.error.assign(n, -1);
    fileOf.emplace(in.path, files.size());
    files.push_back(std::move(t));
  }
  std::vector<std::string> reasons;
  std::unordered_map<std::string, std::int32_t> reasonIndex;
  std::unordered_map<std::string, std::vector<std::int64_t>> idsIn;  // tracks file -> ids
  std::size_t outsidePlan = 0;
  for (const JournalRecord& r : records) {
    if (r.kind != JournalRecord::kDone && r.kind != JournalRecord::kError) continue;
    const auto f = fileOf.find(r.key.first);
    FileTally* tally = f == fileOf.end() ? nullptr : &files[f->second];
    const bool inPlan = tally != nullptr && r.key.second >= 0 &&
                        r.key.second < static_cast<std::int64_t>(tally->records.size());
    if (r.kind == JournalRecord::kDone) {
      if (verify) idsIn[r.tracksFile].push_back(r.eventId);
      if (!counts(r.tracksFile)) continue;
      if (inPlan) {
        std::uint16_t& n = tally->records[static_cast<std::size_t>(r.key.second)];
        if (n < UINT16_MAX) ++n;
      } else if (verify && r.key.second >= 0 && outsidePlan++ < kProblemsPerKind) {
        st.problems.push_back(
            fmt::format("tracks record for event {} of '{}', which is not in this chunk's plan",
                        r.key.second, r.key.first));
      }
      continue;
    }
    if (tally == nullptr) continue;  // an error record of a file outside the plan
    const std::string reason = firstLine(r.reason);
    const auto [it, added] = reasonIndex.emplace(reason, static_cast<std::int32_t>(reasons.size()));
    if (added) reasons.push_back(reason);
    if (r.key.second == -1) {
      tally->wholeFileError = it->second;
    } else if (inPlan) {
      tally->error[static_cast<std::size_t>(r.key.second)] = it->second;
    }
  }
  if (outsidePlan > kProblemsPerKind) {
    st.problems.push_back(
        fmt::format("{} tracks record(s) in all for events outside the plan", outsidePlan));
  }

  std::vector<std::int64_t> failedBy(reasons.size(), 0);
  for (const FileTally& t : files) {
    const InputInfo& in = *t.input;
    if (t.wholeFileError >= 0) {
      // The whole file was unreadable: one error record stands for it.
      ++st.fileErrors;
      ++failedBy[static_cast<std::size_t>(t.wholeFileError)];
    } else if (in.events < 0) {
      ++st.missingFiles;
    }
    for (std::size_t e = 0; e < t.records.size(); ++e) {
      ++st.planned;
      const int n = t.records[e];
      if (n >= 1) {
        ++st.done;
        if (n > 1 && ++st.duplicates <= static_cast<std::int64_t>(kProblemsPerKind)) {
          st.problems.push_back(
              fmt::format("event {} of '{}' has {} tracks records", e, in.path, n));
        }
      } else if (t.error[e] >= 0) {
        ++st.failed;
        ++failedBy[static_cast<std::size_t>(t.error[e])];
      } else if (t.wholeFileError < 0) {
        ++st.missing;
      }
    }
  }
  for (std::size_t r = 0; r < reasons.size(); ++r) {
    if (failedBy[r] > 0) st.reasons[reasons[r]] += failedBy[r];
  }
  if (!verify) return st;
  // Every committed tracks file holds exactly the events its journal records say.
  std::vector<std::string> committed;
  for (const auto& [name, present] : usable) committed.push_back(name);
  std::sort(committed.begin(), committed.end());
  for (const std::string& name : committed) {
    if (!usable.at(name)) {
      st.problems.push_back("committed tracks file '" + name + "' is gone");
      continue;
    }
    auto ids = idsIn.find(name);
    checkTracksFile(dir, name,
                    ids == idsIn.end() ? std::vector<std::int64_t>{} : std::move(ids->second), st);
  }
  return st;
}

}  // namespace

std::vector<ChunkStatus> campaignStatus(const Campaign& c, bool verify, int threads) {
  std::vector<ChunkStatus> result(c.chunks.size());
  if (threads <= 0) {
    // Mostly waits on the file system; a login node's 256 hardware threads need not all wait.
    threads = static_cast<int>(std::clamp(2 * std::thread::hardware_concurrency(), 4U, 32U));
  }
  threads = std::max(1, std::min<int>(threads, static_cast<int>(c.chunks.size())));
  std::atomic<std::size_t> next{0};
  std::mutex errorMutex;
  std::exception_ptr error;
  const auto work = [&] {
    for (std::size_t k; (k = next++) < c.chunks.size();) {
      try {
        result[k] = chunkStatus(c, c.chunks[k], verify);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(errorMutex);
        if (!error) error = std::current_exception();
        next = c.chunks.size();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return result;
}

int campaignExitCode(const std::vector<ChunkStatus>& status) {
  bool left = false, failures = false;
  for (const ChunkStatus& s : status) {
    if (s.duplicates > 0 || !s.problems.empty()) return kCampaignFailed;
    left = left || s.missing > 0 || s.missingFiles > 0;
    failures = failures || s.failed > 0 || s.fileErrors > 0;
  }
  if (left) return kCampaignWorkLeft;
  return failures ? kCampaignDoneWithFailures : kCampaignComplete;
}

}  // namespace trkaas::campaign
