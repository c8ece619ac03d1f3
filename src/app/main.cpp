#include <unistd.h>

#include <cstdlib>
#include <string>

#include "Commands.hpp"

namespace {

/// The models allocate large fresh tensors for every event; with small pages each of them
/// pays its page faults again (a pile-up-200 event took 57 s instead of 9 s on the
/// development machines, BENCHMARKS.md). glibc reads its malloc tunables only at start, so
/// when the user has not chosen a hugetlb setting, restart this same program once with
/// glibc.malloc.hugetlb=1 (transparent huge pages for malloc, glibc >= 2.35; older glibc
/// ignores it). This happens before MPI is initialised, keeps the process id and the
/// arguments, and is skipped with TRKAAS_NO_REEXEC=1.
void restartWithHugePages(char** argv) {
  if (std::getenv("TRKAAS_NO_REEXEC") != nullptr) return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current != nullptr ? current : "";
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos) return;  // user's choice
  tunables += std::string(tunables.empty() ? "" : ":") + "glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  setenv("TRKAAS_NO_REEXEC", "1", 1);  // never loop, whatever happens to the tunable
  // Through the real path, not /proc/self/exe: the process keeps its name ("trkaas"), so
  // that ps, pkill and Slurm's signals find it.
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len > 0) {
    self[len] = '\0';
    execv(self, argv);
  }
  // execv returned: it failed (no /proc?). Carry on without huge pages; `run` warns.
  unsetenv("TRKAAS_NO_REEXEC");
  if (current != nullptr) {
    setenv("GLIBC_TUNABLES", current, 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace

int main(int argc, char** argv) {
  restartWithHugePages(argv);
  return trkaas::app::run(argc, argv);
}
