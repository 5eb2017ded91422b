// SPDX-License-Identifier: LGPL-2.1-or-later
//
// steward.sock: an operator writes a JSON array of messages and closes the
// connection; nothing is written back (errors go to the error log), as
// Steward's own socket. Peers are authorized for the "control" verb (root
// always; others through polkit).
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include <sys/types.h>

namespace steward {

class Node;

class LocalSocket {
public:
    LocalSocket(Node& node, std::string path, mode_t mode) : node_(node), path_(std::move(path)), mode_(mode) {}
    ~LocalSocket() { stop(); }
    bool start(std::string* error);
    void stop();

private:
    void serve();
    void handle(int fd);

    Node& node_;
    std::string path_;
    mode_t mode_;
    int listenFd_ = -1;
    int wakeFd_ = -1;
    std::thread thread_;
};

} // namespace steward
