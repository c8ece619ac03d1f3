// Tests of the HDF5 event file: round trips, layout promises, and one test per kind of
// bad input. Bad files are made by writing a good file with EventFileWriter and then
// damaging it with the HDF5 C API, the way a broken tool or a cut transfer would.
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <unordered_set>

#include "IoTestUtil.hpp"
#include "RequireSameEvent.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/TextFile.hpp"
#include "trkaas/io/EventFile.hpp"

using namespace trkaas;
using namespace trkaas::test;

namespace {

std::string writeSample(const std::string& name, int numEvents = 3) {
  const std::string path = tmpPath(name);
  EventFileWriter writer(path);
  for (int i = 0; i < numEvents; ++i) {
    writer.append(makeEvent(100 + 10 * i, 50 + 30 * i, 17u + i, true, true, true));
  }
  writer.close();
  return path;
}

/// Opens the file read-write, runs `edit` on it, closes it.
template <class F>
void editFile(const std::string& path, F&& edit) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  edit(file);
  REQUIRE(H5Fclose(file) >= 0);
}

/// Overwrites element `row` of a 1-D dataset.
template <class T>
void overwriteElement(hid_t file, const char* dataset, hsize_t row, T value, hid_t memType) {
  const hid_t d = H5Dopen2(file, dataset, H5P_DEFAULT);
  REQUIRE(d >= 0);
  const hid_t space = H5Dget_space(d);
  const hsize_t start[1] = {row};
  const hsize_t count[1] = {1};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  const hid_t mem = H5Screate_simple(1, count, nullptr);
  REQUIRE(H5Dwrite(d, memType, mem, space, H5P_DEFAULT, &value) >= 0);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
}

/// Replaces a dataset by a contiguous one of `rows` elements of `type`.
void replaceDataset(hid_t file, const char* dataset, hid_t type, hsize_t rows) {
  REQUIRE(H5Ldelete(file, dataset, H5P_DEFAULT) >= 0);
  const hsize_t dims[1] = {rows};
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t d = H5Dcreate2(file, dataset, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(d >= 0);
  H5Dclose(d);
  H5Sclose(space);
}

hsize_t datasetRows(hid_t file, const char* dataset) {
  const hid_t d = H5Dopen2(file, dataset, H5P_DEFAULT);
  const hid_t space = H5Dget_space(d);
  hsize_t dims[1] = {0};
  H5Sget_simple_extent_dims(space, dims, nullptr);
  H5Sclose(space);
  H5Dclose(d);
  return dims[0];
}

/// The InputError message of opening `path` and reading every event.
std::string errorOf(const std::string& path) {
  try {
    EventFileReader reader(path);
    for (std::size_t i = 0; i < reader.numEvents(); ++i) reader.read(i);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("event file round trip keeps every value of every table", "[eventfile]") {
  const std::string path = tmpPath("roundtrip.h5");
  std::vector<Event> events;
  events.push_back(makeEvent(5, 1, 1u, true, true, true));  // a one-hit event
  events.push_back(makeEvent(-3, 2000, 2u, true, true, true));
  events.push_back(makeEvent(123456789012LL, 40000, 3u, true, true, true));  // > one chunk
  {
    EventFileWriter::Config config;
    config.chunkRows = 4096;
    config.deflateLevel = 4;
    EventFileWriter writer(path, config);
    for (const Event& e : events) writer.append(e);
    REQUIRE(writer.numEvents() == 3);
    writer.close();
  }
  EventFileReader reader(path);
  REQUIRE(reader.numEvents() == events.size());
  REQUIRE(reader.hasTruth());
  REQUIRE(reader.hasCells());
  REQUIRE(reader.hasParticles());
  // Read in an order different from the written one: each event stands alone.
  for (std::size_t i : {2u, 0u, 1u}) {
    REQUIRE(reader.eventId(i) == events[i].eventId);
    REQUIRE(reader.numHits(i) == static_cast<std::int64_t>(events[i].hits.size()));
    REQUIRE(reader.find(events[i].eventId) == static_cast<std::int64_t>(i));
    requireSameEvent(reader.read(i), events[i]);
  }
  REQUIRE(reader.find(999) == -1);
  REQUIRE_THROWS_AS(reader.read(3), Error);
}

TEST_CASE("event file without optional tables", "[eventfile]") {
  const std::string path = tmpPath("hitsonly.h5");
  const Event e = makeEvent(1, 300, 9u, false, false, false);
  {
    EventFileWriter writer(path);
    writer.append(e);
    writer.close();
  }
  EventFileReader reader(path);
  REQUIRE_FALSE(reader.hasTruth());
  REQUIRE_FALSE(reader.hasCells());
  REQUIRE_FALSE(reader.hasParticles());
  requireSameEvent(reader.read(0), e);
}

TEST_CASE("event file writer refuses inconsistent input", "[eventfile]") {
  const std::string path = tmpPath("refuse.h5");
  EventFileWriter writer(path);
  writer.append(makeEvent(1, 10, 1u, true, false, false));
  SECTION("duplicate event id") {
    REQUIRE_THROWS_WITH(writer.append(makeEvent(1, 10, 2u, true, false, false)),
                        HasSubstring("event id 1 was already written"));
  }
  SECTION("tables differ from the first event") {
    REQUIRE_THROWS_WITH(writer.append(makeEvent(2, 10, 2u, false, false, false)),
                        HasSubstring("event 2: has no truth"));
  }
  SECTION("invalid event") {
    Event bad = makeEvent(3, 10, 3u, true, false, false);
    bad.hits.x[4] = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_AS(writer.append(bad), InputError);
  }
  writer.close();
  REQUIRE(EventFileReader(path).numEvents() == 1);
}

TEST_CASE("an unclosed writer leaves no file behind", "[eventfile]") {
  const std::string path = tmpPath("unclosed.h5");
  std::remove(path.c_str());
  {
    EventFileWriter writer(path);
    writer.append(makeEvent(1, 10, 1u, false, false, false));
    REQUIRE(fileExists(path + ".part"));  // being written under its temporary name
  }
  REQUIRE_FALSE(fileExists(path));
  REQUIRE_FALSE(fileExists(path + ".part"));
}

TEST_CASE("same events give a byte-identical file", "[eventfile]") {
  const std::string a = writeSample("same_a.h5");
  const std::string b = writeSample("same_b.h5");
  REQUIRE(readBytes(a) == readBytes(b));
  REQUIRE(readBytes(a).size() > 1000);
}

TEST_CASE("event file: missing file", "[eventfile][bad]") {
  const std::string path = tmpPath("does_not_exist.h5");
  REQUIRE(errorOf(path) == "file '" + path + "': no such file");
}

TEST_CASE("event file: not HDF5", "[eventfile][bad]") {
  const std::string path = tmpPath("text.h5");
  std::ofstream(path) << "hit_id,x,y,z\n1,2,3,4\n";
  REQUIRE(errorOf(path) == "file '" + path + "': not an HDF5 file");
}

TEST_CASE("event file: HDF5 but not ours", "[eventfile][bad]") {
  const std::string path = tmpPath("foreign.h5");
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  REQUIRE_THAT(errorOf(path), HasSubstring("attribute 'format' is missing"));
}

TEST_CASE("event file: unknown schema version", "[eventfile][bad]") {
  const std::string path = writeSample("version.h5");
  editFile(path, [](hid_t file) {
    const hid_t attr = H5Aopen(file, "schema_version", H5P_DEFAULT);
    const std::int32_t v = kEventFileSchemaVersion + 1;
    H5Awrite(attr, H5T_NATIVE_INT32, &v);
    H5Aclose(attr);
  });
  REQUIRE(errorOf(path) == "file '" + path + "': unknown schema version " +
                               std::to_string(kEventFileSchemaVersion + 1) +
                               " (this build reads version " +
                               std::to_string(kEventFileSchemaVersion) + ")");
}

TEST_CASE("event file: missing dataset", "[eventfile][bad]") {
  const std::string path = writeSample("missing.h5");
  editFile(path, [](hid_t file) { REQUIRE(H5Ldelete(file, "/hits/y", H5P_DEFAULT) >= 0); });
  REQUIRE(errorOf(path) == "file '" + path + "': missing dataset hits/y");
}

TEST_CASE("event file: mistyped dataset", "[eventfile][bad]") {
  const std::string path = writeSample("mistyped.h5");
  editFile(path, [](hid_t file) {
    replaceDataset(file, "/hits/z", H5T_IEEE_F64LE, datasetRows(file, "/hits/hit_id"));
  });
  REQUIRE(errorOf(path) ==
          "file '" + path + "': dataset hits/z has type float64, expected float32");
}

TEST_CASE("event file: truncated column", "[eventfile][bad]") {
  const std::string path = writeSample("shortcol.h5");
  editFile(path, [](hid_t file) {
    replaceDataset(file, "/hits/module_id", H5T_STD_I32LE, datasetRows(file, "/hits/hit_id") - 5);
  });
  REQUIRE_THAT(errorOf(path), HasSubstring("truncated data: hits/module_id has"));
}

TEST_CASE("event file: truncated file", "[eventfile][bad]") {
  const std::string path = writeSample("cut.h5");
  std::string bytes = readBytes(path);
  bytes.resize(bytes.size() / 2);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  const std::string error = errorOf(path);
  REQUIRE_THAT(error, Catch::Matchers::StartsWith("file '" + path + "'"));
  REQUIRE(error != "no error");
}

TEST_CASE("event file: index pointing outside the tables", "[eventfile][bad]") {
  const std::string path = writeSample("badindex.h5");
  std::int64_t hitRows = 0;
  editFile(path, [&](hid_t file) {
    hitRows = static_cast<std::int64_t>(datasetRows(file, "/hits/hit_id"));
    overwriteElement<std::int64_t>(file, "/index/hit_offset", 1, hitRows - 3, H5T_NATIVE_INT64);
  });
  // The file opens, the damaged event (id 110) fails, the others still read.
  EventFileReader reader(path);
  REQUIRE_NOTHROW(reader.read(0));
  REQUIRE_THROWS_WITH(reader.read(1), "file '" + path +
                                          "', event 110: index points outside the tables: "
                                          "80 hit rows from row " +
                                          std::to_string(hitRows - 3) + " but /hits has " +
                                          std::to_string(hitRows) + " rows");
  REQUIRE_NOTHROW(reader.read(2));
}

TEST_CASE("event file: NaN or inf coordinate", "[eventfile][bad]") {
  const std::string path = writeSample("nan.h5");
  editFile(path, [](hid_t file) {
    // Row 60 is the 10th hit of the second event (the first has 50 hits).
    overwriteElement(file, "/hits/y", 60, std::numeric_limits<float>::quiet_NaN(),
                     H5T_NATIVE_FLOAT);
    overwriteElement(file, "/hits/z", 3, -std::numeric_limits<float>::infinity(), H5T_NATIVE_FLOAT);
  });
  EventFileReader reader(path);
  REQUIRE_THROWS_WITH(reader.read(0),
                      HasSubstring("event 100: hit") && HasSubstring("(row 3) has a non-finite"));
  REQUIRE_THROWS_WITH(reader.read(1),
                      HasSubstring("event 110: hit") && HasSubstring("(row 10) has a non-finite"));
  REQUIRE_NOTHROW(reader.read(2));
}

TEST_CASE("event file: empty event", "[eventfile][bad]") {
  const std::string path = writeSample("empty.h5");
  editFile(path, [](hid_t file) {
    overwriteElement<std::int64_t>(file, "/index/hit_count", 2, 0, H5T_NATIVE_INT64);
  });
  REQUIRE(errorOf(path) == "file '" + path + "', event 120: event has no hits");
}

TEST_CASE("event file: duplicate hit ids", "[eventfile][bad]") {
  const std::string path = writeSample("dup.h5");
  std::int64_t firstId = 0;
  {
    EventFileReader reader(path);
    firstId = reader.read(0).hits.hitId[0];
  }
  editFile(path, [&](hid_t file) {
    overwriteElement<std::int64_t>(file, "/hits/hit_id", 7, firstId, H5T_NATIVE_INT64);
  });
  REQUIRE(errorOf(path) == "file '" + path + "', event 100: duplicate hit id " +
                               std::to_string(firstId) + " (row 7)");
}

TEST_CASE("event file: duplicate event ids in the index", "[eventfile][bad]") {
  const std::string path = writeSample("dupevent.h5");
  editFile(path, [](hid_t file) {
    overwriteElement<std::int64_t>(file, "/index/event_id", 2, 100, H5T_NATIVE_INT64);
  });
  REQUIRE_THAT(errorOf(path), HasSubstring("event 100: event id appears twice"));
}

TEST_CASE("event file: index counts that would overflow or are negative", "[eventfile][bad]") {
  const std::string path = writeSample("overflow.h5");
  editFile(path, [](hid_t file) {
    overwriteElement<std::int64_t>(file, "/index/hit_offset", 0, 1, H5T_NATIVE_INT64);
    overwriteElement<std::int64_t>(file, "/index/hit_count", 0,
                                   std::numeric_limits<std::int64_t>::max(), H5T_NATIVE_INT64);
    overwriteElement<std::int64_t>(file, "/index/hit_count", 1, -4, H5T_NATIVE_INT64);
  });
  EventFileReader reader(path);
  REQUIRE_THROWS_WITH(reader.read(0), HasSubstring("event 100: index points outside the tables"));
  REQUIRE_THROWS_WITH(reader.read(1), HasSubstring("event 110: index points outside the tables"));
  REQUIRE_NOTHROW(reader.read(2));
}

TEST_CASE("event file: an index longer than the hit table", "[eventfile][bad]") {
  const std::string path = writeSample("longindex.h5");
  editFile(path, [](hid_t file) {
    const hsize_t rows[1] = {datasetRows(file, "/hits/hit_id") + 5};
    for (const char* name : {"event_id", "hit_offset", "hit_count", "cell_offset", "cell_count",
                             "particle_offset", "particle_count"}) {
      const hid_t d = H5Dopen2(file, (std::string("/index/") + name).c_str(), H5P_DEFAULT);
      REQUIRE(H5Dset_extent(d, rows) >= 0);
      H5Dclose(d);
    }
  });
  REQUIRE_THAT(errorOf(path), HasSubstring("the index is damaged"));
}

TEST_CASE("event file: a table the index counts but the file lacks", "[eventfile][bad]") {
  const std::string path = tmpPath("nocells.h5");
  {
    EventFileWriter writer(path);
    writer.append(makeEvent(1, 20, 1u, true, false, false));
    writer.close();
  }
  editFile(path, [](hid_t file) {
    overwriteElement<std::int64_t>(file, "/index/cell_count", 0, 3, H5T_NATIVE_INT64);
  });
  REQUIRE(errorOf(path) == "file '" + path +
                               "', event 1: the index gives 3 cell rows but the file has no "
                               "cell table");
}

TEST_CASE("event file: root attributes of the wrong shape or type", "[eventfile][bad]") {
  const std::string path = writeSample("attrs.h5");
  SECTION("an array where one value belongs") {
    editFile(path, [](hid_t file) {
      REQUIRE(H5Adelete(file, "schema_version") >= 0);
      const hsize_t dims[1] = {1000};
      const hid_t space = H5Screate_simple(1, dims, nullptr);
      const hid_t attr =
          H5Acreate2(file, "schema_version", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
      std::vector<std::int32_t> ones(1000, 1);
      H5Awrite(attr, H5T_NATIVE_INT32, ones.data());
      H5Aclose(attr);
      H5Sclose(space);
    });
    REQUIRE(errorOf(path) == "file '" + path +
                                 "': the root attribute 'schema_version' is not a single value "
                                 "(it has 1000 elements)");
  }
  SECTION("a float version") {
    editFile(path, [](hid_t file) {
      REQUIRE(H5Adelete(file, "schema_version") >= 0);
      const hid_t space = H5Screate(H5S_SCALAR);
      const hid_t attr =
          H5Acreate2(file, "schema_version", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
      const double v = 1.0;
      H5Awrite(attr, H5T_NATIVE_DOUBLE, &v);
      H5Aclose(attr);
      H5Sclose(space);
    });
    REQUIRE_THAT(errorOf(path), HasSubstring("'schema_version' is not an integer"));
  }
  SECTION("a variable-length format string, as h5py writes, is accepted") {
    editFile(path, [](hid_t file) {
      REQUIRE(H5Adelete(file, "format") >= 0);
      const hid_t type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, H5T_VARIABLE);
      const hid_t space = H5Screate(H5S_SCALAR);
      const hid_t attr = H5Acreate2(file, "format", type, space, H5P_DEFAULT, H5P_DEFAULT);
      const char* text = kEventFileFormat;
      H5Awrite(attr, type, &text);
      H5Aclose(attr);
      H5Sclose(space);
      H5Tclose(type);
    });
    REQUIRE(errorOf(path) == "no error");
    REQUIRE(readFileFormat(path) == kEventFileFormat);
  }
}

TEST_CASE("event file: non-finite truth or particle values", "[eventfile][bad]") {
  const std::string path = writeSample("nantruth.h5");
  editFile(path, [](hid_t file) {
    overwriteElement(file, "/truth/tpx", 2, std::numeric_limits<float>::infinity(),
                     H5T_NATIVE_FLOAT);
    // Event 1's particles start after event 0's 6 (50 hits / 10 + 1).
    overwriteElement(file, "/particles/vz", 7, std::numeric_limits<float>::quiet_NaN(),
                     H5T_NATIVE_FLOAT);
  });
  EventFileReader reader(path);
  REQUIRE_THROWS_WITH(reader.read(0), HasSubstring("event 100: truth of hit") &&
                                          HasSubstring("(row 2) has a non-finite value"));
  REQUIRE_THROWS_WITH(reader.read(1), HasSubstring("event 110: particle") &&
                                          HasSubstring("(row 1) has a non-finite vertex"));
}

TEST_CASE("event file: a directory is not a file", "[eventfile][bad]") {
  const std::string dir = tmpPath("");
  REQUIRE_THAT(errorOf(dir), HasSubstring("is a directory, not a file"));
}

TEST_CASE("event files are chunked and compressed as documented", "[eventfile]") {
  for (int level : {0, 1, 6}) {
    const std::string path = tmpPath("layout" + std::to_string(level) + ".h5");
    {
      EventFileWriter::Config config;
      config.deflateLevel = level;
      config.chunkRows = 2048;
      EventFileWriter writer(path, config);
      writer.append(makeEvent(1, 5000, 1u, true, false, false));
      writer.close();
    }
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    for (const char* name : {"/hits/x", "/hits/hit_id", "/truth/weight"}) {
      INFO(name << " at deflate " << level);
      const hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
      const hid_t dcpl = H5Dget_create_plist(d);
      REQUIRE(H5Pget_layout(dcpl) == H5D_CHUNKED);
      hsize_t chunk[1] = {0};
      REQUIRE(H5Pget_chunk(dcpl, 1, chunk) == 1);
      REQUIRE(chunk[0] == 2048);
      const int filters = H5Pget_nfilters(dcpl);
      REQUIRE(filters == (level > 0 ? 2 : 0));  // shuffle + deflate
      if (level > 0) {
        unsigned flags = 0, values[1] = {0};
        std::size_t n = 1;
        REQUIRE(H5Pget_filter2(dcpl, 1, &flags, &n, values, 0, nullptr, nullptr) ==
                H5Z_FILTER_DEFLATE);
        REQUIRE(values[0] == static_cast<unsigned>(level));
      }
      H5Pclose(dcpl);
      H5Dclose(d);
    }
    H5Fclose(file);
  }
}
