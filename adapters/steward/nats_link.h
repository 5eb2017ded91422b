// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The node's NATS connection (libnats): connect and reconnect forever,
// nkey and TLS, plain subscriptions, ACKs, and Steward's publishers: one
// queue per subject, each message waiting for its ACK (or for its retries
// to run out) before the next one goes, which is Steward's order guarantee.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include "message.h"

namespace steward {

struct LinkOptions {
    std::string nodeName;
    std::string brokerAddress;
    std::string nkeySeedFile, nkeyPublic;
    std::string rootCaPath;
    int reconnectWaitSeconds = 2;
    std::string tlsServerName; // "" = the host of brokerAddress
    // Bytes libnats may hold for one subscription whose handler is behind;
    // beyond, messages are dropped as a slow consumer (and logged).
    int pendingBytes = 16 * 1024 * 1024;
};

// The host part of a broker address ("host:port", "tls://[::1]:4222",
// "nats://user:pw@host:4222"), without brackets.
std::string brokerHost(const std::string& address);
// True for names and addresses that stay on this machine (localhost,
// 127.0.0.0/8, ::1).
bool isLoopbackHost(const std::string& host);

class NatsLink {
public:
    using Log = std::function<void(bool error, const std::string&)>;
    // Runs on a libnats delivery thread; must return quickly.
    using Handler = std::function<void(const std::string& subject, const std::string& reply, std::string data)>;
    // Runs on the subject's publisher thread once the message is delivered
    // (ACKed, or published for NACK kinds) or given up.
    using Done = std::function<void(bool delivered, const std::string& why)>;

    struct PublisherInfo {
        std::string subject;
        int id;
    };

    NatsLink(LinkOptions o, Log log);
    ~NatsLink();

    // Starts connecting; a broker that is not there yet is retried forever
    // in the background. False only for configuration errors (bad seed...).
    bool open(std::string* error);
    // Stops every publisher, unsubscribes, closes the connection.
    void close();

    bool subscribe(const std::string& subject, Handler h, std::string* error);
    bool unsubscribe(const std::string& subject);
    bool subscribed(const std::string& subject) const;

    void ack(const std::string& reply, const std::string& text);

    // Queues `m` on the publisher of its subject (<ToNode>.<Method>.<kind>);
    // sets m.id from that publisher's counter, as Steward does.
    void send(Message m, int ackTimeout, int retries, Done done);
    // Publishers created so far, in creation order, with their ids.
    std::vector<PublisherInfo> publishers() const;
    // Stops the publisher of `subject` (messages queued on it are dropped).
    bool stopPublisher(const std::string& subject);

private:
    struct Pending {
        Message msg;
        int ackTimeout, retries;
        Done done;
    };
    struct Publisher {
        std::string subject;
        int id = 0;
        int64_t nextMessageId = 0;
        std::deque<Pending> queue;
        std::condition_variable cv;
        bool stop = false;
        std::thread thread;
    };
    struct Sub {
        natsSubscription* sub = nullptr;
        std::shared_ptr<Handler> handler;
    };

    // Creates a connection with opts_ and subscribes every subject again.
    void connectNow();
    // Steward retries nats.Connect forever; libnats gives up on some errors
    // (an authorization violation closes the connection): start over then.
    void watchdog();
    natsConnection* conn() const;
    void runPublisher(Publisher* p);
    void deliver(Publisher* p, Pending& item);
    static void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
    static void onDisconnected(natsConnection*, void* closure);
    static void onReconnected(natsConnection*, void* closure);
    static void onConnected(natsConnection*, void* closure);
    static void onClosed(natsConnection*, void* closure);
    static void onError(natsConnection*, natsSubscription*, natsStatus status, void* closure);

    LinkOptions opt_;
    Log log_;
    std::string expectedHost_; // the name the broker's TLS certificate must carry; "" without TLS
    natsOptions* opts_ = nullptr;
    natsConnection* nc_ = nullptr;
    std::vector<natsConnection*> oldConns_; // destroyed at close(): publishers may still hold them
    std::atomic<bool> closing_{false};
    bool reconnectNeeded_ = false;
    std::atomic<unsigned> quietFailures_{0}; // connection failures in a row
    std::condition_variable wdCv_;
    std::thread watchdog_;
    mutable std::mutex mu_;
    std::map<std::string, Sub> subs_;
    std::map<std::string, std::unique_ptr<Publisher>> publishers_;
    std::vector<std::unique_ptr<Publisher>> retired_;
    std::vector<std::shared_ptr<Handler>> grave_; // handlers of stopped subscribers
    int nextProcId_ = 1;
};

} // namespace steward
