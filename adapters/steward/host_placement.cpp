// SPDX-License-Identifier: LGPL-2.1-or-later
#include "host_placement.h"

#include <future>
#include <memory>
#include <utility>

namespace steward {

std::string HostPlacement::description(const std::vector<std::string>& argv) {
    constexpr size_t kMax = 200;
    std::string d = "scopevisor steward command";
    for (const auto& a : argv) {
        if (d.size() + 1 + a.size() > kMax) {
            d += " ...";
            break;
        }
        d += " " + a;
    }
    return d;
}

bool HostPlacement::place(pid_t pid, const std::vector<std::string>& argv, std::string* unit, std::string* error) {
    auto answer = std::make_shared<std::promise<std::pair<std::string, std::string>>>();
    auto got = answer->get_future();
    host_.startCommandScope(pid, description(argv), [answer](std::string u, std::string e) {
        answer->set_value({std::move(u), std::move(e)});
    });
    auto [u, e] = got.get();
    if (!e.empty()) {
        *error = std::move(e);
        return false;
    }
    *unit = std::move(u);
    return true;
}

bool HostPlacement::killScope(const std::string& unit, std::string* error) {
    auto answer = std::make_shared<std::promise<std::string>>();
    auto got = answer->get_future();
    host_.killCommandScope(unit, [answer](std::string e) { answer->set_value(std::move(e)); });
    std::string e = got.get();
    if (e.empty())
        return true;
    *error = std::move(e);
    return false;
}

} // namespace steward
