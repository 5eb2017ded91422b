// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Reload (docs/architecture.md §1): the configuration is read again and
// only added, changed and removed groups are touched; supervisord's steps
// (reread, then add or remove a group) are the Control API's too.
#include "engine.h"

#include "logging.h"

namespace scopevisor {

Result<config::Config> Engine::readConfig() {
    try {
        auto c = opts_.load ? opts_.load(opts_.configPath, opts_.loadContext)
                            : config::load(opts_.configPath, opts_.loadContext);
        for (auto& w : c.warnings)
            log::warn(w.text());
        return c;
    } catch (const config::ConfigError& e) {
        return Error{ErrorCode::CantReread, e.what()};
    } catch (const std::exception& e) {
        return Error{ErrorCode::CantReread, e.what()};
    }
}

ConfigDiff Engine::diff(const config::Config& next) const {
    ConfigDiff d;
    for (auto& g : next.groups) {
        const Group* active = findGroup(g.name);
        if (!active)
            d.added.push_back(g.name);
        else if (!active->cfg().sameAs(g))
            d.changed.push_back(g.name);
    }
    for (auto& g : groups_)
        if (!next.findGroup(g->cfg().name))
            d.removed.push_back(g->cfg().name);
    return d;
}

void Engine::rereadConfig(Callback<Result<ConfigDiff>> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g.error());
        auto c = readConfig();
        if (!c)
            return done(c.error());
        auto d = diff(c.value());
        configPtr_ = std::make_shared<const config::Config>(std::move(c.value()));
        done(std::move(d));
    });
}

void Engine::activateAndAutostart(const config::GroupConfig& gc) {
    activateGroup(gc);
    if (Group* g = findGroup(gc.name))
        for (auto& p : g->programs)
            p->autostart();
}

ReloadResult Engine::applyConfig(config::Config next) {
    ReloadResult d = diff(next);
    configPtr_ = std::make_shared<const config::Config>(std::move(next));
    log::setLevel([&] {
        log::Level l = log::Level::Info;
        log::parseLevel(cfg().daemon.loglevel, l);
        return l;
    }());
    for (auto& name : d.removed)
        stopGroupThen(name, [this, name] {
            deactivateGroup(name);
            log::info("removed process group " + name);
        });
    for (auto& name : d.changed)
        stopGroupThen(name, [this, name] {
            deactivateGroup(name);
            if (const auto* gc = cfg().findGroup(name)) {
                activateAndAutostart(*gc);
                log::info("updated process group " + name);
            }
        });
    for (auto& name : d.added)
        if (const auto* gc = cfg().findGroup(name)) {
            activateAndAutostart(*gc);
            log::info("added process group " + name);
        }
    return d;
}

void Engine::reload(Callback<Result<ReloadResult>> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g.error());
        auto c = readConfig();
        if (!c) {
            log::error("reload failed, keeping the running configuration: " + c.error().message);
            return done(c.error());
        }
        done(applyConfig(std::move(c.value())));
    });
}

void Engine::requestReload() {
    reload([](Result<ReloadResult> r) {
        if (r)
            log::info("reloaded: " + std::to_string(r->added.size()) + " added, " +
                      std::to_string(r->changed.size()) + " changed, " + std::to_string(r->removed.size()) +
                      " removed");
    });
}

void Engine::addGroup(std::string group, Callback<Status> done) {
    loop_.post([this, group, done] {
        if (auto g = gate(); !g)
            return done(g);
        if (findGroup(group))
            return done(Error{ErrorCode::AlreadyAdded, group});
        const auto* gc = cfg().findGroup(group);
        if (!gc)
            return done(Error{ErrorCode::NoSuchGroup, group});
        activateAndAutostart(*gc);
        done(okStatus());
    });
}

void Engine::removeGroup(std::string group, Callback<Status> done) {
    loop_.post([this, group, done] {
        if (auto g = gate(); !g)
            return done(g);
        Group* g = findGroup(group);
        if (!g)
            return done(Error{ErrorCode::NoSuchGroup, group});
        for (auto& p : g->programs)
            if (!isStoppedState(p->state()))
                return done(Error{ErrorCode::StillRunning, group});
        deactivateGroup(group);
        done(okStatus());
    });
}

} // namespace scopevisor
