#include "common/runtime/tree_heads.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/status_macros.h"
#include "common/observability/logging.h"
#include "mend/eventlog/v1/tree.pb.h"

namespace mend {

TreeHeadPublisher::TreeHeadPublisher(eventlog::EventStore* store,
                                     const merkle::TreeHeadSigner* signer,
                                     Options options)
    : store_(store), signer_(signer), options_(std::move(options)) {
  absl::StatusOr<std::optional<std::pair<uint64_t, std::string>>> newest =
      store_->NewestTreeHead();
  if (newest.ok() && newest->has_value()) {
    absl::MutexLock lock(&mu_);
    signed_size_ = (*newest)->first;
  }
}

TreeHeadPublisher::~TreeHeadPublisher() { Stop(); }

void TreeHeadPublisher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TreeHeadPublisher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (absl::Status s = SignNow(); !s.ok()) {
    log::Error("cannot sign the final tree head", {{"error", std::string(s.message())}});
  }
}

uint64_t TreeHeadPublisher::signed_size() const {
  absl::MutexLock lock(&mu_);
  return signed_size_;
}

absl::Status TreeHeadPublisher::SignNow() {
  absl::MutexLock one(&sign_mu_);
  const uint64_t size = store_->GetHead().position;
  if (size == 0 || size <= signed_size()) return absl::OkStatus();
  MEND_ASSIGN_OR_RETURN(std::string root, store_->TreeRoot(size));
  eventlog::v1::TreeHead head;
  head.set_service(options_.service);
  head.set_tree_size(size);
  head.set_root_hash(std::move(root));
  head.set_timestamp_unix_micros(absl::ToUnixMicros(absl::Now()));
  MEND_ASSIGN_OR_RETURN(eventlog::v1::SignedTreeHead signed_head, signer_->Sign(head));
  MEND_RETURN_IF_ERROR(store_->PutTreeHead(size, signed_head.SerializeAsString()));
  absl::MutexLock lock(&mu_);
  signed_size_ = std::max(signed_size_, size);
  return absl::OkStatus();
}

void TreeHeadPublisher::Run() {
  absl::Time next = absl::Now() + options_.every;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const uint64_t target = signed_size() + options_.every_events;
    // Wakes for the head or the clock, and at least every 100 ms to see Stop.
    const absl::Time wake = std::min(next, absl::Now() + absl::Milliseconds(100));
    const uint64_t head = store_->WaitForHeadAbove(target - 1, wake);
    const bool due = absl::Now() >= next;
    if (head >= target || (due && head > signed_size())) {
      if (absl::Status s = SignNow(); !s.ok()) {
        log::Warn("cannot sign the tree head", {{"error", std::string(s.message())}});
      }
    }
    if (due) next = absl::Now() + options_.every;
  }
}

}  // namespace mend
