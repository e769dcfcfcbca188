// Formats. Every record below lives in the EventStore's `keys` column family
// (outside the hash chain); the sealed fields live wherever their owner puts
// them, usually inside event payloads. Seal_k(p, ad) is crypto::Seal: a fresh
// nonce[12] || AES-256-GCM ciphertext of p under key k || tag[16], with ad
// authenticated but not stored.
//
//   master key file     := hex{64} [ "\n" ]          ; 32 bytes, mode 0600
//
//   "person/" id  -> wrapped_key
//   wrapped_key         := version Seal_master(data_key[32], wrap_ad)
//   wrap_ad             := "mend/person-key" 0x00 version id
//
//   "erased/" id  -> version                         ; tombstone left by Erase
//
//   "master/check" -> master_check
//   master_check        := version Seal_master(kCheckText, check_ad)
//   check_ad            := "mend/master-check" 0x00 version
//
//   sealed_field        := version Seal_data_key(plaintext, field_ad)
//   field_ad            := "mend/field" 0x00 version be32(len(id)) id context
//
//   version             := 0x01
//   id                  := a person id: 1..249 bytes in 0x21..0x7e
//
// The labels keep the three uses of a key apart (a wrapped key is never
// accepted as a field, nor the reverse); the length prefix keeps
// (id, context) pairs from running into each other. A reader refuses any
// other version byte.
#include "common/security/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/security/crypto.h"

namespace mend::crypto {
namespace {

constexpr char kVersion = 0x01;
constexpr char kPersonKeyPrefix[] = "person/";
constexpr char kTombstonePrefix[] = "erased/";
constexpr char kMasterCheckId[] = "master/check";
constexpr char kCheckText[] = "mend master key check v1";
constexpr size_t kMasterKeyHexChars = 2 * kKeySize;
constexpr size_t kWrappedKeySize = 1 + kSealOverhead + kKeySize;
// Anything longer than the hex, a CRLF and change is not a key file.
constexpr size_t kMaxMasterFileBytes = kMasterKeyHexChars + 2;

std::string Label(std::string_view label) {
  std::string out(label);
  out.push_back('\0');
  out.push_back(kVersion);
  return out;
}

std::string WrapAd(std::string_view person_id) {
  return absl::StrCat(Label("mend/person-key"), std::string(person_id));
}

std::string CheckAd() { return Label("mend/master-check"); }

std::string FieldAd(std::string_view person_id, std::string_view context) {
  std::string ad = Label("mend/field");
  const uint32_t n = static_cast<uint32_t>(person_id.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    ad.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  ad.append(person_id);
  ad.append(context);
  return ad;
}

std::string KeyId(std::string_view person_id) {
  return absl::StrCat(kPersonKeyPrefix, std::string(person_id));
}
std::string TombstoneId(std::string_view person_id) {
  return absl::StrCat(kTombstonePrefix, std::string(person_id));
}

absl::Status CheckPersonId(std::string_view person_id) {
  if (person_id.empty()) return absl::InvalidArgumentError("person id is empty");
  if (person_id.size() > KeyStore::kMaxPersonIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("person id is ", person_id.size(),
                                                   " bytes; the limit is ",
                                                   KeyStore::kMaxPersonIdBytes));
  }
  if (!std::all_of(person_id.begin(), person_id.end(),
                   [](char c) { return c > 0x20 && c < 0x7f; })) {
    return absl::InvalidArgumentError("person id must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

// The cache's heterogeneous lookup takes absl::string_view, which is not
// std::string_view in this Abseil build.
absl::string_view CacheKeyOf(std::string_view person_id) {
  return absl::string_view(person_id.data(), person_id.size());
}

std::string ErrnoText(int err) { return std::strerror(err); }

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  // Closes now, reporting the error close(2) gave.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Wipes a string holding key material on scope exit.
class CleanseOnExit {
 public:
  explicit CleanseOnExit(std::string& s) : s_(s) {}
  ~CleanseOnExit() { Cleanse(s_); }
  CleanseOnExit(const CleanseOnExit&) = delete;
  CleanseOnExit& operator=(const CleanseOnExit&) = delete;

 private:
  std::string& s_;
};

absl::StatusOr<std::string> ReadMasterKey(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat("master key file ", path, " does not exist"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open master key file ", path, ": ", ErrnoText(err)));
  }
  FdCloser closer(fd);
  // Check the file we opened, not the name (which could be swapped between).
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot stat master key file ", path, ": ", ErrnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("master key file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "master key file %s has mode %04o: it must not be readable or writable by group "
        "or other (chmod 600 it)",
        path, st.st_mode & 07777));
  }
  std::string text(kMaxMasterFileBytes + 1, '\0');
  CleanseOnExit wipe_text(text);
  size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read master key file ", path, ": ", ErrnoText(errno)));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  std::string_view content(text.data(), used);
  if (!content.empty() && content.back() == '\n') content.remove_suffix(1);
  if (content.size() != kMasterKeyHexChars) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master key file ", path, " holds ",
        used > kMaxMasterFileBytes ? absl::StrCat("more than ", kMaxMasterFileBytes)
                                   : absl::StrCat(content.size()),
        " characters; it must hold exactly ", kMasterKeyHexChars,
        " hex characters (32 bytes), optionally followed by a newline"));
  }
  absl::StatusOr<std::string> key = HexDecode(content);
  if (!key.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("master key file ", path,
                     " is malformed: ", std::string(key.status().message())));
  }
  return key;
}

}  // namespace

struct KeyStore::DataKey {
  explicit DataKey(std::string b) : bytes(std::move(b)) {}
  ~DataKey() { Cleanse(bytes); }
  DataKey(const DataKey&) = delete;
  DataKey& operator=(const DataKey&) = delete;
  std::string bytes;
};

KeyStore::KeyStore(eventlog::EventStore* store, std::string master_key,
                   size_t cache_capacity)
    : store_(store),
      master_key_(std::move(master_key)),
      cache_capacity_(cache_capacity) {}

KeyStore::~KeyStore() {
  Cleanse(master_key_);
  absl::MutexLock lock(&mu_);
  cache_.clear();  // each DataKey wipes itself once its last user lets go
}

absl::StatusOr<std::unique_ptr<KeyStore>> KeyStore::Open(
    eventlog::EventStore* store, const std::string& master_key_path,
    size_t cache_capacity) {
  if (store == nullptr) return absl::InvalidArgumentError("KeyStore needs an EventStore");
  if (cache_capacity == 0) {
    return absl::InvalidArgumentError("KeyStore cache capacity must be at least 1");
  }
  absl::StatusOr<std::string> master = ReadMasterKey(master_key_path);
  if (!master.ok()) return master.status();
  // Not make_unique: the constructor is private.
  std::unique_ptr<KeyStore> keys(new KeyStore(store, *std::move(master), cache_capacity));
  MEND_RETURN_IF_ERROR(keys->CheckMasterKey(master_key_path));
  return keys;
}

absl::Status KeyStore::CheckMasterKey(const std::string& master_key_path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    MEND_ASSIGN_OR_RETURN(std::optional<std::string> check,
                          store_->GetKey(kMasterCheckId));
    if (check.has_value()) {
      if (check->empty() || (*check)[0] != kVersion) {
        return absl::DataLossError(
            "the master key check record in the key store is malformed");
      }
      absl::StatusOr<std::string> text =
          crypto::Open(master_key_, std::string_view(*check).substr(1), CheckAd());
      if (!text.ok() || *text != kCheckText) {
        return absl::FailedPreconditionError(absl::StrCat(
            "master key in ", master_key_path,
            " is not the master key this store's data keys were wrapped with"));
      }
      return absl::OkStatus();
    }
    // A read-only store (an auditor's) cannot record the check; a wrong
    // master key then shows as DATA_LOSS when a data key fails to unwrap.
    if (store_->options().read_only) return absl::OkStatus();
    MEND_ASSIGN_OR_RETURN(std::string sealed,
                          crypto::Seal(master_key_, kCheckText, CheckAd()));
    absl::Status put =
        store_->PutKey(kMasterCheckId, absl::StrCat(std::string(1, kVersion), sealed));
    if (!absl::IsAlreadyExists(put)) return put;
    // Someone recorded it first: check against theirs.
  }
  return absl::InternalError("master key check record keeps changing");
}

absl::Status KeyStore::WriteNewMasterKey(const std::string& path) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("master key file ", path, " exists; it is never overwritten"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create master key file ", path, ": ", ErrnoText(err)));
  }
  FdCloser closer(fd);
  auto fail = [&path](std::string_view what, int err) {
    std::error_code ec;
    std::filesystem::remove(path, ec);  // leave no half-written key behind
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot ", std::string(what), " master key file ", path, ": ", ErrnoText(err)));
  };
  // The umask may have left fewer bits; the file must be exactly 0600.
  if (::fchmod(fd, 0600) != 0) return fail("chmod", errno);
  absl::StatusOr<std::string> key = RandomBytes(kKeySize);
  if (!key.ok()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return key.status();
  }
  std::string text = HexEncode(*key);
  CleanseOnExit wipe_key(*key);
  CleanseOnExit wipe_text(text);
  text.push_back('\n');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write", errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync", errno);
  if (closer.Close() != 0) return fail("close", errno);
  // Make the new directory entry durable too.
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    FdCloser dir_closer(dir_fd);
    if (::fsync(dir_fd) != 0) return fail("fsync the directory of", errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> KeyStore::Seal(std::string_view person_id,
                                           std::string_view plaintext,
                                           std::string_view context) {
  MEND_RETURN_IF_ERROR(CheckPersonId(person_id));
  if (context.size() > kMaxSealInput / 2) {
    return absl::InvalidArgumentError("seal context is over the size limit");
  }
  MEND_ASSIGN_OR_RETURN(DataKeyPtr key, FindOrCreateKey(person_id));
  MEND_ASSIGN_OR_RETURN(std::string sealed,
                        crypto::Seal(key->bytes, plaintext, FieldAd(person_id, context)));
  std::string out;
  out.reserve(1 + sealed.size());
  out.push_back(kVersion);
  out.append(sealed);
  return out;
}

absl::StatusOr<std::string> KeyStore::Unseal(std::string_view person_id,
                                             std::string_view sealed,
                                             std::string_view context) {
  MEND_RETURN_IF_ERROR(CheckPersonId(person_id));
  if (context.size() > kMaxSealInput / 2) {
    return absl::InvalidArgumentError("seal context is over the size limit");
  }
  MEND_ASSIGN_OR_RETURN(DataKeyPtr key, FindKey(person_id));
  if (key == nullptr) {
    MEND_ASSIGN_OR_RETURN(bool erased, IsErased(person_id));
    const std::string id(person_id);
    return absl::NotFoundError(
        erased ? absl::StrCat("the data of person ", id,
                              " was erased: their data key is deleted and their sealed "
                              "fields can never be read again")
               : absl::StrCat("person ", id,
                              " has no data key: nothing was sealed for them, or their "
                              "data was erased"));
  }
  if (sealed.empty() || sealed[0] != kVersion) {
    return absl::DataLossError(absl::StrCat(
        "sealed field for person ", std::string(person_id),
        sealed.empty() ? " is empty"
                       : absl::StrFormat(" has unknown format version 0x%02x",
                                         static_cast<unsigned char>(sealed[0]))));
  }
  absl::StatusOr<std::string> plaintext =
      crypto::Open(key->bytes, sealed.substr(1), FieldAd(person_id, context));
  if (absl::IsDataLoss(plaintext.status())) {
    return absl::DataLossError(
        absl::StrCat("sealed field for person ", std::string(person_id),
                     " does not open: ", std::string(plaintext.status().message())));
  }
  return plaintext;
}

absl::Status KeyStore::Erase(std::string_view person_id) {
  MEND_RETURN_IF_ERROR(CheckPersonId(person_id));
  if (store_->options().read_only) {
    return absl::FailedPreconditionError(
        "cannot erase: the event log was opened read-only");
  }
  absl::MutexLock create_lock(&create_mu_);
  Uncache(person_id);
  // Tombstone first: if the delete then fails (or the process dies), the
  // person cannot get a fresh key before a retried Erase finishes.
  absl::Status put = store_->PutKey(TombstoneId(person_id), std::string(1, kVersion));
  if (!put.ok() && !absl::IsAlreadyExists(put)) return put;
  absl::Status deleted = store_->DeleteKey(KeyId(person_id));
  // Again after the delete: a reader that fetched the key between the first
  // Uncache and the delete must not leave it in the cache.
  Uncache(person_id);
  return deleted;
}

absl::StatusOr<bool> KeyStore::HasKey(std::string_view person_id) {
  MEND_RETURN_IF_ERROR(CheckPersonId(person_id));
  {
    absl::MutexLock lock(&mu_);
    if (cache_.contains(CacheKeyOf(person_id))) return true;
  }
  MEND_ASSIGN_OR_RETURN(std::optional<std::string> wrapped,
                        store_->GetKey(KeyId(person_id)));
  return wrapped.has_value();
}

size_t KeyStore::cached_keys() const {
  absl::MutexLock lock(&mu_);
  return cache_.size();
}

absl::StatusOr<KeyStore::DataKeyPtr> KeyStore::FindKey(std::string_view person_id) {
  uint64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cache_.find(CacheKeyOf(person_id)); it != cache_.end())
      return it->second;
    epoch = erase_epoch_;
  }
  MEND_ASSIGN_OR_RETURN(std::optional<std::string> wrapped,
                        store_->GetKey(KeyId(person_id)));
  if (!wrapped.has_value()) return DataKeyPtr();
  MEND_ASSIGN_OR_RETURN(DataKeyPtr key, Unwrap(person_id, *wrapped));
  CacheKey(person_id, key, epoch);
  return key;
}

absl::StatusOr<KeyStore::DataKeyPtr> KeyStore::FindOrCreateKey(
    std::string_view person_id) {
  MEND_ASSIGN_OR_RETURN(DataKeyPtr key, FindKey(person_id));
  if (key != nullptr) return key;

  absl::MutexLock create_lock(&create_mu_);
  // Another thread may have made it while this one waited.
  MEND_ASSIGN_OR_RETURN(key, FindKey(person_id));
  if (key != nullptr) return key;
  MEND_ASSIGN_OR_RETURN(bool erased, IsErased(person_id));
  if (erased) {
    return absl::FailedPreconditionError(
        absl::StrCat("person ", std::string(person_id),
                     " was erased: no new data can be sealed for them"));
  }
  if (store_->options().read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat("person ", std::string(person_id),
                     " has no data key and the event log was opened read-only"));
  }
  MEND_ASSIGN_OR_RETURN(std::string raw, RandomBytes(kKeySize));
  auto made = std::make_shared<const DataKey>(std::move(raw));
  MEND_ASSIGN_OR_RETURN(std::string sealed,
                        crypto::Seal(master_key_, made->bytes, WrapAd(person_id)));
  uint64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    epoch = erase_epoch_;
  }
  absl::Status put =
      store_->PutKey(KeyId(person_id), absl::StrCat(std::string(1, kVersion), sealed));
  if (absl::IsAlreadyExists(put)) {
    // Made by someone outside this object's lock: use theirs.
    MEND_ASSIGN_OR_RETURN(key, FindKey(person_id));
    if (key != nullptr) return key;
    return absl::AbortedError(absl::StrCat("the data key of person ",
                                           std::string(person_id),
                                           " changed while it was made; retry"));
  }
  MEND_RETURN_IF_ERROR(put);
  CacheKey(person_id, made, epoch);
  return made;
}

absl::StatusOr<KeyStore::DataKeyPtr> KeyStore::Unwrap(std::string_view person_id,
                                                      std::string_view wrapped) const {
  if (wrapped.size() != kWrappedKeySize || wrapped[0] != kVersion) {
    return absl::DataLossError(absl::StrCat("the stored data key of person ",
                                            std::string(person_id), " is malformed (",
                                            wrapped.size(), " bytes)"));
  }
  absl::StatusOr<std::string> raw =
      crypto::Open(master_key_, wrapped.substr(1), WrapAd(person_id));
  if (absl::IsDataLoss(raw.status())) {
    return absl::DataLossError(absl::StrCat(
        "the stored data key of person ", std::string(person_id),
        " does not unwrap: it was wrapped by another master key, or it is corrupted"));
  }
  if (!raw.ok()) return raw.status();
  return std::make_shared<const DataKey>(*std::move(raw));
}

absl::StatusOr<bool> KeyStore::IsErased(std::string_view person_id) const {
  MEND_ASSIGN_OR_RETURN(std::optional<std::string> tombstone,
                        store_->GetKey(TombstoneId(person_id)));
  return tombstone.has_value();
}

void KeyStore::CacheKey(std::string_view person_id, const DataKeyPtr& key,
                        uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (epoch != erase_epoch_) return;
  auto it = cache_.find(CacheKeyOf(person_id));
  if (it != cache_.end()) {
    it->second = key;
    return;
  }
  // At capacity, drop an arbitrary entry: a miss costs one RocksDB read and
  // one unwrap, so a cleverer policy is not worth its bookkeeping.
  if (cache_.size() >= cache_capacity_) cache_.erase(cache_.begin());
  cache_.emplace(std::string(person_id), key);
}

void KeyStore::Uncache(std::string_view person_id) {
  absl::MutexLock lock(&mu_);
  ++erase_epoch_;
  cache_.erase(CacheKeyOf(person_id));
}

}  // namespace mend::crypto
