// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The sd-bus message under an sdbus-c++ Message. sdbus-c++ 1.2.0 has no
// accessor for what it does not wrap (the ALLOW_INTERACTIVE_AUTHORIZATION
// flag, the sd_bus a message belongs to); the raw message has. Naming the
// protected member through a derived class yields a pointer to member of
// sdbus::Message, which may then be applied to any Message.
#pragma once

#include <sdbus-c++/Message.h>
#include <systemd/sd-bus.h>

namespace scopevisor::dbus {

struct RawMessage : sdbus::Message {
    static sd_bus_message* of(const sdbus::Message& m) {
        void* sdbus::Message::*p = &RawMessage::msg_;
        return static_cast<sd_bus_message*>(m.*p);
    }
};

} // namespace scopevisor::dbus
