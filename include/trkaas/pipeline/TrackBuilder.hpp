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
  };

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

  const Config& config() const { return m_config; }

 private:
  Config m_config;
};

}  // namespace trkaas
