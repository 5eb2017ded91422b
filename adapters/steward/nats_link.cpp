// SPDX-License-Identifier: LGPL-2.1-or-later
#include "nats_link.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <nats/nats.h>

#include "nkey.h"
#include "tls_probe.h"

namespace steward {

namespace {

std::string statusText(natsStatus s) {
    std::string t = natsStatus_GetText(s);
    const char* last = nats_GetLastError(nullptr);
    if (last && *last && t != last)
        t += " (" + std::string(last) + ")";
    return t;
}

// Steward accepts a bare host:port; libnats wants a URL.
std::string brokerUrl(const std::string& addr, bool tls) {
    if (addr.find("://") != std::string::npos)
        return addr;
    return (tls ? "tls://" : "nats://") + addr;
}

} // namespace

std::string brokerHost(const std::string& address) {
    std::string a = address;
    if (auto p = a.find("://"); p != std::string::npos)
        a = a.substr(p + 3);
    if (auto at = a.rfind('@'); at != std::string::npos)
        a = a.substr(at + 1);
    if (auto slash = a.find('/'); slash != std::string::npos)
        a.resize(slash);
    if (!a.empty() && a.front() == '[') {
        auto close = a.find(']');
        return close == std::string::npos ? a.substr(1) : a.substr(1, close - 1);
    }
    // One colon: host:port. More: a bare IPv6 address without a port.
    if (auto colon = a.find(':'); colon != std::string::npos && a.find(':', colon + 1) == std::string::npos)
        a.resize(colon);
    return a;
}

bool isLoopbackHost(const std::string& host) {
    if (host == "localhost" || host.ends_with(".localhost") || host == "::1")
        return true;
    in_addr v4{};
    return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

NatsLink::NatsLink(LinkOptions o, Log log) : opt_(std::move(o)), log_(std::move(log)) {}

NatsLink::~NatsLink() { close(); }

bool NatsLink::open(std::string* error) {
    natsOptions* opts = nullptr;
    auto fail = [&](const std::string& what, natsStatus s) {
        *error = what + ": " + statusText(s);
        natsOptions_Destroy(opts);
        return false;
    };
    natsStatus s = natsOptions_Create(&opts);
    if (s != NATS_OK)
        return fail("NATS options", s);
    const bool tls = !opt_.rootCaPath.empty() || opt_.brokerAddress.rfind("tls://", 0) == 0;
    const std::string url = brokerUrl(opt_.brokerAddress, tls);
    if ((s = natsOptions_SetURL(opts, url.c_str())) != NATS_OK)
        return fail("broker_address '" + opt_.brokerAddress + "'", s);
    // Reconnect forever, as Steward (MaxReconnects(-1)), and keep trying a
    // broker that is not up yet instead of failing the start.
    natsOptions_SetMaxReconnect(opts, -1);
    natsOptions_SetReconnectWait(opts, int64_t(opt_.reconnectWaitSeconds) * 1000);
    natsOptions_SetRetryOnFailedConnect(opts, true, &NatsLink::onConnected, this);
    natsOptions_SetDisconnectedCB(opts, &NatsLink::onDisconnected, this);
    natsOptions_SetReconnectedCB(opts, &NatsLink::onReconnected, this);
    natsOptions_SetClosedCB(opts, &NatsLink::onClosed, this);
    natsOptions_SetErrorHandler(opts, &NatsLink::onError, this);
    natsOptions_SetName(opts, ("scopevisor-steward " + opt_.nodeName).c_str());
    // Publishes made while reconnecting are buffered; 8 MiB matches nats.go.
    natsOptions_SetReconnectBufSize(opts, 8 * 1024 * 1024);
    if (tls) {
        if ((s = natsOptions_SetSecure(opts, true)) != NATS_OK)
            return fail("TLS", s);
        if (!opt_.rootCaPath.empty() &&
            (s = natsOptions_LoadCATrustedCertificates(opts, opt_.rootCaPath.c_str())) != NATS_OK)
            return fail("root_ca_path '" + opt_.rootCaPath + "'", s);
        // libnats checks the chain but not the name unless told: without
        // this, any certificate of the same CA could stand in for the broker.
        expectedHost_ = opt_.tlsServerName.empty() ? brokerHost(opt_.brokerAddress) : opt_.tlsServerName;
        if (expectedHost_.empty()) {
            *error = "broker_address '" + opt_.brokerAddress + "': no host name for the TLS check (set tls_server_name)";
            natsOptions_Destroy(opts);
            return false;
        }
        if ((s = natsOptions_SkipServerVerification(opts, false)) != NATS_OK ||
            (s = natsOptions_SetExpectedHostname(opts, expectedHost_.c_str())) != NATS_OK)
            return fail("TLS server name '" + expectedHost_ + "'", s);
        log_(false, "TLS to the broker; its certificate must name " + expectedHost_);
    } else if (std::string host = brokerHost(opt_.brokerAddress); !isLoopbackHost(host)) {
        log_(true, "WARNING: broker_address " + opt_.brokerAddress + " is not on this machine and the connection is "
                   "not encrypted: anyone on the path can read and forge Steward messages (set root_ca_path to use "
                   "TLS)");
    }
    if (!opt_.nkeySeedFile.empty()) {
        std::ifstream in(opt_.nkeySeedFile);
        if (!in) {
            *error = "nkey_seed_file '" + opt_.nkeySeedFile + "': cannot be read";
            natsOptions_Destroy(opts);
            return false;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        std::string text = ss.str();
        auto seed = findUserSeed(text);
        std::fill(text.begin(), text.end(), '\0');
        std::string err;
        std::optional<std::string> pub = seed ? userPublicKeyFromSeed(*seed, &err) : std::nullopt;
        if (seed)
            std::fill(seed->begin(), seed->end(), '\0');
        if (!pub) {
            *error = "nkey_seed_file '" + opt_.nkeySeedFile + "': " + (seed ? err : "no user seed (SU...) in it");
            natsOptions_Destroy(opts);
            return false;
        }
        if (!opt_.nkeyPublic.empty() && opt_.nkeyPublic != *pub) {
            *error = "nkey_public does not match the seed of nkey_seed_file (the seed gives " + *pub + ")";
            natsOptions_Destroy(opts);
            return false;
        }
        if ((s = natsOptions_SetNKeyFromSeed(opts, pub->c_str(), opt_.nkeySeedFile.c_str())) != NATS_OK)
            return fail("nkey", s);
        log_(false, "NATS nkey authentication as " + *pub);
    }
    opts_ = opts;
    connectNow();
    watchdog_ = std::thread([this] { watchdog(); });
    return true;
}

void NatsLink::connectNow() {
    natsConnection* nc = nullptr;
    natsStatus s = natsConnection_Connect(&nc, opts_);
    const std::string url = brokerUrl(opt_.brokerAddress, false);
    if (s == NATS_NOT_YET_CONNECTED) {
        // libnats keeps a TLS failure's reason to itself (it retries in
        // the background): ask the broker once more, to say why.
        std::optional<std::string> why;
        if (!expectedHost_.empty() && quietFailures_ == 0)
            why = tlsRefusal(opt_.brokerAddress, opt_.rootCaPath, expectedHost_);
        if (why)
            log_(true, "TLS to " + opt_.brokerAddress + " refused: " + *why +
                           " (the broker's certificate must be signed by root_ca_path and carry the name " +
                           expectedHost_ + "; tls_server_name sets another); retrying every " +
                           std::to_string(opt_.reconnectWaitSeconds) + " s");
        else if (quietFailures_ == 0)
            log_(false, "broker " + opt_.brokerAddress + " not reachable yet; retrying every " +
                            std::to_string(opt_.reconnectWaitSeconds) + " s");
    } else if (s == NATS_OK) {
        quietFailures_ = 0;
        char u[256] = "";
        natsConnection_GetConnectedUrl(nc, u, sizeof u);
        log_(false, std::string("connected to ") + u);
    } else {
        std::string hint;
        if (s == NATS_SSL_ERROR && !expectedHost_.empty())
            hint = " (TLS: the broker's certificate must be signed by root_ca_path and carry the name " +
                   expectedHost_ + "; tls_server_name sets another)";
        log_(true, "connect to " + opt_.brokerAddress + ": " + statusText(s) + hint + "; trying again in " +
                       std::to_string(opt_.reconnectWaitSeconds) + " s");
        std::lock_guard lock(mu_);
        reconnectNeeded_ = true;
        wdCv_.notify_all();
        return;
    }
    std::lock_guard lock(mu_);
    if (nc_)
        oldConns_.push_back(nc_);
    nc_ = nc;
    for (auto& [subject, sub] : subs_) {
        if (sub.sub)
            natsSubscription_Destroy(sub.sub);
        sub.sub = nullptr;
        natsStatus st = natsConnection_Subscribe(&sub.sub, nc_, subject.c_str(), &NatsLink::onMessage,
                                                 sub.handler.get());
        if (st != NATS_OK) {
            // On a connection closed meanwhile the watchdog tries again.
            if (st != NATS_CONNECTION_CLOSED)
                log_(true, "subscribe " + subject + ": " + statusText(st));
            sub.sub = nullptr;
        } else
            natsSubscription_SetPendingLimits(sub.sub, 65536, opt_.pendingBytes);
    }
}

void NatsLink::watchdog() {
    std::unique_lock lock(mu_);
    for (;;) {
        wdCv_.wait(lock, [&] { return closing_ || reconnectNeeded_; });
        if (closing_)
            return;
        reconnectNeeded_ = false;
        wdCv_.wait_for(lock, std::chrono::seconds(opt_.reconnectWaitSeconds), [&] { return closing_.load(); });
        if (closing_)
            return;
        lock.unlock();
        connectNow();
        lock.lock();
    }
}

natsConnection* NatsLink::conn() const {
    std::lock_guard lock(mu_);
    return nc_;
}

void NatsLink::close() {
    if (closing_.exchange(true))
        return;
    std::vector<Publisher*> pubs;
    {
        std::lock_guard lock(mu_);
        for (auto& [_, p] : publishers_) {
            p->stop = true;
            p->cv.notify_all();
            pubs.push_back(p.get());
        }
        for (auto& p : retired_)
            pubs.push_back(p.get());
    }
    wdCv_.notify_all();
    if (watchdog_.joinable())
        watchdog_.join();
    // Closing the connection wakes publishers blocked waiting for an ACK.
    if (natsConnection* nc = conn())
        natsConnection_Close(nc);
    for (Publisher* p : pubs)
        if (p->thread.joinable())
            p->thread.join();
    std::lock_guard lock(mu_);
    for (auto& [_, sub] : subs_)
        if (sub.sub)
            natsSubscription_Destroy(sub.sub);
    subs_.clear();
    if (nc_)
        natsConnection_Destroy(nc_);
    nc_ = nullptr;
    for (auto* nc : oldConns_)
        natsConnection_Destroy(nc);
    oldConns_.clear();
    natsOptions_Destroy(opts_);
    opts_ = nullptr;
}

bool NatsLink::subscribe(const std::string& subject, Handler h, std::string* error) {
    std::lock_guard lock(mu_);
    if (closing_) {
        *error = "shutting down";
        return false;
    }
    if (subs_.count(subject))
        return true;
    Sub s;
    s.handler = std::make_shared<Handler>(std::move(h));
    // Without a connection yet, connectNow() subscribes it later.
    if (nc_) {
        natsStatus st =
            natsConnection_Subscribe(&s.sub, nc_, subject.c_str(), &NatsLink::onMessage, s.handler.get());
        if (st != NATS_OK) {
            *error = "subscribe " + subject + ": " + statusText(st);
            return false;
        }
        // Commands may arrive in bursts; never drop silently on a slow handler.
        natsSubscription_SetPendingLimits(s.sub, 65536, opt_.pendingBytes);
    }
    subs_[subject] = std::move(s);
    return true;
}

bool NatsLink::unsubscribe(const std::string& subject) {
    std::lock_guard lock(mu_);
    auto it = subs_.find(subject);
    if (it == subs_.end())
        return false;
    if (it->second.sub) {
        natsSubscription_Unsubscribe(it->second.sub);
        natsSubscription_Destroy(it->second.sub);
    }
    // The handler may still be running on the delivery thread: it stays
    // alive as long as the link (a few bytes per stopped subscriber).
    grave_.push_back(it->second.handler);
    subs_.erase(it);
    return true;
}

bool NatsLink::subscribed(const std::string& subject) const {
    std::lock_guard lock(mu_);
    return subs_.count(subject) > 0;
}

void NatsLink::ack(const std::string& reply, const std::string& text) {
    natsConnection* nc = conn();
    if (reply.empty() || !nc)
        return;
    natsConnection_Publish(nc, reply.c_str(), text.data(), static_cast<int>(text.size()));
}

void NatsLink::send(Message m, int ackTimeout, int retries, Done done) {
    std::string subject = subjectFor(m.toNode, m.method);
    std::lock_guard lock(mu_);
    if (closing_) {
        if (done)
            done(false, "shutting down");
        return;
    }
    auto& slot = publishers_[subject];
    if (!slot) {
        slot = std::make_unique<Publisher>();
        slot->subject = subject;
        slot->id = nextProcId_++;
        Publisher* p = slot.get();
        p->thread = std::thread([this, p] { runPublisher(p); });
    }
    // A hung peer must not make the queue grow without end.
    if (slot->queue.size() >= 100000) {
        if (done)
            done(false, "publisher queue of " + subject + " is full");
        return;
    }
    m.id = slot->nextMessageId++;
    slot->queue.push_back(Pending{std::move(m), ackTimeout, retries, std::move(done)});
    slot->cv.notify_one();
}

std::vector<NatsLink::PublisherInfo> NatsLink::publishers() const {
    std::lock_guard lock(mu_);
    std::vector<PublisherInfo> out;
    for (const auto& [s, p] : publishers_)
        out.push_back({s, p->id});
    return out;
}

bool NatsLink::stopPublisher(const std::string& subject) {
    std::unique_lock lock(mu_);
    auto it = publishers_.find(subject);
    if (it == publishers_.end())
        return false;
    it->second->stop = true;
    it->second->cv.notify_all();
    // Joined at close(): the thread may be waiting for an ACK right now.
    retired_.push_back(std::move(it->second));
    publishers_.erase(it);
    return true;
}

void NatsLink::runPublisher(Publisher* p) {
    std::unique_lock lock(mu_);
    for (;;) {
        p->cv.wait(lock, [&] { return p->stop || !p->queue.empty(); });
        if (p->stop)
            break;
        Pending item = std::move(p->queue.front());
        p->queue.pop_front();
        lock.unlock();
        deliver(p, item);
        lock.lock();
    }
    for (auto& item : p->queue)
        if (item.done) {
            lock.unlock();
            item.done(false, "publisher stopped");
            lock.lock();
        }
    p->queue.clear();
}

void NatsLink::deliver(Publisher* p, Pending& item) {
    const std::string payload = encodeMessage(item.msg);
    const Kind kind = methodKind(item.msg.method).value_or(Kind::EventACK);
    const std::string reply = p->subject + ".reply";
    auto finish = [&](bool ok, const std::string& why) {
        if (item.done)
            item.done(ok, why);
    };
    natsSubscription* sub = nullptr;
    natsConnection* subConn = nullptr;
    auto dropSub = [&] {
        if (sub) {
            natsSubscription_Unsubscribe(sub);
            natsSubscription_Destroy(sub);
        }
        sub = nullptr;
    };
    int attempts = 0;
    for (;;) {
        if (closing_ || p->stop) {
            finish(false, "shutting down");
            break;
        }
        natsConnection* nc = conn();
        natsStatus s = nc ? NATS_OK : NATS_CONNECTION_CLOSED;
        // The ACK subscription lives on the connection the message goes out on.
        if (nc && isAck(kind) && subConn != nc) {
            dropSub();
            s = natsConnection_SubscribeSync(&sub, nc, reply.c_str());
            subConn = s == NATS_OK ? nc : nullptr;
        }
        if (s == NATS_OK)
            s = natsConnection_PublishRequest(nc, p->subject.c_str(), reply.c_str(), payload.data(),
                                              static_cast<int>(payload.size()));
        if (s == NATS_MAX_PAYLOAD || s == NATS_INVALID_ARG) {
            finish(false, "publish " + p->subject + ": " + statusText(s) + " (" +
                              std::to_string(payload.size()) + " bytes)");
            break;
        }
        if (s != NATS_OK) {
            // As Steward: a failed publish is not an attempt; wait and resend.
            log_(true, "publish " + p->subject + ": " + statusText(s) + "; retrying in 5 s");
            std::unique_lock lock(mu_);
            p->cv.wait_for(lock, std::chrono::seconds(5), [&] { return p->stop || closing_.load(); });
            continue;
        }
        if (!isAck(kind)) {
            finish(true, "");
            break;
        }
        natsMsg* ackMsg = nullptr;
        s = natsSubscription_NextMsg(&ackMsg, sub, int64_t(item.ackTimeout) * 1000);
        if (s == NATS_OK) {
            natsMsg_Destroy(ackMsg);
            finish(true, "");
            break;
        }
        if (s == NATS_CONNECTION_CLOSED || s == NATS_INVALID_SUBSCRIPTION) {
            // The connection is being replaced (see watchdog): not an attempt.
            subConn = nullptr;
            std::unique_lock lock(mu_);
            p->cv.wait_for(lock, std::chrono::seconds(1), [&] { return p->stop || closing_.load(); });
            continue;
        }
        // A timeout and "no responders" (nobody subscribed to the subject)
        // both count as a failed attempt; resend at once, no back-off.
        ++attempts;
        if (closing_ || p->stop) {
            finish(false, "shutting down");
            break;
        }
        log_(false, "no ACK for " + p->subject + " id " + std::to_string(item.msg.id) + " (" +
                        (s == NATS_NO_RESPONDERS ? std::string("no responders") : statusText(s)) + "), attempt " +
                        std::to_string(attempts) + " of " + std::to_string(item.retries));
        if (attempts >= item.retries) {
            finish(false, "max retries reached");
            break;
        }
    }
    dropSub();
}

void NatsLink::onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* h = static_cast<Handler*>(closure);
    const char* reply = natsMsg_GetReply(msg);
    std::string data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    std::string subject = natsMsg_GetSubject(msg);
    std::string rep = reply ? reply : "";
    natsMsg_Destroy(msg);
    (*h)(subject, rep, std::move(data));
}

void NatsLink::onConnected(natsConnection* nc, void* closure) {
    auto* self = static_cast<NatsLink*>(closure);
    self->quietFailures_ = 0;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    self->log_(false, std::string("connected to ") + url);
}

void NatsLink::onDisconnected(natsConnection*, void* closure) {
    auto* self = static_cast<NatsLink*>(closure);
    if (!self->closing_)
        self->log_(true, "lost the connection to the NATS broker; reconnecting");
}

void NatsLink::onReconnected(natsConnection* nc, void* closure) {
    auto* self = static_cast<NatsLink*>(closure);
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    self->log_(false, std::string("reconnected to ") + url);
}

void NatsLink::onClosed(natsConnection* nc, void* closure) {
    auto* self = static_cast<NatsLink*>(closure);
    if (self->closing_)
        return;
    const char* why = nullptr;
    natsConnection_GetLastError(nc, &why);
    // Said once, then once every 100 failures: a broker down for a day
    // must not fill the journal.
    if (self->quietFailures_++ % 100 == 0)
        self->log_(true, std::string("the NATS connection was closed") + (why && *why ? ": " + std::string(why) : "") +
                             "; connecting again every " + std::to_string(self->opt_.reconnectWaitSeconds) + " s");
    std::lock_guard lock(self->mu_);
    // A connection already replaced closing is expected; any other (the
    // current one, or one whose Connect has not returned yet) is not.
    if (std::find(self->oldConns_.begin(), self->oldConns_.end(), nc) == self->oldConns_.end()) {
        self->reconnectNeeded_ = true;
        self->wdCv_.notify_all();
    }
}

void NatsLink::onError(natsConnection*, natsSubscription* sub, natsStatus status, void* closure) {
    auto* self = static_cast<NatsLink*>(closure);
    std::string what = natsStatus_GetText(status);
    if (sub)
        what += " on " + std::string(natsSubscription_GetSubject(sub));
    self->log_(true, "NATS: " + what);
}

} // namespace steward
