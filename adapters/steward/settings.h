// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The keys of [adapter:steward], with Steward's flag names in snake case.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "scopevisor/adapter.h"

namespace steward {

struct Settings {
    std::string nodeName;
    std::string centralNodeName;
    std::string brokerAddress = "127.0.0.1:4222";
    std::string nkeySeedFile; // user seed "SU..."; the public key is derived
    std::string nkeyPublic;   // optional; checked against the seed when both are given
    std::string rootCaPath;   // TLS: trust this CA for the broker (also turns TLS on)
    std::string tlsServerName; // the name the broker's certificate must carry; default: broker_address's host
    int startPubHello = 30;   // seconds, 0 = off
    std::string dataFolder;   // replies, hellos, error logs; default <state dir>/data
    std::string socketFolder; // steward.sock; default <state dir>; "" = no socket
    unsigned socketMode = 0600;
    int natsConnectRetryInterval = 2;
    int defaultMessageTimeout = 10;
    int defaultMessageRetries = 1;
    int errorMessageTimeout = 60;
    int errorMessageRetries = 10;
    int defaultMethodTimeout = 10; // used when a message's MethodTimeout is 0
    int maxJobs = 256;             // methods running at once
    uint64_t maxMessageBytes = 1ull << 20;   // NATS payloads above are refused undecoded
    uint64_t dataFolderQuota = 64ull << 20;  // bytes in data_folder at most
    uint64_t dataFileMax = 16ull << 20;      // bytes in one file of data_folder at most
    std::set<std::string> disabledMethods;
    std::optional<bool> startSubErrorLog; // default: only on the central node

    bool isCentral() const { return nodeName == centralNodeName; }
    bool subscribesErrorLog() const { return startSubErrorLog.value_or(isCentral()); }
};

// A node name is one or more NATS tokens and a path component: no spaces,
// wildcards, slashes, or empty tokens.
bool validNodeName(const std::string& n);

// Reads the adapter's keys. `stateDir` gives the defaults of the folders.
// On error, *error names file, line and key.
bool parseSettings(const scopevisor::AdapterConfig& cfg, const std::string& stateDir, Settings* out,
                   std::string* error);

} // namespace steward
