// SPDX-License-Identifier: LGPL-2.1-or-later
#include "tls_probe.h"

#include <memory>

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "nats_link.h"

namespace steward {

namespace {

std::string brokerPort(const std::string& address, const std::string& host) {
    std::string a = address;
    if (auto p = a.find("://"); p != std::string::npos)
        a = a.substr(p + 3);
    if (auto at = a.rfind('@'); at != std::string::npos)
        a = a.substr(at + 1);
    auto h = a.find(host);
    size_t colon = h == std::string::npos ? std::string::npos : a.find(':', h + host.size());
    if (colon == std::string::npos)
        return "4222";
    std::string port = a.substr(colon + 1);
    if (auto slash = port.find('/'); slash != std::string::npos)
        port.resize(slash);
    return port.empty() ? "4222" : port;
}

int connectTo(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        timeval tv{3, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

} // namespace

std::optional<std::string> tlsRefusal(const std::string& address, const std::string& caPath,
                                      const std::string& expectedHost) {
    const std::string host = brokerHost(address);
    int fd = connectTo(host, brokerPort(address, host));
    if (fd < 0)
        return std::nullopt;
    // NATS sends its INFO line in clear text before the handshake.
    char c = 0;
    size_t n = 0;
    while (n < 65536 && ::read(fd, &c, 1) == 1 && c != '\n')
        ++n;
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    std::optional<std::string> why;
    if (ctx) {
        if (caPath.empty() ? SSL_CTX_set_default_verify_paths(ctx.get()) != 1
                           : SSL_CTX_load_verify_locations(ctx.get(), caPath.c_str(), nullptr) != 1)
            why = "cannot read root_ca_path '" + caPath + "'";
        std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
        if (!why && ssl) {
            SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr);
            SSL_set1_host(ssl.get(), expectedHost.c_str());
            SSL_set_tlsext_host_name(ssl.get(), expectedHost.c_str());
            SSL_set_fd(ssl.get(), fd);
            if (SSL_connect(ssl.get()) != 1) {
                long v = SSL_get_verify_result(ssl.get());
                if (v != X509_V_OK)
                    why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
                else
                    why = "TLS handshake failed";
            }
        }
    }
    ERR_clear_error();
    ::close(fd);
    return why;
}

} // namespace steward
