#pragma once
/// HDF5 tracks files: the result of track finding, one row (event id, hit id, track
/// id) per hit, grouped by event with an index like the event files'. Schema in
/// docs/event-file-format.md. `trkaas convert` turns it into a TrackML submission CSV.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "trkaas/core/Event.hpp"

namespace trkaas {

inline constexpr const char* kTracksFileFormat = "trkaas-tracks";
inline constexpr std::int32_t kTracksFileSchemaVersion = 1;

/// Reads a tracks file; errors as for EventFileReader (InputError naming file/event).
class TracksFileReader {
 public:
  explicit TracksFileReader(const std::string& path);
  ~TracksFileReader();
  TracksFileReader(TracksFileReader&&) noexcept;
  TracksFileReader& operator=(TracksFileReader&&) noexcept;

  const std::string& path() const;
  std::size_t numEvents() const;
  std::int64_t eventId(std::size_t i) const;
  /// Position of the event with this id, or -1.
  std::int64_t find(std::int64_t eventId) const;
  /// Tracks of event i: hit ids and labels (-1: no track), in the order written.
  Tracks read(std::size_t i) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// Writes a new tracks file as `path + ".part"`, renamed to `path` by close().
class TracksFileWriter {
 public:
  struct Config {
    /// Rows per HDF5 chunk: the unit of compression and of reading.
    std::size_t chunkRows = 16384;
    /// Deflate level 0-9 (0: uncompressed); shuffle is used whenever compressing.
    int deflateLevel = 1;
  };
  /// Throws trkaas::Error if the file cannot be created or the config is invalid.
  TracksFileWriter(const std::string& path, Config config);
  explicit TracksFileWriter(const std::string& path);
  ~TracksFileWriter();
  TracksFileWriter(const TracksFileWriter&) = delete;
  TracksFileWriter& operator=(const TracksFileWriter&) = delete;

  /// Appends the tracks of one event. Throws Error for a duplicate event id, columns
  /// of different length, duplicate hit ids or a label below -1.
  void append(const Tracks& tracks);
  void close();
  std::size_t numEvents() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace trkaas
