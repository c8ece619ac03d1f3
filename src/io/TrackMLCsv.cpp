#include "trkaas/io/TrackMLCsv.hpp"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/core/TextFile.hpp"

namespace trkaas {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kWriteFlush = std::size_t{1} << 20;

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isBlank(std::string_view line) { return trimSpaces(line).empty(); }

/// One CSV table of a TrackML event: header lookup, row iteration with a field-count
/// check, and number parsing whose errors name file, event, line and column.
class CsvTable {
 public:
  CsvTable(const std::string& path, std::int64_t eventId)
      : m_path(path), m_eventId(eventId), m_reader(path, eventId) {
    std::string_view header;
    do {
      if (!m_reader.next(header)) fail("the file is empty (no header line)");
    } while (isBlank(header));
    splitCsv(header, m_fields);
    for (std::string_view f : m_fields) {
      std::string name(trimSpaces(f));
      if (!name.empty() && !m_columns.emplace(name, m_header.size()).second) {
        failLine("column '" + name + "' appears twice in the header");
      }
      m_header.push_back(std::move(name));
    }
  }

  /// Index of a required column; throws naming the file and the column if it is missing.
  std::size_t column(const std::string& name) const {
    const auto it = m_columns.find(name);
    if (it == m_columns.end()) {
      std::string have;
      for (const std::string& h : m_header) have += (have.empty() ? "" : ",") + h;
      fail("missing required column '" + name + "' (header is '" + have + "')");
    }
    return it->second;
  }

  /// Index of an optional column, or -1.
  long optionalColumn(const std::string& name) const {
    const auto it = m_columns.find(name);
    return it == m_columns.end() ? -1 : static_cast<long>(it->second);
  }

  /// Advances to the next data row (blank lines are not rows); false at end of file.
  bool next() {
    std::string_view line;
    do {
      if (!m_reader.next(line)) return false;
    } while (isBlank(line));
    splitCsv(line, m_fields);
    if (m_fields.size() != m_header.size()) {
      failLine("has " + std::to_string(m_fields.size()) + " fields but the header has " +
               std::to_string(m_header.size()));
    }
    ++m_rows;
    return true;
  }

  std::int64_t int64(std::size_t col) const { return parse<std::int64_t>(col, "an integer"); }
  std::int32_t int32(std::size_t col) const { return parse<std::int32_t>(col, "an integer"); }
  float real(std::size_t col) const { return parse<float>(col, "a number"); }

  std::size_t rows() const { return m_rows; }
  const std::string& path() const { return m_path; }
  std::int64_t eventId() const { return m_eventId; }

  [[noreturn]] void fail(const std::string& reason) const {
    throw InputError(m_path, m_eventId, reason);
  }
  [[noreturn]] void failLine(const std::string& reason) const {
    fail("line " + std::to_string(m_reader.lineNumber()) + " " + reason);
  }

 private:
  template <typename T>
  T parse(std::size_t col, const char* what) const {
    std::string_view text = m_fields[col];
    if (!text.empty() && (text.front() == ' ' || text.back() == ' ')) text = trimSpaces(text);
    const char* first = text.data();
    const char* last = first + text.size();
    if (first != last && *first == '+') ++first;  // from_chars rejects an explicit '+'
    T value{};
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc() && ptr == last && !text.empty()) return value;
    std::string reason =
        ec == std::errc::result_out_of_range ? "out of range" : "not " + std::string(what);
    failLine("column '" + m_header[col] + "': '" + std::string(m_fields[col]) + "' is " + reason);
  }

  std::string m_path;
  std::int64_t m_eventId;
  LineReader m_reader;
  std::vector<std::string> m_header;
  std::unordered_map<std::string, std::size_t> m_columns;
  std::vector<std::string_view> m_fields;
  std::size_t m_rows = 0;
};

/// Hit id -> row in Hits. Cells and truth usually follow the hits' order, so the row
/// after the last match is tried before the hash table.
class HitLookup {
 public:
  explicit HitLookup(const Hits& hits) : m_ids(hits.hitId) {}

  /// Records that hit `id` is in row `row`; false if the id is already known.
  bool add(std::int64_t id, std::size_t row) { return m_rows.emplace(id, row).second; }

  /// Row of `id`, or -1.
  long find(std::int64_t id) {
    const std::size_t hint = m_last + 1;
    if (hint < m_ids.size() && m_ids[hint] == id) return static_cast<long>(m_last = hint);
    if (m_last < m_ids.size() && m_ids[m_last] == id) return static_cast<long>(m_last);
    const auto it = m_rows.find(id);
    if (it == m_rows.end()) return -1;
    m_last = it->second;
    return static_cast<long>(m_last);
  }

  void resetHint() { m_last = static_cast<std::size_t>(-1); }

 private:
  const std::vector<std::int64_t>& m_ids;
  std::unordered_map<std::int64_t, std::size_t> m_rows;
  std::size_t m_last = static_cast<std::size_t>(-1);
};

void readHits(CsvTable& t, Hits& hits, HitLookup& lookup) {
  const std::size_t cId = t.column("hit_id"), cX = t.column("x"), cY = t.column("y"),
                    cZ = t.column("z"), cVolume = t.column("volume_id"),
                    cLayer = t.column("layer_id"), cModule = t.column("module_id");
  while (t.next()) {
    const std::int64_t id = t.int64(cId);
    hits.push_back(id, t.real(cX), t.real(cY), t.real(cZ), t.int32(cVolume), t.int32(cLayer),
                   t.int32(cModule));
    if (!lookup.add(id, hits.size() - 1)) {
      t.failLine("duplicate hit id " + std::to_string(id));
    }
  }
  if (hits.empty()) t.fail("the event is empty: the hits file has a header but no hits");
}

void readCells(CsvTable& t, Cells& cells, HitLookup& lookup) {
  const std::size_t cId = t.column("hit_id"), cCh0 = t.column("ch0"), cCh1 = t.column("ch1"),
                    cValue = t.column("value");
  lookup.resetHint();
  while (t.next()) {
    const std::int64_t id = t.int64(cId);
    if (lookup.find(id) < 0) {
      t.failLine("refers to hit id " + std::to_string(id) + ", which the hits file lacks");
    }
    cells.push_back(id, t.int32(cCh0), t.int32(cCh1), t.real(cValue));
  }
}

void readTruth(CsvTable& t, const Hits& hits, HitTruth& truth, HitLookup& lookup) {
  const std::size_t cId = t.column("hit_id"), cPid = t.column("particle_id"), cTx = t.column("tx"),
                    cTy = t.column("ty"), cTz = t.column("tz"), cTpx = t.column("tpx"),
                    cTpy = t.column("tpy"), cTpz = t.column("tpz"), cWeight = t.column("weight");
  const std::size_t n = hits.size();
  truth.particleId.assign(n, 0);
  for (auto* column :
       {&truth.tx, &truth.ty, &truth.tz, &truth.tpx, &truth.tpy, &truth.tpz, &truth.weight}) {
    column->assign(n, 0.0f);
  }
  std::vector<char> seen(n, 0);
  lookup.resetHint();
  while (t.next()) {
    const std::int64_t id = t.int64(cId);
    const long found = lookup.find(id);
    if (found < 0) {
      t.failLine("has truth for hit id " + std::to_string(id) + ", which the hits file lacks");
    }
    const auto row = static_cast<std::size_t>(found);
    if (seen[row] != 0) t.failLine("is a second truth row for hit id " + std::to_string(id));
    seen[row] = 1;
    truth.particleId[row] = t.int64(cPid);
    truth.tx[row] = t.real(cTx);
    truth.ty[row] = t.real(cTy);
    truth.tz[row] = t.real(cTz);
    truth.tpx[row] = t.real(cTpx);
    truth.tpy[row] = t.real(cTpy);
    truth.tpz[row] = t.real(cTpz);
    truth.weight[row] = t.real(cWeight);
  }
  const auto missing = std::find(seen.begin(), seen.end(), 0);
  if (missing != seen.end()) {
    const auto count = std::count(seen.begin(), seen.end(), 0);
    t.fail("hit id " + std::to_string(hits.hitId[missing - seen.begin()]) + " has no truth row (" +
           std::to_string(count) + " of " + std::to_string(n) + " hits have none)");
  }
}

void readParticles(CsvTable& t, Particles& particles) {
  const std::size_t cId = t.column("particle_id"), cVx = t.column("vx"), cVy = t.column("vy"),
                    cVz = t.column("vz"), cPx = t.column("px"), cPy = t.column("py"),
                    cPz = t.column("pz"), cQ = t.column("q"), cN = t.column("nhits");
  const long cType = t.optionalColumn("particle_type");
  std::unordered_set<std::int64_t> ids;
  while (t.next()) {
    const std::int64_t id = t.int64(cId);
    if (!ids.insert(id).second) t.failLine("duplicate particle id " + std::to_string(id));
    const std::int32_t pdg = cType < 0 ? 0 : t.int32(static_cast<std::size_t>(cType));
    particles.push_back(id, pdg, t.real(cVx), t.real(cVy), t.real(cVz), t.real(cPx), t.real(cPy),
                        t.real(cPz), t.int32(cQ), t.int32(cN));
  }
}

/// The file of one table ("hits", "cells", ...) of an event: prefix-table.csv or .csv.gz;
/// empty if there is none. Both present is ambiguous and an error.
std::string tableFile(const std::string& prefix, const char* table, std::int64_t eventId) {
  const std::string plain = prefix + "-" + table + ".csv";
  const std::string gz = plain + ".gz";
  const bool hasPlain = fileExists(plain), hasGz = fileExists(gz);
  if (hasPlain && hasGz) {
    throw InputError(plain, eventId,
                     "both '" + plain + "' and '" + gz + "' exist; remove one of them");
  }
  return hasPlain ? plain : hasGz ? gz : std::string();
}

std::string eventPrefix(const std::string& directory, std::int64_t eventId) {
  return (fs::path(directory) / fmt::format("event{:09d}", eventId)).string();
}

/// Writes `header` and then `n` rows formatted by `row` into `path`.
template <typename RowFormatter>
void writeTable(const std::string& path, bool gzip, std::string_view header, std::size_t n,
                RowFormatter&& row) {
  TextWriter writer(path, gzip);
  fmt::memory_buffer buffer;
  buffer.append(header);
  buffer.push_back('\n');
  for (std::size_t i = 0; i < n; ++i) {
    row(buffer, i);
    if (buffer.size() >= kWriteFlush) {
      writer.write(std::string_view(buffer.data(), buffer.size()));
      buffer.clear();
    }
  }
  writer.write(std::string_view(buffer.data(), buffer.size()));
  writer.close();
}

void removeIfPresent(const std::string& path) {
  std::error_code ec;
  if (fs::remove(path, ec)) logger().debug("removed stale '{}'", path);
  if (ec) throw Error("cannot remove stale '" + path + "': " + ec.message());
}

}  // namespace

std::int64_t trackMLEventId(const std::string& prefixOrFile) {
  const std::string name = fs::path(prefixOrFile).filename().string();
  for (std::size_t pos = name.find("event"); pos != std::string::npos;
       pos = name.find("event", pos + 1)) {
    const char* first = name.data() + pos + 5;
    const char* last = name.data() + name.size();
    std::int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(first, last, id);
    if (ptr != first && ec == std::errc() && id >= 0) return id;
    if (ec == std::errc::result_out_of_range) {
      throw InputError(prefixOrFile, InputError::kNoEvent, "event number is out of range");
    }
  }
  throw InputError(prefixOrFile, InputError::kNoEvent,
                   "name has no event number (expected eventNNNNNNNNN)");
}

std::vector<std::string> findTrackMLEvents(const std::string& directory) {
  std::error_code ec;
  fs::directory_iterator it(directory, ec);
  if (ec) {
    throw InputError(directory, InputError::kNoEvent,
                     "cannot list directory of TrackML events: " + ec.message());
  }
  std::vector<std::pair<std::int64_t, std::string>> events;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;  // also follows symbolic links
    const std::string name = it->path().filename().string();
    std::string_view stem = name;
    if (stem.size() > 3 && stem.substr(stem.size() - 3) == ".gz") stem.remove_suffix(3);
    constexpr std::string_view kSuffix = "-hits.csv";
    if (stem.size() <= kSuffix.size() || stem.substr(stem.size() - kSuffix.size()) != kSuffix ||
        stem.substr(0, 5) != "event") {
      continue;
    }
    stem.remove_suffix(kSuffix.size());
    const std::string_view digits = stem.substr(5);
    if (digits.empty() ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const std::string prefix = (fs::path(directory) / std::string(stem)).string();
    events.emplace_back(trackMLEventId(prefix), prefix);
  }
  if (ec) {
    throw InputError(directory, InputError::kNoEvent, "cannot list directory: " + ec.message());
  }
  std::sort(events.begin(), events.end());
  events.erase(std::unique(events.begin(), events.end()), events.end());
  std::vector<std::string> prefixes;
  prefixes.reserve(events.size());
  for (auto& e : events) prefixes.push_back(std::move(e.second));
  return prefixes;
}

Event readTrackMLEvent(const std::string& prefixOrHits) {
  std::string prefix = prefixOrHits;
  for (const char* suffix : {"-hits.csv.gz", "-hits.csv"}) {
    const std::size_t len = std::strlen(suffix);
    if (prefix.size() > len && prefix.compare(prefix.size() - len, len, suffix) == 0) {
      prefix.resize(prefix.size() - len);
      break;
    }
  }
  Event event;
  event.eventId = trackMLEventId(prefix);

  const std::string hitsPath = tableFile(prefix, "hits", event.eventId);
  if (hitsPath.empty()) {
    throw InputError(prefix + "-hits.csv", event.eventId,
                     "missing hits file (neither .csv nor .csv.gz exists)");
  }
  HitLookup lookup(event.hits);
  {
    CsvTable table(hitsPath, event.eventId);
    readHits(table, event.hits, lookup);
  }
  const std::string cellsPath = tableFile(prefix, "cells", event.eventId);
  if (!cellsPath.empty()) {
    CsvTable table(cellsPath, event.eventId);
    readCells(table, event.cells, lookup);
  }
  const std::string truthPath = tableFile(prefix, "truth", event.eventId);
  if (!truthPath.empty()) {
    CsvTable table(truthPath, event.eventId);
    readTruth(table, event.hits, event.truth, lookup);
  }
  const std::string particlesPath = tableFile(prefix, "particles", event.eventId);
  if (!particlesPath.empty()) {
    CsvTable table(particlesPath, event.eventId);
    readParticles(table, event.particles);
  }
  validateEvent(event, hitsPath);
  logger().debug("read TrackML event {}: {} hits, {} cells, truth {}, {} particles", event.eventId,
                 event.hits.size(), event.cells.size(), event.hasTruth() ? "yes" : "no",
                 event.particles.size());
  return event;
}

void writeTrackMLEvent(const Event& event, const std::string& directory, bool gzip) {
  if (event.eventId < 0) {
    throw Error("cannot write event " + std::to_string(event.eventId) +
                " as TrackML CSV: the event id must not be negative");
  }
  const std::string prefix = eventPrefix(directory, event.eventId);
  const std::string ext = gzip ? ".csv.gz" : ".csv";
  const std::string other = gzip ? ".csv" : ".csv.gz";
  validateEvent(event, prefix + "-hits" + ext);

  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) throw Error("cannot create directory '" + directory + "': " + ec.message());

  // Replace whatever this event had in the directory, so that reading it back finds
  // exactly the tables written now.
  for (const char* table : {"hits", "cells", "truth", "particles"}) {
    removeIfPresent(prefix + "-" + table + other);
  }
  if (!event.hasCells()) removeIfPresent(prefix + "-cells" + ext);
  if (!event.hasTruth()) removeIfPresent(prefix + "-truth" + ext);
  if (!event.hasParticles()) removeIfPresent(prefix + "-particles" + ext);

  const Hits& h = event.hits;
  writeTable(prefix + "-hits" + ext, gzip, "hit_id,x,y,z,volume_id,layer_id,module_id", h.size(),
             [&](fmt::memory_buffer& out, std::size_t i) {
               fmt::format_to(std::back_inserter(out), FMT_COMPILE("{},{},{},{},{},{},{}\n"),
                              h.hitId[i], h.x[i], h.y[i], h.z[i], h.volumeId[i], h.layerId[i],
                              h.moduleId[i]);
             });
  if (event.hasCells()) {
    const Cells& c = event.cells;
    writeTable(prefix + "-cells" + ext, gzip, "hit_id,ch0,ch1,value", c.size(),
               [&](fmt::memory_buffer& out, std::size_t i) {
                 fmt::format_to(std::back_inserter(out), FMT_COMPILE("{},{},{},{}\n"), c.hitId[i],
                                c.ch0[i], c.ch1[i], c.value[i]);
               });
  }
  if (event.hasTruth()) {
    const HitTruth& t = event.truth;
    writeTable(prefix + "-truth" + ext, gzip, "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight",
               t.size(), [&](fmt::memory_buffer& out, std::size_t i) {
                 fmt::format_to(std::back_inserter(out),
                                FMT_COMPILE("{},{},{},{},{},{},{},{},{}\n"), h.hitId[i],
                                t.particleId[i], t.tx[i], t.ty[i], t.tz[i], t.tpx[i], t.tpy[i],
                                t.tpz[i], t.weight[i]);
               });
  }
  if (event.hasParticles()) {
    const Particles& p = event.particles;
    const bool withType =
        std::any_of(p.pdgId.begin(), p.pdgId.end(), [](std::int32_t pdg) { return pdg != 0; });
    writeTable(prefix + "-particles" + ext, gzip,
               withType ? "particle_id,vx,vy,vz,px,py,pz,q,nhits,particle_type"
                        : "particle_id,vx,vy,vz,px,py,pz,q,nhits",
               p.size(), [&](fmt::memory_buffer& out, std::size_t i) {
                 fmt::format_to(std::back_inserter(out), FMT_COMPILE("{},{},{},{},{},{},{},{},{}"),
                                p.particleId[i], p.vx[i], p.vy[i], p.vz[i], p.px[i], p.py[i],
                                p.pz[i], p.charge[i], p.nHits[i]);
                 if (withType)
                   fmt::format_to(std::back_inserter(out), FMT_COMPILE(",{}"), p.pdgId[i]);
                 out.push_back('\n');
               });
  }
}

TrackMLSubmissionWriter::TrackMLSubmissionWriter(const std::string& path, bool gzip)
    : m_path(path), m_writer(std::make_unique<TextWriter>(path + ".part", gzip)) {
  m_writer->write("event_id,hit_id,track_id\n");
}

TrackMLSubmissionWriter::~TrackMLSubmissionWriter() {
  if (!m_writer) return;
  // Not closed: an error stopped the writing. A partial submission must not look whole.
  try {
    m_writer->close();
  } catch (const std::exception& e) {
    logger().error("{}", e.what());
  }
  m_writer.reset();
  std::remove((m_path + ".part").c_str());
  logger().warn("submission '{}' was not finished; removed '{}.part'", m_path, m_path);
}

void TrackMLSubmissionWriter::write(const Tracks& tracks) {
  if (!m_writer) throw Error("write to TrackML submission '" + m_path + "' after close");
  if (tracks.hitId.size() != tracks.label.size()) {
    throw Error("TrackML submission '" + m_path + "': event " + std::to_string(tracks.eventId) +
                " has " + std::to_string(tracks.hitId.size()) + " hit ids but " +
                std::to_string(tracks.label.size()) + " labels");
  }
  fmt::memory_buffer buffer;
  for (std::size_t i = 0; i < tracks.size(); ++i) {
    fmt::format_to(std::back_inserter(buffer), FMT_COMPILE("{},{},{}\n"), tracks.eventId,
                   tracks.hitId[i], tracks.label[i]);
    if (buffer.size() >= kWriteFlush) {
      m_writer->write(std::string_view(buffer.data(), buffer.size()));
      buffer.clear();
    }
  }
  m_writer->write(std::string_view(buffer.data(), buffer.size()));
}

void TrackMLSubmissionWriter::close() {
  if (!m_writer) return;
  std::unique_ptr<TextWriter> writer = std::move(m_writer);
  writer->close();
  const std::string part = m_path + ".part";
  if (std::rename(part.c_str(), m_path.c_str()) != 0) {
    throw Error("cannot rename '" + part + "' to '" + m_path + "': " + std::strerror(errno));
  }
}

}  // namespace trkaas
