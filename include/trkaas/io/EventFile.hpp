#pragma once
/// HDF5 event files: many events per file, one table per kind of row, and an index
/// so that event i is read without touching the others. The schema is documented in
/// docs/event-file-format.md; `kEventFileSchemaVersion` is bumped on any change.
///
/// Many processes (MPI ranks) may read different events of one file at the same
/// time: each opens its own EventFileReader. The HDF5 library in use is not
/// thread-safe, so each process uses readers and writers from one thread at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"

namespace trkaas {

/// Value of the root attribute `format` of an event file.
inline constexpr const char* kEventFileFormat = "trkaas-events";
/// Schema version written by this build, and the only one it reads.
inline constexpr std::int32_t kEventFileSchemaVersion = 1;

/// The root attribute `format` of a trkaas HDF5 file (kEventFileFormat, or the tracks
/// file's), so tools can tell files apart. InputError if the file is missing, not HDF5
/// or has no such attribute.
std::string readFileFormat(const std::string& path);

/// Reads events from a trkaas HDF5 event file.
///
/// The constructor checks the file as a whole (HDF5, format, schema version, every
/// dataset present with the right type, columns of equal length, event ids unique) and
/// throws trkaas::InputError naming the file on any problem. `read(i)` checks that
/// event: index inside the tables, at least one hit, finite coordinates, unique hit ids;
/// a problem there throws InputError naming the file and the event, and leaves the
/// reader usable for the other events.
class EventFileReader {
 public:
  explicit EventFileReader(const std::string& path);
  ~EventFileReader();
  EventFileReader(EventFileReader&&) noexcept;
  EventFileReader& operator=(EventFileReader&&) noexcept;

  const std::string& path() const;
  std::size_t numEvents() const;
  /// Event id of the event at position i (0 <= i < numEvents()).
  std::int64_t eventId(std::size_t i) const;
  /// Number of hits of event i, from the index (no table access).
  std::int64_t numHits(std::size_t i) const;
  /// Position of the event with this id, or -1.
  std::int64_t find(std::int64_t eventId) const;
  /// Which optional tables the file stores (for every event alike).
  bool hasTruth() const;
  bool hasCells() const;
  bool hasParticles() const;

  /// Reads event i with all tables the file has.
  Event read(std::size_t i) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Writes events to a new trkaas HDF5 event file.
///
/// The file is written as `path + ".part"` and renamed to `path` by close(), so a
/// file that exists under its final name is complete. The first event decides which
/// optional tables (truth, cells, particles) the file holds; every later event must
/// have the same ones. With the same events the file is byte-for-byte the same.
class EventFileWriter {
 public:
  struct Config {
    /// Rows per HDF5 chunk: the unit of compression and of reading.
    std::size_t chunkRows = 16384;
    /// Deflate level 0-9 (0: uncompressed); shuffle is used whenever compressing.
    int deflateLevel = 1;
  };

  /// Throws trkaas::Error if the file cannot be created or the config is invalid.
  EventFileWriter(const std::string& path, Config config);
  explicit EventFileWriter(const std::string& path);
  /// Without close() (an error on the way), the ".part" file is removed and a warning logged.
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  /// Validates and appends one event. Throws InputError for an invalid event (naming
  /// the event) and Error for a duplicate event id or a write failure.
  void append(const Event& event);
  /// Finishes the file and renames it to its final name.
  void close();
  std::size_t numEvents() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace trkaas
