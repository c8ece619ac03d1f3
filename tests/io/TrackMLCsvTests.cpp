// Tests of the TrackML CSV import/export: a hand-written event (tests/data/trackml) read
// and checked against what its files say, round trips in both directions, the
// submission writer, and one test per kind of bad input.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "RequireSameEvent.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Event.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/core/TextFile.hpp"
#include "trkaas/io/TrackMLCsv.hpp"

using namespace trkaas;
using trkaas::test::requireSameEvent;
namespace fs = std::filesystem;

namespace {

const char* const kTables[] = {"hits", "cells", "truth", "particles"};

std::string dataDir() {
  return (fs::path(__FILE__).parent_path().parent_path() / "data" / "trackml").string();
}

std::string sampleEvent() { return dataDir() + "/event000001000"; }

/// A fresh, empty scratch directory for one test.
std::string scratchDir(const std::string& name) {
  const fs::path dir = fs::path(TRKAAS_TEST_TMP) / "trackml" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Text of a plain or gzip file, one '\n' after every line.
std::string readLines(const std::string& path) {
  LineReader reader(path);
  std::string line, text;
  while (reader.next(line)) text += line + "\n";
  return text;
}

void writeBytes(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

void writeGzip(const std::string& path, const std::string& text) {
  TextWriter writer(path, true);
  writer.write(text);
  writer.close();
}

bool isGzip(const std::string& path) {
  const std::string bytes = readBytes(path);
  return bytes.size() > 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

/// A finite float from random bits: every exponent, subnormals, -0 included.
float randomFloat(std::mt19937_64& rng) {
  while (true) {
    const auto word = static_cast<std::uint32_t>(rng());
    float f;
    std::memcpy(&f, &word, sizeof f);
    if (std::isfinite(f)) return f;
  }
}

/// An event whose every column holds values that are hard to print and read back.
Event randomEvent(std::int64_t eventId, std::size_t nHits, bool withPdg, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Event event;
  event.eventId = eventId;
  std::unordered_set<std::int64_t> used;
  while (event.hits.size() < nHits) {
    const auto id = static_cast<std::int64_t>(rng());
    if (!used.insert(id).second) continue;
    event.hits.push_back(id, randomFloat(rng), randomFloat(rng), randomFloat(rng),
                         static_cast<std::int32_t>(rng()), static_cast<std::int32_t>(rng()),
                         static_cast<std::int32_t>(rng()));
    event.truth.push_back(static_cast<std::int64_t>(rng()), randomFloat(rng), randomFloat(rng),
                          randomFloat(rng), randomFloat(rng), randomFloat(rng), randomFloat(rng),
                          randomFloat(rng));
  }
  for (std::size_t i = 0; i < 3 * nHits; ++i) {
    event.cells.push_back(event.hits.hitId[rng() % nHits], static_cast<std::int32_t>(rng()),
                          static_cast<std::int32_t>(rng()), randomFloat(rng));
  }
  for (std::size_t i = 0; i < nHits / 2 + 1; ++i) {
    const std::int32_t pdg = withPdg ? static_cast<std::int32_t>(rng()) | 1 : 0;
    event.particles.push_back(static_cast<std::int64_t>(rng()), pdg, randomFloat(rng),
                              randomFloat(rng), randomFloat(rng), randomFloat(rng),
                              randomFloat(rng), randomFloat(rng), static_cast<std::int32_t>(rng()),
                              static_cast<std::int32_t>(rng()));
  }
  return event;
}

/// Lines of `text` in sorted order, joined again.
std::string sortedLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

/// The first field of every line after the header: the hit ids of a hits or truth file.
std::string firstFields(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  bool header = true;
  while (std::getline(in, line)) {
    if (line.find(',') == std::string::npos) continue;  // the file name heading `got`
    if (header) {
      header = false;
      continue;
    }
    out += line.substr(0, line.find(',')) + " ";
  }
  return out;
}

std::string firstLine(const std::string& path) {
  LineReader reader(path);
  std::string line;
  REQUIRE(reader.next(line));
  return line;
}

/// Message of the InputError that `f` throws (other exceptions propagate and fail).
template <typename F>
std::string inputErrorMessage(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no InputError thrown>";
}

/// Empty if `message` contains every part, else says which part is missing; compared
/// with "" so that a failing CHECK prints the whole message.
std::string missingFrom(const std::string& message, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts) {
    if (message.find(part) == std::string::npos) {
      return "'" + part + "' not in: " + message;
    }
  }
  return "";
}

const std::string kHitsHeader = "hit_id,x,y,z,volume_id,layer_id,module_id\n";
const std::string kGoodHits = kHitsHeader + "5,1.5,2.5,3.5,7,2,1\n8,4.5,5.5,6.5,7,2,1\n";
const std::string kTruthHeader = "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n";

}  // namespace

TEST_CASE("TrackML: reads a hand-written event as its files say", "[trackml]") {
  const Event event = readTrackMLEvent(sampleEvent());
  REQUIRE(event.eventId == 1000);

  // hits.csv, in file order, original (unsorted, non-contiguous) ids
  REQUIRE(event.hits.hitId == std::vector<std::int64_t>{17, 3, 250, 42, 9, 1000000007});
  CHECK(event.hits.x ==
        std::vector<float>{-64.4099f, -55.3361f, -83.8305f, -96.1097f, -62.6736f, 31.3458f});
  CHECK(event.hits.y ==
        std::vector<float>{-7.1637f, 0.635342f, -1.14301f, -8.24103f, -9.3712f, -0.211391f});
  CHECK(event.hits.z ==
        std::vector<float>{-1502.5f, -1502.5f, -1502.5f, -1502.5f, -1502.5f, 1502.0f});
  CHECK(event.hits.volumeId == std::vector<std::int32_t>{7, 7, 7, 7, 7, 9});
  CHECK(event.hits.layerId == std::vector<std::int32_t>{2, 2, 2, 2, 2, 2});
  CHECK(event.hits.moduleId == std::vector<std::int32_t>{1, 1, 1, 1, 1, 8});

  // cells.csv, in file order
  REQUIRE(event.cells.size() == 7);
  CHECK(event.cells.hitId == std::vector<std::int64_t>{17, 17, 17, 3, 250, 9, 1000000007});
  CHECK(event.cells.ch0 == std::vector<std::int32_t>{209, 210, 209, 68, 58, 1021, 0});
  CHECK(event.cells.ch1 == std::vector<std::int32_t>{617, 617, 618, 446, 954, 1166, 0});
  CHECK(event.cells.value == std::vector<float>{0.0138317f, 0.0791841f, 0.211723f, 0.0329559f,
                                                0.0510229f, 0.25f, 1.2e-05f});

  // truth.csv lists hits 250, 1000000007, 9, 17, 42, 3: placed in the hits' order
  REQUIRE(event.hasTruth());
  REQUIRE(event.truth.size() == 6);
  CHECK(event.truth.particleId == std::vector<std::int64_t>{4503668346847232, 45035996273704960, 0,
                                                            4503668346847232, 4503668346847232,
                                                            22525763437723648});
  CHECK(event.truth.tx ==
        std::vector<float>{-64.4116f, -55.3385f, -83.8367f, -96.1099f, -62.6759f, 31.3451f});
  CHECK(event.truth.ty ==
        std::vector<float>{-7.16386f, 0.630805f, -1.14341f, -8.24096f, -9.37168f, -0.211457f});
  CHECK(event.truth.tz ==
        std::vector<float>{-1502.5f, -1502.5f, -1502.5f, -1502.5f, -1502.5f, 1502.0f});
  CHECK(event.truth.tpx ==
        std::vector<float>{-0.255637f, -0.5f, -0.0250657f, -0.0f, -0.293682f, 0.474032f});
  CHECK(std::signbit(event.truth.tpx[3]));  // "-0" stays negative zero
  CHECK(event.truth.tpy == std::vector<float>{-0.0358045f, 0.5f, -0.00393749f, -0.0536207f,
                                              -0.0431927f, -0.00312879f});
  CHECK(event.truth.tpz ==
        std::vector<float>{-6.04125f, -1.5f, -0.0527457f, -8.36003f, -6.93549f, 22.7042f});
  CHECK(event.truth.weight ==
        std::vector<float>{7.4561e-06f, 0.000195675f, 0.0f, 0.000100049f, 7.21745e-06f, 1.2e-05f});

  // particles.csv has no particle_type column: pdgId reads as 0
  REQUIRE(event.particles.size() == 3);
  CHECK(event.particles.particleId ==
        std::vector<std::int64_t>{4503668346847232, 22525763437723648, 45035996273704960});
  CHECK(event.particles.pdgId == std::vector<std::int32_t>{0, 0, 0});
  CHECK(event.particles.vx == std::vector<float>{-0.00928816f, -0.00928816f, 0.0100073f});
  CHECK(event.particles.vy == std::vector<float>{0.00986098f, 0.00986098f, -0.0164523f});
  CHECK(event.particles.vz == std::vector<float>{-5.15066f, -5.15066f, 7.65131f});
  CHECK(event.particles.px == std::vector<float>{-0.262437f, 0.474133f, -0.572961f});
  CHECK(event.particles.py == std::vector<float>{-0.0366936f, -0.00293151f, 0.555072f});
  CHECK(event.particles.pz == std::vector<float>{-6.21043f, 22.7048f, -1.52314f});
  CHECK(event.particles.charge == std::vector<std::int32_t>{-1, 1, 1});
  CHECK(event.particles.nHits == std::vector<std::int32_t>{3, 1, 1});

  SECTION("a hits file name works as well as the prefix") {
    requireSameEvent(readTrackMLEvent(sampleEvent() + "-hits.csv"), event);
  }
}

TEST_CASE("TrackML: gzip files read the same as plain ones", "[trackml]") {
  const std::string dir = scratchDir("gzip_read");
  for (const char* table : kTables) {
    const std::string name = std::string("/event000001000-") + table + ".csv";
    writeGzip(dir + name + ".gz", readBytes(dataDir() + name));
    REQUIRE(isGzip(dir + name + ".gz"));
  }
  const Event plain = readTrackMLEvent(sampleEvent());
  const Event gz = readTrackMLEvent(dir + "/event000001000");
  REQUIRE(gz.hits.size() == 6);
  requireSameEvent(gz, plain);

  SECTION("a mix of plain and gzip tables") {
    fs::remove(dir + "/event000001000-truth.csv.gz");
    fs::copy_file(dataDir() + "/event000001000-truth.csv", dir + "/event000001000-truth.csv");
    requireSameEvent(readTrackMLEvent(dir + "/event000001000"), plain);
  }
  SECTION("optional tables that are absent stay empty") {
    fs::remove(dir + "/event000001000-cells.csv.gz");
    fs::remove(dir + "/event000001000-particles.csv.gz");
    const Event event = readTrackMLEvent(dir + "/event000001000");
    CHECK(event.hasTruth());
    CHECK_FALSE(event.hasCells());
    CHECK_FALSE(event.hasParticles());
    CHECK(event.hits.hitId == plain.hits.hitId);
  }
}

TEST_CASE("TrackML: CSV -> Event -> CSV gives the same text", "[trackml]") {
  const Event event = readTrackMLEvent(sampleEvent());
  for (const bool gzip : {false, true}) {
    const std::string dir = scratchDir(gzip ? "text_roundtrip_gzip" : "text_roundtrip_plain");
    writeTrackMLEvent(event, dir, gzip);
    for (const char* table : kTables) {
      const std::string name = std::string("/event000001000-") + table + ".csv";
      const std::string written = dir + name + (gzip ? ".gz" : "");
      REQUIRE(isGzip(written) == gzip);
      // the name heads both sides so that a failure says which file differs
      std::string got = written + "\n" + (gzip ? readLines(written) : readBytes(written));
      std::string expected = written + "\n" + readBytes(dataDir() + name);
      if (std::string(table) == "truth") {
        // The sample's truth rows are shuffled; they are written in the hits' order, so
        // the same rows, character for character, in another order.
        CHECK(sortedLines(got) == sortedLines(expected));
        CHECK(firstFields(got) == firstFields(readBytes(dataDir() + "/event000001000-hits.csv")));
        CHECK(got != expected);  // the sample really is shuffled
      } else {
        CHECK(got == expected);
      }
      CHECK_FALSE(fs::exists(dir + name + (gzip ? "" : ".gz")));
    }
  }
}

TEST_CASE("TrackML: Event -> CSV -> Event keeps every column", "[trackml]") {
  for (const bool gzip : {false, true}) {
    const std::string dir = scratchDir(gzip ? "event_roundtrip_gz" : "event_roundtrip_plain");
    const std::string ext = gzip ? ".csv.gz" : ".csv";

    // with PDG ids: particle_type is written and read
    const Event typed = randomEvent(123456789, 500, true, 7);
    writeTrackMLEvent(typed, dir, gzip);
    CHECK(firstLine(dir + "/event123456789-particles" + ext) ==
          "particle_id,vx,vy,vz,px,py,pz,q,nhits,particle_type");
    requireSameEvent(readTrackMLEvent(dir + "/event123456789"), typed);

    // without PDG ids: the TrackML header, read back as 0
    const Event untyped = randomEvent(42, 300, false, 11);
    writeTrackMLEvent(untyped, dir, gzip);
    CHECK(firstLine(dir + "/event000000042-particles" + ext) ==
          "particle_id,vx,vy,vz,px,py,pz,q,nhits");
    requireSameEvent(readTrackMLEvent(dir + "/event000000042"), untyped);

    // hits only; rewriting replaces the event's older files of either compression
    Event bare = randomEvent(5, 50, true, 3);
    writeTrackMLEvent(bare, dir, !gzip);
    bare.truth.clear();
    bare.cells.clear();
    bare.particles.clear();
    writeTrackMLEvent(bare, dir, gzip);
    for (const char* table : kTables) {
      for (const char* suffix : {".csv", ".csv.gz"}) {
        const std::string path = dir + "/event000000005-" + table + suffix;
        const bool expected = std::string(table) == "hits" && suffix == ext;
        CHECK(path + (fs::exists(path) ? " exists" : " absent") ==
              path + (expected ? " exists" : " absent"));
      }
    }
    const Event back = readTrackMLEvent(dir + "/event000000005");
    CHECK_FALSE(back.hasTruth());
    CHECK_FALSE(back.hasCells());
    CHECK_FALSE(back.hasParticles());
    requireSameEvent(back, bare);
  }
}

TEST_CASE("TrackML: columns are found by name", "[trackml]") {
  const std::string dir = scratchDir("column_order");
  writeBytes(dir + "/event000000077-hits.csv",
             "module_id,z,extra,hit_id,y,layer_id,x,volume_id\n"
             "3,-1.25,junk,90,2.5,4,1.5,8\n"
             "6,7.75,,12,5.5,2,-4.5,9\n");
  writeBytes(dir + "/event000000077-truth.csv",
             "weight,tz,hit_id,tpz,tpy,tpx,ty,tx,particle_id,note\n"
             "0.5,3,12,6,5,4,2,1,99,a\n"
             "0.25,30,90,60,50,40,20,10,98,b\n");
  writeBytes(dir + "/event000000077-particles.csv",
             "particle_type,nhits,q,pz,py,px,vz,vy,vx,particle_id\n"
             "-211,1,-1,6,5,4,3,2,1,99\n"
             "13,1,1,60,50,40,30,20,10,98\n");
  const Event event = readTrackMLEvent(dir + "/event000000077");
  CHECK(event.eventId == 77);
  CHECK(event.hits.hitId == std::vector<std::int64_t>{90, 12});
  CHECK(event.hits.x == std::vector<float>{1.5f, -4.5f});
  CHECK(event.hits.y == std::vector<float>{2.5f, 5.5f});
  CHECK(event.hits.z == std::vector<float>{-1.25f, 7.75f});
  CHECK(event.hits.volumeId == std::vector<std::int32_t>{8, 9});
  CHECK(event.hits.layerId == std::vector<std::int32_t>{4, 2});
  CHECK(event.hits.moduleId == std::vector<std::int32_t>{3, 6});
  CHECK(event.truth.particleId == std::vector<std::int64_t>{98, 99});
  CHECK(event.truth.tx == std::vector<float>{10, 1});
  CHECK(event.truth.ty == std::vector<float>{20, 2});
  CHECK(event.truth.tz == std::vector<float>{30, 3});
  CHECK(event.truth.tpx == std::vector<float>{40, 4});
  CHECK(event.truth.tpy == std::vector<float>{50, 5});
  CHECK(event.truth.tpz == std::vector<float>{60, 6});
  CHECK(event.truth.weight == std::vector<float>{0.25f, 0.5f});
  CHECK(event.particles.particleId == std::vector<std::int64_t>{99, 98});
  CHECK(event.particles.pdgId == std::vector<std::int32_t>{-211, 13});
  CHECK(event.particles.vx == std::vector<float>{1, 10});
  CHECK(event.particles.vy == std::vector<float>{2, 20});
  CHECK(event.particles.vz == std::vector<float>{3, 30});
  CHECK(event.particles.px == std::vector<float>{4, 40});
  CHECK(event.particles.py == std::vector<float>{5, 50});
  CHECK(event.particles.pz == std::vector<float>{6, 60});
  CHECK(event.particles.charge == std::vector<std::int32_t>{-1, 1});
  CHECK(event.particles.nHits == std::vector<std::int32_t>{1, 1});
}

TEST_CASE("TrackML: event discovery and event ids", "[trackml]") {
  const std::string dir = scratchDir("discovery");
  writeBytes(dir + "/event000000010-hits.csv", kGoodHits);
  writeGzip(dir + "/event000000002-hits.csv.gz", kGoodHits);
  writeBytes(dir + "/event000000002-truth.csv", kTruthHeader);
  writeBytes(dir + "/event000000003-cells.csv", "hit_id,ch0,ch1,value\n");  // no hits file
  writeBytes(dir + "/event000000004-hits.txt", kGoodHits);
  writeBytes(dir + "/notes.csv", "a,b\n");
  fs::create_directories(dir + "/event000000001-hits.csv");  // a directory, not a file
  CHECK(findTrackMLEvents(dir) ==
        std::vector<std::string>{dir + "/event000000002", dir + "/event000000010"});
  CHECK(findTrackMLEvents(scratchDir("discovery_empty")).empty());
  REQUIRE_THROWS_AS(findTrackMLEvents(dir + "/no_such_dir"), InputError);

  CHECK(trackMLEventId("event000001000") == 1000);
  CHECK(trackMLEventId("/data/train_1/event000001000-hits.csv") == 1000);
  CHECK(trackMLEventId("runs/event7-truth.csv.gz") == 7);
  CHECK(trackMLEventId("event000000000") == 0);
  REQUIRE_THROWS_AS(trackMLEventId("/data/event7/hits.csv"), Error);
  REQUIRE_THROWS_AS(trackMLEventId("eventabc-hits.csv"), Error);
  REQUIRE_THROWS_AS(trackMLEventId(""), Error);
}

TEST_CASE("TrackML: submission file reads back as the tracks", "[trackml]") {
  Tracks first;
  first.eventId = 1000;
  first.hitId = {17, 3, 250, 1000000007};
  first.label = {0, 0, Tracks::kNoTrack, 12345678901};
  Tracks second;
  second.eventId = 7;
  second.hitId = {5};
  second.label = {2};

  for (const bool gzip : {false, true}) {
    const std::string path =
        scratchDir(gzip ? "submission_gz" : "submission") + (gzip ? "/sub.csv.gz" : "/sub.csv");
    {
      TrackMLSubmissionWriter writer(path, gzip);
      writer.write(first);
      writer.write(second);
      writer.close();
      writer.close();  // idempotent
      REQUIRE_THROWS_AS(writer.write(first), Error);
    }
    CHECK(isGzip(path) == gzip);

    LineReader reader(path);
    std::string line;
    REQUIRE(reader.next(line));
    CHECK(line == "event_id,hit_id,track_id");
    std::vector<std::string_view> fields;
    for (const Tracks* tracks : {&first, &second}) {
      for (std::size_t i = 0; i < tracks->size(); ++i) {
        REQUIRE(reader.next(line));
        splitCsv(line, fields);
        REQUIRE(fields.size() == 3);
        CHECK(std::stoll(std::string(fields[0])) == tracks->eventId);
        CHECK(std::stoll(std::string(fields[1])) == tracks->hitId[i]);
        CHECK(std::stoll(std::string(fields[2])) == tracks->label[i]);
      }
    }
    CHECK_FALSE(reader.next(line));

    // hit ids and labels of different lengths are refused
    Tracks bad = first;
    bad.label.pop_back();
    TrackMLSubmissionWriter writer(path, gzip);
    REQUIRE_THROWS_AS(writer.write(bad), Error);
  }
}

TEST_CASE("TrackML: bad input gives an InputError naming file, event and problem", "[trackml]") {
  const std::string dir = scratchDir("bad_input");
  const std::string prefix = dir + "/event000000042";
  const std::string hits = prefix + "-hits.csv";
  const std::string truth = prefix + "-truth.csv";
  const std::string cells = prefix + "-cells.csv";
  const std::string particles = prefix + "-particles.csv";
  const auto errorOf = [&] { return inputErrorMessage([&] { readTrackMLEvent(prefix); }); };
  const std::string event = "event 42";

  SECTION("the good files read") {
    writeBytes(hits, kGoodHits);
    writeBytes(truth, kTruthHeader + "8,1,0,0,0,0,0,0,0\n5,2,0,0,0,0,0,0,0\n");
    CHECK(readTrackMLEvent(prefix).truth.particleId == std::vector<std::int64_t>{2, 1});
  }
  SECTION("missing hits file") {
    writeBytes(cells, "hit_id,ch0,ch1,value\n5,1,1,0.5\n");
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {hits, event, "missing hits file"}) == "");
  }
  SECTION("unparsable number") {
    writeBytes(hits, kHitsHeader + "5,1.5,2.5,3.5,7,2,1\n8,4.5,abc,6.5,7,2,1\n");
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {hits, event, "line 3", "column 'y'", "'abc'", "not a number"}) ==
          "");
  }
  SECTION("number with trailing garbage") {
    writeBytes(hits, kHitsHeader + "5,1.5,2.5,3.5x,7,2,1\n");
    CHECK(missingFrom(errorOf(), {hits, event, "line 2", "column 'z'", "'3.5x'"}) == "");
  }
  SECTION("integer column holding a float") {
    writeBytes(hits, kGoodHits);
    writeBytes(particles,
               "particle_id,vx,vy,vz,px,py,pz,q,nhits\n"
               "1,0,0,0,1,1,1,1.5,2\n");
    CHECK(missingFrom(errorOf(), {particles, event, "line 2", "column 'q'", "not an integer"}) ==
          "");
  }
  SECTION("number out of range") {
    writeBytes(hits, kHitsHeader + "5,1.5,2.5,3.5,7,2,99999999999\n");
    CHECK(missingFrom(errorOf(), {hits, event, "line 2", "column 'module_id'", "out of range"}) ==
          "");
  }
  SECTION("empty field") {
    writeBytes(hits, kHitsHeader + "5,,2.5,3.5,7,2,1\n");
    CHECK(missingFrom(errorOf(), {hits, event, "line 2", "column 'x'"}) == "");
  }
  SECTION("wrong field count") {
    writeBytes(hits, kHitsHeader + "5,1.5,2.5,3.5,7,2,1\n8,4.5,5.5,6.5,7,2\n");
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {hits, event, "line 3", "6 fields", "header has 7"}) == "");
  }
  SECTION("empty event: header but no hits") {
    writeBytes(hits, kHitsHeader);
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {hits, event, "empty"}) == "");
  }
  SECTION("empty file: no header") {
    writeBytes(hits, "");
    CHECK(missingFrom(errorOf(), {hits, event, "empty", "no header"}) == "");
  }
  SECTION("duplicate hit id") {
    writeBytes(hits, kHitsHeader + "5,1.5,2.5,3.5,7,2,1\n8,4.5,5.5,6.5,7,2,1\n5,1,1,1,7,2,1\n");
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {hits, event, "line 4", "duplicate hit id 5"}) == "");
  }
  SECTION("non-finite coordinate") {
    writeBytes(hits, kHitsHeader + "5,1.5,nan,3.5,7,2,1\n");
    CHECK(missingFrom(errorOf(), {hits, event, "non-finite"}) == "");
  }
  SECTION("missing column") {
    writeBytes(hits, "hit_id,x,y,volume_id,layer_id,module_id\n5,1.5,2.5,7,2,1\n");
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {hits, event, "missing required column 'z'"}) == "");
  }
  SECTION("missing particle column") {
    writeBytes(hits, kGoodHits);
    writeBytes(particles, "particle_id,vx,vy,vz,px,py,pz,q\n1,0,0,0,1,1,1,1\n");
    CHECK(missingFrom(errorOf(), {particles, event, "missing required column 'nhits'"}) == "");
  }
  SECTION("truth row for an unknown hit id") {
    writeBytes(hits, kGoodHits);
    writeBytes(truth, kTruthHeader + "8,1,0,0,0,0,0,0,0\n99,1,0,0,0,0,0,0,0\n");
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {truth, event, "line 3", "hit id 99"}) == "");
  }
  SECTION("hit without a truth row") {
    writeBytes(hits, kGoodHits);
    writeBytes(truth, kTruthHeader + "5,1,0,0,0,0,0,0,0\n");
    REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
    CHECK(missingFrom(errorOf(), {truth, event, "hit id 8 has no truth row"}) == "");
  }
  SECTION("two truth rows for one hit") {
    writeBytes(hits, kGoodHits);
    writeBytes(truth, kTruthHeader + "5,1,0,0,0,0,0,0,0\n5,1,0,0,0,0,0,0,0\n");
    CHECK(missingFrom(errorOf(), {truth, event, "line 3", "hit id 5"}) == "");
  }
  SECTION("cell for an unknown hit id") {
    writeBytes(hits, kGoodHits);
    writeBytes(cells, "hit_id,ch0,ch1,value\n5,1,1,0.5\n6,1,1,0.5\n");
    CHECK(missingFrom(errorOf(), {cells, event, "line 3", "hit id 6"}) == "");
  }
  SECTION("duplicate particle id") {
    writeBytes(hits, kGoodHits);
    writeBytes(particles,
               "particle_id,vx,vy,vz,px,py,pz,q,nhits\n1,0,0,0,1,1,1,1,2\n1,0,0,0,1,1,1,1,2\n");
    CHECK(missingFrom(errorOf(), {particles, event, "line 3", "duplicate particle id 1"}) == "");
  }
  SECTION("plain and gzip files of one table both present") {
    writeBytes(hits, kGoodHits);
    writeGzip(hits + ".gz", kGoodHits);
    CHECK(missingFrom(errorOf(), {hits, event, "both"}) == "");
  }
  SECTION("truncated gzip") {
    std::string text = kHitsHeader;
    for (int i = 0; i < 20000; ++i) text += std::to_string(i * 3) + ",1.5,-2.25,3,7,2,1\n";
    writeGzip(hits + ".gz", text);
    const std::string whole = readBytes(hits + ".gz");
    REQUIRE(readTrackMLEvent(prefix).hits.size() == 20000);
    // cut in the middle of the deflate data, inside the 8-byte trailer, before it
    for (const std::size_t keep : {whole.size() / 2, whole.size() - 2, whole.size() - 8}) {
      writeBytes(hits + ".gz", whole.substr(0, keep));
      REQUIRE_THROWS_AS(readTrackMLEvent(prefix), InputError);
      CHECK(missingFrom(errorOf(), {hits + ".gz", event, "truncated gzip"}) == "");
    }
  }
  SECTION("a name without an event number") {
    const std::string odd = dir + "/run-hits.csv";
    writeBytes(odd, kGoodHits);
    REQUIRE_THROWS_AS(readTrackMLEvent(dir + "/run"), Error);
  }
}

TEST_CASE("TrackML: writing refuses events it could not read back", "[trackml]") {
  const std::string dir = scratchDir("bad_write");
  Event event = randomEvent(3, 10, false, 5);
  SECTION("negative event id") {
    event.eventId = -1;
    REQUIRE_THROWS_AS(writeTrackMLEvent(event, dir, false), Error);
  }
  SECTION("no hits") {
    event.hits.clear();
    event.truth.clear();
    event.cells.clear();
    REQUIRE_THROWS_AS(writeTrackMLEvent(event, dir, false), InputError);
  }
  SECTION("truth not aligned with hits") {
    event.truth.particleId.pop_back();
    REQUIRE_THROWS_AS(writeTrackMLEvent(event, dir, false), InputError);
  }
  CHECK(fs::is_empty(dir));
}

// Hidden timing run (not part of ctest): `io_tests "[.trackml-speed]"`.
TEST_CASE("TrackML: read speed of a full-size event", "[.trackml-speed]") {
  const std::string dir = scratchDir("speed");
  const std::size_t nHits = 120000;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> coord(-1000.0f, 1000.0f);
  Event event;
  event.eventId = 1;
  for (std::size_t i = 0; i < nHits; ++i) {
    event.hits.push_back(static_cast<std::int64_t>(i + 1), coord(rng), coord(rng), coord(rng), 8, 2,
                         static_cast<std::int32_t>(i % 3000));
    event.truth.push_back(static_cast<std::int64_t>(rng() >> 10), coord(rng), coord(rng),
                          coord(rng), coord(rng) / 100, coord(rng) / 100, coord(rng) / 100,
                          coord(rng) / 1e6f);
    for (int c = 0; c < 9; ++c) {
      event.cells.push_back(static_cast<std::int64_t>(i + 1),
                            static_cast<std::int32_t>(rng() % 1200),
                            static_cast<std::int32_t>(rng() % 1200), coord(rng) / 1000);
    }
  }
  for (std::size_t i = 0; i < 10000; ++i) {
    event.particles.push_back(static_cast<std::int64_t>(i + 1), 0, coord(rng), coord(rng),
                              coord(rng), coord(rng), coord(rng), coord(rng), 1, 12);
  }
  for (const bool gzip : {false, true}) {
    const auto t0 = std::chrono::steady_clock::now();
    writeTrackMLEvent(event, dir, gzip);
    const auto t1 = std::chrono::steady_clock::now();
    const Event back = readTrackMLEvent(dir + "/event000000001");
    const auto t2 = std::chrono::steady_clock::now();
    const Tracks tracks{1, event.hits.hitId, std::vector<std::int64_t>(nHits, 3)};
    TrackMLSubmissionWriter submission(dir + "/submission.csv", gzip);
    submission.write(tracks);
    submission.close();
    const auto t3 = std::chrono::steady_clock::now();
    const double write = std::chrono::duration<double>(t1 - t0).count();
    const double read = std::chrono::duration<double>(t2 - t1).count();
    const double sub = std::chrono::duration<double>(t3 - t2).count();
    logger().info(
        "TrackML {}: {} hits + {} cells + truth + particles: write {:.3f} s, read {:.3f} s "
        "({:.0f} hits/s, {:.0f} cells+hits+truth rows/s); submission write {:.3f} s",
        gzip ? "gzip" : "plain", nHits, event.cells.size(), write, read, nHits / read,
        (event.cells.size() + 2 * nHits) / read, sub);
    requireSameEvent(back, event);
  }
}
