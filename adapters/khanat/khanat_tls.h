// SPDX-License-Identifier: LGPL-2.1-or-later
//
// TLS and socket plumbing of the Khanat adapter: the server context (TLS 1.2
// and 1.3, client certificate required and verified against ca_cert), the
// identity of a peer (its certificate's CN) and the listening socket.
#pragma once

#include <string>

#include <openssl/ssl.h>

namespace khanat {

struct TlsFiles {
    std::string certfile; // server certificate, or a chain (leaf first)
    std::string keyfile;
    std::string caCert;   // CA(s) that client certificates must chain to
};

// Fill a fresh SSL_CTX; false with *error naming the file that failed.
bool setupServerContext(SSL_CTX& ctx, const TlsFiles& files, std::string* error);

// The commonName of the verified peer certificate ("" if none). With
// several CN entries the last (most specific) one counts.
std::string peerCommonName(const SSL* ssl);

// A listening TCP socket on address:port ("" = every interface, IPv6 and
// IPv4), close-on-exec. -1 with *error on failure. *boundPort gets the port.
int openListener(const std::string& address, int port, int* boundPort, std::string* error);

} // namespace khanat
