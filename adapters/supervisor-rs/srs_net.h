// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The TCP side of the adapter: the listening socket and one message per
// connection.
#pragma once

#include <string>

namespace srs {

// A listening TCP socket on address:port ("::" is dual stack; a name is
// resolved); -1 with *error set on failure.
int listenTcp(const std::string& address, int port, std::string* error);
int boundPort(int fd);

// The message as the original reads it: one read(2) of at most 4196 bytes
// ("" after `timeoutMs` without data, at EOF, or once `wakeFd` is readable:
// the adapter is stopping).
std::string readMessage(int fd, int wakeFd, int timeoutMs);
bool writeAll(int fd, const std::string& data);
// Half-close, wait (1 s at most) for the client to close its side, then
// close: closing with unread bytes would reset the connection and could
// drop the end of a long reply.
void closeAfterReply(int fd, int wakeFd);

} // namespace srs
