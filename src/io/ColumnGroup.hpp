#pragma once
// Internal: a group of equally long 1-D columns in an HDF5 file, described by a
// `visitColumns(table, f)` overload that calls f(name, vector) for every column of a
// structure-of-arrays table. Writers append whole tables; readers read row ranges.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "Hdf5Util.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Event.hpp"

namespace trkaas::h5 {

// Column names are part of the file schema (docs/event-file-format.md).
template <class H, class F>
void visitHitColumns(H& h, F&& f) {
  f("hit_id", h.hitId);
  f("x", h.x);
  f("y", h.y);
  f("z", h.z);
  f("volume_id", h.volumeId);
  f("layer_id", h.layerId);
  f("module_id", h.moduleId);
}
template <class H, class F>
void visitTruthColumns(H& t, F&& f) {
  f("particle_id", t.particleId);
  f("tx", t.tx);
  f("ty", t.ty);
  f("tz", t.tz);
  f("tpx", t.tpx);
  f("tpy", t.tpy);
  f("tpz", t.tpz);
  f("weight", t.weight);
}
template <class H, class F>
void visitCellColumns(H& c, F&& f) {
  f("hit_id", c.hitId);
  f("ch0", c.ch0);
  f("ch1", c.ch1);
  f("value", c.value);
}
template <class H, class F>
void visitParticleColumns(H& p, F&& f) {
  f("particle_id", p.particleId);
  f("pdg_id", p.pdgId);
  f("vx", p.vx);
  f("vy", p.vy);
  f("vz", p.vz);
  f("px", p.px);
  f("py", p.py);
  f("pz", p.pz);
  f("charge", p.charge);
  f("n_hits", p.nHits);
}

template <class H, class F>
void visitTrackColumns(H& t, F&& f) {
  f("hit_id", t.hitId);
  f("track_id", t.label);
}

/// Dispatches to the visit function of a table type.
struct Visit {
  template <class F>
  void operator()(Hits& t, F&& f) const {
    visitHitColumns(t, f);
  }
  template <class F>
  void operator()(const Hits& t, F&& f) const {
    visitHitColumns(t, f);
  }
  template <class F>
  void operator()(HitTruth& t, F&& f) const {
    visitTruthColumns(t, f);
  }
  template <class F>
  void operator()(const HitTruth& t, F&& f) const {
    visitTruthColumns(t, f);
  }
  template <class F>
  void operator()(Cells& t, F&& f) const {
    visitCellColumns(t, f);
  }
  template <class F>
  void operator()(const Cells& t, F&& f) const {
    visitCellColumns(t, f);
  }
  template <class F>
  void operator()(Particles& t, F&& f) const {
    visitParticleColumns(t, f);
  }
  template <class F>
  void operator()(const Particles& t, F&& f) const {
    visitParticleColumns(t, f);
  }
  template <class F>
  void operator()(Tracks& t, F&& f) const {
    visitTrackColumns(t, f);
  }
  template <class F>
  void operator()(const Tracks& t, F&& f) const {
    visitTrackColumns(t, f);
  }
  // Any other table type provides a member function visit(f).
  template <class T, class F>
  void operator()(T& t, F&& f) const {
    t.visit(f);
  }
};

/// One open group of columns.
class ColumnGroup {
 public:
  ColumnGroup() = default;

  /// Creates the group and one empty column per field of Table.
  template <class Table>
  static ColumnGroup create(hid_t file, const std::string& group, std::size_t chunk, int deflate) {
    ColumnGroup g;
    g.m_group = group;
    Handle grp = createGroup(file, group);
    Table empty;
    Visit{}(empty, [&](const char* name, auto& column) {
      using V = typename std::decay_t<decltype(column)>::value_type;
      g.m_names.emplace_back(name);
      g.m_datasets.push_back(createColumn(grp.get(), name, elementTypeOf<V>(), chunk, deflate));
    });
    return g;
  }

  /// Opens an existing group, checking that every column exists, has the right type
  /// and the same length. Problems throw InputError(path, kNoEvent, ...).
  template <class Table>
  static ColumnGroup open(hid_t file, const std::string& group, const std::string& path) {
    ColumnGroup g;
    g.m_group = group;
    Table empty;
    Visit{}(empty, [&](const char* name, auto& column) {
      using V = typename std::decay_t<decltype(column)>::value_type;
      const std::string full = group + "/" + name;
      if (!exists(file, full)) {
        throw InputError(path, InputError::kNoEvent, "missing dataset " + full);
      }
      Handle d(H5Dopen2(file, full.c_str(), H5P_DEFAULT));
      if (!d.valid()) {
        throw InputError(path, InputError::kNoEvent,
                         "cannot open dataset " + full + ": " + errorStack());
      }
      if (!typeMatches(d.get(), elementTypeOf<V>())) {
        throw InputError(path, InputError::kNoEvent,
                         "dataset " + full + " has type " + describeType(d.get()) + ", expected " +
                             elementTypeName(elementTypeOf<V>()));
      }
      const std::int64_t rows = columnLength(d.get());
      if (rows < 0) {
        throw InputError(path, InputError::kNoEvent, "dataset " + full + " is not one-dimensional");
      }
      if (g.m_datasets.empty()) {
        g.m_rows = rows;
      } else if (rows != g.m_rows) {
        throw InputError(path, InputError::kNoEvent,
                         "truncated data: " + full + " has " + std::to_string(rows) + " rows but " +
                             group + "/" + g.m_names.front() + " has " + std::to_string(g.m_rows));
      }
      g.m_names.emplace_back(name);
      g.m_datasets.push_back(std::move(d));
    });
    return g;
  }

  const std::string& name() const { return m_group; }
  std::int64_t rows() const { return m_rows; }
  bool valid() const { return !m_datasets.empty(); }

  /// Appends all rows of the table; throws Error on failure.
  template <class Table>
  void append(const Table& table, std::size_t n) {
    std::size_t i = 0;
    Visit{}(table, [&](const char* name, const auto& column) {
      using V = typename std::decay_t<decltype(column)>::value_type;
      const std::string error =
          appendColumn(m_datasets[i].get(), elementTypeOf<V>(), column.data(), n);
      if (!error.empty()) {
        throw Error("cannot append to dataset " + m_group + "/" + name + ": " + error);
      }
      ++i;
    });
    m_rows += static_cast<std::int64_t>(n);
  }

  /// Reads rows [offset, offset+count) into the table's columns; returns an error text
  /// (empty on success).
  template <class Table>
  std::string read(Table& table, std::uint64_t offset, std::uint64_t count) const {
    std::string error;
    std::size_t i = 0;
    Visit{}(table, [&](const char* name, auto& column) {
      using V = typename std::decay_t<decltype(column)>::value_type;
      column.resize(count);
      if (error.empty()) {
        const std::string why =
            readColumn(m_datasets[i].get(), elementTypeOf<V>(), column.data(), offset, count);
        if (!why.empty()) {
          error = "cannot read rows " + std::to_string(offset) + ".." +
                  std::to_string(offset + count) + " of " + m_group + "/" + name + ": " + why;
        }
      }
      ++i;
    });
    return error;
  }

 private:
  std::string m_group;
  std::vector<std::string> m_names;
  std::vector<Handle> m_datasets;
  std::int64_t m_rows = 0;
};

/// Throws InputError naming `path` unless every group in `groups` exists.
inline void requireGroups(hid_t file, const std::string& path,
                          std::initializer_list<const char*> groups) {
  for (const char* group : groups) {
    if (!exists(file, std::string("/") + group)) {
      throw InputError(path, InputError::kNoEvent, std::string("missing group /") + group);
    }
  }
}

/// Reads the whole /index group into `index`. Every event has at least one row of the
/// main table (`table`, `tableRows` rows), so a longer index is damaged and is refused
/// before anything is allocated for it.
template <class IndexRows>
void readIndex(hid_t file, const std::string& path, const std::string& table,
               std::int64_t tableRows, IndexRows& index) {
  ColumnGroup group = ColumnGroup::open<IndexRows>(file, "index", path);
  if (group.rows() > tableRows) {
    throw InputError(path, InputError::kNoEvent,
                     "the index has " + std::to_string(group.rows()) + " events but /" + table +
                         " only " + std::to_string(tableRows) + " rows: the index is damaged");
  }
  const std::string error = group.read(index, 0, group.rows());
  if (!error.empty()) throw InputError(path, InputError::kNoEvent, error);
}

}  // namespace trkaas::h5
