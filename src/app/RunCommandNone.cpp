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

void addReportCommand(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("report", "Service reports as CSV (not in this build: no Torch)");
  cmd->allow_extras();
  cmd->callback(
      [] { throw Error("this trkaas was built without Torch (no service): no reports"); });
}

void addCampaignCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("campaign", "Campaigns (not in this build: no Torch)");
  cmd->allow_extras();
  cmd->callback([] {
    throw Error(
        "this trkaas was built without Torch, so it cannot run campaigns; rebuild with libtorch");
  });
}

}  // namespace trkaas::app
