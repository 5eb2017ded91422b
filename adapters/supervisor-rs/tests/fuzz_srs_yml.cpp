// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of the server.yml and child yml import: one input read as a
// server.yml and as a child NAME.yml. Either gives a value or an error
// naming the file, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "srs_yml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::string error;
    srs::ServerYml server;
    const bool serverOk = srs::parseServerYml(text, "/etc/srs/server.yml", &server, &error);
    if (serverOk == !error.empty() || (!serverOk && error.rfind("/etc/srs/server.yml", 0) != 0))
        std::abort();
    if (serverOk && server.mode == "half" && !server.hasStartup)
        std::abort();
    error.clear();
    srs::ChildYml child;
    const bool childOk = srs::parseChildYml(text, "/etc/srs/kids/web.yml", &child, &error);
    if (childOk == !error.empty() || (!childOk && error.rfind("/etc/srs/kids/web.yml", 0) != 0))
        std::abort();
    if (childOk) {
        auto argv = srs::splitCommand(child.command);
        if (child.name != "web" || argv.empty() || argv[0].empty())
            std::abort();
        if (child.repeat && child.repeatSeconds <= 0)
            std::abort();
    }
    return 0;
}
