// mendctl head SERVICE: where a service's log ends, as JSON on one line:
//
//   {"service":"case","address":"127.0.0.1:7001","position":12,"hash":"<hex>",
//    "tree_root":"<hex>",
//    "signed_tree_head":{"tree_size":10,"root_hash":"<hex>",
//                        "signed_at":"2026-…Z","key_id":"<hex>"}}
//
// position and hash: EventLog.GetHead (hash: SHA-256 of the last record's
// stored bytes; 32 zero bytes for an empty log). tree_root: the RFC 6962
// root over records 1..position (GetTreeHead at that size; absent for an
// empty log). signed_tree_head: the newest head the service signed, as it
// serves it (unchecked: mend-audit verifies heads); absent when it signs
// none.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/rpc/status_convert.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/mendctl/commands.h"

namespace mend::ctl {
namespace {

namespace v1 = ::mend::eventlog::v1;

grpc::Status GetTreeHead(v1::EventLog::Stub& stub, const Connection& connection,
                         uint64_t size, v1::GetTreeHeadResponse* response) {
  grpc::ClientContext context;
  connection.Prepare(&context, /*with_deadline=*/true);
  v1::GetTreeHeadRequest request;
  request.set_tree_size(size);
  return stub.GetTreeHead(&context, request, response);
}

}  // namespace

int RunHead(const Args& args) {
  if (args.size() != 1) {
    return UsageError(
        absl::StrCat("head takes one service: ", std::string(ServiceNames())));
  }
  absl::StatusOr<std::string> address = AddressOfService(args[0]);
  if (!address.ok()) return UsageError(address.status());
  absl::StatusOr<Connection> connection = Connection::FromFlags(*address);
  if (!connection.ok()) return UsageError(connection.status());
  auto stub = v1::EventLog::NewStub(connection->channel());

  v1::GetHeadResponse head;
  {
    grpc::ClientContext context;
    connection->Prepare(&context, /*with_deadline=*/true);
    if (grpc::Status s = stub->GetHead(&context, v1::GetHeadRequest(), &head); !s.ok()) {
      return RpcError(FromGrpc(s));
    }
  }
  nlohmann::ordered_json j;
  j["service"] = args[0];
  j["address"] = *address;
  j["position"] = head.position();
  j["hash"] = HexEncode(head.hash());
  if (head.position() > 0) {
    v1::GetTreeHeadResponse tree;
    // Size 0 would ask for the newest signed head instead: hence only here.
    if (grpc::Status s = GetTreeHead(*stub, *connection, head.position(), &tree);
        !s.ok()) {
      return RpcError(FromGrpc(s));
    }
    j["tree_root"] = HexEncode(tree.head().root_hash());
  }
  v1::GetTreeHeadResponse newest;
  grpc::Status s = GetTreeHead(*stub, *connection, 0, &newest);
  if (s.ok() && newest.has_signed_head()) {
    v1::TreeHead signed_head;
    if (!signed_head.ParseFromString(newest.signed_head().head())) {
      return RpcError(absl::DataLossError(
          absl::StrCat(*address, " serves a signed tree head that does not parse")));
    }
    j["signed_tree_head"] = {
        {"tree_size", signed_head.tree_size()},
        {"root_hash", HexEncode(signed_head.root_hash())},
        {"signed_at",
         absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                          absl::FromUnixMicros(signed_head.timestamp_unix_micros()),
                          absl::UTCTimeZone())},
        {"key_id", newest.signed_head().key_id()}};
  } else if (!s.ok() && s.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
    // FAILED_PRECONDITION: it has signed none (yet), which is no error.
    return RpcError(FromGrpc(s));
  }
  std::printf("%s\n",
              j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return kExitOk;
}

}  // namespace mend::ctl
