// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Khanat adapter's input limits: request framing (head size, header
// count, body size declared or chunked, pipelining, 100-continue), the
// bounded JSON of request bodies, and the settings that change the limits.
#include <gtest/gtest.h>

#include <string>

#include "khanat_http_framing.h"
#include "khanat_request.h"
#include "khanat_settings.h"

using namespace khanat;

namespace {

struct Fed {
    RequestFramer::State state;
    size_t used;
};

// Feeds `bytes` `piece` bytes at a time until the framer stops or needs more.
Fed feedAll(RequestFramer& f, std::string_view bytes, size_t piece = SIZE_MAX) {
    size_t off = 0;
    RequestFramer::State st = RequestFramer::State::NeedMore;
    while (off < bytes.size()) {
        size_t used = 0;
        st = f.feed(bytes.substr(off, piece), &used);
        off += used;
        if (st == RequestFramer::State::Complete || st == RequestFramer::State::Refused)
            break;
    }
    return {st, off};
}

constexpr std::string_view kClientPy = "GET /LOG?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept-Encoding: identity\r\n"
                                       "Content-type: application/json\r\nContent-length: 15\r\n\r\n{\"name\": \"aes\"}";

} // namespace

TEST(KhanatFraming, ClientPyRequestInAnyPieces) {
    for (size_t piece : {size_t(1), size_t(7), SIZE_MAX}) {
        RequestFramer f(FramingLimits{});
        auto r = feedAll(f, kClientPy, piece);
        ASSERT_EQ(r.state, RequestFramer::State::Complete) << piece;
        EXPECT_EQ(r.used, kClientPy.size());
        EXPECT_EQ(f.request().method, "GET");
        EXPECT_EQ(f.request().path, "/LOG");
        EXPECT_EQ(f.request().contentType, "application/json");
        EXPECT_TRUE(f.request().hasBody);
        EXPECT_EQ(f.request().body, "{\"name\": \"aes\"}");
        EXPECT_TRUE(f.request().keepAlive);
    }
}

TEST(KhanatFraming, PipelinedRequestsAreSeparate) {
    std::string two = std::string(kClientPy) + "POST /LIST HTTP/1.0\r\n\r\n";
    RequestFramer f(FramingLimits{});
    auto r = feedAll(f, two);
    ASSERT_EQ(r.state, RequestFramer::State::Complete);
    EXPECT_EQ(r.used, kClientPy.size());
    f.reset();
    EXPECT_TRUE(f.idle());
    r = feedAll(f, std::string_view(two).substr(kClientPy.size()));
    ASSERT_EQ(r.state, RequestFramer::State::Complete);
    EXPECT_EQ(f.request().method, "POST");
    EXPECT_FALSE(f.request().hasBody);
    EXPECT_FALSE(f.request().keepAlive); // HTTP/1.0 without keep-alive
}

TEST(KhanatFraming, DeclaredOversizeBodyRefusedAtTheHead) {
    RequestFramer f(FramingLimits{});
    auto r = feedAll(f, "POST /START HTTP/1.1\r\nContent-Length: 10485760\r\n\r\n{");
    EXPECT_EQ(r.state, RequestFramer::State::Refused);
    EXPECT_EQ(f.refusal(), 413);
    EXPECT_NE(f.reason().find("65536"), std::string::npos);
}

TEST(KhanatFraming, HeadDoneBeforeTheBodyWithExpectContinue) {
    RequestFramer f(FramingLimits{});
    size_t used = 0;
    std::string_view head = "POST /START HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    const std::string all = std::string(head) + "{}";
    EXPECT_EQ(f.feed(all, &used), RequestFramer::State::HeadDone);
    EXPECT_LE(used, head.size()); // the library may leave the head's last byte to the next call
    EXPECT_TRUE(f.request().expectContinue);
    EXPECT_EQ(f.declaredLength(), 2u);
    size_t more = 0;
    EXPECT_EQ(f.feed(std::string_view(all).substr(used), &more), RequestFramer::State::Complete);
    EXPECT_EQ(used + more, all.size());
    EXPECT_EQ(f.request().body, "{}");
}

TEST(KhanatFraming, ChunkedBodyCountedAsItComes) {
    FramingLimits l;
    l.maxBodyBytes = 10;
    RequestFramer f(l);
    auto r = feedAll(f, "POST /START HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n");
    EXPECT_EQ(r.state, RequestFramer::State::NeedMore);
    r = feedAll(f, "6\r\n123456\r\n0\r\n\r\n");
    EXPECT_EQ(r.state, RequestFramer::State::Refused);
    EXPECT_EQ(f.refusal(), 413);
}

TEST(KhanatFraming, HeadLimits) {
    FramingLimits l;
    l.maxHeadBytes = 1024;
    l.maxHeaderCount = 8;
    {
        RequestFramer f(l);
        auto r = feedAll(f, "GET /LIST HTTP/1.1\r\nX-Long: " + std::string(2000, 'a') + "\r\n\r\n", 100);
        EXPECT_EQ(r.state, RequestFramer::State::Refused);
        EXPECT_EQ(f.refusal(), 431);
        EXPECT_LE(r.used, 1025u); // never more than the limit was taken in
    }
    {
        RequestFramer f(l);
        std::string many = "GET /LIST HTTP/1.1\r\n";
        for (int i = 0; i < 9; ++i)
            many += "X-" + std::to_string(i) + ": y\r\n";
        EXPECT_EQ(feedAll(f, many + "\r\n").state, RequestFramer::State::Refused);
        EXPECT_EQ(f.refusal(), 431);
    }
    {
        RequestFramer f(l);
        EXPECT_EQ(feedAll(f, "\x16\x03\x01\x02\x00 not http\r\n\r\n").state, RequestFramer::State::Refused);
        EXPECT_EQ(f.refusal(), 400);
    }
}

TEST(KhanatFraming, ResponseHead) {
    EXPECT_EQ(responseHead(413, "text/html;charset=utf-8", 12, true),
              "HTTP/1.1 413 Payload Too Large\r\nServer: scopevisor-khanat\r\nContent-Type: text/html;charset=utf-8\r\n"
              "Content-Length: 12\r\nConnection: close\r\n\r\n");
    EXPECT_NE(responseHead(200, "application/json", 2, false).find("Connection: keep-alive\r\n\r\n"), std::string::npos);
    EXPECT_EQ(continueHead(), "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(KhanatRequest, BodyBoundedInSizeAndDepth) {
    HttpInput in;
    in.method = "POST";
    in.path = "/LIST";
    in.contentType = "application/json";
    in.hasBody = true;
    std::string deep(60000, '[');
    in.body = deep;
    auto r = parseRequest(in);
    EXPECT_EQ(r.error.status, 400);
    EXPECT_NE(r.error.message.find("deeper than 64"), std::string::npos) << r.error.message;
    std::string big = "{\"pad\": \"" + std::string(70000, 'x') + "\"}";
    in.body = big;
    EXPECT_EQ(parseRequest(in).error.status, 413);
    in.maxBodyBytes = 100000;
    EXPECT_TRUE(parseRequest(in).request);
    std::string ok = "{\"a\": " + std::string(63, '[') + std::string(63, ']') + "}";
    in.body = ok;
    EXPECT_TRUE(parseRequest(in).request);
}

TEST(KhanatSettings, Limits) {
    scopevisor::AdapterConfig cfg;
    auto set = [&](const char* k, const char* v) { cfg.settings.push_back({"adapter:khanat", k, v, "/m.conf", 1}); };
    Settings s;
    std::string err;
    ASSERT_TRUE(readSettings(cfg, false, &s, &err)) << err;
    EXPECT_EQ(s.limits.framing.maxBodyBytes, 65536u);
    EXPECT_EQ(s.limits.maxConnections, 512u);
    set("max_body_size", "1MB");
    set("max_connections", "100");
    set("write_timeout", "3");
    set("max_header_size", "16KB");
    ASSERT_TRUE(readSettings(cfg, false, &s, &err)) << err;
    EXPECT_EQ(s.limits.framing.maxBodyBytes, 1u << 20);
    EXPECT_EQ(s.limits.framing.maxHeadBytes, 16u << 10);
    EXPECT_EQ(s.limits.maxConnections, 100u);
    EXPECT_EQ(s.limits.writeTimeout, std::chrono::seconds(3));
    for (auto [k, v] : {std::pair{"max_body_size", "1GB"}, {"max_body_size", "100MB"}, {"max_connections", "0"},
                        {"idle_timeout", "0"}, {"request_timeout", "1.5"}, {"max_header_size", "10"}}) {
        cfg.settings.push_back({"adapter:khanat", k, v, "/m.conf", 9});
        EXPECT_FALSE(readSettings(cfg, false, &s, &err)) << k << "=" << v;
        EXPECT_NE(err.find("/m.conf:9"), std::string::npos);
        cfg.settings.pop_back();
    }
}
