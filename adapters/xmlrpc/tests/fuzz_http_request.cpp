// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target: the HTTP request path of the adapter, from raw connection
// bytes: the requests read by http-parser (http_request_reader.cpp) under
// the server's connection loop (keep-alive, pipelining, blank lines, limits),
// Basic auth, dispatch, XML-RPC, log streams, on an in-memory engine. The
// first byte chooses the endpoint's settings, and whether the bytes arrive
// all at once or three at a time (requests split across reads).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fake_control.h"
#include "http_request_reader.h"
#include "http_server.h"
#include "service.h"

using namespace scopevisor;
using namespace scopevisor::xmlrpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const uint8_t mode = data[0];
    test::FakeHost host;
    host.role = Role(mode % 5);
    host.polkitAllows = mode & 8;
    Service service(host, ServiceOptions{0, 0});
    EndpointConfig ep;
    ep.isUnix = mode & 16;
    if (mode & 32)
        ep.creds = Credentials{"user", "123"};
    ep.maxBodyBytes = 1 << 16;
    ServerLimits limits;
    limits.maxBodyBytes = 1 << 16;
    limits.keepAliveMaxCount = 50;
    HttpServer srv(limits);
    srv.pretendListening();
    service.install(srv, ep);
    MemoryStream stream(std::string(reinterpret_cast<const char*>(data) + 1, size - 1), mode & 128 ? 3 : SIZE_MAX);
    Connection conn;
    conn.isUnix = ep.isUnix;
    conn.hasPeer = true;
    conn.peer = UnixPeer{1, uid_t(mode & 64 ? 0 : 1000), 1000};
    srv.serveConnection(stream, conn);

    // The epoll front's view of the same bytes: fed in 3-byte reads, as
    // the network may split them, it must come to what they say whole
    // (with no head limit, which a split feed meets at another byte).
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto whole = RequestReader::progress(bytes, SIZE_MAX, 1024);
    RequestProgress split(SIZE_MAX, 1024);
    for (size_t i = 0; i < bytes.size(); i += 3)
        split.feed(bytes.substr(i, 3));
    if (split.state() != whole)
        __builtin_trap();
    return 0;
}
