#pragma once
/// Track building: the edges kept by the GNN cut become tracks, one label per hit: the
/// connected components of the hit graph, or a walk through the components that are not
/// simple chains.

#include <cstdint>
#include <string>
#include <vector>

namespace trkaas {

class TrackBuilder {
 public:
  enum class Method {
    /// Each connected component is a track.
    Components,
    /// Components in which every hit has at most one incoming and one outgoing edge are
    /// tracks as they are. The others (merged tracks, double hits, skip edges) are split
    /// into paths: repeatedly the longest path (most hits, then the highest sum of edge
    /// scores, then the lowest start hit) among the component's hits not yet taken becomes a
    /// track, while it has at least minTrackSize hits; then each hit of the component still
    /// without a track that shares an edge with a track's hit joins that track (the first
    /// such edge in edge order; one pass, not chained). Needs scores and edges oriented
    /// (e.g. from the inner to the outer hit), which makes each component acyclic.
    Walk,
  };

  struct Config {
    /// Components with fewer hits than this get no track (label -1). 1 keeps them all.
    int minTrackSize = 3;
    /// Before the components, each hit keeps only its best-scoring outgoing edge (where it
    /// is the source) and best incoming edge (where it is the target); an edge survives if
    /// it is both. Splits tracks that touch at one shared hit. Needs scores; edges must be
    /// oriented (e.g. from the inner to the outer hit).
    bool junctionRemoval = false;
    /// How kept edges become tracks; Walk excludes junctionRemoval.
    Method method = Method::Components;
    /// Walk only: a path continues from an edge into a hit only if that hit's own path starts
    /// with an edge turning by at most this angle (radians, in [0, pi]) from it in the r-z
    /// plane (r the distance from the beam line); a particle's track runs straight there, a
    /// path crossing from one particle into another turns. The paths are then recomputed in
    /// full after each one is taken (per component: quadratic in a component's size). 0: no
    /// limit. Needs the hits' positions.
    double maxTurn = 0.0;
    /// Helix stitching (stitch()), after the tracks and their extension, when both are > 0:
    /// the hits left without a track make pieces (this builder with minTrackSize
    /// kStitchMinPiece, along the same edges), and tracks and pieces that continue one helix
    /// from the origin within these residuals (mm: a hit's distance from the circle in x-y,
    /// and from the line z(s) over the arc length s) are joined. Needs the hits' positions.
    double stitchMaxXy = 0.0;
    double stitchMaxZ = 0.0;
  };

  /// Helix stitching's constants (tools/train graph.py has the same): pieces of at least
  /// kStitchMinPiece hits; candidate pairs whose keys (the unit direction at the origin and
  /// kStitchCotWeight * cot theta) lie within kStitchKeyRadius; the outer piece starts no
  /// nearer the origin than kStitchOverlap mm before the inner one ends.
  static constexpr int kStitchMinPiece = 3;
  static constexpr double kStitchKeyRadius = 0.05;
  static constexpr double kStitchCotWeight = 0.2;
  static constexpr double kStitchOverlap = 1.0;

  /// "components" or "walk" (the pipeline YAML's track_builder); throws trkaas::Error.
  static Method methodFromName(const std::string& name);
  static const char* methodName(Method method);

  /// Validates the config (minTrackSize >= 1, Walk without junctionRemoval, maxTurn in
  /// [0, pi] and only for Walk); throws trkaas::Error.
  explicit TrackBuilder(Config config);

  /// Labels for `numHits` hits from `numEdges` edges src[e] -> dst[e] with optional
  /// `scores` (may be null unless junctionRemoval or Walk) and positions `xyz` (numHits rows
  /// of x, y, z; needed for Walk with maxTurn). Tracks are numbered 0, 1, ... in the
  /// order of their lowest hit index; hits without a track get -1. Throws trkaas::Error
  /// for an edge endpoint outside [0, numHits), a NaN score, or (Walk) an infinite score or a
  /// cycle of edges.
  std::vector<std::int64_t> build(std::int64_t numHits, const std::int64_t* src,
                                  const std::int64_t* dst, std::int64_t numEdges,
                                  const float* scores, const float* xyz = nullptr) const;

  /// Grows the tracks of `labels` (as build() returns them; track numbers unchanged) at both
  /// ends: for each track in number order, from its outermost hit (the largest x^2 + y^2 +
  /// z^2, ties: the higher index) repeatedly the best-scoring edge leaving that hit towards a
  /// hit without a track (the first in edge order among equals) adds that hit and moves on to
  /// it; then the same inwards from its innermost hit along the edges entering it. Edges are
  /// oriented outwards, and all of them may extend (the pipeline passes the GNN's edges above
  /// its lower `extend_cut`): a track reaches past a gap where the GNN was unsure, never into
  /// another track. `xyz` holds numHits rows of x, y, z. Throws trkaas::Error for a label
  /// vector of the wrong size, an edge end outside the hits or a NaN score.
  static void extend(std::vector<std::int64_t>& labels, const float* xyz, const std::int64_t* src,
                     const std::int64_t* dst, std::int64_t numEdges, const float* scores);

  /// Joins tracks and pieces that continue one helix from the origin; returns new labels.
  /// `labels` are the tracks (-1: none), `pieces` the pieces of the hits without a track (-1
  /// elsewhere), `xyz` numHits rows of x, y, z (mm). Every track and piece of at least
  /// kStitchMinPiece hits gets a helix: the circle through the origin nearest (least squares)
  /// to x^2 + y^2 = 2ax + 2by, then z = z0 + t s, s the arc length from the origin. A pair
  /// (inner i, outer j) is a candidate when their keys lie within kStitchKeyRadius, j's hit
  /// nearest the origin lies no nearer than i's farthest minus kStitchOverlap (distances from
  /// the origin), and the helix through i's hits then j's keeps every hit within maxXy of the
  /// circle and maxZ of the line. In order of cost (resXy / maxXy + resZ / maxZ, then i, then
  /// j; tracks numbered before pieces, each in label order) a candidate joins the groups of i
  /// and j when all their hits (in index order) still fit one helix within the limits (so a
  /// group is always one helix, and a track can take several pieces). A group keeps
  /// its hits if it holds a track or at least two pieces, and at least minTrackSize hits.
  /// Tracks are numbered in the order of their lowest hit. Throws trkaas::Error for label
  /// vectors of different sizes, a hit in both, or residual limits that are not > 0.
  static std::vector<std::int64_t> stitch(const std::vector<std::int64_t>& labels,
                                          const std::vector<std::int64_t>& pieces, const float* xyz,
                                          double maxXy, double maxZ, int minTrackSize);

  const Config& config() const { return m_config; }

 private:
  Config m_config;
};

}  // namespace trkaas
