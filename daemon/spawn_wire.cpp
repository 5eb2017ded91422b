// SPDX-License-Identifier: LGPL-2.1-or-later
#include "spawn_wire.h"

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace scopevisor {
namespace spawnwire {
namespace {

constexpr uint32_t kMagic = 0x53565a32; // "SVZ2"
constexpr uint32_t kMaxGroups = 65536;

constexpr uint32_t kHold = 1, kKeepPipesAlive = 2, kChangeUser = 4, kHasErr = 8, kHasRelease = 16,
                   kHasDirectory = 32;

struct Header {
    uint32_t magic;
    uint32_t flags;
    int32_t umask;
    uint32_t uid, gid;
    uint32_t ngroups, nargv, nenv;
    int32_t maxFd;
    int32_t nofileSoft;
};
static_assert(sizeof(Header) % alignof(gid_t) == 0);

size_t count(char* const* v) {
    size_t n = 0;
    while (v && v[n])
        ++n;
    return n;
}

void put(std::string& out, const char* s) {
    out.append(s ? s : "");
    out.push_back('\0');
}

} // namespace

void encode(const spawnplan::ChildPlan& p, std::string& out, std::vector<int>& fds) {
    Header h{};
    h.magic = kMagic;
    h.flags = (p.hold ? kHold : 0) | (p.keepPipesAlive ? kKeepPipesAlive : 0) | (p.changeUser ? kChangeUser : 0) |
              (p.err >= 0 ? kHasErr : 0) | (p.releaseFd >= 0 ? kHasRelease : 0) | (p.directory ? kHasDirectory : 0);
    h.umask = p.umask;
    h.uid = p.uid;
    h.gid = p.gid;
    h.ngroups = uint32_t(p.ngroups);
    h.nargv = uint32_t(count(p.argv));
    h.nenv = uint32_t(count(p.envp));
    h.maxFd = p.maxFd;
    h.nofileSoft = p.nofileSoft < 0 ? -1 : p.nofileSoft;
    out.assign(reinterpret_cast<const char*>(&h), sizeof h);
    out.append(reinterpret_cast<const char*>(p.groups), p.ngroups * sizeof(gid_t));
    put(out, p.path);
    put(out, p.argv0);
    put(out, p.directory);
    put(out, p.uidText);
    for (size_t i = 0; i < h.nargv; ++i)
        put(out, p.argv[i]);
    for (size_t i = 0; i < h.nenv; ++i)
        put(out, p.envp[i]);
    fds = {p.in, p.out, p.errorFd};
    if (p.releaseFd >= 0)
        fds.push_back(p.releaseFd);
    if (p.err >= 0)
        fds.push_back(p.err);
}

int decode(char* msg, size_t len, const int* fds, size_t nfds, char** ptrs, size_t nptrs,
           spawnplan::ChildPlan& plan) {
    Header h;
    if (len < sizeof h)
        return EINVAL;
    std::memcpy(&h, msg, sizeof h);
    if (h.magic != kMagic || h.ngroups > kMaxGroups)
        return EINVAL;
    if (nfds != 3u + ((h.flags & kHasRelease) ? 1u : 0u) + ((h.flags & kHasErr) ? 1u : 0u))
        return EINVAL;
    size_t pos = sizeof h;
    const size_t groupBytes = size_t(h.ngroups) * sizeof(gid_t);
    if (len - pos < groupBytes)
        return EINVAL;
    // The header is a multiple of gid_t's alignment, and callers pass an
    // aligned buffer (the spawner's is page-aligned).
    const gid_t* groups = reinterpret_cast<const gid_t*>(msg + pos);
    pos += groupBytes;
    if (size_t(h.nargv) + size_t(h.nenv) + 2 > nptrs)
        return E2BIG;
    if (h.nargv == 0)
        return EINVAL;
    auto next = [&](char*& s) {
        if (pos >= len)
            return false;
        void* nul = std::memchr(msg + pos, '\0', len - pos);
        if (!nul)
            return false;
        s = msg + pos;
        pos = size_t(static_cast<char*>(nul) - msg) + 1;
        return true;
    };
    char *path, *argv0, *directory, *uidText;
    if (!next(path) || !next(argv0) || !next(directory) || !next(uidText) || !*path)
        return EINVAL;
    char** argv = ptrs;
    char** envp = ptrs + h.nargv + 1;
    for (size_t i = 0; i < h.nargv; ++i)
        if (!next(argv[i]))
            return EINVAL;
    argv[h.nargv] = nullptr;
    for (size_t i = 0; i < h.nenv; ++i)
        if (!next(envp[i]))
            return EINVAL;
    envp[h.nenv] = nullptr;
    if (pos != len)
        return EINVAL;

    plan = spawnplan::ChildPlan{};
    plan.path = path;
    plan.argv = argv;
    plan.envp = envp;
    plan.argv0 = argv0;
    plan.directory = (h.flags & kHasDirectory) ? directory : nullptr;
    plan.umask = h.umask;
    plan.hold = h.flags & kHold;
    plan.keepPipesAlive = h.flags & kKeepPipesAlive;
    plan.changeUser = h.flags & kChangeUser;
    plan.uid = h.uid;
    plan.gid = h.gid;
    plan.groups = groups;
    plan.ngroups = h.ngroups;
    plan.uidText = uidText;
    plan.maxFd = h.maxFd > 0 ? h.maxFd : 1024;
    plan.nofileSoft = h.nofileSoft < 0 ? -1 : h.nofileSoft;
    size_t i = 0;
    plan.in = fds[i++];
    plan.out = fds[i++];
    plan.errorFd = fds[i++];
    if (h.flags & kHasRelease)
        plan.releaseFd = fds[i++];
    if (h.flags & kHasErr)
        plan.err = fds[i++];
    return 0;
}

} // namespace spawnwire
} // namespace scopevisor
