// SPDX-License-Identifier: LGPL-2.1-or-later
// The RPC layer and the HTTP path, on an in-memory Control and in-memory
// connections: dispatch rules, multicall, faults, authorization, HTTP errors.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "fake_control.h"
#include "http_server.h"
#include "rpc.h"
#include "service.h"

using namespace scopevisor;
using namespace scopevisor::xmlrpc;
using scopevisor::xmlrpc::test::FakeHost;

namespace {

struct Rpc : ::testing::Test {
    FakeHost host;
    std::atomic<int> state{int(DaemonState::Running)};
    std::optional<std::string> refusal;
    RpcInterface rpc{host.ctl, [this](const Caller&, Verb, const Target&) { return refusal; }, state};
    Caller caller;

    Value call(const std::string& m, Array p = {}) { return rpc.call(caller, m, p); }
    Fault fault(const std::string& m, Array p = {}) {
        try {
            call(m, std::move(p));
        } catch (const Fault& f) {
            return f;
        }
        ADD_FAILURE() << m << " did not fault";
        return {};
    }
};

} // namespace

TEST_F(Rpc, MethodNamesFollowTraverse) {
    EXPECT_EQ(fault("supervisor").code, UNKNOWN_METHOD);
    EXPECT_EQ(fault("supervisor.getState.x").code, UNKNOWN_METHOD);
    EXPECT_EQ(fault("supervisor._update").code, UNKNOWN_METHOD);
    EXPECT_EQ(fault("nope.getState").code, UNKNOWN_METHOD);
    EXPECT_EQ(fault("supervisor.getState", {Value(1)}).text, "INCORRECT_PARAMETERS");
    EXPECT_EQ(*call("supervisor.getVersion").string(), "3.0");
    EXPECT_EQ(RpcInterface::methodNames().size(), 41u);
}

TEST_F(Rpc, ShutdownGateSparesSystemAndRemoteEvents) {
    state = int(DaemonState::Shutdown);
    EXPECT_EQ(fault("supervisor.getState").text, "SHUTDOWN_STATE");
    EXPECT_EQ(fault("supervisor.getAllProcessInfo").text, "SHUTDOWN_STATE");
    EXPECT_NO_THROW(call("system.listMethods"));
    EXPECT_NO_THROW(call("supervisor.sendRemoteCommEvent", {Value("t"), Value("d")}));
}

TEST_F(Rpc, RefusalIsAFailedFaultAndChangesNothing) {
    refusal = "access denied: the 'control' right is required";
    Fault f = fault("supervisor.stopProcess", {Value("a")});
    EXPECT_EQ(f.code, FAILED);
    EXPECT_EQ(f.text, "FAILED: access denied: the 'control' right is required");
    EXPECT_EQ(host.ctl.progs["a"].state, ProcessState::Running);
    // Refused calls inside multicall come back as fault structs.
    Value r = call("system.multicall", {Value(Array{Value(Struct{{"methodName", Value("supervisor.shutdown")}})})});
    EXPECT_EQ(std::get<int64_t>((*r.array())[0].member("faultCode")->v), FAILED);
    EXPECT_EQ(host.ctl.shutdowns, 0);
}

TEST_F(Rpc, PythonTypeErrorsAndOtherExceptions) {
    // An int where a name goes: AttributeError, HTTP 500 for a single call.
    EXPECT_THROW(call("supervisor.getProcessInfo", {Value(5)}), PyError);
    // int([]) is a TypeError, which traverse() turns into INCORRECT_PARAMETERS.
    EXPECT_EQ(fault("supervisor.readProcessStdoutLog", {Value("a"), Value(Array{}), Value(0)}).code,
              INCORRECT_PARAMETERS);
    EXPECT_THROW(call("supervisor.readProcessStdoutLog", {Value("a"), Value("x"), Value(0)}), PyError);
    // ... but a bad name is found first.
    EXPECT_EQ(fault("supervisor.readProcessStdoutLog", {Value("zz"), Value("x"), Value(0)}).text, "BAD_NAME: zz");
    EXPECT_EQ(fault("supervisor.sendProcessStdin", {Value("a"), Value(5)}).text, "INCORRECT_PARAMETERS: 5");
    EXPECT_EQ(fault("supervisor.sendProcessStdin", {Value("a"), Value(Array{Value(1), Value("x")})}).text,
              "INCORRECT_PARAMETERS: [1, 'x']");
}

TEST_F(Rpc, ProcessControlFaults) {
    EXPECT_EQ(fault("supervisor.startProcess", {Value("a")}).text, "ALREADY_STARTED: a");
    EXPECT_EQ(fault("supervisor.startProcess", {Value("nofile")}).text, "NO_FILE: can't find command '/missing'");
    EXPECT_EQ(fault("supervisor.stopProcess", {Value("b")}).text, "NOT_RUNNING: b");
    EXPECT_EQ(fault("supervisor.startProcess", {Value("zz:*")}).text, "BAD_NAME: zz:*");
    EXPECT_EQ(fault("supervisor.signalProcess", {Value("a"), Value("NOPE")}).text, "BAD_SIGNAL: NOPE");
    EXPECT_EQ(fault("supervisor.signalProcess", {Value("zz"), Value("NOPE")}).text, "BAD_NAME: zz");
    EXPECT_EQ(fault("supervisor.addProcessGroup", {Value("a")}).text, "ALREADY_ADDED: a");
    EXPECT_EQ(fault("supervisor.removeProcessGroup", {Value(7)}).text, "BAD_NAME: 7");
    EXPECT_EQ(fault("supervisor.readLog", {Value(-1), Value(1)}).text, "BAD_ARGUMENTS");
    EXPECT_TRUE(std::get<bool>(call("supervisor.startProcess", {Value("b"), Value(0)}).v));
    Value r = call("supervisor.startProcessGroup", {Value("g")});
    ASSERT_EQ(r.array()->size(), 1u);
    const Value& e = (*r.array())[0];
    EXPECT_EQ(*e.member("name")->string(), "y");
    EXPECT_EQ(std::get<int64_t>(e.member("status")->v), SUCCESS);
    EXPECT_EQ(*e.member("description")->string(), "OK");
    r = call("supervisor.signalProcessGroup", {Value("g"), Value("NOPE")});
    EXPECT_EQ(*(*r.array())[0].member("description")->string(), "BAD_SIGNAL: NOPE");
    r = call("supervisor.reloadConfig");
    EXPECT_EQ(*(*(*(*r.array())[0].array())[0].array())[0].string(), "new");
}

TEST_F(Rpc, MulticallAnswersBareValues) {
    Array calls{
        Value(Struct{{"methodName", Value("supervisor.getVersion")}, {"params", Value(Array{})}}),
        Value(Struct{{"methodName", Value("supervisor.getProcessInfo")}, {"params", Value(Array{Value("zz")})}}),
        Value(Struct{{"params", Value(Array{})}}),
        Value(Struct{{"methodName", Value("system.multicall")}}),
        Value(Struct{{"methodName", Value(5)}}),
        Value(Struct{{"methodName", Value("supervisor.getProcessInfo")}, {"params", Value(Array{Value(5)})}}),
        Value(Struct{{"methodName", Value("supervisor.getPID")}, {"params", Value(3)}}),
    };
    Value r = call("system.multicall", {Value(calls)});
    const Array& a = *r.array();
    ASSERT_EQ(a.size(), 7u);
    EXPECT_EQ(*a[0].string(), "3.0");
    EXPECT_EQ(*a[1].member("faultString")->string(), "BAD_NAME: zz");
    EXPECT_EQ(*a[2].member("faultString")->string(), "INCORRECT_PARAMETERS: No methodName");
    EXPECT_EQ(*a[3].member("faultString")->string(), "INCORRECT_PARAMETERS: Recursive system.multicall forbidden");
    EXPECT_EQ(*a[4].member("faultString")->string(), "FAILED: <class 'AttributeError'>:'int' object has no attribute 'split'");
    EXPECT_EQ(std::get<int64_t>(a[5].member("faultCode")->v), FAILED);
    EXPECT_EQ(*a[6].member("faultString")->string(), "INCORRECT_PARAMETERS");
    EXPECT_EQ(call("system.multicall", {Value(Array{})}).array()->size(), 0u);
    EXPECT_THROW(call("system.multicall", {Value(Array{Value(1)})}), PyError);
    EXPECT_EQ(fault("system.multicall", {Value(3)}).text, "INCORRECT_PARAMETERS");
}

TEST_F(Rpc, IntrospectionFromSupervisorDocstrings) {
    EXPECT_EQ(*call("system.methodHelp", {Value("supervisor.getPID")}).string(),
              " Return the PID of supervisord\n\n        @return int PID\n        ");
    Value sig = call("system.methodSignature", {Value("supervisor.readProcessLog")});
    ASSERT_EQ(sig.array()->size(), 4u);
    EXPECT_EQ(*(*sig.array())[3].string(), "int");
    EXPECT_EQ(fault("system.methodHelp", {Value(1)}).code, SIGNATURE_UNSUPPORTED);
}

// ---- the HTTP path -------------------------------------------------------------------------

namespace {

struct Http : ::testing::Test {
    FakeHost host;
    Service service{host, ServiceOptions{0, 0}};

    std::string serve(const std::string& input, EndpointConfig ep = {}, size_t readSize = SIZE_MAX) {
        HttpServer srv;
        srv.pretendListening();
        service.install(srv, ep);
        MemoryStream stream(input, readSize);
        Connection conn;
        conn.isUnix = ep.isUnix;
        conn.hasPeer = true;
        srv.serveConnection(stream, conn);
        return stream.output();
    }
    static std::string post(const std::string& body, const std::string& extra = "") {
        return "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\n" + extra + "Content-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
    }
    static std::string rpcBody(const std::string& m) {
        return "<?xml version='1.0'?><methodCall><methodName>" + m + "</methodName></methodCall>";
    }
    static size_t count(const std::string& s, const std::string& what) {
        size_t n = 0;
        for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1))
            ++n;
        return n;
    }
};

} // namespace

TEST_F(Http, PipelinedAndBlankLinePrefixedRequests) {
    std::string out = serve("\r\n" + post(rpcBody("supervisor.getVersion")) + "\r\n\r\n" +
                            post(rpcBody("supervisor.getIdentification")));
    EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2u) << out;
    EXPECT_NE(out.find("<string>3.0</string>"), std::string::npos);
    EXPECT_NE(out.find("<string>supervisor</string>"), std::string::npos);
    EXPECT_NE(out.find("Content-Type: text/xml"), std::string::npos);
}

TEST_F(Http, ErrorsAsMedusa) {
    EXPECT_EQ(serve("GET /RPC2 HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
    std::string out = serve("POST /RPC2 HTTP/1.1\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 411", 0), 0u);
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
    EXPECT_NE(out.find("<p>Error code 411."), std::string::npos);
    EXPECT_EQ(serve(post("<methodCall>")).rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(serve(post("<methodCall><methodName>supervisor.getProcessInfo</methodName><params><param><value><int>5"
                         "</int></value></param></params></methodCall>"))
                  .rfind("HTTP/1.1 500", 0),
              0u);
    EXPECT_EQ(serve("GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(serve("DELETE /x HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(serve("GET /logtail HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 500", 0), 0u);
    EXPECT_EQ(serve("GET /logtail/zz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(serve("GET /logtail/a/other HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
    // After an error the connection closes: the second request gets nothing.
    EXPECT_EQ(count(serve("GET /RPC2 HTTP/1.1\r\n\r\n" + post(rpcBody("supervisor.getVersion"))), "HTTP/1.1"), 1u);
}

TEST_F(Http, RequestFraming) {
    const std::string body = rpcBody("supervisor.getVersion");
    // Expect: 100-continue gets its interim answer, then the real one.
    std::string out = serve(post(body, "Expect: 100-continue\r\n"));
    EXPECT_EQ(out.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 0), 0u) << out;
    // Blanks around a header value are not part of it.
    out = serve(post(body, "Expect: \t 100-Continue \t\r\n"));
    EXPECT_EQ(out.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << out;
    EXPECT_NE(out.find("Content-Length: "), std::string::npos);
    EXPECT_NE(out.find("Keep-Alive: timeout="), std::string::npos);
    // A chunked request body is refused, and the connection ends there.
    out = serve(post(body, "Transfer-Encoding: chunked\r\n") + post(body));
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_EQ(count(out, "HTTP/1.1 "), 1u);
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
    // A body shorter than its Content-Length: 400.
    out = serve("POST /RPC2 HTTP/1.1\r\nContent-Length: 50\r\n\r\n<methodCall>");
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    // Request line over 8 KiB: 414; a header line over 8 KiB: 400.
    EXPECT_EQ(serve("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 414", 0), 0u);
    EXPECT_EQ(serve("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
    // HTTP/1.0 without keep-alive: one answer, then close; bare LF lines work.
    out = serve("GET /ok.html HTTP/1.0\n\nGET /ok.html HTTP/1.0\r\n\r\n");
    EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 1u) << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
    out = serve("GET /ok.html HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /ok.html HTTP/1.1\r\n\r\n");
    EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2u) << out;
    // Header names are matched without regard to case.
    out = serve("POST /RPC2 HTTP/1.1\r\ncontent-LENGTH: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_EQ(out.rfind("HTTP/1.1 200 OK", 0), 0u) << out;
    EXPECT_EQ(serve("get / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(serve("GET / HTTP/2.0\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
}

TEST_F(Http, HeadLimitsAndMalformedHeads) {
    // Headers over 64 KiB in all (each line under 8 KiB): 431.
    std::string head = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 10; ++i)
        head += "X-" + std::to_string(i) + ": " + std::string(7000, 'a') + "\r\n";
    std::string out = serve(head + "\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 200);
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
    // Just under the limit is fine.
    EXPECT_EQ(serve("GET /ok.html HTTP/1.1\r\nX: " + std::string(8000, 'a') + "\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
    // 100 headers are fine, 101 are too many: 431.
    std::string many = "GET /ok.html HTTP/1.1\r\n";
    for (int i = 0; i < 100; ++i)
        many += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(serve(many + "\r\n").rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_EQ(serve(many + "Y: v\r\n\r\n").rfind("HTTP/1.1 431", 0), 0u);
    // A header line without a colon, a Content-Length that is not a
    // number, two different ones, or one beside a Transfer-Encoding: 400.
    EXPECT_EQ(serve("GET / HTTP/1.1\r\nno colon here\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(serve("POST /RPC2 HTTP/1.1\r\nContent-Length: 1x\r\n\r\n1x").rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(serve("POST /RPC2 HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n123").rfind("HTTP/1.1 400", 0),
              0u);
    EXPECT_EQ(serve("POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                  .rfind("HTTP/1.1 400", 0),
              0u);
    // A body over 8 MiB is refused on its head, before it is read.
    out = serve("POST /RPC2 HTTP/1.1\r\nContent-Length: 9000000\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
    // The head cut short: 400.
    EXPECT_EQ(serve("GET / HTTP/1.1\r\nHost: x\r\n").rfind("HTTP/1.1 400", 0), 0u);
}

TEST_F(Http, UnreadBodyEndsTheConnection) {
    // A GET with a body is answered, but the body is not taken for the
    // next request: the connection closes after the answer.
    std::string out = serve("GET /ok.html HTTP/1.1\r\nContent-Length: 24\r\n\r\nGET /ok.html HTTP/1.1\r\n\r\n");
    EXPECT_EQ(count(out, "HTTP/1.1 "), 1u) << out;
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
    // A POST whose body is read keeps the connection for the next one.
    const std::string body = rpcBody("supervisor.getVersion");
    out = serve(post(body) + "GET /ok.html HTTP/1.1\r\n\r\n");
    EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2u) << out;
}

TEST_F(Http, RequestsSplitAcrossReadsAnswerAsWhole) {
    // The parser is fed what each read brings: one byte at a time must
    // give the same answers as the whole request at once.
    const std::string body = rpcBody("supervisor.getVersion");
    const std::string inputs[] = {
        "\r\n" + post(body) + "\r\n" + post(body, "Expect: 100-continue\r\n"),
        "GET /ok.html HTTP/1.0\nConnection: keep-alive\n\nGET /ok.html HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n",
        "POST /RPC2 HTTP/1.1\r\nContent-Length: 50\r\n\r\n<methodCall>",
        "POST /RPC2 HTTP/1.1\r\nX:   spaced  \r\nContent-Length:  " + std::to_string(body.size()) + " \r\n\r\n" + body,
    };
    for (const std::string& in : inputs) {
        const std::string whole = serve(in);
        EXPECT_EQ(serve(in, {}, 1), whole) << in.substr(0, 100);
        EXPECT_EQ(serve(in, {}, 7), whole) << in.substr(0, 100);
        EXPECT_EQ(whole.rfind("HTTP/1.1 ", 0), 0u) << whole;
    }
    EXPECT_EQ(count(serve(inputs[0], {}, 1), "HTTP/1.1 200 OK"), 2u);
}

TEST_F(Http, BasicAuthGuardsEverything) {
    EndpointConfig ep;
    ep.creds = Credentials{"user", "123"};
    std::string out = serve(post(rpcBody("supervisor.getVersion")), ep);
    EXPECT_EQ(out.rfind("HTTP/1.1 401", 0), 0u);
    EXPECT_NE(out.find("WWW-Authenticate: Basic realm=\"default\""), std::string::npos);
    EXPECT_EQ(serve("GET /nothing HTTP/1.1\r\n\r\n", ep).rfind("HTTP/1.1 401", 0), 0u);
    out = serve(post(rpcBody("supervisor.getVersion"), "Authorization: Basic dXNlcjoxMjM=\r\n"), ep);
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(Http, RolesOnTcpAndPolkitOnUnix) {
    host.role = Role::Viewer;
    std::string out = serve(post(rpcBody("supervisor.shutdown")));
    EXPECT_NE(out.find("FAILED: access denied: the 'manage' right is required"), std::string::npos) << out;
    EXPECT_EQ(host.ctl.shutdowns, 0);
    EXPECT_EQ(serve("GET /logtail/a HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 403", 0), 0u);
    // On the unix socket, a peer that is neither root nor the daemon's user
    // is asked for with polkit (here refusing), whatever the roles say.
    host.role = Role::Admin;
    EndpointConfig unixEp;
    unixEp.isUnix = true;
    HttpServer srv;
    service.install(srv, unixEp);
    MemoryStream stream(post(rpcBody("supervisor.shutdown")));
    Connection conn;
    conn.isUnix = true;
    conn.hasPeer = true;
    conn.peer = UnixPeer{100, 4242, 4242};
    srv.serveConnection(stream, conn);
    EXPECT_NE(stream.output().find("access denied"), std::string::npos);
    EXPECT_EQ(host.ctl.shutdowns, 0);
    host.polkitAllows = true;
    MemoryStream again(post(rpcBody("supervisor.shutdown")));
    srv.serveConnection(again, conn);
    EXPECT_EQ(host.ctl.shutdowns, 1);
}

TEST_F(Http, LogtailStreamsChunked) {
    std::string out = serve("GET /logtail/a/stderr HTTP/1.1\r\nHost: \r\n\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
    EXPECT_NE(out.find("Transfer-Encoding: chunked"), std::string::npos);
    EXPECT_NE(out.find("X-Accel-Buffering: no"), std::string::npos);
    EXPECT_NE(out.find("oops\n"), std::string::npos) << out;
    out = serve("GET /mainlogtail HTTP/1.1\r\n\r\n");
    EXPECT_NE(out.find("INFO started"), std::string::npos);
}

// Regression: with one idle worker, two connections accepted in a row both
// went to it, and the second waited for the first; a deferred stopProcess
// held up every other client for stopwaitsecs (seen as a flaky
// test_deferred_reply_does_not_block_other_clients).
TEST_F(Rpc, MulticallOverTheCallLimitRunsNothing) {
    Array calls;
    for (size_t i = 0; i <= kMaxMulticallCalls; ++i)
        calls.emplace_back(Struct{{"methodName", Value("supervisor.stopProcess")}, {"params", Value(Array{Value("a")})}});
    Fault f = fault("system.multicall", {Value(calls)});
    EXPECT_EQ(f.code, INCORRECT_PARAMETERS);
    EXPECT_NE(f.text.find("at most 256 calls"), std::string::npos) << f.text;
    EXPECT_EQ(host.ctl.progs["a"].state, ProcessState::Running);
    calls.pop_back();
    EXPECT_EQ(call("system.multicall", {Value(calls)}).array()->size(), kMaxMulticallCalls);
}

TEST_F(Rpc, MulticallReplyIsCutAtItsCap) {
    host.ctl.progs["a"].out = std::string(3u << 20, 'x');
    Array calls;
    for (int i = 0; i < 10; ++i)
        calls.emplace_back(Struct{{"methodName", Value("supervisor.readProcessStdoutLog")},
                                  {"params", Value(Array{Value("a"), Value(0), Value(0)})}});
    Fault f = fault("system.multicall", {Value(calls)});
    EXPECT_EQ(f.code, FAILED);
    // 3 MiB each: the sixth passes 16 MiB, and the four after it never run.
    EXPECT_NE(f.text.find("over 16 MiB after 6 calls"), std::string::npos) << f.text;
}

TEST_F(Http, AnonymousTcpClientsHaveNoRightsByDefault) {
    host.role = Role::None;
    std::string out = serve(post(rpcBody("supervisor.shutdown")));
    EXPECT_EQ(out.rfind("HTTP/1.1 401", 0), 0u) << out;
    EXPECT_NE(out.find(kAnonymousRefused), std::string::npos) << out;
    EXPECT_EQ(host.ctl.shutdowns, 0);
    // default_role gives them one.
    host.role = Role::Admin;
    serve(post(rpcBody("supervisor.shutdown")));
    EXPECT_EQ(host.ctl.shutdowns, 1);
}

TEST_F(Http, TheServersOwnUsernameIsAdminUnlessListed) {
    host.role = Role::None; // [access] does not name it, no default_role
    EndpointConfig ep;
    ep.creds = Credentials{"user", "123"};
    const std::string auth = "Authorization: Basic dXNlcjoxMjM=\r\n";
    serve(post(rpcBody("supervisor.shutdown"), auth), ep);
    EXPECT_EQ(host.ctl.shutdowns, 1);
    host.role = Role::Viewer; // [access] xmlrpc:user = viewer
    std::string out = serve(post(rpcBody("supervisor.shutdown"), auth), ep);
    EXPECT_NE(out.find("user 'user' has the role viewer"), std::string::npos) << out;
    EXPECT_EQ(host.ctl.shutdowns, 1);
}

TEST_F(Http, CommandLinesNeedTheReadLogRight) {
    host.role = Role::Viewer;
    std::string out = serve(post(rpcBody("supervisor.getAllConfigInfo")));
    EXPECT_NE(out.find(kElidedCommand), std::string::npos) << out;
    host.role = Role::LogReader;
    out = serve(post(rpcBody("supervisor.getAllConfigInfo")));
    EXPECT_EQ(out.find(kElidedCommand), std::string::npos) << out;
}

namespace {

// A local peer that is neither root nor the daemon's user: polkit decides.
std::string asLocalPeer(FakeHost& host, Service& service, const std::string& request) {
    EndpointConfig ep;
    ep.isUnix = true;
    HttpServer srv;
    service.install(srv, ep);
    MemoryStream stream(request);
    Connection conn;
    conn.isUnix = true;
    conn.hasPeer = true;
    conn.peer = UnixPeer{100, 4242, 4242};
    host.asked.clear();
    srv.serveConnection(stream, conn);
    return stream.output();
}

std::string call1(const std::string& method, const std::string& arg) {
    return "<?xml version='1.0'?><methodCall><methodName>" + method +
           "</methodName><params><param><value><string>" + arg + "</string></value></param></params></methodCall>";
}

} // namespace

TEST_F(Http, PolkitIsAskedForEveryProgramByItsCanonicalName) {
    host.polkitAllows = true;
    // "a:a" is the program "a".
    asLocalPeer(host, service, post(call1("supervisor.stopProcess", "a:a")));
    EXPECT_EQ(host.asked, std::vector<std::string>{"a"});
    EXPECT_EQ(host.ctl.progs["a"].state, ProcessState::Stopped);
    // A group, and "g:*", are every member of the group.
    asLocalPeer(host, service, post(call1("supervisor.startProcess", "g:*")));
    EXPECT_EQ(host.asked, (std::vector<std::string>{"g:x", "g:y"}));
    EXPECT_EQ(host.ctl.progs["g:y"].state, ProcessState::Running);
}

TEST_F(Http, OneRefusedMemberRefusesAGroupCallWhole) {
    host.polkitAllows = true;
    host.polkitDenies = {"g:y"};
    std::string out = asLocalPeer(host, service, post(call1("supervisor.stopProcessGroup", "g")));
    EXPECT_NE(out.find("access denied"), std::string::npos) << out;
    EXPECT_NE(out.find("program 'g:y'"), std::string::npos) << out;
    EXPECT_EQ(host.ctl.progs["g:x"].state, ProcessState::Running);
    // "All" calls too.
    host.polkitDenies = {"b"};
    out = asLocalPeer(host, service, post(rpcBody("supervisor.stopAllProcesses")));
    EXPECT_NE(out.find("program 'b'"), std::string::npos) << out;
    EXPECT_EQ(host.ctl.progs["a"].state, ProcessState::Running);
    EXPECT_EQ(host.ctl.progs["g:x"].state, ProcessState::Running);
}

TEST(HttpPool, EachQueuedJobGetsAWorkerOfItsOwn) {
    using namespace std::chrono_literals;
    scopevisor::xmlrpc::GrowingPool pool(8);
    std::promise<void> warmed;
    pool.enqueue([&] { warmed.set_value(); });
    warmed.get_future().wait();
    std::this_thread::sleep_for(50ms); // that worker is waiting again: idle
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> ran{false};
    pool.enqueue([released] { released.wait(); }); // a reply deferred for long
    pool.enqueue([&] { ran = true; });             // the next client
    for (int i = 0; i < 500 && !ran; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(ran) << "the second job waited for the first";
    release.set_value();
    pool.shutdown();
}
