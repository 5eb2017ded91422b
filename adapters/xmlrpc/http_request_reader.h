// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Reads one HTTP/1.x request from a connection with nodejs's http-parser
// (Debian's libhttp-parser): the library frames the request line, the
// headers and a Content-Length body, and stops at the end of the request,
// so pipelined requests stay in the connection's buffer for the next
// reader. What is kept here: the pieces the library hands over, and the
// limits a request must stay within.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <http_parser.h>

#include "http_message.h"

namespace scopevisor::xmlrpc {

class ConnStream;

class RequestReader {
public:
    // The longest request target, and the longest header line taken
    // (8 KiB, the usual limit of HTTP servers).
    static constexpr size_t kMaxLineBytes = 8192;
    // The most headers a request may have (431 past it), as Apache's
    // LimitRequestFields: 64 KiB of tiny headers would otherwise cost a
    // map node each.
    static constexpr size_t kMaxHeaders = 100;

    // Fills `req`; the head (request line and headers) may take up to
    // `maxHeaderBytes` of the stream.
    RequestReader(ConnStream& stream, http::Request& req, size_t maxHeaderBytes);
    RequestReader(const RequestReader&) = delete;
    RequestReader& operator=(const RequestReader&) = delete;

    // Reads the request line and the headers. 0: read; -1: the peer went
    // away before sending a byte of it; else the HTTP status to refuse the
    // request with: 400 (malformed, not HTTP/1.0 or 1.1, a header line over
    // kMaxLineBytes, cut short), 414 (target over kMaxLineBytes) or 431
    // (head over maxHeaderBytes, more than kMaxHeaders headers).
    int readHead();
    // The request allows the connection to go on (HTTP/1.1 unless
    // "Connection: close", HTTP/1.0 with "Connection: keep-alive").
    bool keepAlive() const { return http_should_keep_alive(&parser_) != 0; }
    // A Transfer-Encoding (hence chunked) body follows.
    bool chunked() const { return (parser_.flags & F_CHUNKED) != 0 || parser_.uses_transfer_encoding; }
    bool hasLength() const { return (parser_.flags & F_CONTENTLENGTH) != 0; }
    uint64_t length() const { return hasLength() ? parser_.content_length : 0; }
    // Reads the Content-Length body into the request; false when the
    // stream ends before the body does.
    bool readBody();
    // Every byte of the request has been read: the next one starts the
    // next request.
    bool complete() const { return complete_; }

    enum class Progress { Head, Body, Ready };
    // RequestProgress over `bytes` at once.
    static Progress progress(std::string_view bytes, size_t maxHeaderBytes, size_t inlineBodyBytes);

private:
    // Paused: a callback stopped the parser at the end of the head or of
    // the request; Closed: the stream ended first; Failed: the parser (or
    // a callback) refused the bytes; Full: `cap` bytes were fed first.
    enum class Run { Paused, Closed, Failed, Full };
    // Feeds the stream's bytes to the parser, counting them in *fed,
    // until it pauses or *fed reaches `cap`.
    Run run(size_t cap, size_t* fed);
    void commitHeader();
    static const http_parser_settings& settings();
    static RequestReader& self(http_parser* p) { return *static_cast<RequestReader*>(p->data); }

    ConnStream& stream_;
    http::Request& req_;
    http_parser parser_;
    size_t maxHeaderBytes_;
    std::string field_, value_;
    bool inValue_ = false;
    bool headDone_ = false;
    bool complete_ = false;
    int refuse_ = 0; // the status a callback chose to refuse the request with
};

// How far the request at the front of a connection's bytes has come, for
// the server's epoll thread, which reads without blocking and hands a
// request to a worker only once there is something to answer. The bytes
// are fed as they arrive and each is parsed once (a client sending its
// head a byte at a time costs no more than one sending it whole). Ready:
// the request is there in full; or its head is, and its body is not read
// ahead (over `inlineBodyBytes`, chunked, or "Expect: 100-continue"); or
// the bytes cannot be a request, or their head is over `maxHeaderBytes`
// (the worker refuses them). Blank lines before the request are skipped.
class RequestProgress {
public:
    using Progress = RequestReader::Progress;
    RequestProgress(size_t maxHeaderBytes, size_t inlineBodyBytes);
    RequestProgress(const RequestProgress&) = delete;
    RequestProgress& operator=(const RequestProgress&) = delete;
    // The next request starts with the next byte fed.
    void reset();
    Progress feed(std::string_view more);
    Progress state() const { return state_; }

private:
    static const http_parser_settings& settings();
    size_t maxHeaderBytes_, inlineBodyBytes_;
    http_parser parser_;
    size_t fed_ = 0;
    uint64_t length_ = 0;
    Progress state_ = Progress::Head;
    bool head_ = false, done_ = false, expect_ = false, inValue_ = false;
    std::string field_; // the first bytes of the header name being read
};

} // namespace scopevisor::xmlrpc
