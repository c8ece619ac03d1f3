// The trkaas command line, end to end: each test runs the built binary as a user would
// and checks the files it writes with the io library (never against its own output).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "CliRunner.hpp"
#include "EventCompare.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TrackMLCsv.hpp"
#include "trkaas/io/TracksFile.hpp"

using namespace trkaas;
using trkaas::test::CliResult;
using trkaas::test::runCli;
using trkaas::test::tmp;

namespace {

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> sortedLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

TEST_CASE("help explains every subcommand", "[cli]") {
  const CliResult r = runCli("--help");
  REQUIRE(r.code == 0);
  for (const char* word : {"generate", "convert", "inspect"}) {
    REQUIRE_THAT(r.output, HasSubstring(word));
  }
  REQUIRE(runCli("generate --help").code == 0);
  REQUIRE(runCli("").code != 0);  // a subcommand is required
}

TEST_CASE("generate: same seed gives a byte-identical file, whatever the threads", "[cli]") {
  const std::string a = tmp("gen_a.h5"), b = tmp("gen_b.h5"), c = tmp("gen_c.h5");
  REQUIRE(runCli("generate -n 3 --pileup 5 --seed 11 -j 1 -f -o " + a).code == 0);
  REQUIRE(runCli("generate -n 3 --pileup 5 --seed 11 -j 2 -f -o " + b).code == 0);
  REQUIRE(runCli("generate -n 3 --pileup 5 --seed 12 -j 2 -f -o " + c).code == 0);
  REQUIRE(bytes(a).size() > 10000);
  REQUIRE(bytes(a) == bytes(b));
  REQUIRE(bytes(a) != bytes(c));
  EventFileReader reader(a);
  REQUIRE(reader.numEvents() == 3);
  REQUIRE(reader.hasTruth());
  REQUIRE(reader.hasParticles());
  REQUIRE(reader.eventId(0) == 0);
  REQUIRE(reader.eventId(2) == 2);
}

TEST_CASE("generate refuses to overwrite without --force and checks its options", "[cli]") {
  const std::string out = tmp("gen_exists.h5");
  REQUIRE(runCli("generate -n 1 --pileup 1 -f -o " + out).code == 0);
  CliResult r = runCli("generate -n 1 --pileup 1 -o " + out);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("use --force"));
  r = runCli("generate -n 0 -f -o " + out);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("--events must be positive"));
  r = runCli("generate -n 1 --volumes 7,99 -f -o " + out);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("99"));
  r = runCli("generate -n 2 --first-event-id 9223372036854775807 -f -o " + out);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("--first-event-id must be >= 0 and leave room for 2"));
  r = runCli("generate -n 2 --first-event-id -1 -f -o " + out);
  REQUIRE(r.code == 1);
  r = runCli("generate -n 2 -j 100000 -f -o " + out);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("--threads must be between 1 and"));
  r = runCli("generate -n 1 -f -o " + std::string(TRKAAS_TEST_TMP));
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("is a directory"));
}

TEST_CASE("generate reads a YAML config and names unknown keys", "[cli]") {
  const std::string good = tmp("gen.yaml"), bad = tmp("gen_bad.yaml");
  std::ofstream(good) << "generator:\n  pileup: 20\n  volumes: [8]\n  seed: 5\n";
  std::ofstream(bad) << "generator:\n  pilup: 2\n";
  const std::string out = tmp("gen_yaml.h5");
  REQUIRE(runCli("generate -n 2 -c " + good + " -f -o " + out).code == 0);
  const Event e = EventFileReader(out).read(0);
  for (std::int32_t v : e.hits.volumeId) REQUIRE(v == 8);
  const CliResult r = runCli("generate -n 1 -c " + bad + " -f -o " + out);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("unknown key generator.pilup"));
}

TEST_CASE("generate --physics: basic is the default, full adds hits of new particles", "[cli]") {
  const std::string plain = tmp("phys_default.h5"), basic = tmp("phys_basic.h5"),
                    full = tmp("phys_full.h5");
  const std::string common = "generate -n 2 --pileup 10 --seed 21 -j 2 -f ";
  REQUIRE(runCli(common + "-o " + plain).code == 0);
  REQUIRE(runCli(common + "--physics basic -o " + basic).code == 0);
  REQUIRE(runCli(common + "--physics full -o " + full).code == 0);
  REQUIRE(bytes(plain) == bytes(basic));
  REQUIRE(bytes(plain) != bytes(full));
  // Full physics: delta electrons and secondaries leave hits of particles that the basic
  // event does not have, and energy loss moves the primaries' later hits.
  EventFileReader a(plain), b(full);
  REQUIRE(b.numEvents() == 2);
  for (std::int64_t k = 0; k < 2; ++k) {
    const Event e0 = a.read(k), e1 = b.read(k);
    std::vector<std::int64_t> p0(e0.truth.particleId), p1(e1.truth.particleId);
    std::sort(p0.begin(), p0.end());
    std::sort(p1.begin(), p1.end());
    p0.erase(std::unique(p0.begin(), p0.end()), p0.end());
    p1.erase(std::unique(p1.begin(), p1.end()), p1.end());
    std::vector<std::int64_t> added;
    std::set_difference(p1.begin(), p1.end(), p0.begin(), p0.end(), std::back_inserter(added));
    CHECK(!added.empty());
  }
  const CliResult r = runCli(common + "--physics fancy -o " + full);
  REQUIRE(r.code != 0);
  REQUIRE_THAT(r.output, HasSubstring("fancy"));
}

TEST_CASE("convert: event file -> TrackML CSV -> event file keeps every value", "[cli]") {
  const std::string h5 = tmp("conv_in.h5"), dir = tmp("conv_csv"), back = tmp("conv_back.h5");
  REQUIRE(runCli("generate -n 2 --pileup 3 --seed 4 --first-event-id 40 -f -o " + h5).code == 0);
  std::system(("rm -rf " + dir).c_str());
  for (const char* gzip : {"", "--gzip"}) {
    std::system(("rm -rf " + dir).c_str());
    REQUIRE(runCli(std::string("convert ") + gzip + " " + h5 + " " + dir).code == 0);
    REQUIRE(findTrackMLEvents(dir).size() == 2);
    REQUIRE(runCli("convert -f " + dir + " " + back).code == 0);
    EventFileReader original(h5), roundTrip(back);
    REQUIRE(roundTrip.numEvents() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      REQUIRE(test::eventDifference(original.read(i), roundTrip.read(i)) == "");
    }
  }
}

TEST_CASE("convert: TrackML CSV -> event file -> TrackML CSV gives the same text", "[cli]") {
  const std::string sample = TRKAAS_TRACKML_SAMPLE;
  const std::string h5 = tmp("sample.h5"), dir = tmp("sample_back");
  std::system(("rm -rf " + dir).c_str());
  REQUIRE(runCli("convert -f " + sample + " " + h5).code == 0);
  REQUIRE(runCli("convert " + h5 + " " + dir).code == 0);
  for (const char* part : {"hits", "cells", "particles"}) {
    const std::string name = std::string("/event000001000-") + part + ".csv";
    INFO(name);
    REQUIRE(bytes(sample + name).size() > 0);
    REQUIRE(bytes(dir + name) == bytes(sample + name));
  }
  // The sample's truth rows are deliberately not in hit order; export writes them in hit
  // order, so compare the rows as a set.
  const std::string truth = "/event000001000-truth.csv";
  REQUIRE(sortedLines(bytes(dir + truth)) == sortedLines(bytes(sample + truth)));
  REQUIRE(sortedLines(bytes(sample + truth)).size() > 2);
}

TEST_CASE("convert: tracks file -> TrackML submission", "[cli]") {
  const std::string h5 = tmp("tracks_in.h5"), csv = tmp("submission.csv");
  Tracks t;
  t.eventId = 12;
  t.hitId = {30, 10, 20};
  t.label = {4, -1, 4};
  {
    TracksFileWriter writer(h5);
    writer.append(t);
    writer.close();
  }
  REQUIRE(runCli("convert -f " + h5 + " " + csv).code == 0);
  REQUIRE(bytes(csv) == "event_id,hit_id,track_id\n12,30,4\n12,10,-1\n12,20,4\n");
}

TEST_CASE("convert and inspect name the file on bad input", "[cli]") {
  const std::string missing = tmp("no_such.h5");
  CliResult r = runCli("inspect " + missing);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("file '" + missing + "': no such file"));
  const std::string text = tmp("text.h5");
  std::ofstream(text) << "not hdf5\n";
  r = runCli("convert " + text + " " + tmp("out_dir"));
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("not an HDF5 file"));
  // A TrackML directory with one good and one bad event: stop, or skip with --keep-going.
  const std::string dir = tmp("mixed_csv");
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  std::ofstream(dir + "/event000000001-hits.csv")
      << "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,8,2,1\n2,4,5,6,8,2,2\n";
  std::ofstream(dir + "/event000000002-hits.csv")
      << "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,8,2,1\n1,4,5,6,8,2,2\n";
  r = runCli("convert -f " + dir + " " + tmp("mixed.h5"));
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("event 2") && HasSubstring("duplicate hit id 1"));
  r = runCli("convert -f --keep-going " + dir + " " + tmp("mixed.h5"));
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("skipped 1"));
  REQUIRE(EventFileReader(tmp("mixed.h5")).numEvents() == 1);
  // An event whose tables differ from the first event's is named by its own file.
  std::ofstream(dir + "/event000000002-hits.csv")
      << "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,8,2,1\n";
  std::ofstream(dir + "/event000000002-cells.csv") << "hit_id,ch0,ch1,value\n1,3,4,0.5\n";
  r = runCli("convert -f " + dir + " " + tmp("mixed.h5"));
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("event000000002', event 2: has cells, unlike the first"));
}

TEST_CASE("inspect summarises events and tracks", "[cli]") {
  const std::string h5 = tmp("inspect.h5");
  REQUIRE(runCli("generate -n 3 --pileup 2 --seed 9 --pixel-only -f -o " + h5).code == 0);
  EventFileReader reader(h5);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < 3; ++i) hits += reader.read(i).hits.size();
  const CliResult r = runCli("inspect --json " + h5);
  REQUIRE(r.code == 0);
  REQUIRE_THAT(r.output, HasSubstring("\"events\": 3"));
  char mean[64];
  std::snprintf(mean, sizeof mean, "\"mean\": %.1f", static_cast<double>(hits) / 3.0);
  INFO(mean);
  // The JSON mean of hits per event equals what the reader counts (formatting aside).
  const std::size_t pos = r.output.find("\"hits_per_event\"");
  REQUIRE(pos != std::string::npos);
  const std::string tail = r.output.substr(pos);
  const std::size_t m = tail.find("\"mean\": ");
  REQUIRE(m != std::string::npos);
  REQUIRE(std::stod(tail.substr(m + 8)) == Approx(static_cast<double>(hits) / 3.0));
  REQUIRE(r.output.find("\"13\"") == std::string::npos);  // pixel only: no strip volume
}
