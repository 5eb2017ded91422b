// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of encrypted mode's path from bytes to command: the signed
// framing "<keyname>;<signature>", RSA recovery with a fixed test key, the
// replay guard's key, then the command parser. The seed corpus
// (corpus/signed) holds messages signed with this key's private half.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "srs_command.h"
#include "srs_keys.h"

namespace {

// A 1024-bit test key: small, so that the fuzzer runs fast.
constexpr const char* kTestPublicKey = R"(-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC2LFETj6jtRoIR3keL8LpXoKdE
k1p437JCdG2Tm98Eyv8/HiysGC4U61TTlkIbRRMYXnhSOl1YMXjrcZWpfqcZIkG4
eCpf6YAYmvZKs9o8Cqgj71Jg5QZWGX956XLEDzB0TDnduwVeI1J0zBxlWKsv7Lt7
mfwgDnGqOSVGwlRtkQIDAQAB
-----END PUBLIC KEY-----
)";
constexpr size_t kKeyBytes = 128;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string raw(reinterpret_cast<const char*>(data), size);
    srs::SignedSplit s = srs::splitSigned(raw);
    if (!s.message) {
        if (s.error.empty())
            std::abort();
        return 0;
    }
    srs::Verified v = srs::verifySignaturePem(kTestPublicKey, "test.pem", s.message->signature);
    if (v.command.has_value() == !v.error.empty()) // exactly one of command and error
        std::abort();
    if (v.signature.empty())
        return 0; // not verified
    // Whatever NULs trail the bytes received, the guard's key is the one
    // number that was verified: exactly the key's size.
    if (v.signature.size() != kKeyBytes)
        std::abort();
    srs::ReplayGuard guard(60);
    const auto now = std::chrono::steady_clock::now();
    if (guard.replayed(v.signature, now) || !guard.replayed(v.signature, now))
        std::abort();
    srs::Verified again = srs::verifySignaturePem(kTestPublicKey, "test.pem", s.message->signature + std::string(3, '\0'));
    if (again.signature != v.signature)
        std::abort();
    if (v.command) {
        srs::ParseOutcome p = srs::parseCommand(*v.command);
        if (p.command.has_value() == !p.error.empty())
            std::abort();
    }
    return 0;
}
