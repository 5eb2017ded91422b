// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Append throughput of the per-program log buffer: short lines ("%d\n") fed
// in 64 KiB chunks, as a pipe read hands them over, into a ProgramLog with
// the default bounds. Prints lines/s and MB/s; checks that the numbering came
// out exact. No timing assertion: the figure is for people to read.
//
//   bench_log_buffer [LINES]     (default 20000000)
#include <chrono>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "log_buffer.h"

using namespace scopevisor;

int main(int argc, char** argv) {
    const uint64_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000000;
    constexpr size_t kChunk = 64 * 1024;
    constexpr uint64_t kMaxLines = 10000;
    constexpr uint64_t kMaxBytes = 1 << 20;

    // The input is prepared outside the timed region, chunk by chunk, with
    // lines straddling chunk boundaries as they do in a real pipe.
    ProgramLog log(kMaxLines, kMaxBytes);
    std::string chunk;
    chunk.reserve(kChunk + 32);
    uint64_t next = 1, bytes = 0;
    std::chrono::nanoseconds spent{0};
    std::string carry;
    while (next <= total || !carry.empty()) {
        chunk = std::move(carry);
        carry.clear();
        char num[24];
        while (chunk.size() < kChunk && next <= total) {
            auto r = std::to_chars(num, num + sizeof num, next++);
            *r.ptr++ = '\n';
            chunk.append(num, r.ptr);
        }
        if (chunk.size() > kChunk) {
            carry.assign(chunk, kChunk);
            chunk.resize(kChunk);
        }
        const auto t0 = std::chrono::steady_clock::now();
        log.append(false, chunk);
        spent += std::chrono::steady_clock::now() - t0;
        bytes += chunk.size();
    }

    const LogBuffer& out = log.stdoutBuf();
    const double secs = std::chrono::duration<double>(spent).count();
    std::printf("lines appended:  %llu (%llu bytes in 64 KiB chunks)\n", static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(bytes));
    std::printf("time:            %.3f s\n", secs);
    std::printf("throughput:      %.2f M lines/s, %.1f MB/s\n", static_cast<double>(total) / secs / 1e6,
                static_cast<double>(bytes) / secs / 1e6);
    std::printf("held:            lines %llu..%llu, %llu bytes, heap %zu bytes\n",
                static_cast<unsigned long long>(out.firstLine()), static_cast<unsigned long long>(out.lastLine()),
                static_cast<unsigned long long>(out.bytesEnd() - out.bytesBegin()), log.memoryBytes());

    // Exact numbering: the Nth line is the text "N".
    bool ok = out.lastLine() == total && out.nextLine() == total + 1 && log.nextSeq() == total + 1 &&
              out.bytesEnd() == bytes && out.lineCount() == std::min<uint64_t>(total, kMaxLines);
    for (uint64_t k = out.firstLine(); ok && k && k <= out.lastLine(); ++k)
        ok = out.line(k) == std::to_string(k) && out.seqOf(k) == k;
    std::printf("numbering:       %s\n", ok ? "exact" : "WRONG");
    return ok ? 0 : 1;
}
