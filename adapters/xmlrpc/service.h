// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the HTTP servers of the adapter serve: /RPC2 (XML-RPC), /logtail and
// /mainlogtail (chunked log streams), supervisord's dispatch order, Basic
// authentication, per-call authorization and HTTP errors.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "basic_auth.h"
#include "http_server.h"
#include "rpc.h"
#include "scopevisor/adapter.h"

namespace scopevisor::xmlrpc {

struct EndpointConfig {
    bool isUnix = false;
    Credentials creds;
    size_t maxBodyBytes = 8u << 20;
};

struct ServiceOptions {
    int streamPollMs = 200; // how long a log stream waits for news before checking its client
    int mainLogPollMs = 100;
};

class Service final : private Listener {
public:
    Service(AdapterHost& host, ServiceOptions opts = {});
    ~Service() override;
    // Start following the engine (daemon state, program output).
    void attach();
    void detach();
    // Serve on `srv` with the rules of one [unix_http_server] or
    // [inet_http_server] section.
    void install(HttpServer& srv, const EndpointConfig& ep);
    // End every log stream (the adapter is stopping).
    void stopStreams();

    // The refusal text for `caller`, nullopt when allowed.
    std::optional<std::string> authorize(const Caller& caller, Verb verb, const Target& target);

private:
    struct Subscription;

    HttpServer::Routed preRoute(const EndpointConfig& ep, const http::Request& req, http::Response& res);
    void handleRpc(const EndpointConfig& ep, const http::Request& req, http::Response& res);
    void logtail(const EndpointConfig& ep, const http::Request& req, http::Response& res);
    void mainlogtail(const EndpointConfig& ep, http::Response& res);
    Caller callerFor(const EndpointConfig& ep) const;
    // The canonical namespecs `target` covers ("" for none).
    std::vector<std::string> programsOf(const Target& target);
    std::shared_ptr<Subscription> subscribe(const std::string& namespec, bool mainLog);
    void unsubscribe(const std::shared_ptr<Subscription>& s);

    // Listener (engine thread): wake streams, follow the daemon state.
    void programOutput(const std::string& namespec, Stream s, std::string_view data) override;
    void programRemoved(const ProgramInfo& info) override;
    void daemonStateChanged(DaemonState s) override;
    void mainLog(std::string_view line) override;

    AdapterHost& host_;
    ServiceOptions opts_;
    std::atomic<int> daemonState_{int(DaemonState::Running)};
    RpcInterface rpc_;
    bool attached_ = false;
    std::atomic<bool> stopping_{false};

    std::mutex subsMutex_;
    std::atomic<size_t> subsCount_{0};
    std::unordered_multimap<std::string, std::shared_ptr<Subscription>> subs_; // "" = main log
};

// The 401 text of a TCP server with no username when anonymous clients
// have no role.
inline constexpr const char* kAnonymousRefused =
    "anonymous access is off: set username/password in [inet_http_server] or default_role in [adapter:xmlrpc]";

// The HTML page medusa answers errors with.
void setHttpError(http::Response& res, int status);

} // namespace scopevisor::xmlrpc
