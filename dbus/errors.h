// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Engine errors on the bus: org.scopevisor1.Error.<errorName(code)>.
#pragma once

#include <string>

#include <sdbus-c++/Error.h>

#include "scopevisor/control.h"

namespace scopevisor::dbus {

inline sdbus::Error toBusError(const Error& e) {
    return sdbus::Error(std::string("org.scopevisor1.Error.") + errorName(e.code), e.message);
}

inline sdbus::Error badArguments(const std::string& message) {
    return toBusError(Error{ErrorCode::BadArguments, message});
}

// One error for a group or all operation: the first failure's name, every
// failure in the message. Ok when nothing failed.
inline Error summarize(const MultiResult& results) {
    Error out;
    int failed = 0;
    for (const auto& r : results) {
        if (r.error.code == ErrorCode::Ok)
            continue;
        if (failed++ == 0)
            out.code = r.error.code;
        else
            out.message += "; ";
        out.message += r.namespec + ": " + (r.error.message.empty() ? errorName(r.error.code) : r.error.message);
    }
    if (failed > 0)
        out.message = std::to_string(failed) + " of " + std::to_string(results.size()) + " program(s) failed: " +
                      out.message;
    return out;
}

} // namespace scopevisor::dbus
