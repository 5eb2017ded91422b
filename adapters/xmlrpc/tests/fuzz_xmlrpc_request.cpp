// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target: the XML-RPC request parser, and the dispatch of whatever it
// accepts (argument handling of every method, multicall) on an in-memory
// engine, down to the serialized reply.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fake_control.h"
#include "rpc.h"
#include "xmlrpc_parse.h"

using namespace scopevisor;
using namespace scopevisor::xmlrpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    ParsedCall call;
    std::string why;
    if (!parseMethodCall(body, &call, &why))
        return 0;
    test::FakeHost host;
    std::atomic<int> state{int(DaemonState::Running)};
    RpcInterface rpc(host.ctl, nullptr, state);
    Caller caller;
    std::string reply;
    try {
        reply = methodResponse(rpc.call(caller, call.method, call.params));
    } catch (const Fault& f) {
        reply = faultResponse(f.code, f.text);
    } catch (const PyError&) {
    }
    // Whatever we answer must be well-formed XML-RPC again.
    if (!reply.empty()) {
        std::string r = reply;
        auto pos = r.find("<methodResponse>");
        if (pos != std::string::npos) {
            ParsedCall back;
            std::string w;
            std::string asCall = "<methodCall><methodName>x.y</methodName>" + r.substr(pos) + "</methodCall>";
            if (!parseMethodCall(asCall, &back, &w, ParseLimits{100000, 100000000}))
                __builtin_trap();
        }
    }
    return 0;
}
