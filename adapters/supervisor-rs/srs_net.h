// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The listening TCP socket of the adapter (the connections: srs_server.h).
#pragma once

#include <string>

namespace srs {

// A listening TCP socket on address:port ("::" is dual stack; a name is
// resolved); -1 with *error set on failure.
// The port it is bound to: scopevisor::listeningPort (scopevisor/tcp_listener.h).
int listenTcp(const std::string& address, int port, std::string* error);

} // namespace srs
