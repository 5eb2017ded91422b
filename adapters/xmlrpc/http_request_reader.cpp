// SPDX-License-Identifier: LGPL-2.1-or-later
#include "http_request_reader.h"

#include <algorithm>
#include <cstdint>

#include <strings.h>

#include "http_server.h"

namespace scopevisor::xmlrpc {

RequestReader::RequestReader(ConnStream& stream, http::Request& req, size_t maxHeaderBytes)
    : stream_(stream), req_(req), maxHeaderBytes_(maxHeaderBytes) {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
}

namespace {

// The callbacks run inside the C library: nothing may be thrown through
// it. A failure (out of memory) refuses the request instead.
template <class F>
int guarded(int* refuse, F&& f) {
    try {
        return f();
    } catch (...) {
        *refuse = 500;
        return 1;
    }
}

} // namespace

const http_parser_settings& RequestReader::settings() {
    static const http_parser_settings s = [] {
        http_parser_settings x;
        http_parser_settings_init(&x);
        x.on_url = [](http_parser* p, const char* at, size_t n) {
            RequestReader& r = self(p);
            return guarded(&r.refuse_, [&] {
                r.req_.target.append(at, n);
                if (r.req_.target.size() <= kMaxLineBytes)
                    return 0;
                r.refuse_ = 414;
                return 1;
            });
        };
        // A header name or value may come in pieces (the bytes arrived in
        // several reads): a name after a value starts the next header.
        x.on_header_field = [](http_parser* p, const char* at, size_t n) {
            RequestReader& r = self(p);
            return guarded(&r.refuse_, [&] {
                if (r.inValue_) {
                    r.commitHeader();
                    if (r.req_.headers.size() >= kMaxHeaders) {
                        r.refuse_ = 431;
                        return 1;
                    }
                }
                r.field_.append(at, n);
                if (r.field_.size() <= kMaxLineBytes)
                    return 0;
                r.refuse_ = 400;
                return 1;
            });
        };
        x.on_header_value = [](http_parser* p, const char* at, size_t n) {
            RequestReader& r = self(p);
            return guarded(&r.refuse_, [&] {
                r.inValue_ = true;
                r.value_.append(at, n);
                if (r.field_.size() + r.value_.size() <= kMaxLineBytes)
                    return 0;
                r.refuse_ = 400;
                return 1;
            });
        };
        x.on_headers_complete = [](http_parser* p) {
            RequestReader& r = self(p);
            return guarded(&r.refuse_, [&] {
                if (!r.field_.empty() || r.inValue_)
                    r.commitHeader();
                r.headDone_ = true;
                r.req_.method = http_method_str(static_cast<http_method>(p->method));
                r.req_.version = "HTTP/" + std::to_string(p->http_major) + "." + std::to_string(p->http_minor);
                // With a body to come, stop here: whether it is read at all
                // depends on the answer to the head (auth, 411, 413...).
                if (r.chunked() || r.length() > 0)
                    http_parser_pause(p, 1);
                return 0;
            });
        };
        x.on_body = [](http_parser* p, const char* at, size_t n) {
            RequestReader& r = self(p);
            return guarded(&r.refuse_, [&] {
                r.req_.body.append(at, n);
                return 0;
            });
        };
        // Stop at the end of the request: the bytes after it are the next
        // request's.
        x.on_message_complete = [](http_parser* p) {
            self(p).complete_ = true;
            http_parser_pause(p, 1);
            return 0;
        };
        return x;
    }();
    return s;
}

void RequestReader::commitHeader() {
    // The library drops the blanks before a value; those after it go too.
    const auto end = value_.find_last_not_of(" \t");
    value_.erase(end == std::string::npos ? 0 : end + 1);
    req_.headers.emplace(std::move(field_), std::move(value_));
    field_.clear();
    value_.clear();
    inValue_ = false;
}

RequestReader::Run RequestReader::run(size_t cap, size_t* fed) {
    http_parser_pause(&parser_, 0);
    while (*fed < cap) {
        const char* data = nullptr;
        size_t size = 0;
        if (!stream_.peek(&data, &size))
            return Run::Closed;
        size = std::min(size, cap - *fed);
        const size_t used = http_parser_execute(&parser_, &settings(), data, size);
        stream_.consume(used);
        *fed += used;
        const http_errno err = HTTP_PARSER_ERRNO(&parser_);
        if (err == HPE_PAUSED)
            return Run::Paused;
        if (err != HPE_OK)
            return Run::Failed;
    }
    return Run::Full;
}

int RequestReader::readHead() {
    size_t fed = 0;
    switch (run(maxHeaderBytes_, &fed)) {
    case Run::Paused: break;
    case Run::Full: return 431;
    case Run::Closed: return fed == 0 ? -1 : 400;
    case Run::Failed:
        if (refuse_ != 0)
            return refuse_;
        return HTTP_PARSER_ERRNO(&parser_) == HPE_HEADER_OVERFLOW ? 431 : 400;
    }
    if (parser_.http_major != 1 || parser_.http_minor > 1)
        return 400;
    return 0;
}

bool RequestReader::readBody() {
    if (complete_)
        return true;
    // The server checked the length against its limit before asking.
    req_.body.reserve(size_t(length()));
    size_t fed = 0;
    return run(SIZE_MAX, &fed) == Run::Paused && complete_;
}

RequestReader::Progress RequestReader::progress(std::string_view bytes, size_t maxHeaderBytes,
                                                size_t inlineBodyBytes) {
    RequestProgress p(maxHeaderBytes, inlineBodyBytes);
    return p.feed(bytes);
}

RequestProgress::RequestProgress(size_t maxHeaderBytes, size_t inlineBodyBytes)
    : maxHeaderBytes_(maxHeaderBytes), inlineBodyBytes_(inlineBodyBytes) {
    reset();
}

void RequestProgress::reset() {
    http_parser_init(&parser_, HTTP_REQUEST);
    fed_ = 0;
    state_ = Progress::Head;
    head_ = done_ = expect_ = inValue_ = false;
    field_.clear();
}

const http_parser_settings& RequestProgress::settings() {
    static const http_parser_settings s = [] {
        http_parser_settings x;
        http_parser_settings_init(&x);
        // Only "Expect" matters here: a name is kept up to 7 bytes, however
        // many reads it comes in.
        x.on_header_field = [](http_parser* p, const char* at, size_t n) {
            RequestProgress& r = *static_cast<RequestProgress*>(p->data);
            if (r.inValue_) {
                r.field_.clear();
                r.inValue_ = false;
            }
            r.field_.append(at, std::min(n, size_t(7) - std::min(size_t(7), r.field_.size())));
            return 0;
        };
        x.on_header_value = [](http_parser* p, const char*, size_t) {
            RequestProgress& r = *static_cast<RequestProgress*>(p->data);
            if (!r.inValue_ && strcasecmp(r.field_.c_str(), "expect") == 0)
                r.expect_ = true;
            r.inValue_ = true;
            return 0;
        };
        // The length as announced: the parser counts it down as the body comes.
        x.on_headers_complete = [](http_parser* p) {
            RequestProgress& r = *static_cast<RequestProgress*>(p->data);
            r.head_ = true;
            r.length_ = p->content_length;
            return 0;
        };
        x.on_message_complete = [](http_parser* p) {
            static_cast<RequestProgress*>(p->data)->done_ = true;
            http_parser_pause(p, 1);
            return 0;
        };
        return x;
    }();
    return s;
}

RequestProgress::Progress RequestProgress::feed(std::string_view more) {
    if (state_ == Progress::Ready || more.empty())
        return state_;
    parser_.data = this;
    http_parser_execute(&parser_, &settings(), more.data(), more.size());
    fed_ += more.size();
    const http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (done_ || (err != HPE_OK && err != HPE_PAUSED))
        state_ = Progress::Ready;
    else if (!head_)
        state_ = fed_ >= maxHeaderBytes_ ? Progress::Ready : Progress::Head;
    else if (expect_ || (parser_.flags & F_CHUNKED) || parser_.uses_transfer_encoding || length_ > inlineBodyBytes_)
        state_ = Progress::Ready;
    else
        state_ = Progress::Body;
    return state_;
}

} // namespace scopevisor::xmlrpc
