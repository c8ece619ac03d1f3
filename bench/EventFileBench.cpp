// HDF5 event file throughput: writes the same pile-up events at several deflate levels
// and reads them back, sequentially and in random order, timing each. Events are
// generated first (not timed with the I/O). Reads come from the page cache unless the
// caches are dropped, so this measures decoding, not the disk.
//
//   bench_eventfile [EVENTS=20] [PILEUP=200] [DIR=/tmp]
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "trkaas/io/EventFile.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"

using namespace trkaas;
using Clock = std::chrono::steady_clock;

namespace {
double seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::size_t payloadBytes(const Event& e) {
  const std::size_t hit = 8 + 3 * 4 + 3 * 4;
  const std::size_t truth = 8 + 7 * 4;
  const std::size_t particle = 8 + 4 + 6 * 4 + 2 * 4;
  const std::size_t cell = 8 + 3 * 4;
  return e.hits.size() * hit + e.truth.size() * truth + e.particles.size() * particle +
         e.cells.size() * cell;
}

double fileBytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0.0;
}
}  // namespace

int main(int argc, char** argv) {
  const int numEvents = argc > 1 ? std::atoi(argv[1]) : 20;
  const double pileup = argc > 2 ? std::atof(argv[2]) : 200.0;
  const std::string dir = argc > 3 ? argv[3] : "/tmp";

  auto detector = std::make_shared<const Detector>(Detector::load(Detector::defaultPath()));
  GeneratorConfig config;
  config.pileup = pileup;
  config.seed = 2024;
  EventGenerator generator(detector, config);
  std::vector<Event> events;
  std::size_t payload = 0, hits = 0;
  for (int i = 0; i < numEvents; ++i) {
    events.push_back(generator.generate(i));
    payload += payloadBytes(events.back());
    hits += events.back().hits.size();
  }
  std::printf("# %d events at pile-up %.0f: %.0f hits/event, %.2f MB/event uncompressed\n",
              numEvents, pileup, static_cast<double>(hits) / numEvents, payload / 1e6 / numEvents);
  std::printf("%-8s %12s %10s %12s %12s %12s %12s %14s\n", "deflate", "bytes/event", "ratio",
              "write ev/s", "read ev/s", "read MB/s", "file MB/s", "random ev/s");
  for (int level : {0, 1, 4, 9}) {
    const std::string path = dir + "/trkaas_bench_deflate" + std::to_string(level) + ".h5";
    EventFileWriter::Config wc;
    wc.deflateLevel = level;
    auto t0 = Clock::now();
    {
      EventFileWriter writer(path, wc);
      for (const Event& e : events) writer.append(e);
      writer.close();
    }
    const double writeSeconds = seconds(t0);
    const double size = fileBytes(path);

    // Warm-up read (opens the file, fills the page cache), then timed passes.
    { EventFileReader(path).read(0); }
    std::size_t checksum = 0;
    t0 = Clock::now();
    EventFileReader reader(path);
    for (std::size_t i = 0; i < reader.numEvents(); ++i) checksum += reader.read(i).hits.size();
    const double readSeconds = seconds(t0);

    std::vector<std::size_t> order(reader.numEvents());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    t0 = Clock::now();
    for (std::size_t i : order) checksum += reader.read(i).hits.size();
    const double randomSeconds = seconds(t0);
    if (checksum != 2 * hits) {
      std::fprintf(stderr, "read back %zu hits, expected %zu\n", checksum, 2 * hits);
      return 1;
    }
    std::printf("%-8d %12.0f %10.2f %12.1f %12.1f %12.1f %12.1f %14.1f\n", level, size / numEvents,
                payload / size, numEvents / writeSeconds, numEvents / readSeconds,
                payload / 1e6 / readSeconds, size / 1e6 / readSeconds, numEvents / randomSeconds);
    std::remove(path.c_str());
  }
  std::printf(
      "# read/random: one reader, one thread, file in the page cache; "
      "read MB/s counts the decoded event payload\n");
  return 0;
}
