// SPDX-License-Identifier: LGPL-2.1-or-later
//
// supervisord's signal_number(): a signal given by name (with or without
// SIG, any case) or by number, checked against the signals Python's signal
// module knows on Linux.
#pragma once

#include <optional>
#include <string_view>

#include "xmlrpc_value.h"

namespace scopevisor::xmlrpc {

// The signal number, or nullopt for supervisord's BAD_SIGNAL. Values that
// Python cannot even try (lists, structs, nil) give nullopt too; the caller
// tells them apart with isSignalLike().
std::optional<int> signalNumber(const Value& v);
bool isSignalLike(const Value& v);

} // namespace scopevisor::xmlrpc
