// SPDX-License-Identifier: LGPL-2.1-or-later
#include "srs_keys.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "srs_command.h"
#include "scopevisor/text.h"

namespace srs {
namespace fs = std::filesystem;
namespace {

// The OpenSSL error stack as text, as the original replies it (the exact
// words depend on the OpenSSL build).
std::string opensslErrors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += (out.empty() ? "" : ", ") + std::string(buf);
    }
    return out.empty() ? "RSA verification failed" : out;
}

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// "BEGIN PUBLIC KEY", the only form the original accepts; `file` names it
// in errors.
std::unique_ptr<EVP_PKEY, PkeyFree> parsePublicKey(std::string_view pem, const std::string& file, std::string* error) {
    BIO* bio = BIO_new_mem_buf(pem.data(), int(std::min<size_t>(pem.size(), INT32_MAX)));
    EVP_PKEY* k = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    if (!k || EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
        EVP_PKEY_free(k);
        ERR_clear_error();
        *error = "Cannot read key file " + file + ": not an RSA public key in PEM";
        return nullptr;
    }
    return std::unique_ptr<EVP_PKEY, PkeyFree>(k);
}

Verified verifyWithKey(EVP_PKEY* key, std::string signature) {
    Verified v;
    const size_t k = size_t(EVP_PKEY_get_size(key));
    while (signature.size() > k && signature.back() == '\0')
        signature.pop_back();
    std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new(key, nullptr));
    std::string plain(k, '\0');
    size_t len = plain.size();
    ERR_clear_error();
    // RSA_public_decrypt(..., RSA_PKCS1_PADDING) through EVP: recover the
    // data under a type 1 block, with no digest (the original signs the
    // bare text).
    if (!ctx || EVP_PKEY_verify_recover_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_verify_recover(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                                reinterpret_cast<const unsigned char*>(signature.data()), signature.size()) <= 0) {
        v.error = opensslErrors();
        return v;
    }
    plain.resize(len);
    v.signature = std::string(k - std::min(k, signature.size()), '\0') + signature;
    v.command = commandFromDecrypted(plain);
    if (!v.command)
        v.error = "the signed command is not UTF-8";
    return v;
}

} // namespace

std::string findKeyFile(const std::vector<std::string>& dirs, const std::string& key) {
    for (const auto& dir : dirs) {
        std::error_code ec;
        std::string best;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string n = it->path().filename().string();
            if (it->path().extension() == ".pem" && n.substr(0, n.find('.')) == key && (best.empty() || n < best))
                best = n;
        }
        if (!best.empty())
            return (fs::path(dir) / best).string();
    }
    return {};
}

Verified verifySignature(const std::string& pemFile, std::string signature) {
    std::ifstream in(pemFile, std::ios::binary);
    if (!in) {
        Verified v;
        v.error = "Cannot read key file " + pemFile + ": " + scopevisor::errnoText(errno);
        return v;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return verifySignaturePem(text.str(), pemFile, std::move(signature));
}

Verified verifySignaturePem(std::string_view pem, const std::string& file, std::string signature) {
    Verified v;
    auto key = parsePublicKey(pem, file, &v.error);
    if (!key)
        return v;
    return verifyWithKey(key.get(), std::move(signature));
}

bool ReplayGuard::replayed(const std::string& payload, std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(m_);
    for (auto it = seen_.begin(); it != seen_.end();)
        it = now - it->second >= window_ ? seen_.erase(it) : std::next(it);
    if (seen_.count(payload))
        return true;
    seen_[payload] = now;
    return false;
}

} // namespace srs
