// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The limits of the Khanat adapter's HTTPS front, with their defaults:
// what a request may hold (khanat_http_framing.h) and what a connection may
// cost (khanat_event_server.h). The settings (khanat_settings.h) change them.
#pragma once

#include <chrono>
#include <cstddef>

namespace khanat {

struct FramingLimits {
    size_t maxHeadBytes = 8192;  // request line and headers together
    size_t maxHeaderCount = 64;
    size_t maxBodyBytes = 64 * 1024;
};

struct ServerLimits {
    FramingLimits framing;
    size_t maxConnections = 512;
    std::chrono::milliseconds handshakeTimeout{10000}; // accept to the end of the TLS handshake
    std::chrono::milliseconds requestTimeout{10000};   // first byte of a request to its last
    std::chrono::milliseconds idleTimeout{5000};       // handshake to first request, and between requests
    std::chrono::milliseconds writeTimeout{10000};     // a whole reply
    unsigned workers = 8;
};

} // namespace khanat
