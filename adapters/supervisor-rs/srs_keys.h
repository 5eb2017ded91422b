// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Encrypted mode (docs/protocols/supervisor-rs.md §3): "<keyname>;<signature>",
// where the signature is RSA "private encrypt" with PKCS#1 v1.5 type 1
// padding of the plain command, checked with the public key <keyname>.pem
// found in pub_keys_path; and the replay guard.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace srs {

// The first file of the directories, in order, whose extension is "pem"
// and whose name up to the first '.' is `key`; "" if none.
std::string findKeyFile(const std::vector<std::string>& dirs, const std::string& key);

struct Verified {
    std::optional<std::string> command; // the signed text, NUL bytes removed
    std::string error;                  // the reply text otherwise
    // The signature as verified, as many bytes as the key: trailing NULs
    // beyond that dropped, a short one left-padded with 0x00 (the same
    // number). What the replay guard remembers.
    std::string signature;
};

// Recover the signed text of `signature` with the public key in `pemFile`.
// Trailing NULs beyond the key size are dropped (a client may pad its
// message); a signature that itself ends in 0x00 is kept whole.
Verified verifySignature(const std::string& pemFile, std::string signature);
// The same with the key's PEM text; `file` names it in errors.
Verified verifySignaturePem(std::string_view pem, const std::string& file, std::string signature);

// Refuses a signed payload seen before within `window` seconds. RSA PKCS#1
// v1.5 signatures are deterministic, so the same command from the same key
// is the same payload: with the guard on, a command may be repeated only
// once the window has passed.
class ReplayGuard {
public:
    explicit ReplayGuard(long windowSeconds) : window_(windowSeconds) {}
    bool enabled() const { return window_.count() > 0; }
    // True when `payload` was seen within the window; remembers it otherwise.
    bool replayed(const std::string& payload, std::chrono::steady_clock::time_point now);

private:
    std::chrono::seconds window_;
    std::mutex m_;
    std::map<std::string, std::chrono::steady_clock::time_point> seen_;
};

} // namespace srs
