// Report rows (trkaas report), campaign planning, and status/verify on real event files,
// real tracks files and real journals.
#include <algorithm>
#include <filesystem>
#include <fstream>
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

  SECTION("an event written twice is a duplicate") {
    writeRun(out, 4, {{{a, 1}, 11}});
    s = status();
    CHECK(s.duplicates == 1);
    CHECK_FALSE(s.complete());
    CHECK_THAT(s.problems.at(0),
               Catch::Contains("event 1 of") && Catch::Contains("2 tracks records"));
  }
  SECTION("a tracks file with an event its journal does not list") {
    const std::string name = tracksFileName(5, 0);
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
