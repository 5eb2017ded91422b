// SPDX-License-Identifier: LGPL-2.1-or-later
#include "basic_auth.h"

#include <mutex>

#include <gcrypt.h>

#include "xmlrpc_parse.h"
#include "xmlrpc_value.h"
#include "scopevisor/text.h"

namespace scopevisor::xmlrpc {

// SHA-1 from libgcrypt: libsystemd already maps it into the daemon (its
// journal sealing uses it), so `{SHA}` passwords cost no extra library,
// unlike OpenSSL's libcrypto, which would add megabytes to the daemon's
// memory for one hash.
std::string sha1Hex(const std::string& s) {
    static std::once_flag init;
    // libgcrypt wants its version checked before first use; that also
    // initializes it (no secure memory is involved in hashing).
    std::call_once(init, [] { gcry_check_version(nullptr); });
    unsigned char md[20];
    gcry_md_hash_buffer(GCRY_MD_SHA1, md, s.data(), s.size());
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < sizeof md; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

namespace {

// Compares every byte whatever the first difference, so the time taken
// does not tell how much of a guessed password was right.
bool sameText(const std::string& a, const std::string& b) {
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
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
    if (lowered(header->substr(0, sp)) != "basic")
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
