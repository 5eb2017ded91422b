// SPDX-License-Identifier: LGPL-2.1-or-later
#include "nkey.h"

#include <cstdint>
#include <memory>

#include <openssl/evp.h>

namespace steward {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr uint8_t kPrefixSeed = 18 << 3; // 'S'
constexpr uint8_t kPrefixUser = 20 << 3; // 'U'

bool isBase32(char c) { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); }
} // namespace

// CRC-16/XMODEM (poly 0x1021, init 0), as the nkeys package computes it.
uint16_t nkeyCrc16(std::string_view data) {
    uint16_t crc = 0;
    for (unsigned char c : data) {
        crc ^= static_cast<uint16_t>(c) << 8;
        for (int i = 0; i < 8; ++i)
            crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
    }
    return crc;
}

std::string base32Encode(std::string_view raw) {
    std::string out;
    uint32_t buf = 0;
    int bits = 0;
    for (unsigned char c : raw) {
        buf = (buf << 8) | c;
        bits += 8;
        while (bits >= 5) {
            out.push_back(kAlphabet[(buf >> (bits - 5)) & 31]);
            bits -= 5;
        }
    }
    if (bits > 0)
        out.push_back(kAlphabet[(buf << (5 - bits)) & 31]);
    return out;
}

std::optional<std::string> base32Decode(std::string_view text) {
    std::string out;
    uint32_t buf = 0;
    int bits = 0;
    for (char c : text) {
        const char* p = nullptr;
        for (const char* a = kAlphabet; *a; ++a)
            if (*a == c)
                p = a;
        if (!p)
            return std::nullopt;
        buf = (buf << 5) | static_cast<uint32_t>(p - kAlphabet);
        bits += 5;
        if (bits >= 8) {
            out.push_back(static_cast<char>((buf >> (bits - 8)) & 0xff));
            bits -= 8;
        }
    }
    return out;
}

std::optional<std::string> findUserSeed(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        size_t j = i;
        while (j < text.size() && isBase32(text[j]))
            ++j;
        if (j - i >= 58 && text.substr(i, 2) == "SU")
            return std::string(text.substr(i, j - i));
        i = j + 1;
    }
    return std::nullopt;
}

std::optional<std::string> userPublicKeyFromSeed(std::string_view seed, std::string* error) {
    auto raw = base32Decode(seed);
    if (!raw || raw->size() != 36) {
        *error = "not an nkey seed (bad base32 or length)";
        return std::nullopt;
    }
    uint16_t crc = static_cast<uint16_t>(static_cast<uint8_t>((*raw)[34]) |
                                         (static_cast<uint8_t>((*raw)[35]) << 8));
    if (crc != nkeyCrc16(std::string_view(*raw).substr(0, 34))) {
        *error = "nkey seed checksum mismatch";
        return std::nullopt;
    }
    uint8_t b0 = static_cast<uint8_t>((*raw)[0]), b1 = static_cast<uint8_t>((*raw)[1]);
    uint8_t type = static_cast<uint8_t>(((b0 & 7) << 5) | ((b1 & 0xf8) >> 3));
    if ((b0 & 0xf8) != kPrefixSeed || type != kPrefixUser) {
        *error = "not a user nkey seed (expected a seed starting with SU)";
        return std::nullopt;
    }
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                     reinterpret_cast<const unsigned char*>(raw->data() + 2), 32),
        &EVP_PKEY_free);
    unsigned char pub[32];
    size_t len = sizeof pub;
    if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub, &len) != 1 || len != 32) {
        *error = "ed25519 key derivation failed";
        return std::nullopt;
    }
    std::string pk(1, static_cast<char>(kPrefixUser));
    pk.append(reinterpret_cast<const char*>(pub), 32);
    uint16_t c = nkeyCrc16(pk);
    pk.push_back(static_cast<char>(c & 0xff));
    pk.push_back(static_cast<char>(c >> 8));
    return base32Encode(pk);
}

} // namespace steward
