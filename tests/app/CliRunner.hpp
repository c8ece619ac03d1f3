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

}  // namespace trkaas::test
