// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A Steward node named node_name: its subscriptions, ACKs, the methods it
// runs, the replies it sends back, hello and error logs. On the central node
// (node_name == central_node_name) it also collects every node's error log.
#pragma once

#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "data_store.h"
#include "host_placement.h"
#include "message.h"
#include "nats_link.h"
#include "scopevisor/adapter.h"
#include "settings.h"

namespace steward {

// The verb a message needs of the role of its sender (see README.md's table).
scopevisor::Verb verbFor(const Message& m);

class Node {
public:
    Node(scopevisor::AdapterHost& host, Settings s);
    ~Node();

    bool start(std::string* error);
    void stop();

    // Messages written to steward.sock, already parsed: FromNode is forced
    // to this node, toNodes expanded, timeouts defaulted, then they are sent.
    void sendFromOperator(std::vector<Message> msgs);

    // May a local peer of steward.sock send `m`? It needs the rights the
    // receiving node would ask of this node for it (verbFor), with the
    // canonical program name when the message names one of this node's
    // programs. Root always may; others are asked of polkit by the daemon.
    // `done` may run on any thread; `what` says what was asked, for logs.
    void authorizeLocal(const scopevisor::UnixPeer& peer, const Message& m, std::string* what,
                        std::function<void(bool, std::string)> done);

    // Sends `text` to errorCentral (and to the daemon's log).
    void errorLog(const std::string& text);

    const Settings& settings() const { return s_; }

private:
    void subscribeMethod(const std::string& method);
    void onNats(const std::string& subject, const std::string& reply, std::string data);
    void dispatch(Message m);
    bool serves(const std::string& method) const;
    std::set<std::string> stoppedMethods();

    // Runs `fn` on a thread of its own, bounded by max_jobs.
    bool runJob(const std::string& what, std::function<void(const std::atomic<bool>& cancel)> fn);
    void reapJobs();

    // Delivery with this node's defaults for 0 timeouts/retries.
    void send(Message m, int64_t ackTimeout, int64_t retries);
    void sendReply(const Message& request, std::string out);
    void helloLoop();

    // Method handlers (node_methods.cpp, node_opcommand.cpp, tail.cpp).
    void methodCliCommand(const Message& m, const std::atomic<bool>& cancel);
    void methodCliCommandCont(const Message& m, const std::atomic<bool>& cancel);
    // The run options of a command request; false (the error log told)
    // when it names no command.
    bool commandOptions(const Message& m, const std::string& who, const std::atomic<bool>& cancel, RunOptions* o);
    void logKillError(const std::string& who, const RunResult& r);
    void methodTailFile(const Message& m, const std::atomic<bool>& cancel);
    void methodTailProgram(const Message& m, const std::string& namespec, const std::atomic<bool>& cancel);
    void methodHttpGet(const Message& m);
    void methodOpCommand(const Message& m);
    void methodWriteFile(const Message& m, DataStore::Mode mode);
    void methodHello(const Message& m);
    void methodPing(const Message& m);
    void methodPong(const Message& m);
    void methodToConsole(const Message& m);
    std::string psText();
    std::string startProc(const Message& m);
    std::string stopProc(const Message& m);
    // The program's namespec as the engine names it ("" with *error set
    // when there is none), for the operations, replies and logs.
    std::string canonicalProgram(const std::string& name, std::string* error);
    int methodTimeoutSeconds(const Message& m) const;

    scopevisor::AdapterHost& host_;
    HostPlacement placement_{host_}; // each command in a scope of its own
    Settings s_;
    DataStore store_;
    std::unique_ptr<NatsLink> link_;

    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::atomic<bool> cancelAll_{false};
    std::set<std::string> stoppedMethods_; // by stopProc
    std::map<std::string, int> subIds_;    // subject -> Steward process id (for ps)
    int nextSubId_ = 1;
    struct JobSlot {
        std::thread thread;
        bool finished = false;
    };
    std::list<JobSlot> jobs_;
    size_t running_ = 0;
    std::thread hello_;
};

} // namespace steward
