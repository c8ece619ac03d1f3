#pragma once
// Internal helpers around the HDF5 C API: RAII handles, error text from the HDF5
// error stack, and one-dimensional chunked, compressed, extendible columns.
// Not a public header: HDF5 types stay out of include/.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace trkaas::h5 {

/// Owns one HDF5 identifier and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : m_id(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : m_id(o.m_id) { o.m_id = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      m_id = o.m_id;
      o.m_id = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return m_id; }
  /// Gives up ownership (for closing by hand, with its error checked).
  hid_t release() {
    const hid_t id = m_id;
    m_id = H5I_INVALID_HID;
    return id;
  }
  bool valid() const { return m_id >= 0; }
  void reset();

 private:
  hid_t m_id = H5I_INVALID_HID;
};

/// Turns off HDF5's printing of its error stack (we turn errors into exceptions).
void silenceErrors();
/// The innermost messages of the current HDF5 error stack, or "" when empty.
std::string errorStack();

/// Element types that columns may hold.
enum class ElementType { kInt32, kInt64, kFloat32 };
const char* elementTypeName(ElementType type);
template <typename T>
ElementType elementTypeOf();
template <>
inline ElementType elementTypeOf<std::int32_t>() {
  return ElementType::kInt32;
}
template <>
inline ElementType elementTypeOf<std::int64_t>() {
  return ElementType::kInt64;
}
template <>
inline ElementType elementTypeOf<float>() {
  return ElementType::kFloat32;
}
hid_t memoryType(ElementType type);
hid_t fileType(ElementType type);

/// Describes what an on-disk dataset's type is, in our words ("int64", "float64", "string", ...).
std::string describeType(hid_t dataset);
/// True if the dataset's type can be read as `type` without loss of meaning
/// (same class, signedness and size).
bool typeMatches(hid_t dataset, ElementType type);

/// Creates an empty extendible 1-D dataset with the given chunk size and deflate level
/// (0 = none; shuffle is on whenever deflate is). Object time stamps are off so that
/// the same content gives the same bytes. Throws Error with HDF5's reason.
Handle createColumn(hid_t group, const std::string& name, ElementType type, std::size_t chunk,
                    int deflate);
/// Appends n elements to a 1-D extendible dataset. Returns "" or HDF5's reason for failing.
std::string appendColumn(hid_t dataset, ElementType type, const void* data, std::size_t n);
/// Reads elements [offset, offset+count) of a 1-D dataset into out. Returns "" or the reason.
std::string readColumn(hid_t dataset, ElementType type, void* out, std::uint64_t offset,
                       std::uint64_t count);
/// Number of elements of a 1-D dataset; -1 if it is not 1-D or cannot be queried.
std::int64_t columnLength(hid_t dataset);

/// Creates a group without time stamps; throws Error with HDF5's reason.
Handle createGroup(hid_t parent, const std::string& name);
/// True if `path` (e.g. "/hits/x") exists as a link below `loc`.
bool exists(hid_t loc, const std::string& path);

/// Writes/reads scalar attributes on an object.
void writeAttribute(hid_t object, const std::string& name, const std::string& value);
void writeAttribute(hid_t object, const std::string& name, std::int32_t value);
/// Reads a single-valued attribute (fixed- or variable-length string; any integer).
/// Returns "" on success, else why not, to follow the attribute's name in a message
/// ("is missing", "is not a string", "is not a single value (...)").
std::string readAttribute(hid_t object, const std::string& name, std::string& value);
std::string readAttribute(hid_t object, const std::string& name, std::int64_t& value);

/// File access properties used for every file: tolerate file systems without flock.
Handle fileAccessProperties();
/// Opens an HDF5 file read-only; InputError says whether it is missing, not HDF5 or damaged.
Handle openForReading(const std::string& path);
/// Checks the root attributes `format` and `schema_version`; InputError otherwise.
void checkFormat(hid_t file, const std::string& path, const char* expectedFormat,
                 std::int32_t expectedVersion);

/// Creates a new file at `partPath` (truncating) without object time stamps, with the
/// root attributes `format`, `schema_version` and `created_by`. Throws Error.
Handle createFile(const std::string& partPath, const std::string& format, std::int32_t version);
/// Flushes and closes `file`, then renames `partPath` to `path`. Throws Error.
void finishFile(Handle& file, const std::string& partPath, const std::string& path);
/// Event id -> position in the index; InputError naming the file if an id appears twice.
std::unordered_map<std::int64_t, std::size_t> positionsOf(const std::vector<std::int64_t>& ids,
                                                          const std::string& path);

}  // namespace trkaas::h5
