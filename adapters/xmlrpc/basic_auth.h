// SPDX-License-Identifier: LGPL-2.1-or-later
//
// HTTP Basic authentication as supervisord's medusa auth_handler does it:
// realm "default", the password in clear or as "{SHA}" + hex SHA-1.
#pragma once

#include <string>

namespace scopevisor::xmlrpc {

struct Credentials {
    std::string username; // empty: no authentication on this server
    std::string password;
};

enum class AuthOutcome {
    Ok,           // credentials match (or none are configured)
    Unauthorized, // 401 with WWW-Authenticate
    BadRequest,   // 400: the header's base64 does not decode
    ServerError,  // 500: decoded value without ':' (supervisord's quirk)
};

// `header` is the value of the Authorization header ("Basic dXNlcjpwdw=="),
// nullptr when absent. On Ok, *user is the authenticated user name.
AuthOutcome checkBasicAuth(const std::string* header, const Credentials& creds, std::string* user);

// Lower-case hex SHA-1 of `s`.
std::string sha1Hex(const std::string& s);

} // namespace scopevisor::xmlrpc
