// SPDX-License-Identifier: LGPL-2.1-or-later
//
// NATS user nkeys: libnats signs the server's nonce from a seed file but
// also wants the public key, which is derived here from the seed (ed25519).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace steward {

// The user seed ("SU...") found in `text`: a bare seed file as written by
// `nk -gen user`, or a .creds/.nk file that holds one among other lines.
std::optional<std::string> findUserSeed(std::string_view text);
// "U..." for a user seed; nullopt with *error set when the seed is not a
// valid user seed (bad base32, bad checksum, other key type).
std::optional<std::string> userPublicKeyFromSeed(std::string_view seed, std::string* error);

// Exposed for tests.
uint16_t nkeyCrc16(std::string_view data);
std::string base32Encode(std::string_view raw);
std::optional<std::string> base32Decode(std::string_view text);

} // namespace steward
