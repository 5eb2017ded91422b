// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Khanat adapter: an HTTPS server (khanat_event_server.h, OpenSSL) that
// answers client.py's requests with Control API calls. The client certificate's CN
// is the identity; [access] khanat:<CN> gives its role.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "khanat_event_server.h"
#include "khanat_request.h"
#include "khanat_settings.h"
#include "scopevisor/adapter.h"

namespace khanat {

// What one handled request produced: status, content type, body.
struct Reply {
    int status = 200;
    std::string body;
    bool json = true;
    bool shutdownAfter = false; // SHUTDOWN: ask the daemon to exit once the reply is out
};

class KhanatAdapter final : public scopevisor::Adapter {
public:
    KhanatAdapter(scopevisor::AdapterHost& host, Settings settings);
    ~KhanatAdapter() override;
    bool start(std::string* error) override;
    void stop() override;

    // One request, already parsed, from a peer with this certificate CN.
    Reply execute(const Request& r, const std::string& identity);

private:
    HttpReply handle(const FramedRequest& req, const std::string& identity);
    // Program names in Khanat's order: khaganat.cfg's sections first, as in
    // the file, then every other program of the daemon.
    std::vector<scopevisor::ProgramInfo> programsInOrder();
    Reply list();
    Reply statusAll();
    Reply startAll();
    Reply stopAll();
    Reply startOne(const std::string& name);
    Reply stopOne(const std::string& name);
    Reply statusOne(const std::string& name);
    Reply log(const std::string& name, uint64_t firstLine);
    Reply action(const std::string& name, const std::string& text);

    scopevisor::AdapterHost& host_;
    Settings settings_;
    std::map<std::string, size_t> configOrder_;
    std::map<std::string, int64_t> logsize_;
    std::vector<std::unique_ptr<EventServer>> servers_;
};

} // namespace khanat
