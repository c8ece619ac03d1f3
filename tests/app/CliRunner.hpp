#pragma once
// Runs the built trkaas binary as a user would, for the CLI tests.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace trkaas::test {

/// A path in this test executable's scratch directory.
inline std::string tmp(const std::string& name) {
  return std::string(TRKAAS_TEST_TMP) + "/" + name;
}

struct CliResult {
  int code = -1;       ///< exit code (-1 if the process did not exit normally)
  std::string output;  ///< stdout and stderr together
};

/// Runs `trkaas <args>` with stdout and stderr captured; `env` (e.g. "env -u X Y=1")
/// prefixes the command.
inline CliResult runCli(const std::string& args, const std::string& env = "") {
  // ctest runs the test cases of one file in parallel processes: one log per process.
  const std::string log = tmp("command_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = env + " " + std::string(TRKAAS_BIN) + " " + args + " > " + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

#ifdef TRKAAS_TEST_MODELS
/// A pipeline YAML for the small test models of tests/pipeline (TRKAAS_TEST_MODELS):
/// volume 8 only, loose cuts so that tracks form; `extra` lines are appended.
inline std::string writeTestPipelineConfig(const std::string& name, const std::string& extra = "") {
  const std::string models = TRKAAS_TEST_MODELS;
  const std::string path = tmp(name);
  std::ofstream(path) << "format: trkaas-pipeline\n"
                      << "features: [{name: r, scale: 1000.0}, {name: phi, scale: 3.14159}, "
                         "{name: z, scale: 1000.0}]\n"
                      << "radius: 0.3\nmax_neighbours: 16\nfilter_cut: 0.05\ngnn_cut: 0.05\n"
                      << "min_track_size: 3\nvolumes: [8]\n"
                      << "models: {embedding: " << models << "/emb_good.pt, filter: " << models
                      << "/edge_good.pt, gnn: " << models << "/edge_column.pt}\n"
                      << extra;
  return path;
}
#endif

}  // namespace trkaas::test
