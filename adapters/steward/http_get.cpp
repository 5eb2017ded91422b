// SPDX-License-Identifier: LGPL-2.1-or-later
//
// REQHttpGet: GET Data[0] and send the body back when the status is 200.
#include <httplib.h>

#include <regex>

#include "node.h"

namespace steward {

void Node::methodHttpGet(const Message& m) {
    if (m.data.empty() || m.data[0].empty()) {
        errorLog("error: methodREQHttpGet: no URL in Data: " + goFormat(m));
        return;
    }
    const std::string& url = m.data[0];
    static const std::regex re(R"(^(https?://[^/?#]+)([^#]*)?.*$)");
    std::smatch mm;
    if (!std::regex_match(url, mm, re)) {
        errorLog("error: methodREQHttpGet: not an http(s) URL: " + url);
        return;
    }
    std::string path = mm[2].str().empty() ? "/" : mm[2].str();
    httplib::Client cli(mm[1].str());
    // Steward: a 5 s client timeout inside the MethodTimeout.
    const int t = std::min(5, methodTimeoutSeconds(m));
    cli.set_connection_timeout(t, 0);
    cli.set_read_timeout(t, 0);
    cli.set_write_timeout(t, 0);
    cli.set_follow_location(true);
    auto res = cli.Get(path);
    if (!res) {
        errorLog("error: methodREQHttpGet: GET " + url + ": " + httplib::to_string(res.error()));
        return;
    }
    if (res->status != 200) {
        errorLog("error: methodREQHttpGet: GET " + url + ": status " + std::to_string(res->status));
        return;
    }
    sendReply(m, res->body);
}

} // namespace steward
