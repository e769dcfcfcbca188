// KeyStore: one AES-256-GCM data key per person, for crypto-shredding
// (invariant I6). Personal fields are sealed under their person's key before
// they go into an event; erasing the person deletes the key, so those fields
// can never be read again while the log and its hash chain stay untouched.
//
//   MEND_ASSIGN_OR_RETURN(auto keys, KeyStore::Open(store.get(), "/secrets/master.key"));
//   MEND_ASSIGN_OR_RETURN(std::string sealed,
//                         keys->Seal(victim_id, phone_number, "contact.phone"));
//   ...  // put `sealed` in the event's payload
//   MEND_ASSIGN_OR_RETURN(std::string phone,
//                         keys->Unseal(victim_id, sealed, "contact.phone"));
//   MEND_RETURN_IF_ERROR(keys->Erase(victim_id));
//   // From here on Unseal(victim_id, ...) is NOT_FOUND, and Seal refuses.
//
// The data keys live in the EventStore's `keys` column family (PutKey /
// GetKey / DeleteKey), each wrapped (sealed) by a master key read from a file
// that holds 32 random bytes as 64 hex characters. The file must not be
// readable or writable by group or other. The byte formats are written as a
// grammar at the top of key_store.cc.
//
// A person's key is made on their first Seal. Erase deletes it and leaves a
// tombstone, so a later Seal for that person is refused rather than quietly
// making a new key (under which their old fields would look corrupted rather
// than erased).
//
// Person ids are 1..249 bytes of printable ASCII without spaces (they become
// key ids "person/<id>" in the EventStore, whose id limit is 256 bytes).
//
// Thread safety: all methods may be called concurrently from any thread. The
// EventStore must outlive the KeyStore, and only one KeyStore should be open
// on one EventStore at a time (the tombstone check is made under this
// object's lock).
#ifndef MEND_COMMON_SECURITY_KEY_STORE_H_
#define MEND_COMMON_SECURITY_KEY_STORE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/eventlog/event_store.h"

namespace mend::crypto {

class KeyStore {
 public:
  static constexpr size_t kDefaultCacheCapacity = 10000;
  static constexpr size_t kMaxPersonIdBytes = 249;

  // Reads the master key from `master_key_path` and checks it against the
  // store. On a store that has no check record yet (a new store), writes one,
  // so a later Open with another master key fails here rather than at the
  // first Unseal.
  //   FAILED_PRECONDITION  the file is missing, not a regular file, readable
  //                        or writable by group/other, not exactly 64 hex
  //                        characters (one trailing newline allowed), or
  //                        holds another master key than the one this
  //                        store's keys were wrapped with. The message names
  //                        the path, never the key.
  //   INVALID_ARGUMENT     `store` is null or cache_capacity is 0.
  //   DATA_LOSS            the stored check record is malformed.
  //   other                the EventStore's errors reading/writing the check.
  // `store` is not owned and must outlive the KeyStore. At most
  // `cache_capacity` unwrapped keys are kept in memory.
  static absl::StatusOr<std::unique_ptr<KeyStore>> Open(
      eventlog::EventStore* store, const std::string& master_key_path,
      size_t cache_capacity = kDefaultCacheCapacity);

  // Creates `path` with mode 0600 holding a new random master key (64 hex
  // characters and a newline), durably. Never overwrites: replacing a master
  // key would make every wrapped data key unreadable.
  //   ALREADY_EXISTS       the file exists.
  //   FAILED_PRECONDITION  the file cannot be created or written (message
  //                        names the path and the OS error).
  static absl::Status WriteNewMasterKey(const std::string& path);

  // Wipes the master key and every cached data key.
  ~KeyStore();

  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Seals `plaintext` under the person's key, making the key on first use
  // (concurrent first uses agree on one key). `context` (e.g. the field name)
  // is authenticated with the person id, so the result opens only for the
  // same person and context. The result is self-describing (format version,
  // nonce, ciphertext, tag): 29 bytes longer than `plaintext`.
  //   INVALID_ARGUMENT     malformed person id; plaintext over 1 GiB or
  //                        context over 512 MiB.
  //   FAILED_PRECONDITION  the person was erased; or the EventStore is
  //                        read-only and the person has no key yet.
  //   DATA_LOSS            the stored key does not unwrap (corrupted).
  //   other                the EventStore's errors (e.g. UNAVAILABLE).
  absl::StatusOr<std::string> Seal(std::string_view person_id, std::string_view plaintext,
                                   std::string_view context);

  // Opens what Seal returned for the same person and context.
  //   INVALID_ARGUMENT  malformed person id; context over 512 MiB.
  //   NOT_FOUND         the person has no key: their data was erased (the
  //                     message says so) or never sealed.
  //   DATA_LOSS         `sealed` is malformed, was changed, or belongs to
  //                     another person or context; or the stored key does
  //                     not unwrap.
  //   other             the EventStore's errors.
  absl::StatusOr<std::string> Unseal(std::string_view person_id, std::string_view sealed,
                                     std::string_view context);

  // Deletes the person's key (durably, and out of the live RocksDB files) and
  // records that they were erased. Once this returns OK no Unseal of their
  // data succeeds, in this process or after a restart. Idempotent; erasing a
  // person who never had a key is OK (and blocks later Seals for them).
  //   INVALID_ARGUMENT     malformed person id.
  //   FAILED_PRECONDITION  the EventStore is read-only.
  //   other                the EventStore's errors; the key may or may not be
  //                        deleted: retry.
  absl::Status Erase(std::string_view person_id);

  // Whether the person has a key now (false: never sealed, or erased).
  //   INVALID_ARGUMENT  malformed person id.
  absl::StatusOr<bool> HasKey(std::string_view person_id);

  // Number of unwrapped keys held in memory (never above the capacity).
  size_t cached_keys() const;

 private:
  struct DataKey;
  using DataKeyPtr = std::shared_ptr<const DataKey>;

  KeyStore(eventlog::EventStore* store, std::string master_key, size_t cache_capacity);

  absl::Status CheckMasterKey(const std::string& master_key_path);
  // The person's key from the cache or the store; nullptr if they have none.
  absl::StatusOr<DataKeyPtr> FindKey(std::string_view person_id);
  // The person's key, made and stored if they have none.
  absl::StatusOr<DataKeyPtr> FindOrCreateKey(std::string_view person_id);
  absl::StatusOr<DataKeyPtr> Unwrap(std::string_view person_id,
                                    std::string_view wrapped) const;
  absl::StatusOr<bool> IsErased(std::string_view person_id) const;
  // Caches `key` unless an Erase ran since `epoch` was read.
  void CacheKey(std::string_view person_id, const DataKeyPtr& key, uint64_t epoch);
  void Uncache(std::string_view person_id);

  // Constant after construction.
  eventlog::EventStore* const store_;
  std::string master_key_;  // wiped by the destructor
  const size_t cache_capacity_;

  // Serializes making keys with erasing them, so a Seal racing an Erase
  // cannot store a fresh key after the tombstone was checked. Held across
  // EventStore writes; taken only on first use of a person and on Erase.
  absl::Mutex create_mu_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, DataKeyPtr> cache_ ABSL_GUARDED_BY(mu_);
  // Bumped by every Erase, before and after the key is deleted. A reader that
  // loaded a key from the store caches it only if the epoch did not move
  // meanwhile, so a key read just before a delete is never cached after it.
  uint64_t erase_epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mend::crypto

#endif  // MEND_COMMON_SECURITY_KEY_STORE_H_
