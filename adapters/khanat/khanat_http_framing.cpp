// SPDX-License-Identifier: LGPL-2.1-or-later
#include "khanat_http_framing.h"

#include <algorithm>
#include <cctype>

#include "scopevisor/text.h"

namespace khanat {
namespace {

using scopevisor::equalsIgnoreCase;

const char* reasonPhrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

} // namespace

std::string responseHead(int status, std::string_view contentType, size_t contentLength, bool close) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\n";
    head += "Server: scopevisor-khanat\r\n";
    head += "Content-Type: " + std::string(contentType) + "\r\n";
    head += "Content-Length: " + std::to_string(contentLength) + "\r\n";
    head += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
    return head;
}

std::string continueHead() { return "HTTP/1.1 100 Continue\r\n\r\n"; }

RequestFramer::RequestFramer(FramingLimits limits) : limits_(limits) { reset(); }

void RequestFramer::reset() {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    req_ = FramedRequest{};
    url_.clear();
    field_.clear();
    value_.clear();
    inValue_ = false;
    headBytes_ = 0;
    headerCount_ = 0;
    headDone_ = headReported_ = complete_ = false;
    refusal_ = 0;
    reason_.clear();
}

int RequestFramer::refuse(int status, std::string reason) {
    if (refusal_ == 0) {
        refusal_ = status;
        reason_ = std::move(reason);
    }
    return 1;
}

// The callbacks run inside the C library: nothing may be thrown through
// it. A failure (out of memory) refuses the request instead.
template <int (RequestFramer::*Step)(http_parser*, std::string_view)>
int RequestFramer::call(http_parser* p, const char* at, size_t n) {
    RequestFramer& r = self(p);
    try {
        return (r.*Step)(p, std::string_view(at, n));
    } catch (...) {
        return r.refuse(500, "Out of memory");
    }
}

int RequestFramer::onUrl(http_parser*, std::string_view s) {
    url_.append(s);
    return 0;
}

// A header name or value may come in pieces (the bytes arrived in several
// reads): a name after a value starts the next header.
int RequestFramer::onHeaderField(http_parser*, std::string_view s) {
    if (inValue_)
        commitHeader();
    if (field_.empty() && ++headerCount_ > limits_.maxHeaderCount)
        return refuse(431, "More than " + std::to_string(limits_.maxHeaderCount) + " header fields");
    field_.append(s);
    return 0;
}

int RequestFramer::onHeaderValue(http_parser*, std::string_view s) {
    inValue_ = true;
    value_.append(s);
    return 0;
}

int RequestFramer::onHeadersComplete(http_parser* p, std::string_view) {
    if (!field_.empty() || inValue_)
        commitHeader();
    headDone_ = true;
    req_.method = http_method_str(static_cast<http_method>(p->method));
    std::string_view target = url_;
    req_.path = std::string(target.substr(0, target.find('?')));
    const bool length = p->flags & F_CONTENTLENGTH, chunked = (p->flags & F_CHUNKED) || p->uses_transfer_encoding;
    req_.hasBody = length || chunked;
    req_.keepAlive = http_should_keep_alive(p) != 0;
    // Refused on its declared length, before a byte of the body is read.
    if (length && p->content_length > limits_.maxBodyBytes)
        return refuse(413, "Request body of " + std::to_string(p->content_length) + " bytes is over the limit of " +
                               std::to_string(limits_.maxBodyBytes) + " bytes");
    // With a body to come, stop here: the server may answer "100 Continue".
    if (chunked || (length && p->content_length > 0))
        http_parser_pause(p, 1);
    return 0;
}

int RequestFramer::onBody(http_parser*, std::string_view s) {
    // A chunked body has no declared length: counted as it comes.
    if (req_.body.size() + s.size() > limits_.maxBodyBytes)
        return refuse(413, "Request body over the limit of " + std::to_string(limits_.maxBodyBytes) + " bytes");
    req_.body.append(s);
    return 0;
}

// Stop at the end of the request: the bytes after it are the next request's.
int RequestFramer::onMessageComplete(http_parser* p, std::string_view) {
    complete_ = true;
    http_parser_pause(p, 1);
    return 0;
}

const http_parser_settings& RequestFramer::settings() {
    static const http_parser_settings s = [] {
        http_parser_settings x;
        http_parser_settings_init(&x);
        x.on_url = &call<&RequestFramer::onUrl>;
        x.on_header_field = &call<&RequestFramer::onHeaderField>;
        x.on_header_value = &call<&RequestFramer::onHeaderValue>;
        x.on_headers_complete = [](http_parser* p) { return call<&RequestFramer::onHeadersComplete>(p, nullptr, 0); };
        x.on_body = &call<&RequestFramer::onBody>;
        x.on_message_complete = [](http_parser* p) { return call<&RequestFramer::onMessageComplete>(p, nullptr, 0); };
        return x;
    }();
    return s;
}

void RequestFramer::commitHeader() {
    // The library drops the blanks before a value; those after it go too.
    const auto end = value_.find_last_not_of(" \t");
    value_.erase(end == std::string::npos ? 0 : end + 1);
    if (equalsIgnoreCase(field_, "Content-Type"))
        req_.contentType = value_;
    else if (equalsIgnoreCase(field_, "Expect") && equalsIgnoreCase(value_, "100-continue"))
        req_.expectContinue = true;
    field_.clear();
    value_.clear();
    inValue_ = false;
}

std::optional<uint64_t> RequestFramer::declaredLength() const {
    if (parser_.flags & F_CONTENTLENGTH)
        return parser_.content_length;
    return std::nullopt;
}

RequestFramer::State RequestFramer::feed(std::string_view bytes, size_t* used) {
    *used = 0;
    if (refusal_)
        return State::Refused;
    if (complete_)
        return State::Complete;
    http_parser_pause(&parser_, 0);
    size_t give = bytes.size();
    // The head may not grow past its limit: give the parser at most one
    // byte more than the room left, so an oversized head is seen at once.
    if (!headDone_)
        give = std::min(give, limits_.maxHeadBytes + 1 - headBytes_);
    const size_t n = http_parser_execute(&parser_, &settings(), bytes.data(), give);
    *used = n;
    if (!headDone_)
        headBytes_ += n;
    const http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (refusal_)
        return State::Refused;
    if (err != HPE_OK && err != HPE_PAUSED) {
        refuse(err == HPE_HEADER_OVERFLOW ? 431 : 400, std::string("Bad request (") + http_errno_name(err) + ")");
        return State::Refused;
    }
    if (!headDone_ && headBytes_ > limits_.maxHeadBytes) {
        refuse(431, "Request head over the limit of " + std::to_string(limits_.maxHeadBytes) + " bytes");
        return State::Refused;
    }
    if (headDone_ && (parser_.http_major != 1 || parser_.http_minor > 1)) {
        refuse(400, "Bad request version");
        return State::Refused;
    }
    if (complete_)
        return State::Complete;
    if (headDone_ && !headReported_) {
        headReported_ = true;
        return State::HeadDone;
    }
    return State::NeedMore;
}

} // namespace khanat
