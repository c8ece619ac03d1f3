#pragma once
// Internal to the trkaas executable: each subcommand registers its options on the
// CLI11 app and runs when selected. Parsing stays here; the libraries see Config structs.

#include <CLI/CLI.hpp>

namespace trkaas::app {

void addGenerateCommand(CLI::App& app);
void addConvertCommand(CLI::App& app);
void addInspectCommand(CLI::App& app);
void addRunCommand(CLI::App& app);
void addReportCommand(CLI::App& app);
void addCampaignCommand(CLI::App& app);

/// Thrown by a subcommand that has already reported its problem and only needs the process
/// to end with this exit code.
struct ExitCode {
  int code;
};

/// Runs the trkaas command line; returns the process exit code.
int run(int argc, char** argv);

}  // namespace trkaas::app
