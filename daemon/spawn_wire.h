// SPDX-License-Identifier: LGPL-2.1-or-later
//
// How a ChildPlan travels from the daemon to its spawner process
// (spawn_zygote.h): one SOCK_SEQPACKET message with the child's fds attached.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "spawn_plan.h"

namespace scopevisor {
namespace spawnwire {

// The message of one child: a header, the supplementary groups, then
// NUL-terminated strings (path, argv0, directory, uidText, argv..., env...).
// Which fds are attached, in order: in, out, errorFd, then releaseFd and err
// when the header says so.
constexpr size_t kMaxFds = 5;
constexpr size_t kMaxMessage = 1 << 20;

// Encode `plan` into `out`; `fds` gets the fds to attach, in wire order.
void encode(const spawnplan::ChildPlan& plan, std::string& out, std::vector<int>& fds);

// Rebuild a plan from a received message, its strings pointing into `msg`
// (which must stay alive) and its argv/envp arrays into `ptrs` (room for
// `nptrs` pointers). `fds` are the received fds, in wire order. Returns 0,
// or an errno (EINVAL: malformed, E2BIG: too many strings). Allocates
// nothing: the spawner calls it after fork().
int decode(char* msg, size_t len, const int* fds, size_t nfds, char** ptrs, size_t nptrs,
           spawnplan::ChildPlan& plan);

} // namespace spawnwire
} // namespace scopevisor
