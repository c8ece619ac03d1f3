#include "Commands.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas::app {

// Built when Torch was not found: the command exists and says why it cannot run.
void addRunCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("run", "Run the pipeline (not in this build: no Torch)");
  cmd->allow_extras();
  cmd->callback([] {
    throw Error(
        "this trkaas was built without Torch, so it cannot run the pipeline; "
        "rebuild with libtorch (see README.md)");
  });
}

}  // namespace trkaas::app
