// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of the Khanat request path: method, path, Content-type and
// JSON body as the HTTP layer hands them over, then the reply writers with
// whatever text came out of the body.
//
// Input: "<METHOD> <PATH>\n<Content-type or '-'>\n<body>".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "khanat_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    size_t nl1 = in.find('\n');
    if (nl1 == std::string_view::npos)
        return 0;
    std::string_view first = in.substr(0, nl1);
    std::string_view rest = in.substr(nl1 + 1);
    size_t nl2 = rest.find('\n');
    std::string_view ct = nl2 == std::string_view::npos ? rest : rest.substr(0, nl2);
    std::string_view body = nl2 == std::string_view::npos ? std::string_view() : rest.substr(nl2 + 1);
    size_t sp = first.find(' ');

    khanat::HttpInput hi;
    hi.method = first.substr(0, sp);
    hi.path = sp == std::string_view::npos ? std::string_view() : first.substr(sp + 1);
    if (ct != "-")
        hi.contentType = ct;
    hi.hasBody = !body.empty();
    hi.body = body;
    khanat::ParseResult r = khanat::parseRequest(hi);
    // An oversized body is refused as such, whatever it holds.
    if (body.size() > hi.maxBodyBytes && !(hi.contentType && r.error.status == 413) && r.request)
        std::abort();
    if (r.request) {
        if (r.request->name.empty() && khanat::takesName(r.request->command))
            std::abort(); // a name command must carry a name
        khanat::LogReply lr;
        lr.lines.emplace_back(r.request->firstLine, khanat::stripLine(r.request->action));
        lr.lastLine = r.request->firstLine;
        (void)khanat::logJson(lr);
        (void)khanat::jsonObject({{r.request->name, r.request->action}});
    } else {
        if (r.error.status < 400 || r.error.status > 599)
            std::abort();
        (void)khanat::errorHtml(r.error.status, r.error.message);
    }
    // Raw bytes straight into the writers: they must always give JSON.
    (void)khanat::jsonObject({{std::string(body), std::string(ct)}});
    return 0;
}
