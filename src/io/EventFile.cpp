#include "trkaas/io/EventFile.hpp"

#include <cstdio>
#include <unordered_map>

#include "ColumnGroup.hpp"
#include "Hdf5Util.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"
#include "trkaas/core/TextFile.hpp"

namespace trkaas {

namespace {

/// One row per event: where its rows lie in each table.
struct EventIndexRows {
  std::vector<std::int64_t> eventId, hitOffset, hitCount, cellOffset, cellCount, particleOffset,
      particleCount;

  template <class Self, class F>
  static void visitImpl(Self& s, F&& f) {
    f("event_id", s.eventId);
    f("hit_offset", s.hitOffset);
    f("hit_count", s.hitCount);
    f("cell_offset", s.cellOffset);
    f("cell_count", s.cellCount);
    f("particle_offset", s.particleOffset);
    f("particle_count", s.particleCount);
  }
  template <class F>
  void visit(F&& f) {
    visitImpl(*this, f);
  }
  template <class F>
  void visit(F&& f) const {
    visitImpl(*this, f);
  }
  std::size_t size() const { return eventId.size(); }
};

constexpr std::size_t kIndexChunkRows = 1024;

}  // namespace

std::string readFileFormat(const std::string& path) {
  h5::Handle file = h5::openForReading(path);
  std::string format;
  const std::string why = h5::readAttribute(file.get(), "format", format);
  if (!why.empty()) {
    throw InputError(path, InputError::kNoEvent,
                     "not a trkaas file: the root attribute 'format' " + why);
  }
  return format;
}

// ---- reader ------------------------------------------------------------------------------

struct EventFileReader::Impl {
  std::string path;
  h5::Handle file;
  EventIndexRows index;
  h5::ColumnGroup hits, truth, cells, particles;
  std::unordered_map<std::int64_t, std::size_t> positionOf;

  /// Rows [offset, offset+count) of `group` for event i, checked against the table.
  void checkRange(std::size_t i, const char* what, std::int64_t offset, std::int64_t count,
                  const h5::ColumnGroup& group) const {
    if (!group.valid()) {
      throw InputError(path, index.eventId[i],
                       std::string("the index gives ") + std::to_string(count) + " " + what +
                           " rows but the file has no " + what + " table");
    }
    // Written so that no sum can overflow, whatever a damaged index holds.
    if (offset < 0 || count < 0 || offset > group.rows() || count > group.rows() - offset) {
      throw InputError(path, index.eventId[i],
                       "index points outside the tables: " + std::to_string(count) + " " + what +
                           " rows from row " + std::to_string(offset) + " but /" + group.name() +
                           " has " + std::to_string(group.rows()) + " rows");
    }
  }

  Event readEvent(std::size_t i) const {
    const EventIndexRows& ix = index;
    Event event;
    event.eventId = ix.eventId[i];
    checkRange(i, "hit", ix.hitOffset[i], ix.hitCount[i], hits);
    readTable(i, hits, event.hits, ix.hitOffset[i], ix.hitCount[i]);
    if (truth.valid()) readTable(i, truth, event.truth, ix.hitOffset[i], ix.hitCount[i]);
    // An optional table the file lacks is fine as long as the index gives it no rows.
    if (cells.valid() || ix.cellCount[i] != 0) {
      checkRange(i, "cell", ix.cellOffset[i], ix.cellCount[i], cells);
      readTable(i, cells, event.cells, ix.cellOffset[i], ix.cellCount[i]);
    }
    if (particles.valid() || ix.particleCount[i] != 0) {
      checkRange(i, "particle", ix.particleOffset[i], ix.particleCount[i], particles);
      readTable(i, particles, event.particles, ix.particleOffset[i], ix.particleCount[i]);
    }
    validateEvent(event, path);
    return event;
  }

  template <class Table>
  void readTable(std::size_t i, const h5::ColumnGroup& group, Table& table, std::int64_t offset,
                 std::int64_t count) const {
    const std::string error =
        group.read(table, static_cast<std::uint64_t>(offset), static_cast<std::uint64_t>(count));
    if (!error.empty()) throw InputError(path, index.eventId[i], error);
  }
};

EventFileReader::EventFileReader(const std::string& path) : m_impl(std::make_unique<Impl>()) {
  Impl& d = *m_impl;
  d.path = path;
  d.file = h5::openForReading(path);
  h5::checkFormat(d.file.get(), path, kEventFileFormat, kEventFileSchemaVersion);
  h5::requireGroups(d.file.get(), path, {"index", "hits"});
  d.hits = h5::ColumnGroup::open<Hits>(d.file.get(), "hits", path);
  if (h5::exists(d.file.get(), "/truth")) {
    d.truth = h5::ColumnGroup::open<HitTruth>(d.file.get(), "truth", path);
    if (d.truth.rows() != d.hits.rows()) {
      throw InputError(path, InputError::kNoEvent,
                       "truncated data: /truth has " + std::to_string(d.truth.rows()) +
                           " rows but /hits has " + std::to_string(d.hits.rows()));
    }
  }
  if (h5::exists(d.file.get(), "/cells")) {
    d.cells = h5::ColumnGroup::open<Cells>(d.file.get(), "cells", path);
  }
  if (h5::exists(d.file.get(), "/particles")) {
    d.particles = h5::ColumnGroup::open<Particles>(d.file.get(), "particles", path);
  }
  h5::readIndex(d.file.get(), path, "hits", d.hits.rows(), d.index);
  d.positionOf = h5::positionsOf(d.index.eventId, path);
}

EventFileReader::~EventFileReader() = default;
EventFileReader::EventFileReader(EventFileReader&&) noexcept = default;
EventFileReader& EventFileReader::operator=(EventFileReader&&) noexcept = default;

const std::string& EventFileReader::path() const { return m_impl->path; }
std::size_t EventFileReader::numEvents() const { return m_impl->index.size(); }
std::int64_t EventFileReader::eventId(std::size_t i) const { return m_impl->index.eventId.at(i); }
std::int64_t EventFileReader::numHits(std::size_t i) const { return m_impl->index.hitCount.at(i); }
bool EventFileReader::hasTruth() const { return m_impl->truth.valid(); }
bool EventFileReader::hasCells() const { return m_impl->cells.valid(); }
bool EventFileReader::hasParticles() const { return m_impl->particles.valid(); }

std::int64_t EventFileReader::find(std::int64_t eventId) const {
  const auto it = m_impl->positionOf.find(eventId);
  return it == m_impl->positionOf.end() ? -1 : static_cast<std::int64_t>(it->second);
}

Event EventFileReader::read(std::size_t i) const {
  const Impl& d = *m_impl;
  if (i >= d.index.size()) {
    throw Error("file '" + d.path + "': event position " + std::to_string(i) +
                " is out of range (the file has " + std::to_string(d.index.size()) + " events)");
  }
  try {
    return d.readEvent(i);
  } catch (const std::bad_alloc&) {
    throw InputError(d.path, d.index.eventId[i], "the event does not fit in memory");
  } catch (const std::length_error&) {
    throw InputError(d.path, d.index.eventId[i], "the event does not fit in memory");
  }
}

// ---- writer ------------------------------------------------------------------------------

struct EventFileWriter::Impl {
  std::string path, partPath;
  Config config;
  h5::Handle file;
  h5::ColumnGroup index, hits, truth, cells, particles;
  bool hasTruth = false, hasCells = false, hasParticles = false;
  std::unordered_map<std::int64_t, std::size_t> seen;
  bool closed = false;
};

EventFileWriter::EventFileWriter(const std::string& path) : EventFileWriter(path, Config{}) {}

EventFileWriter::EventFileWriter(const std::string& path, Config config)
    : m_impl(std::make_unique<Impl>()) {
  if (config.chunkRows == 0) throw Error("EventFileWriter: chunkRows must be positive");
  if (config.deflateLevel < 0 || config.deflateLevel > 9) {
    throw Error("EventFileWriter: deflateLevel must be 0-9, got " +
                std::to_string(config.deflateLevel));
  }
  Impl& d = *m_impl;
  d.path = path;
  d.partPath = path + ".part";
  d.config = config;
  d.file = h5::createFile(d.partPath, kEventFileFormat, kEventFileSchemaVersion);
  d.index = h5::ColumnGroup::create<EventIndexRows>(d.file.get(), "index", kIndexChunkRows,
                                                    config.deflateLevel);
  d.hits =
      h5::ColumnGroup::create<Hits>(d.file.get(), "hits", config.chunkRows, config.deflateLevel);
}

EventFileWriter::~EventFileWriter() {
  if (m_impl && !m_impl->closed) {
    // An unfinished file is of no use and must not be mistaken for a result.
    m_impl->index = {};
    m_impl->hits = {};
    m_impl->truth = {};
    m_impl->cells = {};
    m_impl->particles = {};
    m_impl->file.reset();
    std::remove(m_impl->partPath.c_str());
    logger().warn("event file '{}' was not finished ({} events written); removed '{}'",
                  m_impl->path, m_impl->seen.size(), m_impl->partPath);
  }
}

void EventFileWriter::append(const Event& event) {
  Impl& d = *m_impl;
  if (d.closed) throw Error("event file '" + d.path + "': append after close");
  validateEvent(event, d.path);
  if (d.seen.count(event.eventId) != 0) {
    throw Error("event file '" + d.path + "': event id " + std::to_string(event.eventId) +
                " was already written");
  }
  const auto optionalTables = [&](const char* name, bool has, bool& fileHas, h5::ColumnGroup& g,
                                  auto tag) {
    using Table = decltype(tag);
    if (d.seen.empty()) {
      fileHas = has;
      if (has) {
        g = h5::ColumnGroup::create<Table>(d.file.get(), name, d.config.chunkRows,
                                           d.config.deflateLevel);
      }
    } else if (has != fileHas) {
      throw InputError(d.path, event.eventId,
                       std::string(has ? "has " : "has no ") + name +
                           ", unlike the first event of the file (every event must have the "
                           "same tables)");
    }
  };
  optionalTables("truth", event.hasTruth(), d.hasTruth, d.truth, HitTruth{});
  optionalTables("cells", event.hasCells(), d.hasCells, d.cells, Cells{});
  optionalTables("particles", event.hasParticles(), d.hasParticles, d.particles, Particles{});

  EventIndexRows row;
  row.eventId.push_back(event.eventId);
  row.hitOffset.push_back(d.hits.rows());
  row.hitCount.push_back(static_cast<std::int64_t>(event.hits.size()));
  row.cellOffset.push_back(d.cells.rows());
  row.cellCount.push_back(static_cast<std::int64_t>(event.cells.size()));
  row.particleOffset.push_back(d.particles.rows());
  row.particleCount.push_back(static_cast<std::int64_t>(event.particles.size()));

  d.hits.append(event.hits, event.hits.size());
  if (d.hasTruth) d.truth.append(event.truth, event.truth.size());
  if (d.hasCells) d.cells.append(event.cells, event.cells.size());
  if (d.hasParticles) d.particles.append(event.particles, event.particles.size());
  d.index.append(row, 1);
  d.seen.emplace(event.eventId, d.seen.size());
}

void EventFileWriter::close() {
  Impl& d = *m_impl;
  if (d.closed) return;
  d.index = {};
  d.hits = {};
  d.truth = {};
  d.cells = {};
  d.particles = {};
  h5::finishFile(d.file, d.partPath, d.path);
  d.closed = true;
}

std::size_t EventFileWriter::numEvents() const { return m_impl->seen.size(); }

}  // namespace trkaas
