// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The xmlrpc adapter module: supervisord's XML-RPC interface on the sockets
// of [unix_http_server] and [inet_http_server], so that supervisorctl and
// every XML-RPC client of supervisord keep working.
#include <chrono>
#include <memory>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "http_server.h"
#include "scopevisor/settings_reader.h"
#include "service.h"

namespace scopevisor::xmlrpc {
namespace {

struct Endpoint {
    EndpointConfig ep;
    std::string file; // unix socket path
    mode_t chmod = 0700;
    std::string chown;
    std::string port; // inet "host:port"
    std::string where() const { return ep.isUnix ? "unix://" + file : "http://" + port; }
};

class XmlRpcAdapter final : public Adapter {
public:
    XmlRpcAdapter(AdapterHost& host, std::vector<Endpoint> eps) : host_(host), endpoints_(std::move(eps)), service_(host) {}
    ~XmlRpcAdapter() override { stop(); }

    bool start(std::string* error) override {
        service_.attach();
        for (const auto& e : endpoints_) {
            auto run = std::make_unique<Running>();
            run->endpoint = e;
            // Under socket activation: FileDescriptorName=xmlrpc-unix (or
            // xmlrpc) for the unix socket, xmlrpc-inet (or xmlrpc-tcp) for TCP;
            // systemd then owns the socket's mode and owner.
            int fd = host_.takeListenFd(e.ep.isUnix ? "xmlrpc-unix" : "xmlrpc-inet");
            if (fd < 0)
                fd = host_.takeListenFd(e.ep.isUnix ? "xmlrpc" : "xmlrpc-tcp");
            const bool inherited = fd >= 0;
            if (fd >= 0) {
                host_.log(LogLevel::Info, std::string("serving [") + (e.ep.isUnix ? "unix" : "inet") +
                                              "_http_server] on the socket passed by systemd");
            } else {
                fd = e.ep.isUnix ? listenUnix(e.file, e.chmod, e.chown, error) : listenInet(e.port, error);
                if (fd < 0) {
                    *error = (e.ep.isUnix ? "[unix_http_server] " : "[inet_http_server] ") + *error;
                    stop();
                    return false;
                }
                run->unlinkOnStop = e.ep.isUnix;
                host_.log(LogLevel::Info, "listening on " + e.where());
            }
            // Only a TCP server without a username lets anonymous clients
            // in (with default_role); with one, they get 401 whatever the role.
            if (!e.ep.isUnix && e.ep.creds.username.empty())
                warnIfOpenToAnonymous(host_, fd, e.port, "[adapter:xmlrpc] default_role");
            run->server = std::make_unique<HttpServer>();
            service_.install(*run->server, e.ep);
            HttpServer* srv = run->server.get();
            const bool isUnix = e.ep.isUnix;
            run->thread = std::thread([srv, fd, isUnix, inherited] { srv->serve(fd, isUnix, inherited); });
            // stop() only works on a running server: wait for it to run.
            for (int i = 0; i < 1000 && !srv->is_running(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            running_.push_back(std::move(run));
        }
        return true;
    }

    void stop() override {
        service_.stopStreams();
        for (auto& r : running_) {
            r->server->shutdownServer();
            if (r->thread.joinable())
                r->thread.join();
            if (r->unlinkOnStop)
                unlink(r->endpoint.file.c_str());
        }
        running_.clear();
        service_.detach();
    }

private:
    struct Running {
        Endpoint endpoint;
        std::unique_ptr<HttpServer> server;
        std::thread thread;
        bool unlinkOnStop = false;
    };
    AdapterHost& host_;
    std::vector<Endpoint> endpoints_;
    Service service_;
    std::vector<std::unique_ptr<Running>> running_;
};

Adapter* create(AdapterHost& host, const AdapterConfig& cfg, std::string* error) {
    std::vector<Endpoint> eps;
    for (const char* section : {"unix_http_server", "inet_http_server"}) {
        if (!cfg.hasSection(section))
            continue;
        Endpoint e;
        e.ep.isUnix = std::string(section) == "unix_http_server";
        for (const auto& s : cfg.settings) {
            if (s.section != section)
                continue;
            if (s.key == "file" && e.ep.isUnix)
                e.file = s.value;
            else if (s.key == "chmod" && e.ep.isUnix) {
                const auto m = parseOctalMode(s.value, 07777);
                if (!m) {
                    *error = settingLine(s) + "[" + section + "] chmod: invalid mode '" + s.value + "'";
                    return nullptr;
                }
                e.chmod = mode_t(*m);
            } else if (s.key == "chown" && e.ep.isUnix)
                e.chown = s.value;
            else if (s.key == "port" && !e.ep.isUnix)
                e.port = s.value;
            else if (s.key == "username")
                e.ep.creds.username = s.value;
            else if (s.key == "password")
                e.ep.creds.password = s.value;
            else {
                *error = settingLine(s) + "[" + section + "]: unknown key '" + s.key + "'";
                return nullptr;
            }
        }
        if (e.ep.isUnix && e.file.empty()) {
            *error = "[unix_http_server] needs file =";
            return nullptr;
        }
        if (!e.ep.isUnix && e.port.empty()) {
            *error = "[inet_http_server] needs port =";
            return nullptr;
        }
        if (e.ep.creds.username.empty() != e.ep.creds.password.empty()) {
            *error = std::string("[") + section + "]: username and password go together";
            return nullptr;
        }
        eps.push_back(std::move(e));
    }
    for (const auto& s : cfg.settings) {
        if (s.section == "unix_http_server" || s.section == "inet_http_server")
            continue;
        if (s.key != "default_role") {
            *error = settingLine(s) + "[" + s.section + "]: unknown key '" + s.key + "' (the xmlrpc adapter takes default_role)";
            return nullptr;
        }
    }
    if (eps.empty()) {
        *error = "nothing to listen on: add [unix_http_server] or [inet_http_server]";
        return nullptr;
    }
    return new XmlRpcAdapter(host, std::move(eps));
}

// SUPERVISOR_SERVER_URL for children, supervisord's rule: the unix socket
// first, else the TCP listener, with "localhost" for an empty or "*" host.
std::string serverUrl(const AdapterConfig& cfg) {
    if (const AdapterSetting* file = cfg.find("unix_http_server", "file"); file && !file->value.empty())
        return "unix://" + file->value;
    if (const AdapterSetting* port = cfg.find("inet_http_server", "port"); port && !port->value.empty()) {
        const std::string& spec = port->value;
        const auto colon = spec.rfind(':');
        std::string host = colon == std::string::npos ? "" : spec.substr(0, colon);
        const std::string num = colon == std::string::npos ? spec : spec.substr(colon + 1);
        if (host.empty() || host == "*")
            host = "localhost";
        return "http://" + host + ":" + num;
    }
    return "";
}

const AdapterModule kModule = {SCOPEVISOR_ADAPTER_API_VERSION, "xmlrpc", &create, nullptr, &serverUrl};

} // namespace
} // namespace scopevisor::xmlrpc

extern "C" const scopevisor::AdapterModule* scopevisor_adapter_module() { return &scopevisor::xmlrpc::kModule; }
