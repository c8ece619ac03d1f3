#include <exception>
#include <string>

#include "Commands.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Logger.hpp"

namespace trkaas::app {

int run(int argc, char** argv) {
  CLI::App app{
      "trkaas: GNN track finding as an in-allocation inference service.\n"
      "Subcommands work on trkaas HDF5 event files (docs/event-file-format.md).\n"
      "Run 'trkaas <subcommand> --help' for the options of each."};
  app.set_version_flag("--version", "trkaas " TRKAAS_VERSION);
  app.require_subcommand(1);
  std::string logLevel = "info";
  app.add_option("--log-level", logLevel, "debug, info, warning or error")->capture_default_str();
  app.parse_complete_callback([&] { setLogLevel(parseLogLevel(logLevel)); });
  addGenerateCommand(app);
  addConvertCommand(app);
  addInspectCommand(app);
  addRunCommand(app);
  addReportCommand(app);
  addCampaignCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ExitCode& e) {
    return e.code;
  } catch (const Error& e) {
    logger().error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    logger().error("unexpected error: {}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace trkaas::app
