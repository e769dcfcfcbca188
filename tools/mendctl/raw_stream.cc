#include "tools/mendctl/raw_stream.h"

#include <vector>

namespace mend::ctl {

RawStream::RawStream(const std::shared_ptr<grpc::Channel>& channel,
                     grpc::ClientContext* context, const std::string& method)
    : context_(context), stub_(channel) {
  call_ = stub_.PrepareCall(context_, method, &cq_);
  call_->StartCall(this);
  started_ = Complete();
}

RawStream::~RawStream() {
  if (!finished_) {
    context_->TryCancel();
    Finish();
  }
  call_.reset();
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
  }
}

bool RawStream::Complete() {
  void* tag = nullptr;
  bool ok = false;
  // One operation is in flight at a time, so the next event is its own.
  if (!cq_.Next(&tag, &ok)) return false;
  return ok;
}

bool RawStream::Write(std::string_view bytes) {
  if (!started_ || finished_) return false;
  grpc::Slice slice(bytes.data(), bytes.size());
  grpc::ByteBuffer buffer(&slice, 1);
  call_->Write(buffer, this);
  return Complete();
}

bool RawStream::WritesDone() {
  if (!started_ || finished_) return false;
  call_->WritesDone(this);
  return Complete();
}

bool RawStream::Read(std::string* bytes) {
  if (!started_ || finished_) return false;
  grpc::ByteBuffer buffer;
  call_->Read(&buffer, this);
  if (!Complete()) return false;
  std::vector<grpc::Slice> slices;
  bytes->clear();
  if (!buffer.Dump(&slices).ok()) return false;
  for (const grpc::Slice& s : slices) {
    bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return true;
}

grpc::Status RawStream::Finish() {
  if (finished_) return status_;
  finished_ = true;
  call_->Finish(&status_, this);
  Complete();
  return status_;
}

}  // namespace mend::ctl
