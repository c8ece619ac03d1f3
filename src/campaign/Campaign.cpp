#include "trkaas/campaign/Campaign.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "CampaignDetail.hpp"
#include "trkaas/campaign/ReportTable.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/service/Journal.hpp"

namespace trkaas::campaign {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {

constexpr int kPlanVersion = 1;

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

std::string mergeReports(const Campaign& c) {
  std::string csv = csvLine(reportColumns()) + "\n";
  std::int64_t runs = 0, done = 0, failed = 0, hits = 0;
  double wall = 0, nodeSeconds = 0, latencyWeighted = 0;
  double minRate = 0, maxRate = 0;
  json perChunk = json::array();
  for (const Chunk& ch : c.chunks) {
    // Every run's report: run-RRR/report.json, or report-rRRR.json of the older layout.
    const auto reports = listRunReports(c.chunkDir(ch.index));
    std::int64_t chunkDone = 0;
    for (const auto& [run, r] : reports) {
      const std::string label = fmt::format("chunk-{:04d}/r{:03d}", ch.index, run);
      csv += csvLine(reportRow(r, label)) + "\n";
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
