// The service's parts that need no MPI: the layout rules, the wire format, the journal, the
// job plan.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "ServiceInternal.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/service/Journal.hpp"
#include "trkaas/service/Layout.hpp"
#include "trkaas/service/Stats.hpp"
#include "trkaas/service/Wire.hpp"

using namespace trkaas;
using trkaas::service::ProducerStats;
namespace fs = std::filesystem;

namespace {
/// `nodes` nodes of `perNode` ranks, `cores` cores and `gpus` GPUs each.
std::vector<RankPlace> cluster(int nodes, int perNode, int cores, int gpus) {
  std::vector<RankPlace> places;
  for (int n = 0; n < nodes; ++n) {
    for (int l = 0; l < perNode; ++l) {
      std::vector<std::string> ids;
      for (int g = 0; g < gpus; ++g) ids.push_back(std::to_string(g));
      places.push_back({n, l, perNode, cores, gpus, "node" + std::to_string(n), ids});
    }
  }
  return places;
}

int count(const Layout& layout, Role role) {
  int n = 0;
  for (const RankPlan& p : layout.ranks) n += p.role == role;
  return n;
}
}  // namespace

TEST_CASE("layout: one server per GPU by default and the rest producers", "[service][layout]") {
  const Layout l = planLayout({}, cluster(2, 8, 64, 4));
  REQUIRE(count(l, Role::kServer) == 8);
  REQUIRE(count(l, Role::kProducer) == 8);
  // Servers are the last local ranks and spread over the node's GPUs.
  for (int node = 0; node < 2; ++node) {
    for (int local = 0; local < 8; ++local) {
      const RankPlan& p = l.ranks[node * 8 + local];
      if (local < 4) {
        REQUIRE(p.role == Role::kProducer);
        REQUIRE(p.threads == 1);
      } else {
        REQUIRE(p.role == Role::kServer);
        REQUIRE(p.device == local - 4);
        REQUIRE(p.threads == (64 - 4) / 4);  // the cores the producers leave
      }
    }
  }
  REQUIRE(l.ranks[0].role == Role::kProducer);  // rank 0 stays a producer
  REQUIRE(l.producers.size() == 8);
  REQUIRE(l.servers.front() == 4);
  REQUIRE_THAT(l.describe(cluster(2, 8, 64, 4)), HasSubstring("server 0, GPU 0"));
}

TEST_CASE("layout: ratio and explicit servers", "[service][layout]") {
  // No GPU: one server per node unless told otherwise.
  REQUIRE(count(planLayout({}, cluster(1, 3, 2, 0)), Role::kServer) == 1);
  LayoutConfig c;
  c.producersPerServer = 3;  // 8 ranks / (3 + 1) = 2 servers
  Layout l = planLayout(c, cluster(1, 8, 16, 0));
  REQUIRE(count(l, Role::kServer) == 2);
  REQUIRE(l.ranks[7].device == -1);
  c = {};
  c.serversPerNode = 2;
  c.serverThreads = 5;
  l = planLayout(c, cluster(3, 4, 16, 0));
  REQUIRE(count(l, Role::kServer) == 6);
  REQUIRE(l.ranks[3].threads == 5);
}

TEST_CASE("layout: impossible layouts are refused with the reason", "[service][layout]") {
  REQUIRE_THROWS_WITH(planLayout({}, cluster(1, 1, 2, 0)),
                      HasSubstring("leave no producer") && HasSubstring("--mode direct"));
  LayoutConfig c;
  c.serversPerNode = 3;
  REQUIRE_THROWS_WITH(planLayout(c, cluster(1, 2, 2, 0)),
                      HasSubstring("has 2 rank(s) but 3 server(s)"));
  REQUIRE_THROWS_WITH(planLayout({}, cluster(1, 2, 2, 4)), HasSubstring("one per visible GPU"));
  c.producersPerServer = 2;
  REQUIRE_THROWS_WITH(planLayout(c, cluster(1, 4, 2, 0)), HasSubstring("not both"));
}

TEST_CASE("layout: producer-only and server-only nodes", "[service][layout]") {
  // A CPU node (no GPU, 4 ranks) and two GPU nodes (2 GPUs, 2 ranks each): the shape of a
  // heterogeneous job whose first component is the CPU node.
  std::vector<RankPlace> places = cluster(1, 4, 64, 0);
  for (RankPlace p : cluster(2, 2, 64, 2)) {
    p.node += 1;
    places.push_back(p);
  }
  LayoutConfig c;
  c.producerNodes = {0};
  c.serverNodes = {1, 2};
  Layout l = planLayout(c, places);
  REQUIRE(l.producers == std::vector<int>{0, 1, 2, 3});
  REQUIRE(l.servers == std::vector<int>{4, 5, 6, 7});
  REQUIRE(l.ranks[4].device == 0);
  REQUIRE(l.ranks[5].device == 1);
  REQUIRE(l.ranks[7].device == 1);
  REQUIRE(l.ranks[5].threads == 32);  // the node's 64 cores shared by its 2 servers
  REQUIRE(l.ranks[0].threads == 1);

  // Only the producer nodes named: the other nodes follow the usual rules (one server per
  // GPU, here every rank of the GPU nodes).
  c.serverNodes.clear();
  l = planLayout(c, places);
  REQUIRE(count(l, Role::kServer) == 4);
  REQUIRE(count(l, Role::kProducer) == 4);

  // A server node among ordinary ones: all its ranks serve, the others keep their producers.
  c = {};
  c.serverNodes = {1};
  l = planLayout(c, cluster(2, 3, 16, 0));
  REQUIRE(count(l, Role::kServer) == 1 + 3);
  REQUIRE(l.ranks[3].role == Role::kServer);

  // Mistakes, with the reason.
  c = {};
  c.producerNodes = {0, 1};
  REQUIRE_THROWS_WITH(planLayout(c, cluster(2, 2, 8, 0)), HasSubstring("no server rank"));
  c.producerNodes = {3};
  REQUIRE_THROWS_WITH(
      planLayout(c, cluster(2, 2, 8, 0)),
      HasSubstring("producer node 3 is not in the job") && HasSubstring("numbered 0 to 1"));
  c.producerNodes = {1};
  c.serverNodes = {1};
  REQUIRE_THROWS_WITH(planLayout(c, cluster(2, 2, 8, 0)),
                      HasSubstring("node 1 is given as a producer node and a server node"));
  c = {};
  c.serverNodes = {0, 1};
  REQUIRE_THROWS_WITH(planLayout(c, cluster(2, 2, 8, 0)), HasSubstring("leave no producer"));
}

TEST_CASE("layout: node lists", "[service][layout]") {
  REQUIRE(parseNodeList("", "--x").empty());
  REQUIRE(parseNodeList("3", "--x") == std::vector<int>{3});
  REQUIRE(parseNodeList("0,2-4,7", "--x") == std::vector<int>{0, 2, 3, 4, 7});
  for (const char* bad : {"a", "1,", ",1", "3-1", "1-", "-1", "1;2", "1 2", "99999999"}) {
    REQUIRE_THROWS_WITH(parseNodeList(bad, "--producer-nodes"),
                        HasSubstring("--producer-nodes: '" + std::string(bad) + "'"));
  }
}

TEST_CASE("wire: requests and results survive the trip, damage is detected", "[service][wire]") {
  Request q;
  q.requestId = 42;
  q.eventId = 7;
  q.hits.push_back(11, 1.5f, -2.0f, 3.25f, 8, 2, 100);
  q.hits.push_back(12, 4.0f, 5.0f, -6.0f, 9, 4, 200);
  q.cells.push_back(11, 3, 4, 0.5f);
  const std::vector<char> bytes = encode(q);
  const Request back = decodeRequest(bytes, "rank 1");
  REQUIRE(back.requestId == 42);
  REQUIRE(back.eventId == 7);
  REQUIRE(back.hits.hitId == q.hits.hitId);
  REQUIRE(back.hits.z == q.hits.z);
  REQUIRE(back.hits.moduleId == q.hits.moduleId);
  REQUIRE(back.cells.value == q.cells.value);

  Result r;
  r.requestId = 42;
  r.eventId = 7;
  r.ok = false;
  r.error = "server 0: too many hits";
  r.label = {3, -1};
  r.record.ms[Stage::kGnn] = 12.5;
  r.record.graphEdges = 99;
  r.queueMs = 1.25;
  r.serverLoad = 3;
  const Result rb = decodeResult(encode(r), "rank 2");
  REQUIRE(rb.error == r.error);
  REQUIRE(!rb.ok);
  REQUIRE(rb.label == r.label);
  REQUIRE(rb.record.ms[Stage::kGnn] == 12.5);
  REQUIRE(rb.record.ms[Stage::kFilter] == 0.0);
  REQUIRE(rb.record.graphEdges == 99);
  REQUIRE(rb.serverLoad == 3);

  std::vector<char> cut(bytes.begin(), bytes.end() - 3);
  REQUIRE_THROWS_WITH(decodeRequest(cut, "rank 1"), HasSubstring("malformed message from rank 1"));
  REQUIRE_THROWS_WITH(decodeResult(bytes, "rank 1"), HasSubstring("not a result message"));
}

TEST_CASE("journal: done counts only in committed files, errors, cut lines", "[service][journal]") {
  const fs::path dir = fs::path(TRKAAS_TEST_TMP) / "journal";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    JournalWriter j((dir / journalFileName(1, 0)).string());
    j.done({"/a.h5", 0}, 100, tracksFileName(1, 0));
    j.done({"/a.h5", 1}, 101, tracksFileName(1, 0));
    j.error({"/a.h5", 2}, 102, "bad hits");
    j.commit(tracksFileName(1, 0), 2);
    JournalWriter k((dir / journalFileName(1, 1)).string());
    k.done({"/b.h5", 0}, 200, tracksFileName(1, 1));  // never committed: killed
  }
  std::ofstream(dir / tracksFileName(1, 0)) << "x";
  std::ofstream(dir / tracksFileName(1, 1)) << "x";
  // A line cut by a kill.
  std::ofstream(dir / journalFileName(1, 1), std::ios::app) << "{\"file\": \"/b.h5\", \"ind";
  JournalState s = loadJournals(dir.string());
  REQUIRE(s.lastRun == 1);
  REQUIRE(s.done == std::set<EventKey>{{"/a.h5", 0}, {"/a.h5", 1}});
  REQUIRE(s.failed.size() == 1);
  REQUIRE(s.failed.at({"/a.h5", 2}) == "bad hits");
  REQUIRE(s.uncommittedFiles == std::vector<std::string>{tracksFileName(1, 1)});
  REQUIRE(s.ignoredLines == 1);
  // A later run redoes the failed event successfully: it is done, not failed.
  {
    JournalWriter j((dir / journalFileName(2, 0)).string());
    j.done({"/a.h5", 2}, 102, tracksFileName(2, 0));
    j.commit(tracksFileName(2, 0), 1);
  }
  std::ofstream(dir / tracksFileName(2, 0)) << "x";
  s = loadJournals(dir.string());
  REQUIRE(s.lastRun == 2);
  REQUIRE(s.done.count({"/a.h5", 2}) == 1);
  REQUIRE(s.failed.empty());
  // A committed file that has disappeared does not count.
  fs::remove(dir / tracksFileName(1, 0));
  s = loadJournals(dir.string());
  REQUIRE(s.done.count({"/a.h5", 0}) == 0);
  // A run killed before its first line still takes its run number, and so does a run
  // killed before its producers opened their files (its directory only).
  JournalWriter((dir / journalFileName(3, 1)).string());
  REQUIRE(loadJournals(dir.string()).lastRun == 3);
  fs::create_directories(dir / runDirName(4));
  REQUIRE(loadJournals(dir.string()).lastRun == 4);
  fs::remove(dir / runDirName(4));
  // The records, line by line, in run and producer order.
  const std::vector<JournalRecord> records = readJournalRecords(dir.string());
  REQUIRE(records.size() == 8);  // 4 + 2 lines of run 1, 2 of run 2, none of run 3
  CHECK(records[0].kind == JournalRecord::kDone);
  CHECK(records[0].eventId == 100);
  CHECK(records[2].kind == JournalRecord::kError);
  CHECK(records[2].reason == "bad hits");
  CHECK(records[3].kind == JournalRecord::kCommit);
  CHECK(records[3].events == 2);
  CHECK(records[5].kind == JournalRecord::kUnreadable);
  CHECK(records[6].run == 2);
}

TEST_CASE("journal: one directory per run, and the older layout with everything in one",
          "[service][journal]") {
  const fs::path dir = fs::path(TRKAAS_TEST_TMP) / "journal_layouts";
  fs::remove_all(dir);
  fs::create_directories(dir);
  REQUIRE(tracksFileName(2, 7) == "run-002/tracks-r002-p0007.h5");
  REQUIRE(journalFileName(12, 0) == "run-012/journal-r012-p0000.jsonl");
  REQUIRE(runReportName(3) == "run-003/report.json");
  // Runs 1 and 2 of the older layout: journals, tracks and reports in the job directory,
  // tracks names without a directory.
  {
    JournalWriter j((dir / "journal-r001-p0000.jsonl").string());
    j.done({"/a.h5", 0}, 100, "tracks-r001-p0000.h5");
    j.error({"/a.h5", 1}, 101, "bad hits");
    j.commit("tracks-r001-p0000.h5", 1);
    JournalWriter k((dir / "journal-r002-p0001.jsonl").string());
    k.done({"/a.h5", 2}, 102, "tracks-r002-p0001.h5");
    k.commit("tracks-r002-p0001.h5", 1);
  }
  std::ofstream(dir / "tracks-r001-p0000.h5") << "x";
  std::ofstream(dir / "tracks-r002-p0001.h5") << "x";
  std::ofstream(dir / "report-r001.json") << "{}";
  std::ofstream(dir / "report-r002.json") << "{}";
  // Run 10 (after the older runs): its own directory; it redoes the failed event.
  {
    JournalWriter j((dir / journalFileName(10, 0)).string());
    REQUIRE(fs::is_directory(dir / runDirName(10)));  // the writer made it
    j.done({"/a.h5", 1}, 101, tracksFileName(10, 0));
    j.done({"/a.h5", 3}, 103, tracksFileName(10, 0));
    j.commit(tracksFileName(10, 0), 2);
  }
  std::ofstream(dir / tracksFileName(10, 0)) << "x";
  std::ofstream(dir / runReportName(10)) << "{}";
  int lastRun = 0;
  const std::vector<std::string> journals = listJournals(dir.string(), &lastRun);
  REQUIRE(lastRun == 10);
  REQUIRE(journals.size() == 3);
  CHECK(fs::path(journals[0]).filename() == "journal-r001-p0000.jsonl");
  CHECK(fs::path(journals[1]).filename() == "journal-r002-p0001.jsonl");
  CHECK(fs::path(journals[2]) == dir / journalFileName(10, 0));
  const JournalState s = loadJournals(dir.string());
  REQUIRE(s.lastRun == 10);
  REQUIRE(s.done == std::set<EventKey>{{"/a.h5", 0}, {"/a.h5", 1}, {"/a.h5", 2}, {"/a.h5", 3}});
  REQUIRE(s.failed.empty());
  REQUIRE(s.committedFiles == std::vector<std::string>{tracksFileName(10, 0),
                                                       "tracks-r001-p0000.h5",
                                                       "tracks-r002-p0001.h5"});
  // The reports of every run, in run order, from both layouts.
  const auto reports = listRunReports(dir.string());
  REQUIRE(reports.size() == 3);
  CHECK(reports[0] == std::pair<int, std::string>{1, (dir / "report-r001.json").string()});
  CHECK(reports[1].first == 2);
  CHECK(reports[2] == std::pair<int, std::string>{10, (dir / runReportName(10)).string()});
  // A tracks file of the older layout that is gone does not count.
  fs::remove(dir / "tracks-r002-p0001.h5");
  REQUIRE(loadJournals(dir.string()).done.count({"/a.h5", 2}) == 0);
}

TEST_CASE("stats: a producer's typed statistics survive JSON, times travel as summaries",
          "[service][stats]") {
  ProducerStats s;
  s.index = 3;
  s.eventsDone = 40;
  s.eventsFailed = 2;
  s.eventsLeft = 7;
  s.hits = 123456;
  s.stopped = true;
  s.wallMs = 900.5;
  s.waitMs = 12.25;
  for (int i = 1; i <= 5000; ++i) {
    s.latencyMs.add(0.5 * i);
    s.stagesMs["gnn"].add(double(i % 97));
  }
  s.errors.push_back({{"file", "a.h5"}, {"index", 4}, {"event", 9}, {"reason", "max_hits"}});
  s.fileErrors = {"b.h5: unreadable"};
  s.tracksFile = "tracks-r000-p0003.h5";
  s.truth = true;
  s.physics.processed.particles = 10;
  s.physics.processed.matchedHighPt = 4;
  s.physics.processed.score = 0.75;
  s.physics.event.weight = 1.0;
  s.physics.event.hits = 12345;

  const nlohmann::json j = s;
  // Fixed size whatever the number of events: the bins, not the 5000 values.
  CHECK(j.at("latencyMs").at("bins").size() <= 400);
  const auto back = j.get<ProducerStats>();
  CHECK(back.index == 3);
  CHECK(back.eventsDone == 40);
  CHECK(back.eventsLeft == 7);
  CHECK(back.stopped);
  CHECK(back.wallMs == 900.5);
  CHECK(back.latencyMs.count() == 5000);
  CHECK(back.latencyMs.bins() == s.latencyMs.bins());
  CHECK(back.latencyMs.quantile(0.99) == s.latencyMs.quantile(0.99));
  CHECK(back.stagesMs.at("gnn").max() == 96.0);
  CHECK(back.errors == s.errors);
  CHECK(back.fileErrors == s.fileErrors);
  CHECK(back.tracksFile == s.tracksFile);
  CHECK(back.physics.processed.particles == 10);
  CHECK(back.physics.processed.matchedHighPt == 4);
  CHECK(back.physics.processed.score == 0.75);
  CHECK(back.physics.event.weight == 1.0);
  CHECK(back.physics.event.hits == 12345);

  // The report's summary of a time: p50 of 0.5 .. 2500 ms within a bin of 1250 ms.
  const nlohmann::json summary = timeSummary(back.latencyMs);
  CHECK(summary.at("count") == 5000);
  CHECK(summary.at("p50").get<double>() == Approx(1250.0).epsilon(0.0116));
  CHECK(summary.at("max").get<double>() == 2500.0);

  nlohmann::json broken = j;
  broken["latencyMs"]["count"] = 4999;
  CHECK_THROWS_WITH(broken.get<ProducerStats>(), HasSubstring("count says"));
}

TEST_CASE("plan: ranges of events per file, each producer gets the share the whole list gives",
          "[service][plan]") {
  using service::InputCount;
  using service::JobPlan;
  using service::WorkItem;
  // a (10 events), b (unreadable), a again (given twice: read once), c (empty), d (7 events).
  const std::vector<InputCount> counts = {{0, "/a.h5", 10, ""},
                                          {1, "/b.h5", -1, "truncated"},
                                          {2, "/a.h5", 10, ""},
                                          {3, "/c.h5", 0, ""},
                                          {4, "/d.h5", 7, ""}};
  const std::vector<std::string> files = {"/a.h5", "/b.h5", "/c.h5", "/d.h5"};
  const std::vector<std::int64_t> events = {10, -1, 0, 7};
  ServiceConfig c;
  c.inputs = {"a.h5", "b.h5", "./a.h5", "c.h5", "d.h5"};
  c.outputDir = "unused";
  JournalState state;
  state.lastRun = 2;
  state.done = {{"/a.h5", 0}, {"/a.h5", 1}, {"/a.h5", 5}, {"/d.h5", 6}, {"/gone.h5", 3}};
  state.failed = {{{"/a.h5", 7}, "bad"}, {{"/b.h5", -1}, "truncated"}, {{"/d.h5", 0}, "bad"}};
  for (const bool retry : {false, true}) {
    for (const std::int64_t most :
         {std::int64_t{-1}, std::int64_t{0}, std::int64_t{5}, std::int64_t{9}, std::int64_t{100}}) {
      INFO("retry " << retry << ", at most " << most);
      c.retryFailed = retry;
      c.maxEvents = most;
      // What the plan was before ranges: every event in order, one by one.
      std::vector<WorkItem> all;
      std::int64_t total = 0, done = 0, failed = 0;
      for (std::size_t f = 0; f < files.size(); ++f) {
        for (std::int64_t i = 0; i < events[f]; ++i) {
          ++total;
          if (state.done.count({files[f], i}) != 0) {
            ++done;
          } else if (!retry && state.failed.count({files[f], i}) != 0) {
            ++failed;
          } else if (most < 0 || static_cast<std::int64_t>(all.size()) < most) {
            all.push_back({static_cast<std::int64_t>(f), i});
          }
        }
      }
      const JobPlan plan =
          service::decodePlan(service::encodePlan(service::decidePlan(c, state, counts)));
      REQUIRE(plan.files == files);
      REQUIRE(plan.counts == events);
      REQUIRE(plan.fileErrors[1] == "truncated");
      REQUIRE(plan.run == 3);
      REQUIRE(plan.totalEvents == total);
      REQUIRE(plan.alreadyDone == done);
      REQUIRE(plan.alreadyFailed == failed);
      REQUIRE(plan.todoEvents == static_cast<std::int64_t>(all.size()));
      for (int n = 1; n <= 6; ++n) {
        std::vector<WorkItem> joined;
        for (int k = 0; k < n; ++k) {
          const std::vector<WorkItem> share = service::planShare(plan, k, n);
          const auto [first, last] = service::shareOf(plan.todoEvents, k, n);
          REQUIRE(static_cast<std::int64_t>(share.size()) == last - first);
          joined.insert(joined.end(), share.begin(), share.end());
        }
        REQUIRE(joined.size() == all.size());
        for (std::size_t e = 0; e < all.size(); ++e) {
          INFO(n << " producers, event " << e);
          REQUIRE(joined[e].file == all[e].file);
          REQUIRE(joined[e].index == all[e].index);
        }
      }
    }
  }
}
