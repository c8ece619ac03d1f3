// Campaign status/verify at scale: generates a campaign of many small input files in many
// chunks with real HDF5 event and tracks files and real journals (several producers per
// run, some runs killed before their commit and redone, some events failed), then times
// `status` and `verify` in-process (with the default number of threads and with one).
// bench/campaign_bench.sh also times the trkaas CLI on the same directory.
//
//   bench_campaign DIR [FILES=10000] [EVENTS_PER_FILE=100] [FILES_PER_CHUNK=10] [THREADS=0]
//   bench_campaign DIR --time-only [THREADS=0]     (an existing DIR/camp)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "trkaas/campaign/Campaign.hpp"
#include "trkaas/core/Event.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"
#include "trkaas/service/Journal.hpp"

using namespace trkaas;
using namespace trkaas::campaign;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kProducers = 4;     // per run, as a 4-producer job writes them
constexpr int kHitsPerEvent = 4;  // the files' size does not matter to status/verify
constexpr int kKilledEvery = 10;  // every 10th chunk: run 1 of producer 0 killed, redone
constexpr int kFailEvery = 997;   // about one event in a thousand gets an error record

double seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Event smallEvent(std::int64_t id) {
  Event e;
  e.eventId = id;
  for (int h = 0; h < kHitsPerEvent; ++h) {
    e.hits.push_back(id * 16 + h, 30.f + 10.f * float(h), 1.f, 2.f, 8, 2, h);
  }
  return e;
}

/// One producer's run on a chunk: tracks and journal lines, committed unless killed.
void writeProducerRun(const fs::path& dir, int run, int producer,
                      const std::vector<std::pair<EventKey, std::int64_t>>& events, bool commit) {
  const std::string tracks = tracksFileName(run, producer);
  fs::create_directories(dir / runDirName(run));
  TracksFileWriter w((dir / tracks).string());
  JournalWriter j((dir / journalFileName(run, producer)).string());
  std::int64_t written = 0;
  for (const auto& [key, id] : events) {
    if (id % kFailEvery == 0) {
      j.error(key, id, "too many edges (bench)");
      continue;
    }
    Tracks t;
    t.eventId = id;
    t.hitId = {id * 16, id * 16 + 1, id * 16 + 2, id * 16 + 3};
    t.label = {0, 0, 1, -1};
    w.append(t);
    j.done(key, id, tracks);
    ++written;
  }
  if (!commit) return;  // killed: the writer's destructor leaves only the .part file
  w.close();
  j.commit(tracks, written);
}

void generate(const fs::path& root, int files, int eventsPerFile, int filesPerChunk) {
  fs::remove_all(root);
  fs::create_directories(root / "inputs");
  auto t0 = Clock::now();
  PlanConfig p;
  for (int f = 0; f < files; ++f) {
    char name[32];
    std::snprintf(name, sizeof name, "in-%06d.h5", f);
    const fs::path path = root / "inputs" / name;
    EventFileWriter w(path.string());
    for (int i = 0; i < eventsPerFile; ++i)
      w.append(smallEvent(std::int64_t(f) * eventsPerFile + i));
    w.close();
    p.inputs.push_back(path.string());
  }
  std::printf("inputs: %d files x %d events written in %.1f s\n", files, eventsPerFile,
              seconds(t0));
  std::ofstream(root / "pipeline.yaml") << "format: trkaas-pipeline\n";
  p.pipelineConfig = (root / "pipeline.yaml").string();
  p.dir = (root / "camp").string();
  p.eventsPerChunk = std::int64_t(filesPerChunk) * eventsPerFile;
  t0 = Clock::now();
  const Campaign c = planCampaign(p);
  std::printf("plan: %zu chunks in %.1f s\n", c.chunks.size(), seconds(t0));
  t0 = Clock::now();
  for (const Chunk& ch : c.chunks) {
    std::vector<std::vector<std::pair<EventKey, std::int64_t>>> byProducer(kProducers);
    std::size_t n = 0;
    for (int i : ch.inputs) {
      const InputInfo& in = c.inputs[i];
      for (std::int64_t e = 0; e < in.events; ++e) {
        const std::int64_t id = std::int64_t(&in - c.inputs.data()) * eventsPerFile + e;
        byProducer[n++ % kProducers].push_back({{in.path, e}, id});
      }
    }
    const fs::path dir = c.chunkDir(ch.index);
    const bool killed = ch.index % kKilledEvery == 0;
    for (int prod = 0; prod < kProducers; ++prod) {
      writeProducerRun(dir, 1, prod, byProducer[prod], !(killed && prod == 0));
    }
    if (killed) writeProducerRun(dir, 2, 0, byProducer[0], true);
  }
  std::printf("runs: journals and tracks files of %zu chunks written in %.1f s\n", c.chunks.size(),
              seconds(t0));
}

void timeStatus(const fs::path& root, int threads) {
  auto t0 = Clock::now();
  const Campaign c = loadCampaign((root / "camp").string());
  std::printf("load: %zu inputs, %zu chunks, %lld events in %.2f s\n", c.inputs.size(),
              c.chunks.size(), static_cast<long long>(c.totalEvents()), seconds(t0));
  for (const bool verify : {false, true}) {
    for (const int t : {threads, 1}) {
      t0 = Clock::now();
      const std::vector<ChunkStatus> st = campaignStatus(c, verify, t);
      const double s = seconds(t0);
      std::int64_t done = 0, failed = 0, missing = 0, problems = 0;
      for (const ChunkStatus& x : st) {
        done += x.done;
        failed += x.failed;
        missing += x.missing;
        problems += static_cast<std::int64_t>(x.problems.size());
      }
      std::printf(
          "%-6s threads=%-3s %.2f s: %lld done, %lld failed, %lld missing, %lld problems, exit "
          "code %d\n",
          verify ? "verify" : "status", t == 0 ? "auto" : std::to_string(t).c_str(), s,
          static_cast<long long>(done), static_cast<long long>(failed),
          static_cast<long long>(missing), static_cast<long long>(problems), campaignExitCode(st));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench_campaign DIR [FILES] [EVENTS_PER_FILE] [FILES_PER_CHUNK] [THREADS]\n"
                 "       bench_campaign DIR --time-only [THREADS]\n");
    return 2;
  }
  const fs::path root = fs::absolute(argv[1]);
  setLogLevel(LogLevel::kError);  // not the killed runs' "tracks file was not finished"
  try {
    if (argc > 2 && std::string(argv[2]) == "--time-only") {
      timeStatus(root, argc > 3 ? std::atoi(argv[3]) : 0);
      return 0;
    }
    const int files = argc > 2 ? std::atoi(argv[2]) : 10000;
    const int perFile = argc > 3 ? std::atoi(argv[3]) : 100;
    const int perChunk = argc > 4 ? std::atoi(argv[4]) : 10;
    generate(root, files, perFile, perChunk);
    timeStatus(root, argc > 5 ? std::atoi(argv[5]) : 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_campaign: %s\n", e.what());
    return 1;
  }
  return 0;
}
