// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Why a TLS connection to the broker fails. libnats retries a failed first
// connection in the background and keeps the reason (a certificate for
// another name, an unknown CA) to itself; this makes the same handshake
// once, as NATS does it (INFO in clear text, then TLS), to tell the log.
#pragma once

#include <optional>
#include <string>

namespace steward {

// OpenSSL's reason when the broker at `address` ("host:port" or a URL) is
// reachable but its certificate does not chain to `caPath` (the system's
// CAs when empty) or does not carry `expectedHost`; nullopt when the broker
// cannot be reached or the handshake succeeds. Waits 3 s at most.
std::optional<std::string> tlsRefusal(const std::string& address, const std::string& caPath,
                                      const std::string& expectedHost);

} // namespace steward
