// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the spawner's message decoder (daemon/spawn_wire.h):
// any message is either refused with an errno or read into a plan that
// reads back the same after encoding it again. It never crashes or reads
// outside the message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "spawn_wire.h"

using namespace scopevisor;

namespace {

void same(const char* a, const char* b) {
    if ((a == nullptr) != (b == nullptr) || (a && std::strcmp(a, b) != 0))
        std::abort();
}

void sameList(char* const* a, char* const* b) {
    for (size_t i = 0;; ++i) {
        same(a[i], b[i]);
        if (!a[i])
            return;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The first byte says how many fds came with the message (0-5); the
    // decoder must check that count against what the header announces.
    if (size == 0)
        return 0;
    const size_t nfds = data[0] % (spawnwire::kMaxFds + 1);
    const int fds[spawnwire::kMaxFds] = {10, 11, 12, 13, 14};
    // An exact-size heap copy, so a read past the end is caught by ASan;
    // aligned as the spawner's buffer is.
    std::vector<char> msg(data + 1, data + size);
    char* ptrs[64];
    spawnplan::ChildPlan p;
    if (spawnwire::decode(msg.data(), msg.size(), fds, nfds, ptrs, 64, p) != 0)
        return 0;

    std::string again;
    std::vector<int> sent;
    spawnwire::encode(p, again, sent);
    if (sent.size() != nfds)
        std::abort();
    std::vector<char> msg2(again.begin(), again.end());
    char* ptrs2[64];
    spawnplan::ChildPlan q;
    if (spawnwire::decode(msg2.data(), msg2.size(), sent.data(), sent.size(), ptrs2, 64, q) != 0)
        std::abort();
    same(p.path, q.path);
    same(p.argv0, q.argv0);
    same(p.directory, q.directory);
    same(p.uidText, q.uidText);
    sameList(p.argv, q.argv);
    sameList(p.envp, q.envp);
    if (p.umask != q.umask || p.hold != q.hold || p.keepPipesAlive != q.keepPipesAlive ||
        p.changeUser != q.changeUser || p.uid != q.uid || p.gid != q.gid || p.ngroups != q.ngroups ||
        p.maxFd != q.maxFd || p.nofileSoft != q.nofileSoft || p.in != q.in || p.out != q.out || p.err != q.err || p.errorFd != q.errorFd ||
        p.releaseFd != q.releaseFd)
        std::abort();
    if (p.ngroups && std::memcmp(p.groups, q.groups, p.ngroups * sizeof(gid_t)) != 0)
        std::abort();
    return 0;
}
