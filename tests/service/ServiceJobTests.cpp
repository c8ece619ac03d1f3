// The service as users run it: real mpirun jobs of the trkaas binary on real event files,
// checked through the files they leave. Every mpirun has a time limit, so that a hang
// fails the test instead of blocking CI.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include "CliRunner.hpp"

#include "TrkaasCatch.hpp"
#include "trkaas/io/EventFile.hpp"
#include "trkaas/io/TracksFile.hpp"
#include "trkaas/pipeline/Pipeline.hpp"
#include "trkaas/service/Service.hpp"

using namespace trkaas;
using trkaas::test::CliResult;
using trkaas::test::runCli;
using trkaas::test::tmp;
namespace fs = std::filesystem;

namespace {

const char* kMpiEnv =
    "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    "OMPI_MCA_rmaps_base_oversubscribe=1";

/// `mpirun -np N trkaas <args>`, killed after 240 s.
std::string mpiCommand(int np, const std::string& args) {
  return std::string(kMpiEnv) + " timeout -s KILL 240 " + TRKAAS_MPIEXEC + " -np " +
         std::to_string(np) + " --oversubscribe --bind-to none " + TRKAAS_BIN + " " + args;
}

/// `env`: variable assignments (e.g. "CUDA_VISIBLE_DEVICES=0") for mpirun and its ranks.
CliResult mpirun(int np, const std::string& args, const std::string& env = "") {
  const std::string log = tmp("mpirun_" + std::to_string(::getpid()) + ".log");
  const int status =
      std::system((env + " " + mpiCommand(np, args) + " > " + log + " 2>&1").c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

std::string testConfig(const std::string& name, const std::string& extra = "") {
  return trkaas::test::writeTestPipelineConfig(name, extra);
}

std::string generate(const std::string& name, int events, double pileup, int seed) {
  const std::string path = tmp(name);
  const CliResult r =
      runCli("generate -n " + std::to_string(events) + " --pileup " + std::to_string(pileup) +
             " --seed " + std::to_string(seed) + " --first-event-id " +
             std::to_string(seed * 1000) + " --pixel-only -f -j 1 -o " + path);
  INFO(r.output);
  REQUIRE(r.code == 0);
  return path;
}

/// Tracks of every event in the committed tracks files of a job directory (its run
/// directories, and the directory itself: the older layout); `copies` counts how often
/// each event id appears.
std::map<std::int64_t, Tracks> readJob(const std::string& dir,
                                       std::map<std::int64_t, int>& copies) {
  std::map<std::int64_t, Tracks> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("tracks-", 0) != 0 || entry.path().extension() != ".h5") continue;
    const TracksFileReader reader(entry.path().string());
    for (std::size_t i = 0; i < reader.numEvents(); ++i) {
      Tracks t = reader.read(i);
      ++copies[t.eventId];
      out[t.eventId] = std::move(t);
    }
  }
  return out;
}

/// One process, one file: the reference labels.
std::map<std::int64_t, Tracks> reference(const std::string& config,
                                         const std::vector<std::string>& inputs) {
  std::map<std::int64_t, Tracks> out;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const std::string ref = tmp("reference_" + std::to_string(::getpid()) + ".h5");
    const CliResult r = runCli("run -c " + config + " -i " + inputs[k] + " -o " + ref + " -f");
    INFO(r.output);
    REQUIRE(r.code == 0);
    const TracksFileReader reader(ref);
    for (std::size_t i = 0; i < reader.numEvents(); ++i) {
      Tracks t = reader.read(i);
      out[t.eventId] = std::move(t);
    }
  }
  return out;
}

/// Every reference event exactly once, with the same labels.
void requireSameOutput(const std::string& dir, const std::map<std::int64_t, Tracks>& ref) {
  std::map<std::int64_t, int> copies;
  const auto got = readJob(dir, copies);
  REQUIRE(got.size() == ref.size());
  for (const auto& [id, t] : ref) {
    INFO("event " << id);
    REQUIRE(copies[id] == 1);
    REQUIRE(got.at(id).hitId == t.hitId);
    REQUIRE(got.at(id).label == t.label);
  }
}

std::string freshDir(const std::string& name) {
  const std::string dir = tmp(name);
  fs::remove_all(dir);
  return dir;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("service: every event back exactly once with the labels of direct mode",
          "[service][mpi]") {
  const std::string input = generate("events.h5", 12, 3, 1);
  const std::string config = testConfig("service.yaml");
  const auto ref = reference(config, {input});
  REQUIRE(ref.size() == 12);
  struct Case {
    int np;
    std::string options;
  };
  for (const Case& c :
       {Case{2, "--mode service"}, Case{3, "--mode service -C 1"},
        Case{3, "--mode service --servers-per-node 2 -C 8"},
        Case{5, "--mode service --producers-per-server 1.5 -C 3 -W 2"},
        Case{3, "--mode service -C 6 --batch-hits 100000"}, Case{3, "--mode direct"}}) {
    INFO("np " << c.np << " " << c.options);
    const std::string dir = freshDir("job");
    const CliResult r = mpirun(c.np, "run " + c.options + " -c " + config + " -i " + input +
                                         " -o " + dir + " --progress 0.5");
    INFO(r.output);
    REQUIRE(r.code == 0);
    REQUIRE_THAT(r.output, HasSubstring("12 event(s) done, 0 failed"));
    requireSameOutput(dir, ref);
    const std::string report = readText(dir + "/report.json");
    REQUIRE_THAT(report, HasSubstring("\"latency_ms\"") && HasSubstring("\"stage_ms\""));
    // The run's own directory holds its journals, tracks and the same report.
    REQUIRE(readText(dir + "/run-001/report.json") == report);
    REQUIRE(fs::exists(dir + "/run-001/journal-r001-p0000.jsonl"));
    REQUIRE(!fs::exists(dir + "/journal-r001-p0000.jsonl"));
    const auto timeline = nlohmann::json::parse(report)["timeline"];
    REQUIRE(timeline["plan_s"].get<double>() >= 0);
    REQUIRE(timeline["first_event_unix"].get<double>() > 0);
    REQUIRE(timeline["last_event_unix"].get<double>() >=
            timeline["first_event_unix"].get<double>());
    if (c.options.find("service") != std::string::npos) {
      REQUIRE_THAT(report, HasSubstring("\"busy_fraction\"") && HasSubstring("\"gpu\": \"n/a"));
    }
    if (c.options.find("batch-hits") != std::string::npos) {
      // 12 requests in flight at once and one worker: it finds several queued.
      const auto at = report.find("\"batches\": ");
      REQUIRE(at != std::string::npos);
      REQUIRE(std::stoi(report.substr(at + 11)) >= 1);
    }
  }
}

TEST_CASE("service: bad inputs and failing events become error records while the rest finish",
          "[service][mpi]") {
  const std::string good = generate("good.h5", 8, 3, 2);
  // A damaged copy: the second half of the file is gone.
  const std::string bad = tmp("damaged.h5");
  fs::copy_file(tmp("good.h5"), bad, fs::copy_options::overwrite_existing);
  fs::resize_file(bad, fs::file_size(bad) / 2);
  // The server refuses events with more hits in volume 8 than the largest but one.
  std::map<std::int64_t, std::int64_t> hits;
  {
    const EventFileReader reader(good);
    for (std::size_t i = 0; i < reader.numEvents(); ++i) {
      const Event e = reader.read(i);
      for (std::int32_t v : e.hits.volumeId) hits[e.eventId] += v == 8;
    }
  }
  std::int64_t most = 0;
  for (const auto& [id, n] : hits) most = std::max(most, n);
  const std::string config =
      testConfig("limited.yaml", "max_hits: " + std::to_string(most - 1) + "\n");
  auto ref = reference(testConfig("unlimited.yaml"), {good});

  const std::string dir = freshDir("bad_inputs");
  const CliResult r =
      mpirun(3, "run --mode service -c " + config + " -i " + good + " " + bad + " -o " + dir);
  INFO(r.output);
  // Every event ended as a record, some as error records: done with failures, not a crash.
  REQUIRE(r.code == kExitDoneWithFailures);
  REQUIRE_THAT(r.output, HasSubstring("damaged.h5") && HasSubstring("max_hits"));
  std::string journals;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() == ".jsonl") journals += readText(entry.path().string());
  }
  REQUIRE_THAT(journals,
               HasSubstring("damaged.h5\",\"index\":-1") && HasSubstring("\"status\":\"error\""));
  // Events above the limit got an error record naming the limit; all others their tracks.
  std::size_t refused = 0;
  for (const auto& [id, n] : hits) {
    if (n > most - 1) {
      ++refused;
      REQUIRE_THAT(journals, HasSubstring("\"event\":" + std::to_string(id) + ",\"file\""));
      ref.erase(id);
    }
  }
  REQUIRE(refused >= 1);
  REQUIRE(occurrences(journals, "max_hits") == refused);
  requireSameOutput(dir, ref);
  // Direct mode says the same; with only the good events the run is clean (0).
  const CliResult direct = mpirun(2, "run --mode direct -c " + config + " -i " + good + " " + bad +
                                         " -o " + freshDir("bad_direct"));
  INFO(direct.output);
  REQUIRE(direct.code == kExitDoneWithFailures);
  REQUIRE_THAT(direct.output, HasSubstring(std::to_string(refused) + " event(s) failed"));
  const CliResult clean = mpirun(2, "run --mode direct -c " + testConfig("unlimited.yaml") +
                                        " -i " + good + " -o " + freshDir("good_direct"));
  INFO(clean.output);
  REQUIRE(clean.code == kExitComplete);
}

TEST_CASE("service: a stopped job resumes to the output of an uninterrupted one",
          "[service][mpi]") {
  const std::string input = generate("resume.h5", 12, 3, 3);
  const std::string config = testConfig("resume.yaml");
  const auto ref = reference(config, {input});
  const std::string dir = freshDir("resume");
  // Each producer stops after 2 events, through the same path as a signal.
  CliResult r = mpirun(
      3, "run --mode service -C 2 --stop-after 2 -c " + config + " -i " + input + " -o " + dir);
  INFO(r.output);
  REQUIRE(r.code == kExitStoppedWithWorkLeft);  // rerun to finish
  REQUIRE_THAT(r.output, HasSubstring("left for the next run (stopped)"));
  std::map<std::int64_t, int> copies;
  const std::size_t first = readJob(dir, copies).size();
  REQUIRE(first >= 4);  // 2 producers, 2 each
  REQUIRE(first < 12);
  // Rerun the same command without the stop: it does only the rest.
  r = mpirun(4, "run --mode service -c " + config + " -i " + input + " -o " + dir);
  INFO(r.output);
  REQUIRE(r.code == 0);
  REQUIRE_THAT(r.output, HasSubstring("resuming") &&
                             HasSubstring(std::to_string(12 - first) + " event(s) done"));
  requireSameOutput(dir, ref);
  // And once more: nothing left to do, nothing duplicated.
  r = mpirun(3, "run --mode service -c " + config + " -i " + input + " -o " + dir);
  REQUIRE(r.code == 0);
  REQUIRE_THAT(r.output, HasSubstring("0 to do now"));
  requireSameOutput(dir, ref);
}

TEST_CASE("service: a directory of the older layout (no run directories) resumes without redoing",
          "[service][mpi]") {
  const std::string input = generate("oldlayout.h5", 12, 3, 6);
  const std::string config = testConfig("oldlayout.yaml");
  const auto ref = reference(config, {input});
  const std::string dir = freshDir("oldlayout");
  CliResult r = mpirun(
      3, "run --mode service -C 2 --stop-after 2 -c " + config + " -i " + input + " -o " + dir);
  INFO(r.output);
  REQUIRE(r.code == kExitStoppedWithWorkLeft);
  std::map<std::int64_t, int> copies;
  const std::size_t first = readJob(dir, copies).size();
  REQUIRE(first >= 4);
  REQUIRE(first < 12);
  // Turn run 1 into what the older layout wrote: its files in the job directory, tracks
  // names without a directory in the journals, the run's report as report-r001.json.
  const fs::path run1 = fs::path(dir) / "run-001";
  for (const auto& entry : fs::directory_iterator(run1)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".jsonl") {
      std::string text = readText(entry.path().string());
      for (auto at = text.find("\"run-001/"); at != std::string::npos;
           at = text.find("\"run-001/")) {
        text.erase(at + 1, 8);
      }
      std::ofstream(fs::path(dir) / name) << text;
      fs::remove(entry.path());
    } else {
      fs::rename(entry.path(), fs::path(dir) / (name == "report.json" ? "report-r001.json" : name));
    }
  }
  fs::remove(run1);
  REQUIRE(readText(dir + "/journal-r001-p0000.jsonl").find("run-001") == std::string::npos);
  REQUIRE(readJob(dir, copies).size() == first);
  // The resume reads the older journals, does only the rest, in run-002.
  r = mpirun(3, "run --mode service -c " + config + " -i " + input + " -o " + dir);
  INFO(r.output);
  REQUIRE(r.code == 0);
  REQUIRE_THAT(r.output, HasSubstring("resuming") &&
                             HasSubstring(std::to_string(12 - first) + " event(s) done"));
  REQUIRE(fs::exists(dir + "/run-002/report.json"));
  REQUIRE(!fs::exists(run1));
  requireSameOutput(dir, ref);
  // The campaign's merged report and `trkaas report` see both runs' reports.
  const CliResult rows = runCli("report " + dir + "/report-r001.json " + dir + "/run-002");
  INFO(rows.output);
  REQUIRE(rows.code == 0);
  REQUIRE_THAT(rows.output,
               HasSubstring("oldlayout/report-r001,") && HasSubstring("oldlayout/run-002,"));
}

TEST_CASE("service: SIGTERM to the ranks and SIGUSR1 to mpirun stop cleanly and a rerun resumes",
          "[service][mpi][signal]") {
  // The shipped models are slow enough (~0.1-1 s per event here) to signal mid-run.
  const std::string config = std::string(TRKAAS_MODELS_DIR) + "/pipeline.yaml";
  const std::string input = generate("signal.h5", 30, 15, 4);
  const auto ref = reference(config, {input});
  for (const std::string how : {"TERM to ranks", "USR1 to mpirun"}) {
    INFO(how);
    const std::string dir = freshDir("signal");
    const std::string log = tmp("signal.log");
    const std::string cmd =
        mpiCommand(3, "run --mode service -C 1 -c " + config + " -i " + input + " -o " + dir);
    const pid_t child = fork();
    if (child == 0) {
      execl("/bin/sh", "sh", "-c", (cmd + " > " + log + " 2>&1").c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    // Wait for the first finished event, then signal.
    const auto t0 = std::chrono::steady_clock::now();
    bool started = false;
    while (!started && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!fs::exists(dir)) continue;
      std::error_code ec;  // the run's directory may be made meanwhile
      for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".jsonl" && fs::file_size(entry.path(), ec) > 0) {
          started = true;
        }
      }
    }
    REQUIRE(started);
    // Slurm at the time limit: SIGTERM to every task of the step; the job script's trap
    // for --signal=B:USR1: SIGUSR1 to mpirun, which forwards it to every rank.
    const std::string target = how == "USR1 to mpirun" ? "mpirun" : "trkaas";
    int signalled = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string comm = readText("/proc/" + pid + "/comm");
      const bool launcher = comm == "mpirun\n" || comm == "orterun\n" || comm == "mpiexec\n";
      if (target == "mpirun" ? !launcher : comm != "trkaas\n") continue;
      if (readText("/proc/" + pid + "/cmdline").find(dir) == std::string::npos) continue;
      signalled += kill(std::stoi(pid), target == "mpirun" ? SIGUSR1 : SIGTERM) == 0;
    }
    REQUIRE(signalled == (target == "mpirun" ? 1 : 3));
    int status = 0;
    waitpid(child, &status, 0);
    const std::string output = readText(log);
    INFO(output);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == kExitStoppedWithWorkLeft);
    REQUIRE_THAT(output, HasSubstring("stopping (signal"));
    std::map<std::int64_t, int> copies;
    REQUIRE(readJob(dir, copies).size() < 30);
    const CliResult r =
        mpirun(3, "run --mode service -c " + config + " -i " + input + " -o " + dir);
    INFO(r.output);
    REQUIRE(r.code == 0);
    requireSameOutput(dir, ref);
  }
}

TEST_CASE("service: impossible layouts and broken models fail the job without a hang",
          "[service][mpi]") {
  const std::string input = generate("layout.h5", 2, 2, 5);
  const std::string config = testConfig("layout.yaml");
  CliResult r =
      mpirun(1, "run --mode service -c " + config + " -i " + input + " -o " + freshDir("layout1"));
  REQUIRE(r.code != 0);
  REQUIRE_THAT(r.output, HasSubstring("leave no producer"));
  r = mpirun(2, "run --mode service --servers-per-node 3 -c " + config + " -i " + input + " -o " +
                    freshDir("layout2"));
  REQUIRE(r.code != 0);
  REQUIRE(occurrences(r.output, "has 2 rank(s) but 3 server(s)") == 2);  // both ranks say it
  // A server that cannot load its models ends the whole job with the reason.
  const std::string broken = tmp("broken.yaml");
  std::ofstream(broken) << "features: [{name: r, scale: 1.0}]\nradius: 0.1\nmax_neighbours: 4\n"
                           "filter_cut: 0.5\ngnn_cut: 0.5\n"
                           "models: {embedding: nope.pt, filter: nope.pt, gnn: nope.pt}\n";
  r = mpirun(3, "run --mode service -c " + broken + " -i " + input + " -o " + freshDir("broken"));
  REQUIRE(r.code != 0);
  REQUIRE_THAT(r.output, HasSubstring("model 'embedding'") && HasSubstring("ending the job"));
}

TEST_CASE(
    "service: a server given a GPU uses it or says why not and --gpu require fails without it",
    "[service][mpi][gpu]") {
  const std::string input = generate("gpu.h5", 2, 2, 9);
  const std::string config = testConfig("gpu.yaml");
  std::string why;
  const bool gpu = gpuPipelineAvailable(why);
  // One visible GPU: the layout gives it to the server.
  CliResult r =
      mpirun(2, "run --mode service -c " + config + " -i " + input + " -o " + freshDir("gpu_auto"),
             "CUDA_VISIBLE_DEVICES=0");
  REQUIRE(r.code == 0);
  REQUIRE_THAT(r.output, HasSubstring("server 0, GPU 0"));
  if (gpu) {
    REQUIRE_THAT(r.output, HasSubstring("pipeline on GPU 0 (cuda:0, float32)"));
  } else {
    // On the CPU, with the reason that gpuPipelineAvailable gives in this process.
    REQUIRE_THAT(r.output, HasSubstring("pipeline on the CPU (GPU 0 assigned, but " + why));
  }
  r = mpirun(
      2,
      "run --mode service --gpu off -c " + config + " -i " + input + " -o " + freshDir("gpu_off"),
      "CUDA_VISIBLE_DEVICES=0");
  REQUIRE(r.code == 0);
  REQUIRE_THAT(r.output,
               HasSubstring("pipeline on the CPU (GPU 0 assigned, but --gpu off; float32)"));
  // No GPU at all, or none usable: --gpu require ends the job with the reason, no hang.
  r = mpirun(2,
             "run --mode service --gpu require -c " + config + " -i " + input + " -o " +
                 freshDir("gpu_require"),
             "CUDA_VISIBLE_DEVICES=");
  REQUIRE(r.code != 0);
  REQUIRE_THAT(r.output, HasSubstring("--gpu require, but the layout gave it no GPU") &&
                             HasSubstring("ending the job"));
  if (!gpu) {
    r = mpirun(2,
               "run --mode service --gpu require -c " + config + " -i " + input + " -o " +
                   freshDir("gpu_require1"),
               "CUDA_VISIBLE_DEVICES=0");
    REQUIRE(r.code != 0);
    REQUIRE_THAT(r.output, HasSubstring("--gpu require: GPU 0 assigned, but " + why));
  }
}

TEST_CASE("service: a server at -j 1 uses one core, whatever its libraries would start",
          "[service][mpi][threads]") {
  // The shipped models on pile-up-40 events keep the server busy for seconds with products
  // large enough for BLAS to go parallel if it may (Debian's OpenBLAS starts a thread per
  // core and spins them; torch's pools follow the machine's cores unless told).
  const std::string config = std::string(TRKAAS_MODELS_DIR) + "/pipeline.yaml";
  const std::string input = generate("threads.h5", 6, 40, 8);
  const std::string dir = freshDir("threads");
  const CliResult r =
      mpirun(2, "run --mode service -j 1 -c " + config + " -i " + input + " -o " + dir);
  INFO(r.output);
  REQUIRE(r.code == 0);
  const auto report = nlohmann::json::parse(readText(dir + "/report.json"));
  REQUIRE(report.at("servers").size() == 1);
  const auto& server = report.at("servers").at(0);
  INFO(server.dump());
  REQUIRE(server.at("threads") == 1);
  // Busy most of the time, so that the CPU it used is the pipeline's.
  REQUIRE(server.at("busy_fraction").get<double>() > 0.5);
  // CPU seconds per wall second of the server process (getrusage: all its threads).
  CHECK(server.at("cpu_per_wall").get<double>() <= 1.1);
  CHECK(server.at("cpu_per_wall").get<double>() > 0.3);
}
