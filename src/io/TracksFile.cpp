#include "trkaas/io/TracksFile.hpp"

#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "ColumnGroup.hpp"
#include "Hdf5Util.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"

namespace trkaas {

namespace {

struct TrackIndexRows {
  std::vector<std::int64_t> eventId, offset, count;
  template <class Self, class F>
  static void visitImpl(Self& s, F&& f) {
    f("event_id", s.eventId);
    f("offset", s.offset);
    f("count", s.count);
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

struct TracksFileReader::Impl {
  std::string path;
  h5::Handle file;
  TrackIndexRows index;
  h5::ColumnGroup tracks;
  std::unordered_map<std::int64_t, std::size_t> positionOf;
};

TracksFileReader::TracksFileReader(const std::string& path) : m_impl(std::make_unique<Impl>()) {
  Impl& d = *m_impl;
  d.path = path;
  d.file = h5::openForReading(path);
  h5::checkFormat(d.file.get(), path, kTracksFileFormat, kTracksFileSchemaVersion);
  h5::requireGroups(d.file.get(), path, {"index", "tracks"});
  d.tracks = h5::ColumnGroup::open<Tracks>(d.file.get(), "tracks", path);
  h5::readIndex(d.file.get(), path, "tracks", d.tracks.rows(), d.index);
  d.positionOf = h5::positionsOf(d.index.eventId, path);
}

TracksFileReader::~TracksFileReader() = default;
TracksFileReader::TracksFileReader(TracksFileReader&&) noexcept = default;
TracksFileReader& TracksFileReader::operator=(TracksFileReader&&) noexcept = default;

const std::string& TracksFileReader::path() const { return m_impl->path; }
std::size_t TracksFileReader::numEvents() const { return m_impl->index.size(); }
std::int64_t TracksFileReader::eventId(std::size_t i) const { return m_impl->index.eventId.at(i); }

std::int64_t TracksFileReader::find(std::int64_t eventId) const {
  const auto it = m_impl->positionOf.find(eventId);
  return it == m_impl->positionOf.end() ? -1 : static_cast<std::int64_t>(it->second);
}

Tracks TracksFileReader::read(std::size_t i) const {
  const Impl& d = *m_impl;
  if (i >= d.index.size()) {
    throw Error("file '" + d.path + "': event position " + std::to_string(i) +
                " is out of range (the file has " + std::to_string(d.index.size()) + " events)");
  }
  const std::int64_t offset = d.index.offset[i];
  const std::int64_t count = d.index.count[i];
  const std::int64_t rows = d.tracks.rows();
  // Written so that no sum can overflow, whatever a damaged index holds.
  if (offset < 0 || count < 0 || offset > rows || count > rows - offset) {
    throw InputError(d.path, d.index.eventId[i],
                     "index points outside the tables: " + std::to_string(count) +
                         " rows from row " + std::to_string(offset) + " but /tracks has " +
                         std::to_string(rows) + " rows");
  }
  Tracks tracks;
  tracks.eventId = d.index.eventId[i];
  const std::string error =
      d.tracks.read(tracks, static_cast<std::uint64_t>(offset), static_cast<std::uint64_t>(count));
  if (!error.empty()) throw InputError(d.path, d.index.eventId[i], error);
  validateTracks(tracks, d.path);
  return tracks;
}

struct TracksFileWriter::Impl {
  std::string path, partPath;
  h5::Handle file;
  h5::ColumnGroup index, tracks;
  std::unordered_set<std::int64_t> seen;
  bool closed = false;
};

TracksFileWriter::TracksFileWriter(const std::string& path) : TracksFileWriter(path, Config{}) {}

TracksFileWriter::TracksFileWriter(const std::string& path, Config config)
    : m_impl(std::make_unique<Impl>()) {
  if (config.chunkRows == 0) throw Error("TracksFileWriter: chunkRows must be positive");
  if (config.deflateLevel < 0 || config.deflateLevel > 9) {
    throw Error("TracksFileWriter: deflateLevel must be 0-9, got " +
                std::to_string(config.deflateLevel));
  }
  Impl& d = *m_impl;
  d.path = path;
  d.partPath = path + ".part";
  d.file = h5::createFile(d.partPath, kTracksFileFormat, kTracksFileSchemaVersion);
  d.index = h5::ColumnGroup::create<TrackIndexRows>(d.file.get(), "index", kIndexChunkRows,
                                                    config.deflateLevel);
  d.tracks = h5::ColumnGroup::create<Tracks>(d.file.get(), "tracks", config.chunkRows,
                                             config.deflateLevel);
}

TracksFileWriter::~TracksFileWriter() {
  if (m_impl && !m_impl->closed) {
    m_impl->index = {};
    m_impl->tracks = {};
    m_impl->file.reset();
    std::remove(m_impl->partPath.c_str());
    logger().warn("tracks file '{}' was not finished ({} events written); removed '{}'",
                  m_impl->path, m_impl->seen.size(), m_impl->partPath);
  }
}

void TracksFileWriter::append(const Tracks& tracks) {
  Impl& d = *m_impl;
  const auto fail = [&](const std::string& why) {
    throw Error("tracks file '" + d.path + "', event " + std::to_string(tracks.eventId) + ": " +
                why);
  };
  if (d.closed) fail("append after close");
  if (d.seen.count(tracks.eventId) != 0) fail("event was already written");
  validateTracks(tracks, d.path);
  TrackIndexRows row;
  row.eventId.push_back(tracks.eventId);
  row.offset.push_back(d.tracks.rows());
  row.count.push_back(static_cast<std::int64_t>(tracks.size()));
  d.tracks.append(tracks, tracks.size());
  d.index.append(row, 1);
  d.seen.insert(tracks.eventId);
}

void TracksFileWriter::close() {
  Impl& d = *m_impl;
  if (d.closed) return;
  d.index = {};
  d.tracks = {};
  h5::finishFile(d.file, d.partPath, d.path);
  d.closed = true;
}

std::size_t TracksFileWriter::numEvents() const { return m_impl->seen.size(); }

}  // namespace trkaas
