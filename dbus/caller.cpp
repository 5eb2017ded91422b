// SPDX-License-Identifier: LGPL-2.1-or-later
#include "caller.h"

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

namespace scopevisor::dbus {
namespace {

// sdbus-c++ 1.2.0 does not tell whether a call carries the
// ALLOW_INTERACTIVE_AUTHORIZATION flag; the raw sd-bus message does. Naming
// the protected member through a derived class yields a pointer to member
// of sdbus::Message, which may then be applied to any Message.
struct MessageAccess : sdbus::Message {
    static sd_bus_message* raw(const sdbus::Message& m) {
        void* sdbus::Message::*p = &MessageAccess::msg_;
        return static_cast<sd_bus_message*>(m.*p);
    }
};

} // namespace

Caller currentCaller(const sdbus::IObject& obj) {
    Caller c;
    const sdbus::Message* m = obj.getCurrentlyProcessedMessage();
    if (!m)
        return c;
    c.sender = m->getSender();
    if (sd_bus_message* raw = MessageAccess::raw(*m))
        c.interactive = sd_bus_message_get_allow_interactive_authorization(raw) > 0;
    return c;
}

} // namespace scopevisor::dbus
