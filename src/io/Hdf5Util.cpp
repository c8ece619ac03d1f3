#include "Hdf5Util.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "trkaas/core/Error.hpp"
#include "trkaas/core/TextFile.hpp"

namespace trkaas::h5 {

void Handle::reset() {
  if (m_id < 0) return;
  switch (H5Iget_type(m_id)) {
    case H5I_FILE:
      H5Fclose(m_id);
      break;
    case H5I_GROUP:
      H5Gclose(m_id);
      break;
    case H5I_DATASET:
      H5Dclose(m_id);
      break;
    case H5I_DATASPACE:
      H5Sclose(m_id);
      break;
    case H5I_DATATYPE:
      H5Tclose(m_id);
      break;
    case H5I_ATTR:
      H5Aclose(m_id);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(m_id);
      break;
    default:
      break;
  }
  m_id = H5I_INVALID_HID;
}

void silenceErrors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {
herr_t collectError(unsigned n, const H5E_error2_t* err, void* data) {
  auto* text = static_cast<std::string*>(data);
  // The innermost entries (n = 0, 1) say what failed; the outer ones say where.
  if (n < 2 && err->desc != nullptr && err->desc[0] != '\0') {
    if (!text->empty()) *text += "; ";
    *text += err->desc;
  }
  return 0;
}
}  // namespace

std::string errorStack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collectError, &text);
  H5Eclear2(H5E_DEFAULT);
  return text;
}

const char* elementTypeName(ElementType type) {
  switch (type) {
    case ElementType::kInt32:
      return "int32";
    case ElementType::kInt64:
      return "int64";
    case ElementType::kFloat32:
      return "float32";
  }
  return "?";
}

hid_t memoryType(ElementType type) {
  switch (type) {
    case ElementType::kInt32:
      return H5T_NATIVE_INT32;
    case ElementType::kInt64:
      return H5T_NATIVE_INT64;
    case ElementType::kFloat32:
      return H5T_NATIVE_FLOAT;
  }
  return H5I_INVALID_HID;
}

hid_t fileType(ElementType type) {
  switch (type) {
    case ElementType::kInt32:
      return H5T_STD_I32LE;
    case ElementType::kInt64:
      return H5T_STD_I64LE;
    case ElementType::kFloat32:
      return H5T_IEEE_F32LE;
  }
  return H5I_INVALID_HID;
}

std::string describeType(hid_t dataset) {
  Handle type(H5Dget_type(dataset));
  if (!type.valid()) return "unknown";
  const std::size_t bits = 8 * H5Tget_size(type.get());
  switch (H5Tget_class(type.get())) {
    case H5T_INTEGER:
      return std::string(H5Tget_sign(type.get()) == H5T_SGN_NONE ? "uint" : "int") +
             std::to_string(bits);
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    default:
      return "another type";
  }
}

bool typeMatches(hid_t dataset, ElementType type) {
  Handle t(H5Dget_type(dataset));
  if (!t.valid()) return false;
  const H5T_class_t cls = H5Tget_class(t.get());
  const std::size_t size = H5Tget_size(t.get());
  switch (type) {
    case ElementType::kInt32:
      return cls == H5T_INTEGER && size == 4 && H5Tget_sign(t.get()) == H5T_SGN_2;
    case ElementType::kInt64:
      return cls == H5T_INTEGER && size == 8 && H5Tget_sign(t.get()) == H5T_SGN_2;
    case ElementType::kFloat32:
      return cls == H5T_FLOAT && size == 4;
  }
  return false;
}

Handle createColumn(hid_t group, const std::string& name, ElementType type, std::size_t chunk,
                    int deflate) {
  const hsize_t dims[1] = {0};
  const hsize_t maxDims[1] = {H5S_UNLIMITED};
  Handle space(H5Screate_simple(1, dims, maxDims));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  const hsize_t chunkDims[1] = {chunk};
  H5Pset_chunk(dcpl.get(), 1, chunkDims);
  if (deflate > 0) {
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(deflate));
  }
  H5Pset_obj_track_times(dcpl.get(), false);
  Handle dataset(H5Dcreate2(group, name.c_str(), fileType(type), space.get(), H5P_DEFAULT,
                            dcpl.get(), H5P_DEFAULT));
  // Capture the HDF5 error text now: closing the property lists would clear it.
  if (!dataset.valid()) throw Error("cannot create dataset " + name + ": " + errorStack());
  return dataset;
}

std::string appendColumn(hid_t dataset, ElementType type, const void* data, std::size_t n) {
  // Every failure returns errorStack() before the local handles close and clear it.
  if (n == 0) return "";
  const std::int64_t old = columnLength(dataset);
  if (old < 0) return "not a one-dimensional dataset";
  const hsize_t newDims[1] = {static_cast<hsize_t>(old) + n};
  if (H5Dset_extent(dataset, newDims) < 0) return "cannot extend: " + errorStack();
  Handle fileSpace(H5Dget_space(dataset));
  const hsize_t start[1] = {static_cast<hsize_t>(old)};
  const hsize_t count[1] = {n};
  if (H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0) {
    return errorStack();
  }
  Handle memSpace(H5Screate_simple(1, count, nullptr));
  if (H5Dwrite(dataset, memoryType(type), memSpace.get(), fileSpace.get(), H5P_DEFAULT, data) < 0) {
    return errorStack();
  }
  return "";
}

std::string readColumn(hid_t dataset, ElementType type, void* out, std::uint64_t offset,
                       std::uint64_t count) {
  if (count == 0) return "";
  Handle fileSpace(H5Dget_space(dataset));
  const hsize_t start[1] = {offset};
  const hsize_t cnt[1] = {count};
  if (H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr) < 0) {
    return errorStack();
  }
  Handle memSpace(H5Screate_simple(1, cnt, nullptr));
  if (H5Dread(dataset, memoryType(type), memSpace.get(), fileSpace.get(), H5P_DEFAULT, out) < 0) {
    return errorStack();
  }
  return "";
}

std::int64_t columnLength(hid_t dataset) {
  Handle space(H5Dget_space(dataset));
  if (!space.valid() || H5Sget_simple_extent_ndims(space.get()) != 1) return -1;
  hsize_t dims[1] = {0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  return static_cast<std::int64_t>(dims[0]);
}

Handle createGroup(hid_t parent, const std::string& name) {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE));
  H5Pset_obj_track_times(gcpl.get(), false);
  Handle group(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT));
  if (!group.valid()) throw Error("cannot create group " + name + ": " + errorStack());
  return group;
}

bool exists(hid_t loc, const std::string& path) {
  // Check each component: H5Lexists fails (rather than returning false) on a missing parent.
  std::size_t pos = 0;
  while (pos < path.size()) {
    std::size_t next = path.find('/', pos + 1);
    if (next == std::string::npos) next = path.size();
    const std::string prefix = path.substr(0, next);
    if (prefix != "/" && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next;
  }
  return true;
}

void writeAttribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Handle space(H5Screate(H5S_SCALAR));
  Handle attr(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  H5Awrite(attr.get(), type.get(), value.data());
}

void writeAttribute(hid_t object, const std::string& name, std::int32_t value) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle attr(
      H5Acreate2(object, name.c_str(), H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  H5Awrite(attr.get(), H5T_NATIVE_INT32, &value);
}

namespace {
/// Opens a scalar attribute; "" or the reason it cannot be used.
std::string openScalarAttribute(hid_t object, const std::string& name, Handle& attr) {
  if (H5Aexists(object, name.c_str()) <= 0) return "is missing";
  attr = Handle(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) return "cannot be opened: " + errorStack();
  Handle space(H5Aget_space(attr.get()));
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    return "is not a single value (it has " +
           std::to_string(H5Sget_simple_extent_npoints(space.get())) + " elements)";
  }
  return "";
}
}  // namespace

std::string readAttribute(hid_t object, const std::string& name, std::string& value) {
  Handle attr;
  std::string why = openScalarAttribute(object, name, attr);
  if (!why.empty()) return why;
  Handle type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING) return "is not a string";
  if (H5Tis_variable_str(type.get()) > 0) {
    // Variable-length string, as h5py writes by default.
    Handle memType(H5Tcopy(H5T_C_S1));
    H5Tset_size(memType.get(), H5T_VARIABLE);
    char* text = nullptr;
    if (H5Aread(attr.get(), memType.get(), &text) < 0) return "cannot be read: " + errorStack();
    value.assign(text != nullptr ? text : "");
    H5free_memory(text);
    return "";
  }
  std::vector<char> buffer(H5Tget_size(type.get()) + 1, '\0');
  if (H5Aread(attr.get(), type.get(), buffer.data()) < 0) return "cannot be read: " + errorStack();
  value.assign(buffer.data());
  return "";
}

std::string readAttribute(hid_t object, const std::string& name, std::int64_t& value) {
  Handle attr;
  std::string why = openScalarAttribute(object, name, attr);
  if (!why.empty()) return why;
  Handle type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_INTEGER) return "is not an integer";
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0) return "cannot be read: " + errorStack();
  return "";
}

Handle fileAccessProperties() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
#if H5_VERSION_GE(1, 10, 7)
  // File systems without flock (some Lustre/NFS mounts) must still work.
  H5Pset_file_locking(fapl.get(), true, true);
#endif
  return fapl;
}

/// Opens an HDF5 file read-only with checks that say what is wrong.
Handle openForReading(const std::string& path) {
  silenceErrors();
  if (!fileExists(path)) {
    throw InputError(path, InputError::kNoEvent,
                     isDirectory(path) ? "is a directory, not a file" : "no such file");
  }
  const htri_t isHdf5 = H5Fis_hdf5(path.c_str());
  if (isHdf5 <= 0) {
    throw InputError(
        path, InputError::kNoEvent,
        isHdf5 == 0 ? "not an HDF5 file" : "cannot be checked as HDF5: " + errorStack());
  }
  Handle fapl = fileAccessProperties();
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!file.valid()) {
    throw InputError(path, InputError::kNoEvent,
                     "cannot open (truncated or damaged HDF5 file?): " + errorStack());
  }
  return file;
}

void checkFormat(hid_t file, const std::string& path, const char* expectedFormat,
                 std::int32_t expectedVersion) {
  std::string format;
  std::string why = readAttribute(file, "format", format);
  if (why == "is missing") {
    throw InputError(
        path, InputError::kNoEvent,
        std::string("not a ") + expectedFormat + " file: the root attribute 'format' is missing");
  }
  if (!why.empty()) {
    throw InputError(path, InputError::kNoEvent, "the root attribute 'format' " + why);
  }
  if (format != expectedFormat) {
    throw InputError(path, InputError::kNoEvent,
                     "format is '" + format + "', expected '" + expectedFormat + "'");
  }
  std::int64_t version = 0;
  why = readAttribute(file, "schema_version", version);
  if (!why.empty()) {
    throw InputError(path, InputError::kNoEvent, "the root attribute 'schema_version' " + why);
  }
  if (version != expectedVersion) {
    throw InputError(path, InputError::kNoEvent,
                     "unknown schema version " + std::to_string(version) +
                         " (this build reads version " + std::to_string(expectedVersion) + ")");
  }
}

Handle createFile(const std::string& partPath, const std::string& format, std::int32_t version) {
  silenceErrors();
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
  H5Pset_obj_track_times(fcpl.get(), false);
  Handle fapl = fileAccessProperties();
  Handle file(H5Fcreate(partPath.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()));
  if (!file.valid()) throw Error("cannot create '" + partPath + "': " + errorStack());
  writeAttribute(file.get(), "format", format);
  writeAttribute(file.get(), "schema_version", version);
  writeAttribute(file.get(), "created_by", std::string("trkaas " TRKAAS_VERSION));
  return file;
}

void finishFile(Handle& file, const std::string& partPath, const std::string& path) {
  if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
    throw Error("cannot flush '" + partPath + "': " + errorStack());
  }
  const hid_t id = file.release();
  if (H5Fclose(id) < 0) throw Error("cannot close '" + partPath + "': " + errorStack());
  if (std::rename(partPath.c_str(), path.c_str()) != 0) {
    throw Error("cannot rename '" + partPath + "' to '" + path + "': " + std::strerror(errno));
  }
}

std::unordered_map<std::int64_t, std::size_t> positionsOf(const std::vector<std::int64_t>& ids,
                                                          const std::string& path) {
  std::unordered_map<std::int64_t, std::size_t> positions;
  positions.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto [it, inserted] = positions.emplace(ids[i], i);
    if (!inserted) {
      throw InputError(path, ids[i],
                       "event id appears twice in the index (rows " + std::to_string(it->second) +
                           " and " + std::to_string(i) + ")");
    }
  }
  return positions;
}

}  // namespace trkaas::h5
