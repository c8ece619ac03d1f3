#include "trkaas/campaign/Campaign.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

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

/// One chunk's journals, line by line (loadJournals folds them; verify must count).
struct RawJournal {
  std::set<std::string> committed;
  /// event -> tracks files of its "done" records (one entry per record)
  std::map<EventKey, std::vector<std::string>> doneRecords;
  std::map<EventKey, std::string> lastError;
  std::map<std::string, std::map<std::int64_t, int>> eventIdsIn;  ///< tracks file -> id -> n
  int runs = 0;
  std::int64_t badLines = 0;
};

RawJournal readRaw(const fs::path& dir) {
  RawJournal raw;
  for (const JournalRecord& r : readJournalRecords(dir.string(), &raw.runs)) {
    switch (r.kind) {
      case JournalRecord::kUnreadable:
        ++raw.badLines;
        break;
      case JournalRecord::kCommit:
        raw.committed.insert(r.tracksFile);
        break;
      case JournalRecord::kDone:
        raw.doneRecords[r.key].push_back(r.tracksFile);
        ++raw.eventIdsIn[r.tracksFile][r.eventId];
        break;
      case JournalRecord::kError:
        raw.lastError[r.key] = r.reason;
        break;
    }
  }
  return raw;
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
          {"margin_s", p.marginSeconds},
          {"events_per_chunk", c.eventsPerChunk},
          {"script", p.script},
          {"profile", p.profile},
          {"sbatch_args", p.sbatchArgs},
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

Campaign planCampaign(const PlanConfig& config) {
  if (config.inputs.empty()) throw Error("campaign plan: no input files");
  if (config.pipelineConfig.empty()) throw Error("campaign plan: give the pipeline config (-c)");
  if (config.nodes < 1) throw Error("campaign plan: --nodes must be at least 1");
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
    const double budget = config.timeLimitSeconds - config.marginSeconds;
    if (budget <= 0) {
      throw Error(
          fmt::format("campaign plan: the time limit ({} s) leaves no time after the {} s "
                      "margin for start-up and the clean stop",
                      config.timeLimitSeconds, config.marginSeconds));
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

std::vector<ChunkStatus> campaignStatus(const Campaign& c, bool verify) {
  std::vector<ChunkStatus> result;
  for (const Chunk& ch : c.chunks) {
    ChunkStatus st;
    st.index = ch.index;
    const fs::path dir = c.chunkDir(ch.index);
    const RawJournal raw = readRaw(dir);
    st.runs = raw.runs;
    std::error_code ec;
    const auto isCommitted = [&](const std::string& tracks) {
      return raw.committed.count(tracks) != 0 && fs::exists(dir / tracks, ec);
    };
    std::set<EventKey> planned;
    for (int i : ch.inputs) {
      const InputInfo& in = c.inputs[i];
      const EventKey whole{in.path, -1};
      if (in.events < 0 || raw.lastError.count(whole) != 0) {
        // The whole file was unreadable: one error record stands for it.
        if (raw.lastError.count(whole) != 0) {
          ++st.fileErrors;
          ++st.reasons[firstLine(raw.lastError.at(whole))];
        } else if (in.events < 0) {
          ++st.missingFiles;
        }
        if (in.events < 0) continue;
      }
      for (std::int64_t e = 0; e < in.events; ++e) {
        const EventKey key{in.path, e};
        planned.insert(key);
        ++st.planned;
        int records = 0;
        if (const auto it = raw.doneRecords.find(key); it != raw.doneRecords.end()) {
          for (const std::string& t : it->second) records += isCommitted(t) ? 1 : 0;
        }
        if (records == 1) {
          ++st.done;
        } else if (records > 1) {
          ++st.done;
          ++st.duplicates;
          if (st.duplicates <= 3) {
            st.problems.push_back(
                fmt::format("event {} of '{}' has {} tracks records", e, in.path, records));
          }
        } else if (const auto er = raw.lastError.find(key); er != raw.lastError.end()) {
          ++st.failed;
          ++st.reasons[firstLine(er->second)];
        } else if (raw.lastError.count(whole) == 0) {
          ++st.missing;
        }
      }
    }
    if (!verify) {
      result.push_back(std::move(st));
      continue;
    }
    // Records for events outside the plan.
    for (const auto& [key, files] : raw.doneRecords) {
      if (key.second >= 0 && planned.count(key) == 0) {
        for (const std::string& t : files) {
          if (isCommitted(t)) {
            st.problems.push_back(
                fmt::format("tracks record for event {} of '{}', which is not "
                            "in this chunk's plan",
                            key.second, key.first));
            break;
          }
        }
      }
    }
    // Every committed tracks file holds exactly the events its journal records say.
    for (const std::string& t : raw.committed) {
      if (!fs::exists(dir / t, ec)) {
        st.problems.push_back("committed tracks file '" + t + "' is gone");
        continue;
      }
      std::map<std::int64_t, int> expected;
      if (const auto it = raw.eventIdsIn.find(t); it != raw.eventIdsIn.end()) expected = it->second;
      try {
        const TracksFileReader reader((dir / t).string());
        std::map<std::int64_t, int> found;
        for (std::size_t i = 0; i < reader.numEvents(); ++i) ++found[reader.eventId(i)];
        for (const auto& [id, n] : found) {
          const auto e = expected.find(id);
          if (e == expected.end()) {
            st.problems.push_back(
                fmt::format("'{}' holds event id {} with no journal record", t, id));
          } else if (e->second != n) {
            st.problems.push_back(fmt::format("'{}' holds event id {} {} time(s), its journal {}",
                                              t, id, n, e->second));
          }
        }
        for (const auto& [id, n] : expected) {
          if (found.count(id) == 0) {
            st.problems.push_back(
                fmt::format("journal says event id {} is in '{}', but it is not there", id, t));
          }
        }
      } catch (const std::exception& e) {
        st.problems.push_back(firstLine(e.what(), 300));
      }
    }
    result.push_back(std::move(st));
  }
  return result;
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

std::string submitCommand(const Campaign& c, const std::vector<int>& chunks,
                          const std::vector<std::string>& extraRunArgs, int maxParallel) {
  if (c.config.script.empty()) {
    throw Error("campaign '" + c.dir + "' has no batch script: plan it with --script");
  }
  const fs::path submitSh = fs::path(c.config.script).parent_path() / "submit.sh";
  std::string extra;
  for (const std::string& a : extraRunArgs) extra += (extra.empty() ? "" : " ") + a;
  std::string cmd = "env TRKAAS_CAMPAIGN=" + shellQuote(c.dir);
  if (!extra.empty()) cmd += " TRKAAS_CAMPAIGN_EXTRA=" + shellQuote(extra);
  cmd += " " + shellQuote(submitSh.string());
  if (!c.config.profile.empty()) cmd += " --profile " + shellQuote(c.config.profile);
  std::string array = arraySpec(chunks);
  if (maxParallel > 0) array += "%" + std::to_string(maxParallel);
  cmd += " --array=" + array;
  cmd += " --time=" + slurmTime(c.config.timeLimitSeconds);
  cmd += " --nodes=" + std::to_string(c.config.nodes);
  cmd += " --job-name=" + shellQuote(jobName(c));
  cmd += " --output=" + shellQuote((fs::path(c.dir) / "logs" / "chunk-%4a.log").string());
  for (const std::string& a : c.config.sbatchArgs) cmd += " " + shellQuote(a);
  cmd += " " + shellQuote(c.config.script);
  return cmd;
}

std::string submit(const Campaign& c, const std::vector<int>& chunks,
                   const std::vector<std::string>& extraRunArgs, int maxParallel) {
  if (chunks.empty()) throw Error("nothing to submit");
  const std::string cmd = submitCommand(c, chunks, extraRunArgs, maxParallel);
  logger().info("submitting: {}", cmd);
  int status = 0;
  std::string out = capture(cmd, status);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const std::string job = out.substr(0, out.find(';'));
  if (status != 0 || job.empty() || job.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(fmt::format("submission failed (status {}): {}", status,
                            out.empty() ? std::string("no job id printed") : firstLine(out, 400)));
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const json line = {{"job", job},
                     {"chunks", chunks},
                     {"extra_run_args", extraRunArgs},
                     {"command", cmd},
                     {"time", std::chrono::duration_cast<std::chrono::seconds>(now).count()}};
  std::ofstream(fs::path(c.dir) / "submissions.jsonl", std::ios::app) << line.dump() << "\n";
  return job;
}

std::map<int, std::string> queuedChunks(const Campaign& c, bool& known) {
  std::map<int, std::string> queued;
  known = false;
  std::set<std::string> jobs;
  std::ifstream in(fs::path(c.dir) / "submissions.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("job")) jobs.insert(j["job"].get<std::string>());
  }
  if (jobs.empty()) {
    known = true;
    return queued;
  }
  // By job name, not by id: squeue fails on ids the controller has already forgotten.
  int status = 0;
  // %i of an array task is JOB_TASK; pending tasks not yet split show as JOB_[0-3,7].
  const std::string out =
      capture("squeue -h -r -n " + shellQuote(jobName(c)) + " -o '%i %T' 2>/dev/null", status);
  if (status != 0) return queued;
  known = true;
  std::istringstream lines(out);
  for (std::string id, state; lines >> id >> state;) {
    const auto u = id.find('_');
    if (u == std::string::npos || jobs.count(id.substr(0, u)) == 0) continue;
    const std::string task = id.substr(u + 1);
    if (task.find_first_not_of("0123456789") == std::string::npos && !task.empty()) {
      queued[std::stoi(task)] = state;
    }
  }
  return queued;
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
