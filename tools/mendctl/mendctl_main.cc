// mendctl: the operators' client for mend's four services (README,
// "Operations", "mendctl").
//
//   mendctl call SERVICE/METHOD ['{json}']   any method, JSON in and out
//   mendctl health [SERVICE]                 grpc.health.v1 Check
//   mendctl tail SERVICE [--from N] [--limit N]   follow a log live
//   mendctl head SERVICE                     where a log ends
//
// Exit codes: 0 OK, 1 the RPC failed (or not SERVING), 2 usage.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/usage.h"
#include "common/base/config.h"
#include "tools/mendctl/commands.h"
#include "tools/mendctl/stop_signal.h"

namespace {

struct Entry {
  std::string_view name;
  int (*run)(const mend::ctl::Args& args);
};

constexpr Entry kCommands[] = {
    {"call", mend::ctl::RunCall},
    {"health", mend::ctl::RunHealth},
    {"tail", mend::ctl::RunTail},
    {"head", mend::ctl::RunHead},
};

constexpr char kUsage[] = R"(mendctl COMMAND [flags]: call mend's services.

Commands:
  call SERVICE/METHOD ['{json}']
        Any method of the four services, EventLog, Admin or Health: the request as
        JSON (protobuf's JSON mapping; none: {}), the answer as JSON on one
        line; a server stream one message a line. SERVICE is the full name
        (mend.case.v1.CaseService) or a tail of it naming one service
        (CaseService, EventLog, Admin, Health). Methods not compiled into mendctl
        are looked up in the server's reflection.
  health [case|consent|scheduling|conference|GRPC_SERVICE]
        grpc.health.v1 Check: prints SERVING, NOT_SERVING, ...; exit 0 only
        when SERVING.
  tail case|consent|scheduling|conference [--from N] [--limit N]
        Follow a service's log (EventLog.Subscribe), one JSON line an event
        with its payload decoded; from the next event unless --from (1: the
        whole log); ends after --limit events or on Ctrl-C (exit 0).
  head case|consent|scheduling|conference
        EventLog.GetHead (position, hash) and the tree head, as JSON.
  help  This text.

Where (each flag also MEND_<FLAG> in the environment, e.g. MEND_CASE_ADDRESS):
  --case_address, --consent_address, --scheduling_address,
  --conference_address   default 127.0.0.1:7001, 7002, 7003, 7004
  --address HOST:PORT    call this server, whatever the service
  --service NAME         for call/health of what every server serves
                         (EventLog, Admin, Health): which server
Security:
  --tls_ca FILE          verify the server against this CA (TLS); empty:
                         plaintext
  --tls_cert FILE, --tls_key FILE   client certificate (mutual TLS)
  --token TOKEN, --token_file FILE  the bearer token to present
Other:
  --deadline 10s         for unary calls
  --use_reflection       call: the server's schema even when compiled in
  --from N, --limit N    tail

Exit codes: 0 OK; 1 the RPC failed ("mendctl: CODE: message" on stderr,
e.g. NOT_FOUND, PERMISSION_DENIED, UNAVAILABLE) or health not SERVING;
2 usage (unknown command, service or method, JSON that is not the request).
)";

bool AsksForHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h") return true;
  }
  return argc >= 2 && std::string_view(argv[1]) == "help";
}

}  // namespace

int main(int argc, char** argv) {
  // First: every thread started from here on (gRPC's) inherits the mask.
  mend::ctl::StartSignalThread();
  // Abseil's own --help exits 1 and lists flags by file; mendctl's says
  // what the commands are, and asking for it is no error.
  if (AsksForHelp(argc, argv)) {
    std::fputs(kUsage, stdout);
    return mend::ctl::kExitOk;
  }
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = mend::ParseFlagsWithEnvironment(argc, argv);
  if (positional.size() < 2) {
    std::fputs(kUsage, stderr);
    return mend::ctl::kExitUsage;
  }
  const std::string_view name = positional[1];
  for (const Entry& e : kCommands) {
    if (e.name == name) {
      return e.run(mend::ctl::Args(positional.begin() + 2, positional.end()));
    }
  }
  std::fprintf(stderr, "mendctl: unknown command \"%s\" (mendctl help lists them)\n",
               positional[1]);
  return mend::ctl::kExitUsage;
}
