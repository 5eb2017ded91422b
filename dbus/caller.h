// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Who sent the D-Bus call being handled: its unique bus name, and whether it
// allows interactive authorization (an authentication dialog) to happen.
#pragma once

#include <string>

namespace sdbus {
class IObject;
}

namespace scopevisor::dbus {

struct Caller {
    std::string sender; // unique name, ":1.42"
    bool interactive = false;
};

// The caller of the message `obj` is handling right now (valid only inside a
// method handler).
Caller currentCaller(const sdbus::IObject& obj);

} // namespace scopevisor::dbus
