// SPDX-License-Identifier: LGPL-2.1-or-later
#include "khanat_tls.h"

#include <netdb.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "scopevisor/tcp_listener.h"

namespace khanat {
namespace {

std::string sslErrors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += (out.empty() ? "" : "; ") + std::string(buf);
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

} // namespace

bool setupServerContext(SSL_CTX& ctx, const TlsFiles& f, std::string* error) {
    ERR_clear_error();
    // client.py offers TLS 1.2 only; 1.3 is accepted for newer clients.
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(&ctx, f.certfile.c_str()) != 1) {
        *error = "certfile " + f.certfile + ": " + sslErrors();
        return false;
    }
    if (SSL_CTX_use_PrivateKey_file(&ctx, f.keyfile.c_str(), SSL_FILETYPE_PEM) != 1) {
        *error = "keyfile " + f.keyfile + ": " + sslErrors();
        return false;
    }
    if (SSL_CTX_check_private_key(&ctx) != 1) {
        *error = "keyfile " + f.keyfile + " does not match certfile " + f.certfile;
        return false;
    }
    // Every certificate of the file is trusted, so a chain file (application
    // CA + root CA, the documented cachaincert.pem) works.
    if (SSL_CTX_load_verify_locations(&ctx, f.caCert.c_str(), nullptr) != 1) {
        *error = "ca_cert " + f.caCert + ": " + sslErrors();
        return false;
    }
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(f.caCert.c_str()))
        SSL_CTX_set_client_CA_list(&ctx, names);
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Sessions resumed by a client carry the verified certificate: they
    // need an id context of their own.
    static const unsigned char kSessionContext[] = "scopevisor-khanat";
    SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
    // Non-blocking sockets (khanat_event_server.cpp): a reply goes out in
    // as many writes as the peer allows, and an idle connection gives its
    // read and write buffers back.
    SSL_CTX_set_mode(&ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
    return true;
}

std::string peerCommonName(const SSL* ssl) {
    if (!ssl)
        return {};
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return {};
    std::string cn;
    X509_NAME* subject = X509_get_subject_name(cert);
    int idx = -1, last = -1;
    while ((idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) >= 0)
        last = idx;
    if (last >= 0) {
        ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, last));
        unsigned char* utf8 = nullptr;
        int n = ASN1_STRING_to_UTF8(&utf8, data);
        if (n > 0)
            cn.assign(reinterpret_cast<char*>(utf8), size_t(n));
        OPENSSL_free(utf8);
    }
    X509_free(cert);
    return cn;
}

int openListener(const std::string& address, int port, int* boundPort, std::string* error) {
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    // "" means every interface: "::" is dual-stack once IPV6_V6ONLY is off.
    const bool any = address.empty();
    int rc = scopevisor::resolveListenAddress(any ? "::" : address.c_str(), service, AF_UNSPEC, &res);
    if (rc != 0 && any)
        rc = scopevisor::resolveListenAddress("0.0.0.0", service, AF_UNSPEC, &res);
    if (rc != 0) {
        *error = "address '" + address + "': " + gai_strerror(rc);
        return -1;
    }
    std::string lastErr;
    const int fd = scopevisor::listenOnFirst(res, any, SOMAXCONN, &lastErr);
    freeaddrinfo(res);
    if (fd < 0) {
        *error = "cannot listen on " + (any ? std::string("*") : address) + ":" + service + ": " + lastErr;
        return -1;
    }
    *boundPort = scopevisor::listeningPort(fd);
    return fd;
}

} // namespace khanat
