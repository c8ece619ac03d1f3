#include <hdf5.h>

#include <limits>
#include <random>

#include "IoTestUtil.hpp"
#include "RequireSameEvent.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"

using namespace trkaas;
using namespace trkaas::test;

namespace {
Tracks makeTracks(std::int64_t eventId, std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> label(-1, 50);
  Tracks t;
  t.eventId = eventId;
  for (std::size_t i = 0; i < n; ++i) {
    t.hitId.push_back(static_cast<std::int64_t>(7 * n - 3 * i + 11));  // descending, gapped
    t.label.push_back(label(rng));
  }
  return t;
}
}  // namespace

TEST_CASE("tracks file round trip", "[tracksfile]") {
  const std::string path = tmpPath("tracks.h5");
  const std::vector<Tracks> all = {makeTracks(42, 1000, 1u), makeTracks(7, 1, 2u),
                                   makeTracks(1000000007, 30000, 3u)};
  {
    TracksFileWriter writer(path);
    for (const Tracks& t : all) writer.append(t);
    writer.close();
  }
  TracksFileReader reader(path);
  REQUIRE(reader.numEvents() == 3);
  for (std::size_t i : {1u, 2u, 0u}) {
    const Tracks t = reader.read(i);
    REQUIRE(t.eventId == all[i].eventId);
    REQUIRE(t.hitId == all[i].hitId);
    REQUIRE(t.label == all[i].label);
    REQUIRE(reader.find(all[i].eventId) == static_cast<std::int64_t>(i));
  }
}

TEST_CASE("tracks file writer refuses bad tracks", "[tracksfile]") {
  TracksFileWriter writer(tmpPath("badtracks.h5"));
  writer.append(makeTracks(1, 10, 1u));
  Tracks t = makeTracks(2, 10, 2u);
  SECTION("duplicate event") {
    REQUIRE_THROWS_WITH(writer.append(makeTracks(1, 5, 3u)),
                        HasSubstring("event 1: event was already written"));
  }
  SECTION("lengths differ") {
    t.label.pop_back();
    REQUIRE_THROWS_WITH(writer.append(t), HasSubstring("10 hit ids but 9 labels"));
  }
  SECTION("duplicate hit") {
    t.hitId[3] = t.hitId[4];
    REQUIRE_THROWS_WITH(writer.append(t), HasSubstring("duplicate hit id"));
  }
  SECTION("label below -1") {
    t.label[0] = -2;
    REQUIRE_THROWS_WITH(writer.append(t), HasSubstring("has label -2"));
  }
  writer.close();
}

TEST_CASE("an event file is not a tracks file", "[tracksfile]") {
  const std::string path = tmpPath("events_not_tracks.h5");
  {
    EventFileWriter writer(path);
    writer.append(makeEvent(1, 5, 1u, false, false, false));
    writer.close();
  }
  REQUIRE_THROWS_WITH(TracksFileReader(path),
                      "file '" + path + "': format is 'trkaas-events', expected 'trkaas-tracks'");
  REQUIRE_THROWS_WITH(TracksFileReader(tmpPath("nope.h5")),
                      "file '" + tmpPath("nope.h5") + "': no such file");
}

TEST_CASE("tracks file reader checks what the writer checks", "[tracksfile][bad]") {
  const std::string path = tmpPath("damaged_tracks.h5");
  {
    TracksFileWriter writer(path);
    writer.append(makeTracks(1, 10, 1u));
    writer.append(makeTracks(2, 10, 2u));
    writer.close();
  }
  const auto edit = [&](const char* dataset, hsize_t row, std::int64_t value) {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t d = H5Dopen2(file, dataset, H5P_DEFAULT);
    const hid_t space = H5Dget_space(d);
    const hsize_t start[1] = {row}, count[1] = {1};
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    const hid_t mem = H5Screate_simple(1, count, nullptr);
    REQUIRE(H5Dwrite(d, H5T_NATIVE_INT64, mem, space, H5P_DEFAULT, &value) >= 0);
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(file);
  };
  const Tracks first = TracksFileReader(path).read(0);
  edit("/tracks/hit_id", 4, first.hitId[3]);  // duplicate hit in event 1
  edit("/tracks/track_id", 12, -5);           // bad label in event 2
  {
    TracksFileReader reader(path);
    REQUIRE_THROWS_WITH(reader.read(0), "file '" + path + "', event 1: duplicate hit id " +
                                            std::to_string(first.hitId[3]) + " (row 4)");
    REQUIRE_THROWS_WITH(reader.read(1),
                        HasSubstring("event 2: hit") && HasSubstring("has label -5"));
  }
  edit("/index/count", 1, std::numeric_limits<std::int64_t>::max());
  REQUIRE_THROWS_WITH(TracksFileReader(path).read(1),
                      HasSubstring("event 2: index points outside the tables"));
}
