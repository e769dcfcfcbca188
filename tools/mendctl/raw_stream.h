// One call of any method by its path, in raw bytes (grpc::GenericStub), used
// synchronously: every method is a stream on the wire, so a unary call is a
// stream of one request and one response, and this serves all four kinds.
//
//   RawStream call(connection.channel(), &context, "/mend.case.v1.CaseService/GetCase");
//   if (call.Write(request_bytes) && call.WritesDone()) {
//     std::string response;
//     while (call.Read(&response)) { ... }
//   }
//   grpc::Status status = call.Finish();
//
// Each method blocks until its operation completes. Not thread-safe, except
// that the context may be cancelled from another thread (a blocked Read
// then returns false and Finish says CANCELLED).
#ifndef MEND_TOOLS_MENDCTL_RAW_STREAM_H_
#define MEND_TOOLS_MENDCTL_RAW_STREAM_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

namespace mend::ctl {

class RawStream {
 public:
  // Starts `method` ("/package.Service/Method") on `channel`; `context` (its
  // token and deadline already set) must outlive this. A call that cannot
  // start reports it through Finish().
  RawStream(const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
            const std::string& method);
  // Cancels the call if Finish() was not reached.
  ~RawStream();
  RawStream(const RawStream&) = delete;
  RawStream& operator=(const RawStream&) = delete;

  // Sends one message. False when the stream is broken: Finish() says why.
  bool Write(std::string_view bytes);
  // No more messages from this side.
  bool WritesDone();
  // The next message into *bytes; false at the end of the stream (or when it
  // broke): Finish() then gives the status.
  bool Read(std::string* bytes);
  // The call's status, once every message was read (or the call broke).
  // After it, the calls above return false; calling it again gives the same.
  grpc::Status Finish();

 private:
  // Waits for the one operation in flight; its `ok`.
  bool Complete();

  grpc::ClientContext* const context_;
  grpc::CompletionQueue cq_;
  grpc::GenericStub stub_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
  bool finished_ = false;
  grpc::Status status_;
};

}  // namespace mend::ctl

#endif  // MEND_TOOLS_MENDCTL_RAW_STREAM_H_
