// SPDX-License-Identifier: LGPL-2.1-or-later
#include "caller.h"

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include "raw_message.h"

namespace scopevisor::dbus {

Caller currentCaller(const sdbus::IObject& obj) {
    Caller c;
    const sdbus::Message* m = obj.getCurrentlyProcessedMessage();
    if (!m)
        return c;
    c.sender = m->getSender();
    if (sd_bus_message* raw = RawMessage::of(*m))
        c.interactive = sd_bus_message_get_allow_interactive_authorization(raw) > 0;
    return c;
}

} // namespace scopevisor::dbus
