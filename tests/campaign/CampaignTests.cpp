// Report rows (trkaas report), campaign planning, and status/verify on real event files,
// real tracks files and real journals.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "IoTestUtil.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/campaign/Campaign.hpp"
#include "trkaas/campaign/ReportTable.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"
#include "trkaas/service/Journal.hpp"

using namespace trkaas;
using namespace trkaas::campaign;
namespace fs = std::filesystem;

namespace {

fs::path freshDir(const std::string& name) {
  const fs::path d = fs::path(TRKAAS_TEST_TMP) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::map<std::string, std::string> rowByColumn(const std::vector<std::string>& row) {
  std::map<std::string, std::string> m;
  const auto& cols = reportColumns();
  REQUIRE(row.size() == cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) m[cols[i]] = row[i];
  return m;
}

/// An event file of `n` small events with ids first, first+1, ...
std::string writeEvents(const fs::path& path, int n, std::int64_t first) {
  EventFileWriter w(path.string());
  for (int i = 0; i < n; ++i) w.append(test::makeEvent(first + i, 5, 7 + i, false, false, false));
  w.close();
  return fs::weakly_canonical(path).string();
}

/// A committed run: tracks of these events, their journal "done" lines and the commit.
void writeRun(const fs::path& dir, int run,
              const std::vector<std::pair<EventKey, std::int64_t>>& events, bool commit = true) {
  const std::string tracks = tracksFileName(run, 0);
  fs::create_directories(dir / runDirName(run));
  TracksFileWriter w((dir / tracks).string());
  JournalWriter j((dir / journalFileName(run, 0)).string());
  for (const auto& [key, id] : events) {
    Tracks t;
    t.eventId = id;
    t.hitId = {1, 2, 3};
    t.label = {0, 0, -1};
    w.append(t);
    j.done(key, id, tracks);
  }
  w.close();
  if (commit) j.commit(tracks, static_cast<std::int64_t>(events.size()));
}

/// Moves run `run` of a job directory to the older layout (before run directories): its
/// files into `dir`, tracks names without the directory in its journals, its report as
/// report-rRRR.json.
void flattenRun(const fs::path& dir, int run) {
  const fs::path runDir = dir / runDirName(run);
  const std::string prefix = "\"" + runDirName(run) + "/";
  for (const auto& entry : fs::directory_iterator(runDir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".jsonl") {
      std::ifstream in(entry.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix)) {
        text.erase(at + 1, prefix.size() - 1);
      }
      std::ofstream(dir / name) << text;
      fs::remove(entry.path());
    } else {
      const char* report = "report-r%03d.json";
      char flat[32];
      std::snprintf(flat, sizeof flat, report, run);
      fs::rename(entry.path(), dir / (name == "report.json" ? std::string(flat) : name));
    }
  }
  fs::remove(runDir);
}

}  // namespace

TEST_CASE("report rows: the numbers come from the report and what it lacks is empty",
          "[campaign][report]") {
  const fs::path dir = freshDir("report");
  const double busy[] = {0.8, 0.6}, wait[] = {0.5, 0.7, 0.9};
  nlohmann::json r = {{"mode", "service"},
                      {"run", 2},
                      {"layout",
                       "3 producer(s), 2 server(s):\n  rank 0 on a (node 0, local 0): producer 0\n"
                       "  rank 4 on b (node 1, local 1): server 1"},
                      {"concurrency", 3},
                      {"workers", 2},
                      {"batch_hits", 0},
                      {"events_done", 40},
                      {"events_failed", 1},
                      {"wall_s", 4.0},
                      {"events_per_s", 10.0},
                      {"hits_per_event", 1234.0},
                      {"latency_ms", {{"p50", 50.0}, {"p99", 99.0}}},
                      {"queue_ms", {{"p50", 5.0}, {"p99", 9.0}}},
                      {"stage_ms", {{"gnn", {{"mean", 7.5}}}, {"total", {{"mean", 20.0}}}}},
                      {"producer_ms_per_event", {{"read", 2.0}, {"send", 1.0}, {"write", 3.0}}},
                      {"servers", nlohmann::json::array()},
                      {"producers", nlohmann::json::array()}};
  for (double b : busy) r["servers"].push_back({{"busy_fraction", b}, {"gpu_stats", nullptr}});
  for (double w : wait) r["producers"].push_back({{"wait_fraction", w}});
  std::ofstream(dir / "report.json") << r.dump();

  auto m = rowByColumn(reportRow((dir / "report.json").string(), "p1,5"));
  CHECK(m["label"] == "p1,5");
  CHECK(m["nodes"] == "2");  // counted from the layout text of a report without "nodes"
  CHECK(m["servers"] == "2");
  CHECK(m["producers"] == "3");
  CHECK(std::stod(m["producers_per_server"]) == Approx(3.0 / 2.0));
  CHECK(std::stod(m["server_busy"]) == Approx((busy[0] + busy[1]) / 2));
  CHECK(std::stod(m["producer_wait"]) == Approx((wait[0] + wait[1] + wait[2]) / 3));
  CHECK(std::stod(m["producer_ms_per_event"]) == Approx(2.0 + 1.0 + 3.0));
  CHECK(std::stod(m["server_events_per_s"]) == Approx(10.0 / (2 * (busy[0] + busy[1]) / 2)));
  CHECK(std::stod(m["stage_gnn_ms"]) == Approx(7.5));
  CHECK(m["stage_filter_ms"].empty());
  CHECK(m["gpu_busy"].empty());
  CHECK(m["efficiency"].empty());
  CHECK(m["latency_p99_ms"] == "99");

  r["nodes"] = 4;
  r["servers"][0]["gpu_stats"] = {{"busy_fraction", 0.9}};
  r["servers"][1]["gpu_stats"] = {{"busy_fraction", 0.7}};
  r["physics"] = {{"efficiency_pt_gt_1gev", 0.25}, {"fake_rate", 0.125}};
  std::ofstream(dir / "report.json") << r.dump();
  m = rowByColumn(reportRow((dir / "report.json").string(), "x"));
  CHECK(m["nodes"] == "4");
  CHECK(std::stod(m["gpu_busy"]) == Approx(0.8));
  CHECK(std::stod(m["efficiency"]) == Approx(0.25));
  CHECK(std::stod(m["fake_rate"]) == Approx(0.125));
  // Reports with physics in scopes: the whole event's numbers, not the processed hits'.
  r["physics"] = {{"selection", {{"processed_volumes", {7, 8, 9}}}},
                  {"processed", {{"efficiency_pt_gt_1gev", 0.9}, {"fake_rate", 0.01}}},
                  {"event", {{"efficiency_pt_gt_1gev", 0.5}, {"fake_rate", 0.02}}}};
  std::ofstream(dir / "report.json") << r.dump();
  m = rowByColumn(reportRow((dir / "report.json").string(), "x"));
  CHECK(std::stod(m["efficiency"]) == Approx(0.5));
  CHECK(std::stod(m["fake_rate"]) == Approx(0.02));

  CHECK(csvLine({"a", "b,c", "say \"hi\""}) == "a,\"b,c\",\"say \"\"hi\"\"\"");
  std::ofstream(dir / "other.json") << "{\"events\": 3}";
  CHECK_THROWS_WITH(
      reportRow((dir / "other.json").string(), "x"),
      Catch::Contains("not a trkaas service report") && Catch::Contains("other.json"));
  CHECK_THROWS_WITH(reportRow((dir / "none.json").string(), "x"), Catch::Contains("none.json"));
}

TEST_CASE("campaign: array specs and shell quoting", "[campaign]") {
  CHECK(arraySpec({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8");
  CHECK(arraySpec({3}) == "3");
  CHECK(shellQuote("/a/b-c.h5") == "/a/b-c.h5");
  CHECK(shellQuote("it's a dir") == "'it'\\''s a dir'");
  CHECK(shellQuote("") == "''");
}

TEST_CASE("campaign plan: whole files in order up to the time budget", "[campaign][plan]") {
  const fs::path dir = freshDir("plan");
  const std::vector<int> sizes = {3, 4, 2, 6, 1, 12};
  PlanConfig p;
  for (std::size_t f = 0; f < sizes.size(); ++f) {
    p.inputs.push_back(writeEvents(dir / ("in" + std::to_string(f) + ".h5"), sizes[f],
                                   100 * static_cast<std::int64_t>(f)));
  }
  std::ofstream(dir / "broken.h5") << "not HDF5";
  p.inputs.push_back((dir / "broken.h5").string());
  std::ofstream(dir / "pipeline.yaml") << "format: trkaas-pipeline\n";
  p.pipelineConfig = (dir / "pipeline.yaml").string();
  p.dir = (dir / "camp").string();
  p.ratePerNode = 0.01;
  p.nodes = 2;
  p.timeLimitSeconds = 700;
  p.marginSeconds = 300;
  p.runArgs = {"-C", "4"};
  const std::int64_t budget =
      static_cast<std::int64_t>(p.ratePerNode * p.nodes * (p.timeLimitSeconds - p.marginSeconds));
  const Campaign c = planCampaign(p);
  CHECK(c.eventsPerChunk == budget);
  // The expected chunks by the rule: add whole files while the sum stays within the budget.
  std::vector<std::vector<int>> expected{{}};
  std::int64_t sum = 0;
  for (int f = 0; f < static_cast<int>(sizes.size()) + 1; ++f) {
    const int n = f < static_cast<int>(sizes.size()) ? sizes[f] : 0;
    if (!expected.back().empty() && sum + n > budget) {
      expected.push_back({});
      sum = 0;
    }
    expected.back().push_back(f);
    sum += n;
  }
  REQUIRE(c.chunks.size() == expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) CHECK(c.chunks[k].inputs == expected[k]);
  CHECK(c.inputs.back().events == -1);
  CHECK_THAT(c.inputs.back().error, Catch::Contains("broken.h5"));
  CHECK(c.totalEvents() == 3 + 4 + 2 + 6 + 1 + 12);
  // The chunk's files and trkaas arguments, one per line, as the batch scripts read them.
  std::ifstream args(fs::path(c.chunkDir(1)) / "args");
  std::vector<std::string> lines;
  for (std::string l; std::getline(args, l);) lines.push_back(l);
  CHECK(lines == std::vector<std::string>{"-c", fs::weakly_canonical(p.pipelineConfig).string(),
                                          "-o", c.chunkDir(1), "--input-list",
                                          c.chunkDir(1) + "/inputs.txt", "-C", "4"});
  // Reloaded from campaign.json: the same plan.
  const Campaign again = loadCampaign(p.dir);
  REQUIRE(again.chunks.size() == c.chunks.size());
  for (std::size_t k = 0; k < c.chunks.size(); ++k)
    CHECK(again.chunks[k].inputs == c.chunks[k].inputs);
  CHECK(again.config.runArgs == p.runArgs);
  // Sized from a calibration run's report instead: its events/s per node.
  {
    const double rate = 6.0;
    const int nodes = 3;
    std::ofstream(dir / "calib.json")
        << nlohmann::json{{"events_per_s", rate}, {"events_done", 30}, {"nodes", nodes}}.dump();
    PlanConfig q = p;
    q.dir = (dir / "camp-calibrated").string();
    q.ratePerNode = 0;
    q.calibrationReport = (dir / "calib.json").string();
    q.nodes = 1;
    q.timeLimitSeconds = 310;
    q.marginSeconds = 300;
    const Campaign cal = planCampaign(q);
    CHECK(cal.config.ratePerNode == Approx(rate / nodes));
    CHECK(cal.eventsPerChunk == static_cast<std::int64_t>(rate / nodes * q.nodes * 10));
    std::ofstream(dir / "empty.json")
        << nlohmann::json{{"events_per_s", 0.0}, {"events_done", 0}}.dump();
    q.dir = (dir / "camp-empty").string();
    q.calibrationReport = (dir / "empty.json").string();
    CHECK_THROWS_WITH(planCampaign(q), Catch::Contains("no events done"));
  }
  // A second plan in the same directory, no rate, a margin beyond the limit: refused.
  CHECK_THROWS_WITH(planCampaign(p), Catch::Contains("already has a plan"));
  p.dir = (dir / "camp2").string();
  p.ratePerNode = 0;
  CHECK_THROWS_WITH(planCampaign(p), Catch::Contains("--calibration"));
  p.ratePerNode = 1;
  p.marginSeconds = 800;
  CHECK_THROWS_WITH(planCampaign(p), Catch::Contains("margin"));
}

TEST_CASE("campaign verify: exactly once and what breaks it", "[campaign][verify]") {
  const fs::path dir = freshDir("verify");
  PlanConfig p;
  const std::string a = writeEvents(dir / "a.h5", 4, 10);
  const std::string b = writeEvents(dir / "b.h5", 3, 20);
  std::ofstream(dir / "broken.h5") << "not HDF5";
  p.inputs = {a, b, (dir / "broken.h5").string()};
  std::ofstream(dir / "pipeline.yaml") << "format: trkaas-pipeline\n";
  p.pipelineConfig = (dir / "pipeline.yaml").string();
  p.dir = (dir / "camp").string();
  p.eventsPerChunk = 100;  // one chunk
  const Campaign c = planCampaign(p);
  REQUIRE(c.chunks.size() == 1);
  const fs::path out = c.chunkDir(0);
  const std::string brokenPath = c.inputs[2].path;

  auto status = [&] { return campaignStatus(c, true).at(0); };
  ChunkStatus s = status();
  CHECK(s.planned == 7);
  CHECK(s.missing == 7);
  CHECK(s.missingFiles == 1);
  CHECK_FALSE(s.complete());
  CHECK(campaignExitCode({s}) == kCampaignWorkLeft);
  ChunkStatus allTracks;
  allTracks.planned = allTracks.done = 2;
  CHECK(campaignExitCode({allTracks}) == kCampaignComplete);

  // Run 1 does a0, a1, b0 and fails b1; b2 and a2, a3 are in a run killed before commit.
  writeRun(out, 1, {{{a, 0}, 10}, {{a, 1}, 11}, {{b, 0}, 20}});
  {
    JournalWriter j((out / journalFileName(1, 0)).string());
    j.error({b, 1}, 21, "too many hits");
    j.error({brokenPath, -1}, -1, "not an HDF5 file");
  }
  writeRun(out, 2, {{{a, 2}, 12}, {{a, 3}, 13}, {{b, 2}, 22}}, false);
  s = status();
  CHECK(s.done == 3);
  CHECK(s.failed == 1);
  CHECK(s.missing == 3);
  CHECK(s.fileErrors == 1);
  CHECK(s.missingFiles == 0);
  CHECK(s.reasons.at("too many hits") == 1);
  CHECK(s.problems.empty());
  CHECK_FALSE(s.complete());

  // Run 3 (a resume) does the lost ones: complete, every event exactly once.
  writeRun(out, 3, {{{a, 2}, 12}, {{a, 3}, 13}, {{b, 2}, 22}});
  s = status();
  CHECK(s.done == 6);
  CHECK(s.failed == 1);
  CHECK(s.missing == 0);
  CHECK(s.duplicates == 0);
  CHECK(s.problems.empty());
  CHECK(s.complete());
  CHECK(s.runs == 3);
  CHECK(campaignExitCode({s}) == kCampaignDoneWithFailures);  // b1 and the broken file
  CHECK(campaignExitCode(campaignStatus(c, true, 3)) == kCampaignDoneWithFailures);

  SECTION("an event written twice is a duplicate") {
    writeRun(out, 4, {{{a, 1}, 11}});
    s = status();
    CHECK(s.duplicates == 1);
    CHECK_FALSE(s.complete());
    CHECK_THAT(s.problems.at(0),
               Catch::Contains("event 1 of") && Catch::Contains("2 tracks records"));
    CHECK(campaignExitCode({s}) == kCampaignFailed);
  }
  SECTION("the same runs, some in the older layout (one directory), count the same") {
    // Reports of runs 1 and 3 (run 2 was killed before it wrote one).
    for (const auto& [run, done] : {std::pair<int, int>{1, 3}, {3, 3}}) {
      const nlohmann::json r = {{"mode", "service"},
                                {"run", run},
                                {"events_done", done},
                                {"events_failed", run == 1 ? 1 : 0},
                                {"wall_s", 2.0},
                                {"events_per_s", done / 2.0},
                                {"latency_ms", {{"p50", 1.0}}},
                                {"producer_ms_per_event", nlohmann::json::object()},
                                {"servers", nlohmann::json::array()},
                                {"producers", nlohmann::json::array()}};
      std::ofstream(out / runReportName(run)) << r.dump();
    }
    flattenRun(out, 1);
    flattenRun(out, 2);
    REQUIRE(fs::exists(out / "journal-r001-p0000.jsonl"));
    REQUIRE_FALSE(fs::exists(out / runDirName(1)));
    s = status();
    CHECK(s.done == 6);
    CHECK(s.failed == 1);
    CHECK(s.missing == 0);
    CHECK(s.duplicates == 0);
    CHECK(s.problems.empty());
    CHECK(s.complete());
    CHECK(s.runs == 3);
    // The merged report reads both runs' reports, each in its own layout.
    REQUIRE(fs::exists(out / "report-r001.json"));
    mergeReports(c);
    std::ifstream csv(fs::path(c.dir) / "runs.csv");
    const std::string rows((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
    CHECK_THAT(rows, Catch::Contains("chunk-0000/r001,") && Catch::Contains("chunk-0000/r003,"));
    std::ifstream merged(fs::path(c.dir) / "report.json");
    const auto total = nlohmann::json::parse(merged);
    CHECK(total["runs"] == 2);
    CHECK(total["events_done"] == 6);
    CHECK(total["events_failed"] == 1);
    // Now an older tracks file is lost: its events are missing again.
    fs::remove(out / "tracks-r001-p0000.h5");
    s = status();
    CHECK(s.done == 3);
    CHECK(s.missing == 3);
  }
  SECTION("a tracks file with an event its journal does not list") {
    const std::string name = tracksFileName(5, 0);
    fs::create_directories(out / runDirName(5));
    TracksFileWriter w((out / name).string());
    Tracks t;
    t.eventId = 99;
    t.hitId = {1};
    t.label = {0};
    w.append(t);
    w.close();
    JournalWriter((out / journalFileName(5, 0)).string()).commit(name, 1);
    s = status();
    CHECK_FALSE(s.complete());
    REQUIRE(s.problems.size() == 1);
    CHECK_THAT(s.problems[0], Catch::Contains("event id 99 with no journal record"));
    CHECK(campaignStatus(c, false).at(0).complete());  // only verify opens the files
  }
  SECTION("a committed tracks file that is gone") {
    fs::remove(out / tracksFileName(1, 0));
    s = status();
    CHECK(s.done == 3);
    CHECK(s.missing == 3);
    CHECK_FALSE(s.complete());
  }
}

namespace {

/// A plan of `n` one-event files, one file per chunk, with a batch script.
Campaign planOneEventChunks(const fs::path& dir, int n, const std::string& name) {
  PlanConfig p;
  for (int f = 0; f < n; ++f) {
    p.inputs.push_back(writeEvents(dir / ("in" + std::to_string(f) + ".h5"), 1, f));
  }
  std::ofstream(dir / "pipeline.yaml") << "format: trkaas-pipeline\n";
  std::ofstream(dir / "job.sbatch") << "#!/bin/bash\n";
  p.pipelineConfig = (dir / "pipeline.yaml").string();
  p.script = (dir / "job.sbatch").string();
  p.profile = "local";
  p.dir = (dir / name).string();
  p.eventsPerChunk = 1;
  p.sbatchArgs = {"--account=m1"};
  p.resubmitSbatchArgs = {"--qos=shared"};
  return planCampaign(p);
}

/// What Slurm makes of an --output pattern for array task `task` (only %Na is used).
std::string expandArrayPattern(const std::string& pattern, int task) {
  const auto pct = pattern.find('%');
  REQUIRE(pct != std::string::npos);
  const auto a = pattern.find('a', pct);
  const int width = std::stoi(pattern.substr(pct + 1, a - pct - 1));
  std::string t = std::to_string(task);
  if (static_cast<int>(t.size()) < width) t.insert(0, width - t.size(), '0');
  return pattern.substr(0, pct) + t + pattern.substr(a + 1);
}

std::string optionValue(const std::string& command, const std::string& option) {
  const std::string key = option + "=";
  std::size_t p = command.rfind(key, 0) == 0 ? 0 : command.find(" " + key);
  REQUIRE(p != std::string::npos);
  const auto start = (p == 0 ? 0 : p + 1) + key.size();
  return command.substr(start, command.find(' ', start) - start);
}

std::vector<std::string> argsOf(const fs::path& chunkDir) {
  std::ifstream in(chunkDir / "args");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace

TEST_CASE("campaign arrays: chunk numbers beyond MaxArraySize", "[campaign][submit]") {
  const fs::path dir = freshDir("arrays");
  const Campaign c = planOneEventChunks(dir, 25, "camp");
  REQUIRE(c.chunks.size() == 25);
  std::vector<int> all(25);
  for (int k = 0; k < 25; ++k) all[k] = k;

  // Within Slurm's limit: one array, the campaign directory itself, logs chunk-NNNN.log.
  std::vector<ArrayJob> arrays = arrayJobs(c, all, {}, kDefaultMaxArraySize);
  REQUIRE(arrays.size() == 1);
  CHECK(optionValue(arrays[0].command, "--array") == "0-24");
  CHECK(optionValue(arrays[0].command, "env TRKAAS_CAMPAIGN") == c.dir);
  CHECK(expandArrayPattern(optionValue(arrays[0].command, "--output"), 7) ==
        (fs::path(c.dir) / "logs" / "chunk-0007.log").string());
  CHECK_THAT(arrays[0].command,
             Catch::Contains("--account=m1") && Catch::Contains("--time=2:00:00"));
  CHECK_THAT(arrays[0].command, !Catch::Contains("--dependency"));

  // MaxArraySize 10 (indices 0-9): blocks of 10 chunks, each task finds its chunk's
  // arguments where the batch scripts look ($TRKAAS_CAMPAIGN/chunks/chunk-%04d/args of the
  // task) and logs to the chunk's own log name.
  SubmitOptions o;
  o.maxParallel = 3;
  arrays = arrayJobs(c, all, o, 10);
  REQUIRE(arrays.size() == 3);
  for (int b = 0; b < 3; ++b) {
    const ArrayJob& a = arrays[b];
    CHECK(a.offset == 10 * b);
    CHECK(optionValue(a.command, "--array") == (b < 2 ? "0-9%3" : "0-4%3"));
    CHECK((a.command.find("--dependency=afterany:") != std::string::npos) == (b > 0));
    const std::string view = optionValue(a.command, "env TRKAAS_CAMPAIGN");
    for (int k : a.chunks) {
      char task[16];
      std::snprintf(task, sizeof task, "chunk-%04d", k - a.offset);
      const std::vector<std::string> args = argsOf(fs::path(view) / "chunks" / task);
      REQUIRE(args.size() >= 4);
      CHECK(args[3] == c.chunkDir(k));  // -o: the real chunk directory
      CHECK(expandArrayPattern(optionValue(a.command, "--output"), k - a.offset) ==
            (fs::path(c.dir) / "logs" / (fs::path(c.chunkDir(k)).filename().string() + ".log"))
                .string());
    }
  }
  // A resubmission of a few chunks: only the blocks they are in, only their indices.
  arrays = arrayJobs(c, {3, 12, 13, 24}, {}, 10);
  REQUIRE(arrays.size() == 3);
  CHECK(optionValue(arrays[0].command, "--array") == "3");
  CHECK(optionValue(arrays[1].command, "--array") == "2-3");
  CHECK(optionValue(arrays[2].command, "--array") == "4");
  CHECK_THROWS_WITH(arrayJobs(c, all, {}, 9), Catch::Contains("MaxArraySize is 9"));

  // squeue's tasks map back to chunks through each array's offset.
  const std::map<int, QueuedTask> q =
      parseQueue("100_3 RUNNING\n101_2 PENDING\n999_1 RUNNING\n101_[5-6] PENDING\n102 PENDING\n",
                 {{"100", 0}, {"101", 10}});
  REQUIRE(q.size() == 2);
  CHECK(q.at(3).state == "RUNNING");
  CHECK(q.at(3).job == "100");
  CHECK(q.at(12).state == "PENDING");
  CHECK(q.at(12).job == "101");
}

TEST_CASE("campaign automatic resubmission: the job after the arrays", "[campaign][submit]") {
  const fs::path dir = freshDir("followup");
  const Campaign c = planOneEventChunks(dir, 2, "camp");
  const std::string cmd = followUpCommand(c, {"11", "12"}, 2, true);
  CHECK_THAT(cmd, Catch::Contains("--dependency=afterany:11:12"));
  CHECK_THAT(cmd, Catch::Contains("--job-name=trkaas-camp-resubmit"));
  CHECK_THAT(cmd, Catch::Contains("--profile local"));
  // The plan's sbatch options, then the resubmission job's own (which win).
  CHECK(cmd.find("--account=m1") < cmd.find("--qos=shared"));
  const fs::path script = fs::path(c.dir) / "resubmit.sbatch";
  CHECK_THAT(cmd, Catch::EndsWith(script.string() + " " + c.dir + " 2 --retry-failed"));
  REQUIRE(fs::exists(script));
  CHECK((fs::status(script).permissions() & fs::perms::owner_exec) != fs::perms::none);
  CHECK(std::system(("bash -n " + script.string()).c_str()) == 0);
  std::ifstream in(script);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("campaign resubmit \"$1\" --follow-up \"$2\""));
  // Submitted from inside a job: the new jobs must not inherit its SLURM_NTASKS=1 & co.
  CHECK(std::system(
            ("env SLURM_NTASKS=1 SLURM_JOB_ID=7 SLURM_CONF=/x TRKAAS_ROOT=/nonexistent bash -c "
             "'eval \"$(grep \"^for v in\" " +
             script.string() +
             ")\"; [[ -z ${SLURM_NTASKS:-} && -z ${SLURM_JOB_ID:-} && "
             "$SLURM_CONF == /x ]]'")
                .c_str()) == 0);
  CHECK_THROWS_WITH(followUpCommand(c, {}, 1, false), Catch::Contains("no job to wait for"));
}

TEST_CASE("campaign plan: chunks fit the minimum time limit and the fill fraction",
          "[campaign][plan]") {
  PlanConfig p;
  p.timeLimitSeconds = 7200;
  p.marginSeconds = 300;
  p.fill = 0.85;
  CHECK(chunkBudgetSeconds(p) == Approx(0.85 * 7200));  // the fill, not the margin, binds
  p.timeMinSeconds = 600;
  CHECK(chunkBudgetSeconds(p) == Approx(600 - 300));  // the margin binds on a short minimum
  p.timeMinSeconds = 7200 / 2;
  CHECK(chunkBudgetSeconds(p) == Approx(0.85 * 3600));

  const fs::path dir = freshDir("timemin");
  p.inputs = {writeEvents(dir / "a.h5", 3, 0)};
  std::ofstream(dir / "pipeline.yaml") << "format: trkaas-pipeline\n";
  std::ofstream(dir / "job.sbatch") << "#!/bin/bash\n";
  p.pipelineConfig = (dir / "pipeline.yaml").string();
  p.script = (dir / "job.sbatch").string();
  p.ratePerNode = 0.01;
  p.dir = (dir / "camp").string();
  const Campaign c = planCampaign(p);
  CHECK(c.eventsPerChunk == static_cast<std::int64_t>(0.01 * 0.85 * 3600));
  const Campaign again = loadCampaign(p.dir);
  CHECK(again.config.timeMinSeconds == Approx(3600));
  CHECK(again.config.fill == Approx(0.85));
  const std::string cmd = arrayJobs(again, {0}, {}, kDefaultMaxArraySize).at(0).command;
  CHECK(optionValue(cmd, "--time") == "2:00:00");
  CHECK(optionValue(cmd, "--time-min") == "1:00:00");

  p.dir = (dir / "camp2").string();
  p.timeMinSeconds = 8000;
  CHECK_THROWS_WITH(planCampaign(p), Catch::Contains("--time-min"));
  p.timeMinSeconds = 0;
  p.fill = 1.5;
  CHECK_THROWS_WITH(planCampaign(p), Catch::Contains("--fill"));
}

TEST_CASE("campaign resubmit: what to submit, what to wait for, when to stop",
          "[campaign][submit]") {
  // Chunk 0 complete, 1 missing events, 2 missing but requeued in Slurm, 3 only failures.
  std::vector<ChunkStatus> st(4);
  for (int k = 0; k < 4; ++k) st[k].index = k;
  st[1].missing = 5;
  st[2].missing = 2;
  st[3].failed = 1;
  const std::map<int, QueuedTask> queued = {{2, {"PENDING", "77"}}, {0, {"RUNNING", "76"}}};
  using P = ResubmitPlan;

  P p = planResubmit(st, queued, false, -1, -1);  // by hand, no automatic rounds
  CHECK(p.action == P::kSubmit);
  CHECK(p.chunks == std::vector<int>{1});
  CHECK(p.waitFor == std::vector<std::string>{"77"});
  CHECK(p.followUpRounds == -1);
  CHECK(planResubmit(st, queued, true, -1, -1).chunks == std::vector<int>{1, 3});
  CHECK(planResubmit(st, queued, false, 2, -1).followUpRounds == 2);  // --auto-resubmit 2

  // As the resubmission job: each submission uses a round; none left: exit with work left.
  CHECK(planResubmit(st, queued, false, -1, 2).followUpRounds == 1);
  CHECK(planResubmit(st, queued, false, -1, 1).followUpRounds == 0);
  p = planResubmit(st, queued, false, -1, 0);
  CHECK(p.action == P::kRoundsUsedUp);
  CHECK(p.chunks == std::vector<int>{1});

  // Only queued chunks left: wait for them without using a round; by hand, nothing to do.
  st[1].missing = 0;
  p = planResubmit(st, queued, false, -1, 1);
  CHECK(p.action == P::kWait);
  CHECK(p.waitFor == std::vector<std::string>{"77"});
  CHECK(p.followUpRounds == 1);
  CHECK(planResubmit(st, queued, false, -1, -1).action == P::kNothing);

  // Nothing incomplete anywhere: the resubmission job ends the campaign (verify).
  st[2].missing = 0;
  CHECK(planResubmit(st, queued, false, -1, 0).action == P::kFinished);
  CHECK(planResubmit(st, queued, false, -1, -1).action == P::kNothing);
  CHECK(planResubmit(st, queued, true, -1, 0).action == P::kRoundsUsedUp);  // chunk 3's failure
}
