#include "services/cli/commands.h"

#include <CLI/CLI.hpp>
#include <utility>

namespace payonce::cli {

void OnChosen(CLI::App* command, Action& chosen, Action action) {
  command->callback([&chosen, action = std::move(action)] { chosen = action; });
}

int Show(Session& session, const google::protobuf::Message& message, const Table& table) {
  if (session.options().json) {
    session.PrintJson(ToJson(message));
  } else {
    table.Print(session.out());
  }
  return 0;
}

}  // namespace payonce::cli
