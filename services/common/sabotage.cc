#include "services/common/sabotage.h"

#include <algorithm>

#include "services/common/config.h"

namespace payonce {

const std::vector<std::string_view>& SabotageCatalogue() {
  static const std::vector<std::string_view> catalogue = {
      kSabotageRefusePayments, kSabotageAcceptAnySignature, kSabotageReopenCancelled,
      kSabotageAnswerBeforeCommit};
  return catalogue;
}

bool FailpointsCompiledIn() {
#ifdef PAYONCE_FAILPOINTS
  return true;
#else
  return false;
#endif
}

void AddSabotageSetting(ConfigParser& parser, std::string* sabotage) {
  std::string names;
  for (const auto name : SabotageCatalogue()) {
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  parser.String("PAYONCE_SABOTAGE", sabotage,
                "Test builds only (PAYONCE_FAILPOINTS): break one guarantee on purpose so the "
                "storm can show it notices; one of " +
                    names + " (empty = none)",
                [names](const std::string& value) -> std::string {
                  if (value.empty()) return "";
                  if (!FailpointsCompiledIn()) {
                    return "failpoints are compiled out of this build (PAYONCE_FAILPOINTS=OFF)";
                  }
                  const auto& catalogue = SabotageCatalogue();
                  if (std::find(catalogue.begin(), catalogue.end(), value) == catalogue.end()) {
                    return "unknown sabotage; one of " + names;
                  }
                  return "";
                });
}

}  // namespace payonce
