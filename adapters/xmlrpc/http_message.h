// SPDX-License-Identifier: LGPL-2.1-or-later
//
// HTTP/1.x requests and responses, as much of them as supervisord's HTTP
// server speaks: a request line, headers, a Content-Length body; a response
// with a body or a chunked stream. No TLS, no compression, no ranges:
// supervisord has none of them either, and leaving them out keeps OpenSSL,
// zlib and brotli (which a general-purpose HTTP library brings) out of the
// daemon's memory.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace scopevisor::xmlrpc::http {

// Header names compare without regard to case (RFC 7230 §3.2); the map
// also fixes the order headers are written in.
struct CaseLess {
    bool operator()(const std::string& a, const std::string& b) const noexcept;
};
using Headers = std::multimap<std::string, std::string, CaseLess>;

struct Request {
    std::string method, target, version; // version: "HTTP/1.0" or "HTTP/1.1"
    Headers headers;
    std::string body;

    bool hasHeader(std::string_view name) const;
    // The first value of the header, "" when absent.
    std::string header(std::string_view name) const;
};

// Where a streamed response writes: each write() is one chunk.
struct DataSink {
    std::function<bool(const char*, size_t)> write;
    std::function<bool()> isWritable;
};

struct Response {
    int status = -1; // -1: not answered yet
    Headers headers;
    std::string body;
    // A chunked stream: `provider` is called until it returns false, the
    // client goes away or the server stops. `release` runs once, when the
    // response is destroyed, told whether the stream ended cleanly.
    std::function<bool(DataSink&)> provider;
    std::function<void(bool)> release;

    ~Response();
    bool hasHeader(std::string_view name) const;
    std::string header(std::string_view name) const;
    // Replaces every value of the header.
    void setHeader(const std::string& name, const std::string& value);
    void setContent(std::string text, const std::string& contentType);
    void setChunkedProvider(const std::string& contentType, std::function<bool(DataSink&)> provider,
                            std::function<void(bool)> release);
};

// The reason phrase of a status code ("OK", "Not Found", ...).
const char* statusText(int status);

} // namespace scopevisor::xmlrpc::http
