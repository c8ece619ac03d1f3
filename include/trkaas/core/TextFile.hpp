#pragma once
/// Line-oriented text input and output that handles plain and gzip-compressed files
/// alike (`.gz` is detected from the content on input, chosen by the caller on output).
/// Used for TrackML CSV files and the shipped detector description.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace trkaas {

/// Reads a text file line by line; gzip is decompressed transparently.
class LineReader {
 public:
  /// Throws trkaas::InputError if the file cannot be opened.
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// Next line without its end-of-line characters; false at end of file.
  /// Throws trkaas::InputError on a read or decompression error.
  bool next(std::string& line);
  /// 1-based number of the line last returned by next().
  std::size_t lineNumber() const { return m_lineNumber; }
  const std::string& path() const { return m_path; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::string m_path;
  std::size_t m_lineNumber = 0;
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
