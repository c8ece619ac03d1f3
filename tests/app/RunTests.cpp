// `trkaas run --mode direct` end to end with the small test models: a real event file in,
// a tracks file out that covers every hit of every event, and a report.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "CliRunner.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"

using namespace trkaas;
using trkaas::test::CliResult;
using trkaas::test::runCli;
using trkaas::test::tmp;

namespace {
std::string writeConfig(const std::string& name, const std::string& extra = "") {
  return trkaas::test::writeTestPipelineConfig(name, extra);
}
}  // namespace

TEST_CASE("run --mode direct writes tracks for every hit of every event", "[cli][run]") {
  const std::string events = tmp("run_events.h5"), tracks = tmp("run_tracks.h5");
  const std::string metrics = tmp("run_metrics.json"), submission = tmp("run_sub.csv");
  REQUIRE(runCli("generate -n 3 --pileup 3 --seed 21 --pixel-only -f -o " + events).code == 0);
  const CliResult r =
      runCli("run --mode direct -c " + writeConfig("run.yaml") + " -i " + events + " -o " + tracks +
             " -f -j 2 --metrics-json " + metrics + " --submission " + submission);
  INFO(r.output);
  REQUIRE(r.code == 0);
  REQUIRE_THAT(r.output, HasSubstring("events/s") &&
                             HasSubstring("physics on the processed hits (volumes 8:") &&
                             HasSubstring("physics on the whole event"));
  // The selection line says how the tracks were made (the config: cut 0.05, components, 3).
  REQUIRE_THAT(r.output, HasSubstring("the pipeline's tracks: edges with GNN score > 0.05, "
                                      "connected components; tracks of >= 3 hits"));
  EventFileReader in(events);
  TracksFileReader out(tracks);
  REQUIRE(out.numEvents() == in.numEvents());
  std::size_t rows = 0;
  for (std::size_t i = 0; i < in.numEvents(); ++i) {
    const Event e = in.read(i);
    const Tracks t = out.read(i);
    REQUIRE(t.eventId == e.eventId);
    REQUIRE(t.hitId == e.hits.hitId);
    for (std::size_t h = 0; h < t.size(); ++h) {
      REQUIRE(t.label[h] >= -1);
      if (e.hits.volumeId[h] != 8) REQUIRE(t.label[h] == -1);  // volumes: [8]
    }
    rows += t.size();
  }
  std::ifstream json(metrics);
  const std::string report((std::istreambuf_iterator<char>(json)),
                           std::istreambuf_iterator<char>());
  REQUIRE_THAT(report, HasSubstring("\"events_done\": 3") && HasSubstring("\"p99\"") &&
                           HasSubstring("\"trackml_score\"") &&
                           HasSubstring("\"edge_efficiency_graph\""));
  // The submission has a header and one row per hit.
  std::ifstream sub(submission);
  std::size_t lines = 0;
  for (std::string line; std::getline(sub, line);) ++lines;
  REQUIRE(lines == rows + 1);
}

TEST_CASE("run turns malloc huge pages on by itself and reads undirected", "[cli][run]") {
  const std::string events = tmp("huge_events.h5"), tracks = tmp("huge_tracks.h5");
  REQUIRE(runCli("generate -n 1 --pileup 2 --seed 5 --pixel-only -f -o " + events).code == 0);
  const std::string args = "run -c " + writeConfig("undirected.yaml", "undirected: true\n") +
                           " -i " + events + " -o " + tracks + " -f -j 1";
  // Without GLIBC_TUNABLES trkaas restarts itself with glibc.malloc.hugetlb=1: no warning.
  const CliResult on = runCli(args, "env -u GLIBC_TUNABLES -u TRKAAS_NO_REEXEC");
  INFO(on.output);
  REQUIRE(on.code == 0);
  REQUIRE_THAT(on.output, HasSubstring("edges scored in both directions"));
  REQUIRE_THAT(on.output, !HasSubstring("huge pages are off"));
  // Told not to restart, it warns.
  const CliResult off = runCli(args, "env -u GLIBC_TUNABLES TRKAAS_NO_REEXEC=1");
  INFO(off.output);
  REQUIRE(off.code == 0);
  REQUIRE_THAT(off.output, HasSubstring("huge pages are off"));
}

TEST_CASE("run refuses bad configs and modes with a clear message", "[cli][run]") {
  const std::string events = tmp("run_events_bad.h5");
  REQUIRE(runCli("generate -n 1 --pileup 2 --pixel-only -f -o " + events).code == 0);
  CliResult r = runCli("run -c " + writeConfig("bad_key.yaml", "radious: 0.2\n") + " -i " + events +
                       " -o " + tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("radious is not a known setting"));
  r = runCli("run -c " + writeConfig("bad_extend.yaml", "extend_cut: 0.9\n") + " -i " + events +
             " -o " + tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("bad_extend.yaml") &&
                             HasSubstring("extend_cut must lie strictly between 0 and gnn_cut"));
  r = runCli("run -c " + writeConfig("bad_turn.yaml", "walk_max_turn: 0.1\n") + " -i " + events +
             " -o " + tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("walk_max_turn needs track_builder: walk"));
  r = runCli("run -c " + writeConfig("bad_turn2.yaml", "track_builder: walk\nwalk_max_turn: 4\n") +
             " -i " + events + " -o " + tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("walk_max_turn must lie in (0, pi] radians"));
  r = runCli("run -c " + writeConfig("bad_stitch.yaml", "stitch_max_xy: 3\n") + " -i " + events +
             " -o " + tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("bad_stitch.yaml") &&
                             HasSubstring("stitch_max_z is missing (helix stitching needs"));
  r = runCli("run -c " + writeConfig("bad_stitch2.yaml", "stitch_max_xy: 3\nstitch_max_z: -1\n") +
             " -i " + events + " -o " + tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("stitch_max_z must be > 0 mm"));
  r = runCli("run --mode service -c " + writeConfig("ok.yaml") + " -i " + events + " -o " +
             tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("the service writes a directory"));
  r = runCli("run --mode batch -c " + writeConfig("ok.yaml") + " -i " + events + " -o " +
             tmp("t.h5") + " -f");
  REQUIRE(r.code != 0);
  REQUIRE_THAT(r.output, HasSubstring("--mode") && HasSubstring("batch"));
  const std::string missing = tmp("missing_model.yaml");
  std::ofstream(missing) << "features: [{name: r, scale: 1.0}]\nradius: 0.1\nmax_neighbours: 4\n"
                            "filter_cut: 0.5\ngnn_cut: 0.5\n"
                            "models: {embedding: nope.pt, filter: nope.pt, gnn: nope.pt}\n";
  r = runCli("run -c " + missing + " -i " + events + " -o " + tmp("t.h5") + " -f");
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, HasSubstring("model 'embedding'") && HasSubstring("no such file"));
}

TEST_CASE("run in one process exits 4 when events failed, naming how many", "[cli][run]") {
  const std::string events = tmp("run_events_fail.h5");
  REQUIRE(runCli("generate -n 2 --pileup 2 --seed 8 --pixel-only -f -o " + events).code == 0);
  // Every event is above a one-hit limit: each fails with the reason, the run goes on.
  const CliResult r = runCli("run -c " + writeConfig("limit.yaml", "max_hits: 1\n") + " -i " +
                             events + " -o " + tmp("t_fail.h5") + " -f");
  INFO(r.output);
  REQUIRE(r.code == 4);
  REQUIRE_THAT(r.output, HasSubstring("2 of 2 events failed") && HasSubstring("max_hits"));
}
