// SPDX-License-Identifier: LGPL-2.1-or-later
#include "basic_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "xmlrpc_parse.h"
#include "xmlrpc_value.h"

namespace scopevisor::xmlrpc {

std::string sha1Hex(const std::string& s) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s.data(), s.size(), md, &n, EVP_sha1(), nullptr);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

namespace {

bool sameText(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace

AuthOutcome checkBasicAuth(const std::string* header, const Credentials& creds, std::string* user) {
    if (creds.username.empty())
        return AuthOutcome::Ok;
    if (!header)
        return AuthOutcome::Unauthorized;
    // medusa matches "Authorization: ([^ ]+) (.*)": a scheme, one space,
    // then the cookie.
    const auto sp = header->find(' ');
    if (sp == std::string::npos || sp == 0)
        return AuthOutcome::Unauthorized;
    std::string scheme = header->substr(0, sp);
    for (auto& c : scheme)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "basic")
        return AuthOutcome::Unauthorized;
    auto decoded = pyBase64Decode(header->substr(sp + 1));
    if (!decoded || !validUtf8(*decoded))
        return AuthOutcome::BadRequest;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos)
        return AuthOutcome::ServerError;
    const std::string name = decoded->substr(0, colon);
    const std::string pass = decoded->substr(colon + 1);
    if (name != creds.username)
        return AuthOutcome::Unauthorized;
    const bool ok = creds.password.rfind("{SHA}", 0) == 0 ? sameText(creds.password.substr(5), sha1Hex(pass))
                                                          : sameText(creds.password, pass);
    if (!ok)
        return AuthOutcome::Unauthorized;
    *user = name;
    return AuthOutcome::Ok;
}

} // namespace scopevisor::xmlrpc
