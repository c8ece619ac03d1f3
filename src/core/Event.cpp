#include "trkaas/core/Event.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "trkaas/core/Error.hpp"

namespace trkaas {

void Hits::reserve(std::size_t n) {
  hitId.reserve(n);
  x.reserve(n);
  y.reserve(n);
  z.reserve(n);
  volumeId.reserve(n);
  layerId.reserve(n);
  moduleId.reserve(n);
}

void Hits::clear() {
  hitId.clear();
  x.clear();
  y.clear();
  z.clear();
  volumeId.clear();
  layerId.clear();
  moduleId.clear();
}

void Hits::push_back(std::int64_t id, float xx, float yy, float zz, std::int32_t volume,
                     std::int32_t layer, std::int32_t module) {
  hitId.push_back(id);
  x.push_back(xx);
  y.push_back(yy);
  z.push_back(zz);
  volumeId.push_back(volume);
  layerId.push_back(layer);
  moduleId.push_back(module);
}

void Hits::checkSizes() const {
  const std::size_t n = hitId.size();
  if (x.size() != n || y.size() != n || z.size() != n || volumeId.size() != n ||
      layerId.size() != n || moduleId.size() != n) {
    throw Error("Hits: columns have different lengths");
  }
}

void HitTruth::reserve(std::size_t n) {
  particleId.reserve(n);
  tx.reserve(n);
  ty.reserve(n);
  tz.reserve(n);
  tpx.reserve(n);
  tpy.reserve(n);
  tpz.reserve(n);
  weight.reserve(n);
}

void HitTruth::clear() {
  particleId.clear();
  tx.clear();
  ty.clear();
  tz.clear();
  tpx.clear();
  tpy.clear();
  tpz.clear();
  weight.clear();
}

void HitTruth::push_back(std::int64_t pid, float x, float y, float z, float px, float py, float pz,
                         float w) {
  particleId.push_back(pid);
  tx.push_back(x);
  ty.push_back(y);
  tz.push_back(z);
  tpx.push_back(px);
  tpy.push_back(py);
  tpz.push_back(pz);
  weight.push_back(w);
}

void Cells::clear() {
  hitId.clear();
  ch0.clear();
  ch1.clear();
  value.clear();
}

void Cells::push_back(std::int64_t hit, std::int32_t c0, std::int32_t c1, float v) {
  hitId.push_back(hit);
  ch0.push_back(c0);
  ch1.push_back(c1);
  value.push_back(v);
}

void Particles::clear() {
  particleId.clear();
  pdgId.clear();
  vx.clear();
  vy.clear();
  vz.clear();
  px.clear();
  py.clear();
  pz.clear();
  charge.clear();
  nHits.clear();
}

void Particles::push_back(std::int64_t id, std::int32_t pdg, float x, float y, float z, float mx,
                          float my, float mz, std::int32_t q, std::int32_t n) {
  particleId.push_back(id);
  pdgId.push_back(pdg);
  vx.push_back(x);
  vy.push_back(y);
  vz.push_back(z);
  px.push_back(mx);
  py.push_back(my);
  pz.push_back(mz);
  charge.push_back(q);
  nHits.push_back(n);
}

float particlePt(const Particles& particles, std::size_t i) {
  return std::hypot(particles.px[i], particles.py[i]);
}

void validateEvent(const Event& event, const std::string& source) {
  const auto fail = [&](const std::string& reason) {
    throw InputError(source, event.eventId, reason);
  };
  const Hits& hits = event.hits;
  const std::size_t n = hits.size();
  if (n == 0) fail("event has no hits");
  if (hits.x.size() != n || hits.y.size() != n || hits.z.size() != n || hits.volumeId.size() != n ||
      hits.layerId.size() != n || hits.moduleId.size() != n) {
    fail("hit columns have different lengths");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(hits.x[i]) || !std::isfinite(hits.y[i]) || !std::isfinite(hits.z[i])) {
      fail("hit " + std::to_string(hits.hitId[i]) + " (row " + std::to_string(i) +
           ") has a non-finite coordinate (" + std::to_string(hits.x[i]) + ", " +
           std::to_string(hits.y[i]) + ", " + std::to_string(hits.z[i]) + ")");
    }
  }
  std::unordered_set<std::int64_t> seen;
  seen.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    if (!seen.insert(hits.hitId[i]).second) {
      fail("duplicate hit id " + std::to_string(hits.hitId[i]) + " (row " + std::to_string(i) +
           ")");
    }
  }
  if (!event.truth.empty()) {
    const HitTruth& t = event.truth;
    if (t.size() != n) {
      fail("truth has " + std::to_string(t.size()) + " rows but the event has " +
           std::to_string(n) + " hits");
    }
    if (t.tx.size() != n || t.ty.size() != n || t.tz.size() != n || t.tpx.size() != n ||
        t.tpy.size() != n || t.tpz.size() != n || t.weight.size() != n) {
      fail("truth columns have different lengths");
    }
    for (std::size_t i = 0; i < n; ++i) {
      const float values[] = {t.tx[i], t.ty[i], t.tz[i], t.tpx[i], t.tpy[i], t.tpz[i], t.weight[i]};
      for (float v : values) {
        if (!std::isfinite(v)) {
          fail("truth of hit " + std::to_string(hits.hitId[i]) + " (row " + std::to_string(i) +
               ") has a non-finite value");
        }
      }
    }
  }
  const Cells& c = event.cells;
  if (c.ch0.size() != c.size() || c.ch1.size() != c.size() || c.value.size() != c.size()) {
    fail("cell columns have different lengths");
  }
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (seen.count(c.hitId[i]) == 0) {
      fail("cell row " + std::to_string(i) + " refers to hit id " + std::to_string(c.hitId[i]) +
           ", which is not in the event");
    }
  }
  const Particles& p = event.particles;
  const std::size_t np = p.size();
  if (p.pdgId.size() != np || p.vx.size() != np || p.vy.size() != np || p.vz.size() != np ||
      p.px.size() != np || p.py.size() != np || p.pz.size() != np || p.charge.size() != np ||
      p.nHits.size() != np) {
    fail("particle columns have different lengths");
  }
  for (std::size_t i = 0; i < np; ++i) {
    const float values[] = {p.vx[i], p.vy[i], p.vz[i], p.px[i], p.py[i], p.pz[i]};
    for (float v : values) {
      if (!std::isfinite(v)) {
        fail("particle " + std::to_string(p.particleId[i]) + " (row " + std::to_string(i) +
             ") has a non-finite vertex or momentum");
      }
    }
  }
}

void validateTracks(const Tracks& tracks, const std::string& source) {
  const auto fail = [&](const std::string& reason) {
    throw InputError(source, tracks.eventId, reason);
  };
  if (tracks.hitId.empty()) fail("tracks have no hits (every event has at least one)");
  if (tracks.hitId.size() != tracks.label.size()) {
    fail(std::to_string(tracks.hitId.size()) + " hit ids but " +
         std::to_string(tracks.label.size()) + " labels");
  }
  std::unordered_set<std::int64_t> hits;
  hits.reserve(tracks.size() * 2);
  for (std::size_t i = 0; i < tracks.size(); ++i) {
    if (!hits.insert(tracks.hitId[i]).second) {
      fail("duplicate hit id " + std::to_string(tracks.hitId[i]) + " (row " + std::to_string(i) +
           ")");
    }
    if (tracks.label[i] < Tracks::kNoTrack) {
      fail("hit " + std::to_string(tracks.hitId[i]) + " has label " +
           std::to_string(tracks.label[i]) + " (labels are >= 0, or -1 for no track)");
    }
  }
}

}  // namespace trkaas
