#include "trkaas/campaign/Campaign.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trkaas/campaign/ReportTable.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"
#include "trkaas/service/Journal.hpp"

namespace trkaas::campaign {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kPlanVersion = 1;

std::string absolutePath(const std::string& p) {
  std::error_code ec;
  return fs::weakly_canonical(fs::absolute(p), ec).string();
}

void writeText(const fs::path& path, const std::string& text) {
  const fs::path part = path.string() + ".part";
  {
    std::ofstream out(part);
    out << text;
    if (!out.flush()) throw Error("cannot write '" + part.string() + "'");
  }
  std::error_code ec;
  fs::rename(part, path, ec);
  if (ec) throw Error("cannot rename '" + part.string() + "': " + ec.message());
}

json readJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("'" + path.string() + "': cannot open");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw Error("'" + path.string() + "': not valid JSON");
  return j;
}

std::string firstLine(const std::string& s, std::size_t max = 160) {
  std::string t = s.substr(0, s.find('\n'));
  return t.size() > max ? t.substr(0, max) + "..." : t;
}

/// Output of a shell command (stdout), and its exit status.
std::string capture(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  status = ::pclose(pipe);
  return out;
}

json planJson(const Campaign& c) {
  const PlanConfig& p = c.config;
  json inputs = json::array(), chunks = json::array();
  for (const InputInfo& in : c.inputs) {
    inputs.push_back(
        {{"path", in.path}, {"events", in.events}, {"error", in.error}, {"chunk", in.chunk}});
  }
  for (const Chunk& ch : c.chunks) {
    chunks.push_back({{"index", ch.index}, {"inputs", ch.inputs}, {"events", ch.events}});
  }
  return {{"format", "trkaas-campaign"},
          {"version", kPlanVersion},
          {"dir", c.dir},
          {"pipeline_config", p.pipelineConfig},
          {"run_args", p.runArgs},
          {"rate_per_node", p.ratePerNode},
          {"calibration_report", p.calibrationReport},
          {"nodes", p.nodes},
          {"time_limit_s", p.timeLimitSeconds},
          {"time_min_s", p.timeMinSeconds},
          {"margin_s", p.marginSeconds},
          {"fill", p.fill},
          {"events_per_chunk", c.eventsPerChunk},
          {"script", p.script},
          {"profile", p.profile},
          {"sbatch_args", p.sbatchArgs},
          {"resubmit_sbatch_args", p.resubmitSbatchArgs},
          {"inputs", inputs},
          {"chunks", chunks}};
}

/// The Slurm job name of a campaign's chunks (status finds its queued tasks by it).
std::string jobName(const Campaign& c) { return "trkaas-" + fs::path(c.dir).filename().string(); }

std::string slurmTime(double seconds) {
  const auto s = static_cast<long>(seconds);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace

std::string shellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=:,%@+") == std::string::npos) {
    return s;
  }
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string Campaign::chunkDir(int chunk) const {
  return (fs::path(dir) / "chunks" / fmt::format("chunk-{:04d}", chunk)).string();
}

std::int64_t Campaign::totalEvents() const {
  std::int64_t n = 0;
  for (const Chunk& c : chunks) n += c.events;
  return n;
}

double chunkBudgetSeconds(const PlanConfig& config) {
  const double limit = config.timeMinSeconds > 0 ? config.timeMinSeconds : config.timeLimitSeconds;
  return std::min(config.fill * limit, limit - config.marginSeconds);
}

Campaign planCampaign(const PlanConfig& config) {
  if (config.inputs.empty()) throw Error("campaign plan: no input files");
  if (config.pipelineConfig.empty()) throw Error("campaign plan: give the pipeline config (-c)");
  if (config.nodes < 1) throw Error("campaign plan: --nodes must be at least 1");
  if (!(config.fill > 0 && config.fill <= 1)) {
    throw Error(fmt::format("campaign plan: --fill {} must be in (0, 1]", config.fill));
  }
  if (config.timeMinSeconds < 0 || config.timeMinSeconds > config.timeLimitSeconds) {
    throw Error(
        fmt::format("campaign plan: --time-min ({} s) must lie within the time limit ({} s)",
                    config.timeMinSeconds, config.timeLimitSeconds));
  }
  Campaign c;
  c.dir = absolutePath(config.dir);
  c.config = config;
  c.config.pipelineConfig = absolutePath(config.pipelineConfig);
  if (!config.script.empty()) c.config.script = absolutePath(config.script);
  if (fs::exists(fs::path(c.dir) / "campaign.json")) {
    throw Error("campaign directory '" + c.dir +
                "' already has a plan (campaign.json): use status/resubmit, or a new directory");
  }
  if (!fs::is_regular_file(c.config.pipelineConfig)) {
    throw Error("pipeline config '" + c.config.pipelineConfig + "' does not exist");
  }
  if (!c.config.calibrationReport.empty()) {
    const json r = readJson(c.config.calibrationReport);
    if (!r.contains("events_per_s") || r["events_done"].get<std::int64_t>() <= 0) {
      throw Error("calibration report '" + c.config.calibrationReport +
                  "': no events done, so no rate to plan with");
    }
    const int nodes = r.value("nodes", 1);
    c.config.ratePerNode = r["events_per_s"].get<double>() / std::max(nodes, 1);
    c.config.calibrationReport = absolutePath(c.config.calibrationReport);
  }
  if (config.eventsPerChunk > 0) {
    c.eventsPerChunk = config.eventsPerChunk;
  } else {
    if (c.config.ratePerNode <= 0) {
      throw Error(
          "campaign plan: give the throughput to size chunks by: --calibration REPORT.json "
          "(from a short run on the same kind of node) or --rate EVENTS_PER_S_PER_NODE, "
          "or fix --events-per-chunk");
    }
    const double budget = chunkBudgetSeconds(config);
    if (budget <= 0) {
      throw Error(fmt::format(
          "campaign plan: the {} ({} s) leaves no time after the {} s margin for start-up "
          "and the clean stop",
          config.timeMinSeconds > 0 ? "minimum time limit" : "time limit",
          config.timeMinSeconds > 0 ? config.timeMinSeconds : config.timeLimitSeconds,
          config.marginSeconds));
    }
    c.eventsPerChunk = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(c.config.ratePerNode * config.nodes * budget));
  }

  std::set<std::string> seen;
  for (const std::string& in : config.inputs) {
    InputInfo info;
    info.path = absolutePath(in);
    if (!seen.insert(info.path).second) {
      logger().warn("input '{}' is listed more than once; planned once", in);
      continue;
    }
    try {
      info.events = static_cast<std::int64_t>(EventFileReader(info.path).numEvents());
    } catch (const std::exception& e) {
      info.events = -1;
      info.error = firstLine(e.what(), 400);
      logger().error("input '{}' cannot be read: {} (planned anyway: the job records the error)",
                     info.path, info.error);
    }
    c.inputs.push_back(std::move(info));
  }
  // Whole files, in the given order, until the budget is full. A file larger than the
  // budget gets a chunk of its own and finishes over requeued runs.
  Chunk current;
  int oversized = 0;
  for (int i = 0; i < static_cast<int>(c.inputs.size()); ++i) {
    const std::int64_t n = std::max<std::int64_t>(c.inputs[i].events, 0);
    if (!current.inputs.empty() && current.events + n > c.eventsPerChunk) {
      current.index = static_cast<int>(c.chunks.size());
      c.chunks.push_back(current);
      current = Chunk();
    }
    current.inputs.push_back(i);
    current.events += n;
    if (n > c.eventsPerChunk) ++oversized;
  }
  if (!current.inputs.empty()) {
    current.index = static_cast<int>(c.chunks.size());
    c.chunks.push_back(current);
  }
  if (oversized > 0) {
    logger().warn(
        "{} input file(s) hold more events than one chunk's budget ({}): each gets a chunk of "
        "its own, which needs several runs (the job requeues itself)",
        oversized, c.eventsPerChunk);
  }
  fs::create_directories(fs::path(c.dir) / "logs");
  for (Chunk& ch : c.chunks) {
    const fs::path d = c.chunkDir(ch.index);
    fs::create_directories(d);
    std::string list, args;
    for (int i : ch.inputs) {
      c.inputs[i].chunk = ch.index;
      list += c.inputs[i].path + "\n";
    }
    writeText(d / "inputs.txt", list);
    std::vector<std::string> a = {"-c",       c.config.pipelineConfig, "-o",
                                  d.string(), "--input-list",          (d / "inputs.txt").string()};
    a.insert(a.end(), c.config.runArgs.begin(), c.config.runArgs.end());
    for (const std::string& s : a) args += s + "\n";
    writeText(d / "args", args);
  }
  writeText(fs::path(c.dir) / "campaign.json", planJson(c).dump(2) + "\n");
  return c;
}

Campaign loadCampaign(const std::string& dirIn) {
  const fs::path file = fs::path(dirIn) / "campaign.json";
  if (!fs::exists(file)) {
    throw Error("'" + dirIn +
                "' is not a campaign directory (no campaign.json; make one "
                "with 'trkaas campaign plan')");
  }
  const json j = readJson(file);
  try {
    if (j.at("format") != "trkaas-campaign" || j.at("version").get<int>() != kPlanVersion) {
      throw Error("'" + file.string() + "': not a version " + std::to_string(kPlanVersion) +
                  " trkaas campaign plan");
    }
    Campaign c;
    c.dir = absolutePath(dirIn);  // the directory may have moved since planning
    PlanConfig& p = c.config;
    p.dir = c.dir;
    p.pipelineConfig = j.at("pipeline_config");
    p.runArgs = j.at("run_args").get<std::vector<std::string>>();
    p.ratePerNode = j.at("rate_per_node");
    p.calibrationReport = j.at("calibration_report");
    p.nodes = j.at("nodes");
    p.timeLimitSeconds = j.at("time_limit_s");
    p.marginSeconds = j.at("margin_s");
    // Added later in version 1: plans without them had no --time-min and no fill limit.
    p.timeMinSeconds = j.value("time_min_s", 0.0);
    p.fill = j.value("fill", 1.0);
    p.resubmitSbatchArgs = j.value("resubmit_sbatch_args", std::vector<std::string>{});
    p.script = j.at("script");
    p.profile = j.at("profile");
    p.sbatchArgs = j.at("sbatch_args").get<std::vector<std::string>>();
    c.eventsPerChunk = j.at("events_per_chunk");
    for (const json& in : j.at("inputs")) {
      c.inputs.push_back({in.at("path"), in.at("events"), in.at("error"), in.at("chunk")});
    }
    for (const json& ch : j.at("chunks")) {
      c.chunks.push_back(
          {ch.at("index"), ch.at("inputs").get<std::vector<int>>(), ch.at("events")});
    }
    return c;
  } catch (const json::exception& e) {
    throw Error("'" + file.string() + "': unexpected content: " + e.what());
  }
}

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
  if (threads <= 0)
    threads = static_cast<int>(std::max(4U, 2 * std::thread::hardware_concurrency()));
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

std::string arraySpec(const std::vector<int>& chunks) {
  std::string s;
  for (std::size_t i = 0; i < chunks.size();) {
    std::size_t j = i;
    while (j + 1 < chunks.size() && chunks[j + 1] == chunks[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += j > i ? fmt::format("{}-{}", chunks[i], chunks[j]) : std::to_string(chunks[i]);
    i = j + 1;
  }
  return s;
}

int slurmMaxArraySize() {
  int status = 0;
  const std::string out = capture("scontrol show config 2>/dev/null", status);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("MaxArraySize", 0) != 0) continue;
    const auto eq = line.find('=');
    try {
      if (eq != std::string::npos) return std::max(1, std::stoi(line.substr(eq + 1)));
    } catch (const std::exception&) {
    }
  }
  return kDefaultMaxArraySize;
}

namespace {

/// Array blocks are powers of ten, so that Slurm's %Na gives the chunk's number in the log
/// file name: chunk 1042 is task 42 of the array with offset 1000, logged by
/// "chunk-1%3a.log".
struct ArrayBlock {
  int size = 1;  ///< 10^digits
  int digits = 0;
};

ArrayBlock arrayBlock(int maxArraySize) {
  ArrayBlock b;
  while (b.size <= maxArraySize / 10) {
    b.size *= 10;
    ++b.digits;
  }
  if (b.digits == 0) {
    throw Error(
        fmt::format("Slurm's MaxArraySize is {}: too small for campaign arrays", maxArraySize));
  }
  return b;
}

/// --output of an array: DIR/logs/chunk-NNNN.log for its tasks, the same name as the chunk
/// directory's.
std::string logPattern(const Campaign& c, int offset, const ArrayBlock& b) {
  std::string name = "chunk-%4a.log";
  if (offset > 0) {
    name =
        fmt::format("chunk-{:0{}d}%{}a.log", offset / b.size, std::max(1, 4 - b.digits), b.digits);
  }
  return (fs::path(c.dir) / "logs" / name).string();
}

/// DIR/arrays/offset-N, whose chunks/chunk-MMMM point to DIR/chunks/chunk-(N+MMMM): what
/// TRKAAS_CAMPAIGN names for an array with an offset (the scripts read
/// $TRKAAS_CAMPAIGN/chunks/chunk-$TASK/args, whose -o names the real chunk directory).
std::string arrayView(const Campaign& c, int offset, const std::vector<int>& chunks) {
  if (offset == 0) return c.dir;
  const fs::path view = fs::path(c.dir) / "arrays" / fmt::format("offset-{}", offset);
  fs::create_directories(view / "chunks");
  for (int k : chunks) {
    const fs::path link = view / "chunks" / fmt::format("chunk-{:04d}", k - offset);
    const fs::path target =
        fs::path("..") / ".." / ".." / "chunks" / fmt::format("chunk-{:04d}", k);
    std::error_code ec;
    if (fs::is_symlink(link, ec)) {
      if (fs::read_symlink(link, ec) == target) continue;
      fs::remove(link, ec);
    }
    fs::create_directory_symlink(target, link, ec);
    if (ec) throw Error("cannot link '" + link.string() + "': " + ec.message());
  }
  return view.string();
}

std::string submitScript(const Campaign& c) {
  return (fs::path(c.config.script).parent_path() / "submit.sh").string();
}

std::string submitJobId(const std::string& cmd) {
  logger().info("submitting: {}", cmd);
  int status = 0;
  std::string out = capture(cmd, status);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const std::string job = out.substr(0, out.find(';'));
  if (status != 0 || job.empty() || job.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(fmt::format("submission failed (status {}): {}", status,
                            out.empty() ? std::string("no job id printed") : firstLine(out, 400)));
  }
  return job;
}

void recordSubmission(const Campaign& c, json line) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  line["time"] = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  std::ofstream(fs::path(c.dir) / "submissions.jsonl", std::ios::app) << line.dump() << "\n";
}

constexpr const char* kPreviousArray = "PREVIOUS";

}  // namespace

std::vector<ArrayJob> arrayJobs(const Campaign& c, const std::vector<int>& chunks,
                                const SubmitOptions& options, int maxArraySize) {
  if (c.config.script.empty()) {
    throw Error("campaign '" + c.dir + "' has no batch script: plan it with --script");
  }
  const ArrayBlock block = arrayBlock(maxArraySize);
  // Offset 0 while every chunk fits (the arrays of campaigns before offsets existed);
  // beyond, one array per block of chunks.
  const bool fits = !chunks.empty() && chunks.back() < maxArraySize;
  std::vector<ArrayJob> arrays;
  for (int k : chunks) {
    const int offset = fits ? 0 : k / block.size * block.size;
    if (arrays.empty() || arrays.back().offset != offset) arrays.push_back({offset, {}, "", ""});
    arrays.back().chunks.push_back(k);
  }
  std::string extra;
  for (const std::string& a : options.extraRunArgs) extra += (extra.empty() ? "" : " ") + a;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    ArrayJob& a = arrays[i];
    std::vector<int> tasks;
    for (int k : a.chunks) tasks.push_back(k - a.offset);
    std::string cmd = "env TRKAAS_CAMPAIGN=" + shellQuote(arrayView(c, a.offset, a.chunks));
    if (!extra.empty()) cmd += " TRKAAS_CAMPAIGN_EXTRA=" + shellQuote(extra);
    cmd += " " + shellQuote(submitScript(c));
    if (!c.config.profile.empty()) cmd += " --profile " + shellQuote(c.config.profile);
    std::string array = arraySpec(tasks);
    if (options.maxParallel > 0) array += "%" + std::to_string(options.maxParallel);
    cmd += " --array=" + array;
    cmd += " --time=" + slurmTime(c.config.timeLimitSeconds);
    if (c.config.timeMinSeconds > 0) cmd += " --time-min=" + slurmTime(c.config.timeMinSeconds);
    cmd += " --nodes=" + std::to_string(c.config.nodes);
    cmd += " --job-name=" + shellQuote(jobName(c));
    cmd += " --output=" + shellQuote(logPattern(c, a.offset, block));
    if (i > 0 && options.maxParallel > 0) {
      cmd += std::string(" --dependency=afterany:") + kPreviousArray;
    }
    for (const std::string& s : c.config.sbatchArgs) cmd += " " + shellQuote(s);
    cmd += " " + shellQuote(c.config.script);
    a.command = std::move(cmd);
  }
  return arrays;
}

std::vector<ArrayJob> submit(const Campaign& c, const std::vector<int>& chunksIn,
                             const SubmitOptions& options) {
  if (chunksIn.empty()) throw Error("nothing to submit");
  std::vector<int> chunks = chunksIn;
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
  const int maxArraySize = options.maxArraySize > 0 ? options.maxArraySize : slurmMaxArraySize();
  std::vector<ArrayJob> arrays = arrayJobs(c, chunks, options, maxArraySize);
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    ArrayJob& a = arrays[i];
    if (i > 0) {
      const std::string placeholder = std::string("afterany:") + kPreviousArray;
      if (const auto p = a.command.find(placeholder); p != std::string::npos) {
        a.command.replace(p, placeholder.size(), "afterany:" + arrays[i - 1].job);
      }
    }
    a.job = submitJobId(a.command);
    recordSubmission(c, {{"job", a.job},
                         {"chunks", a.chunks},
                         {"offset", a.offset},
                         {"extra_run_args", options.extraRunArgs},
                         {"command", a.command}});
  }
  if (options.autoResubmit >= 0) {
    std::vector<std::string> jobs;
    for (const ArrayJob& a : arrays) jobs.push_back(a.job);
    jobs.insert(jobs.end(), options.followUpAlsoAfter.begin(), options.followUpAlsoAfter.end());
    const bool retry = std::find(options.extraRunArgs.begin(), options.extraRunArgs.end(),
                                 "--retry-failed") != options.extraRunArgs.end();
    submitFollowUp(c, jobs, options.autoResubmit, retry);
  }
  return arrays;
}

ResubmitPlan planResubmit(const std::vector<ChunkStatus>& status,
                          const std::map<int, QueuedTask>& queued, bool retryFailed,
                          int autoResubmit, int followUp) {
  ResubmitPlan plan;
  std::set<std::string> waitFor;
  for (const ChunkStatus& s : status) {
    const bool needs =
        s.missing > 0 || s.missingFiles > 0 || (retryFailed && (s.failed > 0 || s.fileErrors > 0));
    if (!needs) continue;
    if (const auto q = queued.find(s.index); q != queued.end()) {
      waitFor.insert(q->second.job);
    } else {
      plan.chunks.push_back(s.index);
    }
  }
  plan.waitFor.assign(waitFor.begin(), waitFor.end());
  const bool automatic = followUp >= 0;
  if (!plan.chunks.empty()) {
    if (automatic && followUp == 0) {
      plan.action = ResubmitPlan::kRoundsUsedUp;
    } else {
      plan.action = ResubmitPlan::kSubmit;
      plan.followUpRounds = automatic ? followUp - 1 : autoResubmit;
    }
  } else if (!plan.waitFor.empty() && (automatic || autoResubmit >= 0)) {
    // Requeued or still pending: check again once they end, without using up a round.
    plan.action = ResubmitPlan::kWait;
    plan.followUpRounds = automatic ? followUp : autoResubmit;
  } else if (automatic && plan.waitFor.empty()) {
    plan.action = ResubmitPlan::kFinished;
  }
  return plan;
}

std::string followUpCommand(const Campaign& c, const std::vector<std::string>& afterJobs,
                            int rounds, bool retryFailed) {
  if (c.config.script.empty()) {
    throw Error("campaign '" + c.dir + "' has no batch script: plan it with --script");
  }
  if (afterJobs.empty()) throw Error("automatic resubmission: no job to wait for");
  const fs::path script = fs::path(c.dir) / "resubmit.sbatch";
  writeText(script,
            "#!/usr/bin/env bash\n"
            "# Written by 'trkaas campaign submit --auto-resubmit': runs once the campaign's job\n"
            "# arrays have ended (--dependency=afterany) and resubmits its incomplete chunks.\n"
            "#   resubmit.sbatch CAMPAIGN_DIR ROUNDS_LEFT [--retry-failed]\n"
            "source \"${TRKAAS_ROOT:?}/jobs/lib/job.sh\" || exit 2\n"
            "trkaas_load_profile || exit 2\n"
            "trkaas_site_setup || exit 2\n"
            "# The jobs it submits must not inherit this job's shape (SLURM_NTASKS=1 would make\n"
            "# their srun start one task): only SLURM_CONF stays.\n"
            "for v in $(compgen -e SLURM_); do [[ $v == SLURM_CONF ]] || unset \"$v\"; done\n"
            "exec \"$TRKAAS_BIN\" campaign resubmit \"$1\" --follow-up \"$2\" \"${@:3}\"\n");
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  std::string after;
  for (const std::string& j : afterJobs) after += ":" + j;
  std::string cmd = shellQuote(submitScript(c));
  if (!c.config.profile.empty()) cmd += " --profile " + shellQuote(c.config.profile);
  cmd += " --dependency=afterany" + after;
  cmd += " --job-name=" + shellQuote(jobName(c) + "-resubmit");
  cmd += " --output=" + shellQuote((fs::path(c.dir) / "logs" / "resubmit-%j.log").string());
  cmd += " --time=0:10:00 --nodes=1 --ntasks=1";
  for (const std::string& s : c.config.sbatchArgs) cmd += " " + shellQuote(s);
  for (const std::string& s : c.config.resubmitSbatchArgs) cmd += " " + shellQuote(s);
  cmd += " " + shellQuote(script.string()) + " " + shellQuote(c.dir) + " " + std::to_string(rounds);
  if (retryFailed) cmd += " --retry-failed";
  return cmd;
}

std::string submitFollowUp(const Campaign& c, const std::vector<std::string>& afterJobs, int rounds,
                           bool retryFailed) {
  const std::string cmd = followUpCommand(c, afterJobs, rounds, retryFailed);
  const std::string job = submitJobId(cmd);
  recordSubmission(
      c, {{"job", job}, {"resubmit_after", afterJobs}, {"rounds", rounds}, {"command", cmd}});
  return job;
}

std::map<int, QueuedTask> parseQueue(const std::string& out,
                                     const std::map<std::string, int>& offsetOfJob) {
  std::map<int, QueuedTask> queued;
  std::istringstream lines(out);
  for (std::string id, state; lines >> id >> state;) {
    const auto u = id.find('_');
    if (u == std::string::npos) continue;
    const auto job = offsetOfJob.find(id.substr(0, u));
    if (job == offsetOfJob.end()) continue;
    const std::string task = id.substr(u + 1);
    if (task.empty() || task.find_first_not_of("0123456789") != std::string::npos) continue;
    queued[job->second + std::stoi(task)] = {state, job->first};
  }
  return queued;
}

std::vector<QueuedTask> queuedResubmissions(const Campaign& c) {
  int status = 0;
  const std::string out = capture(
      "squeue -h -n " + shellQuote(jobName(c) + "-resubmit") + " -o '%i %T' 2>/dev/null", status);
  std::vector<QueuedTask> jobs;
  std::istringstream lines(out);
  for (std::string id, state; status == 0 && lines >> id >> state;) jobs.push_back({state, id});
  return jobs;
}

std::map<int, QueuedTask> queuedChunks(const Campaign& c, bool& known) {
  known = false;
  std::map<std::string, int> offsetOfJob;
  std::ifstream in(fs::path(c.dir) / "submissions.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("job") && j.contains("chunks")) {
      offsetOfJob[j["job"].get<std::string>()] = j.value("offset", 0);
    }
  }
  if (offsetOfJob.empty()) {
    known = true;
    return {};
  }
  // By job name, not by id: squeue fails on ids the controller has already forgotten.
  // %i of an array task is JOB_TASK (-r: one line per task, also for pending ones).
  int status = 0;
  const std::string out =
      capture("squeue -h -r -n " + shellQuote(jobName(c)) + " -o '%i %T' 2>/dev/null", status);
  if (status != 0) return {};
  known = true;
  return parseQueue(out, offsetOfJob);
}

std::string mergeReports(const Campaign& c) {
  std::string csv = csvLine(reportColumns()) + "\n";
  std::int64_t runs = 0, done = 0, failed = 0, hits = 0;
  double wall = 0, nodeSeconds = 0, latencyWeighted = 0;
  double minRate = 0, maxRate = 0;
  json perChunk = json::array();
  for (const Chunk& ch : c.chunks) {
    const fs::path dir = c.chunkDir(ch.index);
    std::vector<fs::path> reports;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) {
      for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("report-r", 0) == 0 && e.path().extension() == ".json") {
          reports.push_back(e.path());
        }
      }
    }
    std::sort(reports.begin(), reports.end());
    std::int64_t chunkDone = 0;
    for (const fs::path& r : reports) {
      const std::string label =
          fmt::format("chunk-{:04d}/{}", ch.index, r.stem().string().substr(7));
      csv += csvLine(reportRow(r.string(), label)) + "\n";
      const json j = readJson(r);
      ++runs;
      const std::int64_t d = j["events_done"].get<std::int64_t>();
      done += d;
      chunkDone += d;
      failed += j["events_failed"].get<std::int64_t>();
      hits += static_cast<std::int64_t>(j.value("hits_per_event", 0.0) * double(d));
      const double w = j["wall_s"].get<double>();
      wall += w;
      nodeSeconds += w * j.value("nodes", 1);
      latencyWeighted += j["latency_ms"]["p50"].get<double>() * double(d);
      const double rate = j["events_per_s"].get<double>();
      if (d > 0) {
        minRate = runs == 1 || minRate == 0 ? rate : std::min(minRate, rate);
        maxRate = std::max(maxRate, rate);
      }
    }
    perChunk.push_back({{"chunk", ch.index}, {"runs", reports.size()}, {"events_done", chunkDone}});
  }
  writeText(fs::path(c.dir) / "runs.csv", csv);
  const json total = {{"runs", runs},
                      {"events_planned", c.totalEvents()},
                      {"events_done", done},
                      {"events_failed", failed},
                      {"wall_s_sum", wall},
                      {"node_hours", nodeSeconds / 3600.0},
                      {"events_per_node_hour", nodeSeconds > 0 ? done / (nodeSeconds / 3600.0) : 0},
                      {"events_per_s_per_run_min", minRate},
                      {"events_per_s_per_run_max", maxRate},
                      {"hits_per_event", done > 0 ? double(hits) / double(done) : 0.0},
                      {"latency_p50_ms_mean", done > 0 ? latencyWeighted / double(done) : 0.0},
                      {"chunks", perChunk}};
  writeText(fs::path(c.dir) / "report.json", total.dump(2) + "\n");
  return fmt::format(
      "{} run(s) over {} chunk(s): {} of {} planned event(s) done, {} failed (in these runs); "
      "{:.1f} s of job time, {:.3f} node-hours, {:.0f} events per node-hour; events/s per run "
      "{:.2f}-{:.2f}",
      runs, c.chunks.size(), done, c.totalEvents(), failed, wall, nodeSeconds / 3600.0,
      nodeSeconds > 0 ? done / (nodeSeconds / 3600.0) : 0.0, minRate, maxRate);
}

}  // namespace trkaas::campaign
