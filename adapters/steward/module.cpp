// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The module entry point of the Steward adapter.
#include <memory>

#include "local_socket.h"
#include "node.h"
#include "scopevisor/adapter.h"
#include "settings.h"

namespace steward {
namespace {

class StewardAdapter final : public scopevisor::Adapter {
public:
    StewardAdapter(scopevisor::AdapterHost& host, Settings s) : host_(host), node_(host, std::move(s)) {}

    bool start(std::string* error) override {
        if (!node_.start(error))
            return false;
        const Settings& s = node_.settings();
        if (!s.socketFolder.empty()) {
            socket_ = std::make_unique<LocalSocket>(node_, s.socketFolder + "/steward.sock", s.socketMode);
            if (!socket_->start(error)) {
                node_.stop();
                return false;
            }
            host_.log(scopevisor::LogLevel::Info, "operator socket " + s.socketFolder + "/steward.sock");
        }
        return true;
    }

    void stop() override {
        if (socket_)
            socket_->stop();
        node_.stop();
    }

private:
    scopevisor::AdapterHost& host_;
    Node node_;
    std::unique_ptr<LocalSocket> socket_;
};

scopevisor::Adapter* create(scopevisor::AdapterHost& host, const scopevisor::AdapterConfig& cfg, std::string* error) {
    Settings s;
    if (!parseSettings(cfg, host.stateDirectory(), &s, error))
        return nullptr;
    return new StewardAdapter(host, std::move(s));
}

const scopevisor::AdapterModule kModule{SCOPEVISOR_ADAPTER_API_VERSION, "steward", &create, nullptr, nullptr};

} // namespace
} // namespace steward

extern "C" const scopevisor::AdapterModule* scopevisor_adapter_module() { return &steward::kModule; }
