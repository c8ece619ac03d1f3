#pragma once
/// Line-oriented text input and output that handles plain and gzip-compressed files
/// alike (`.gz` is detected from the content on input, chosen by the caller on output).
/// Used for TrackML CSV files, the shipped detector description and list files.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace trkaas {

/// Reads a plain or gzip text file line by line, in large blocks (gzip is detected from
/// the content). A gzip stream that ends before its trailer is an error ("truncated gzip
/// file"), so a cut .gz never passes for a shorter file. The one line reader of trkaas:
/// TrackML CSV, the detector description, list files.
class LineReader {
 public:
  /// Throws trkaas::InputError naming `path` (and `eventId`, when the file belongs to one
  /// event; -1: none) if the file cannot be opened.
  explicit LineReader(const std::string& path, std::int64_t eventId = -1);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// Next line without its end-of-line characters, as a view into the reader's buffer that
  /// stays valid until the next call; false at end of file. Throws trkaas::InputError on a
  /// read or decompression error, naming the line after which it happened.
  bool next(std::string_view& line);
  /// The same, copied into `line`.
  bool next(std::string& line);
  /// 1-based number of the line last returned by next().
  std::size_t lineNumber() const;
  const std::string& path() const { return m_path; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::string m_path;
};

/// Writes a text file, gzip-compressed when `gzip` is true. Errors throw trkaas::Error.
class TextWriter {
 public:
  TextWriter(const std::string& path, bool gzip);
  ~TextWriter();
  TextWriter(const TextWriter&) = delete;
  TextWriter& operator=(const TextWriter&) = delete;

  void write(std::string_view text);
  /// Flushes and closes; throws if anything failed. Called by the destructor otherwise
  /// (where errors can only be logged).
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::string m_path;
};

/// Splits a CSV line on commas (no quoting: TrackML and detector files have none).
void splitCsv(std::string_view line, std::vector<std::string_view>& fields);

/// True if a file exists and is a regular file.
bool fileExists(const std::string& path);

/// The entries of a list file (e.g. --input-list): one per line, surrounding blanks
/// trimmed, empty lines and lines starting with '#' skipped. Throws InputError.
std::vector<std::string> readListFile(const std::string& path);
/// True if `path` is a directory.
bool isDirectory(const std::string& path);

}  // namespace trkaas
