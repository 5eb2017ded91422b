// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Frames HTTP/1.x requests (and writes the heads of replies) out of a connection's decrypted bytes with
// nodejs's http-parser (Debian's libhttp-parser), within limits checked as
// the bytes arrive: the head (request line and headers) in bytes and in
// header count, and the body in bytes, so that nothing over a limit is ever
// buffered. Pure: no sockets, no TLS (the fuzz target and the unit tests
// feed it bytes directly).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <http_parser.h>

#include "khanat_limits.h"

namespace khanat {

// One complete request, as the adapter needs it.
struct FramedRequest {
    std::string method;
    std::string path;                       // the target without "?query"
    std::optional<std::string> contentType;
    bool hasBody = false;                   // Content-Length or Transfer-Encoding given
    std::string body;                       // de-chunked
    bool keepAlive = true;
    bool expectContinue = false;            // "Expect: 100-continue"
};

class RequestFramer {
public:
    enum class State {
        NeedMore,  // give it more bytes
        HeadDone,  // the head is complete (once per request); feed() goes on with the body
        Complete,  // request() holds a whole request; leftover bytes are not consumed
        Refused,   // refusal() is the status to answer with, then close
    };

    explicit RequestFramer(FramingLimits limits);
    RequestFramer(const RequestFramer&) = delete;
    RequestFramer& operator=(const RequestFramer&) = delete;

    // Feeds bytes; *used gets how many were taken (fewer than given when a
    // request ended or the head did: feed the rest again).
    State feed(std::string_view bytes, size_t* used);
    // Nothing of a request has arrived yet (a keep-alive connection between requests).
    bool idle() const { return headBytes_ == 0 && !headDone_; }
    // After HeadDone: a declared Content-Length.
    std::optional<uint64_t> declaredLength() const;
    const FramedRequest& request() const { return req_; }
    int refusal() const { return refusal_; }
    // The human reason of the refusal, for the error page.
    const std::string& reason() const { return reason_; }
    // Ready for the next request on the same connection.
    void reset();

private:
    static const http_parser_settings& settings();
    static RequestFramer& self(http_parser* p) { return *static_cast<RequestFramer*>(p->data); }
    template <int (RequestFramer::*Step)(http_parser*, std::string_view)>
    static int call(http_parser* p, const char* at, size_t n);
    int onUrl(http_parser* p, std::string_view s);
    int onHeaderField(http_parser* p, std::string_view s);
    int onHeaderValue(http_parser* p, std::string_view s);
    int onHeadersComplete(http_parser* p, std::string_view);
    int onBody(http_parser* p, std::string_view s);
    int onMessageComplete(http_parser* p, std::string_view);
    void commitHeader();
    int refuse(int status, std::string reason);

    FramingLimits limits_;
    http_parser parser_{};
    FramedRequest req_;
    std::string url_, field_, value_;
    bool inValue_ = false;
    size_t headBytes_ = 0;
    size_t headerCount_ = 0;
    bool headDone_ = false;
    bool headReported_ = false;
    bool complete_ = false;
    int refusal_ = 0;
    std::string reason_;
};

// The head of a reply: status line, Content-Type, Content-Length and
// Connection (keep-alive or close).
std::string responseHead(int status, std::string_view contentType, size_t contentLength, bool close);
// "HTTP/1.1 100 Continue", for a client that asked before sending its body.
std::string continueHead();

} // namespace khanat
