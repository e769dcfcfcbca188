// mend-audit: what an auditor runs on mend's event logs (README, "Auditing").
//
//   mend-audit verify --log DIR|HOST:PORT [--heads FILE --public_key PEM]
//   mend-audit heads save --log ... --out FILE
//   mend-audit prove --log ... (--decision ID | --position N) --out FILE
//   mend-audit check-proof --bundle FILE --public_key PEM
//   mend-audit replay --log ... --until POSITION|TIME
//   mend-audit export --log ... --format jsonl [--unseal --master_key FILE]
//   mend-audit decisions --case_log ... --consent_log ... --scheduling_log ...
//                        --conference_log ... (--case ID | --all)
//   mend-audit report (the four logs) --case ID --html FILE
//
// Exit codes: 0 all well, 1 a finding, 2 usage or I/O error.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/usage.h"
#include "common/base/config.h"
#include "tools/audit/commands.h"

namespace {

struct Entry {
  std::string_view name;
  mend::audit::Command run;
  std::string_view summary;
};

constexpr Entry kCommands[] = {
    {"verify", mend::audit::RunVerify,
     "check a log: chain, positions, streams, payloads, tree and saved heads"},
    {"heads", mend::audit::RunHeads,
     "heads save: keep a service's signed heads in a file"},
    {"prove", mend::audit::RunProve, "write a proof bundle for one decision or record"},
    {"check-proof", mend::audit::RunCheckProof,
     "verify a proof bundle with nothing but it and the public key"},
    {"replay", mend::audit::RunReplay,
     "a service's state at a position or time, as JSON"},
    {"export", mend::audit::RunExport, "every event as a JSON line"},
    {"decisions", mend::audit::RunDecisions,
     "contact decisions and contacts of a case across the four logs, checked"},
    {"report", mend::audit::RunReport, "one self-contained HTML page for a case"},
};

std::string Usage() {
  std::string out =
      "mend-audit COMMAND [flags]: audit mend's event logs.\n"
      "A log is a service's data directory (opened as a RocksDB secondary: safe\n"
      "beside the running service, never written) or host:port of a running\n"
      "service (with --token_file holding an auditor token, --tls_ca ...).\n"
      "Exit codes: 0 all well, 1 a finding, 2 usage or I/O error.\n\nCommands:\n";
  for (const Entry& e : kCommands) {
    out += "  " + std::string(e.name) + std::string(14 - e.name.size(), ' ') +
           std::string(e.summary) + "\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(Usage());
  std::vector<char*> positional = mend::ParseFlagsWithEnvironment(argc, argv);
  if (positional.size() < 2) {
    std::fputs(Usage().c_str(), stderr);
    return mend::audit::kExitError;
  }
  const std::string_view name = positional[1];
  for (const Entry& e : kCommands) {
    if (e.name == name) {
      return e.run(mend::audit::Args(positional.begin() + 2, positional.end()));
    }
  }
  std::fprintf(stderr, "mend-audit: unknown command \"%s\"\n\n%s", positional[1],
               Usage().c_str());
  return mend::audit::kExitError;
}
