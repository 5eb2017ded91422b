// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Waiting for a Control answer with a limit (part of the adapter API,
// docs/architecture.md §7). control.h's await() waits as long as it takes;
// a thread that serves peers must not, or one wedged request holds it forever.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <utility>

namespace scopevisor {

// Make the call `call(callback)` and wait up to `limit` for the callback's
// value. nullopt when the limit passed first; an answer that comes later is
// dropped. The engine always answers: the limit is only a safety net.
template <typename T, typename F>
std::optional<T> awaitFor(F&& call, std::chrono::milliseconds limit) {
    auto p = std::make_shared<std::promise<T>>();
    auto fut = p->get_future();
    std::forward<F>(call)([p](T v) { p->set_value(std::move(v)); });
    if (fut.wait_for(limit) != std::future_status::ready)
        return std::nullopt;
    return fut.get();
}

} // namespace scopevisor
