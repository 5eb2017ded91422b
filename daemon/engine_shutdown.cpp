// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Stopping groups and the daemon (docs/architecture.md §1): a group's
// programs in reverse priority order, all groups one at a time, highest
// priority number first (docs/protocols/xmlrpc.md §3.6); shutdown, detach
// and supervisord's restart.
#include "engine.h"

#include <algorithm>

#include "logging.h"

namespace scopevisor {

void Engine::stopGroupThen(const std::string& name, std::function<void()> then) {
    Group* g = findGroup(name);
    if (!g)
        return then();
    std::vector<Program*> members;
    for (auto& p : g->programs) {
        p->giveUp();
        if (isRunningState(p->state()) || p->state() == ProcessState::Stopping)
            members.push_back(p.get());
    }
    std::reverse(members.begin(), members.end());
    auto remaining = std::make_shared<size_t>(members.size() + 1);
    // `then` may remove the group, so it never runs inside the state-change
    // callback of one of its programs: it is posted to the loop.
    auto one = [this, remaining, then] {
        if (--*remaining == 0)
            loop_.post(then);
    };
    for (auto* p : members) {
        if (p->state() != ProcessState::Stopping)
            p->stop();
        if (isStoppedState(p->state())) {
            one();
            continue;
        }
        p->addWaiter([one](Program& q) {
            if (!isStoppedState(q.state()))
                return false;
            one();
            return true;
        });
    }
    one();
}

void Engine::setDaemonState(DaemonState s) {
    if (s == state_)
        return;
    state_ = s;
    each([&](Listener* l) { l->daemonStateChanged(s); });
}

void Engine::stopNextGroup(std::vector<std::string> order, std::function<void()> then) {
    if (order.empty()) {
        waitingLog_.reset();
        return then();
    }
    std::string name = order.front();
    order.erase(order.begin());
    stopGroupThen(name, [this, order = std::move(order), then]() mutable { stopNextGroup(std::move(order), then); });
}

void Engine::stopEverything(std::function<void()> then) {
    // Groups one at a time, highest priority number first (docs/protocols/xmlrpc.md §3.6).
    std::vector<std::string> order;
    for (auto it = groups_.rbegin(); it != groups_.rend(); ++it)
        order.push_back((*it)->cfg().name);
    // Say every 3 s what we are waiting for.
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [this, tick] {
        std::string names;
        for (auto* p : allPrograms())
            if (!isStoppedState(p->state()))
                names += (names.empty() ? "" : ", ") + p->namespec();
        if (!names.empty())
            log::info("waiting for " + names + " to die");
        waitingLog_ = loop_.addTimer(loop_.now() + 3000000, *tick);
    };
    waitingLog_ = loop_.addTimer(loop_.now() + 3000000, *tick);
    stopNextGroup(std::move(order), std::move(then));
}

void Engine::requestShutdown() {
    if (state_ == DaemonState::Shutdown)
        return;
    log::info("shutting down: stopping all programs");
    setDaemonState(DaemonState::Shutdown);
    stopEverything([this] {
        saveState(/*final=*/true);
        log::info("all programs stopped");
        if (onShutdown_)
            onShutdown_();
    });
}

void Engine::requestDetach() {
    if (state_ == DaemonState::Shutdown)
        return;
    log::info("exiting; the programs keep running and the next daemon adopts them");
    setDaemonState(DaemonState::Shutdown);
    saveState(/*final=*/true);
    if (onShutdown_)
        onShutdown_();
}

void Engine::shutdown(Callback<Status> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g);
        done(okStatus()); // the reply goes out before anything stops
        requestShutdown();
    });
}

void Engine::restartDaemon(Callback<Status> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g);
        done(okStatus());
        log::info("restarting: stopping all programs");
        setDaemonState(DaemonState::Restarting);
        stopEverything([this] {
            auto c = readConfig();
            std::vector<std::string> names;
            for (auto& g : groups_)
                names.push_back(g->cfg().name);
            for (auto& n : names)
                deactivateGroup(n);
            if (c)
                configPtr_ = std::make_shared<const config::Config>(std::move(c.value()));
            else
                log::error("restart: " + c.error().message + "; keeping the previous configuration");
            setDaemonState(DaemonState::Running);
            begin();
        });
    });
}

} // namespace scopevisor
