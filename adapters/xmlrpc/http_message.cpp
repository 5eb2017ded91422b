// SPDX-License-Identifier: LGPL-2.1-or-later
#include "http_message.h"

#include <algorithm>
#include <cctype>

namespace scopevisor::xmlrpc::http {

namespace {

template <class Map>
auto findHeader(const Map& headers, std::string_view name) {
    return headers.find(std::string(name));
}

} // namespace

bool CaseLess::operator()(const std::string& a, const std::string& b) const noexcept {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
    });
}

bool Request::hasHeader(std::string_view name) const { return findHeader(headers, name) != headers.end(); }

std::string Request::header(std::string_view name) const {
    auto it = findHeader(headers, name);
    return it == headers.end() ? std::string() : it->second;
}

Response::~Response() {
    if (release)
        release(false);
}

bool Response::hasHeader(std::string_view name) const { return findHeader(headers, name) != headers.end(); }

std::string Response::header(std::string_view name) const {
    auto it = findHeader(headers, name);
    return it == headers.end() ? std::string() : it->second;
}

void Response::setHeader(const std::string& name, const std::string& value) {
    headers.erase(name);
    headers.emplace(name, value);
}

void Response::setContent(std::string text, const std::string& contentType) {
    body = std::move(text);
    setHeader("Content-Type", contentType);
}

void Response::setChunkedProvider(const std::string& contentType, std::function<bool(DataSink&)> p,
                                  std::function<void(bool)> r) {
    setHeader("Content-Type", contentType);
    provider = std::move(p);
    release = std::move(r);
}

const char* statusText(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

} // namespace scopevisor::xmlrpc::http
