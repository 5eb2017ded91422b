// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Steward's Message of 2021-09 (commit 903383a), its gob form, and the fixed
// method table that gives every subject its fourth token.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steward {

struct Operation {
    std::string opCmd;
    std::string opArg; // raw JSON text (Go json.RawMessage; gob bytes)
    bool operator==(const Operation&) const = default;
};

struct Message {
    std::string toNode;
    std::vector<std::string> toNodes;
    int64_t id = 0;
    std::vector<std::string> data;
    std::string method;
    std::string replyMethod;
    std::string fromNode;
    int64_t ackTimeout = 0;
    int64_t retries = 0;
    int64_t replyAckTimeout = 0;
    int64_t replyRetries = 0;
    int64_t methodTimeout = 0;
    std::string directory;
    std::string fileName;
    Operation operation;
    // Treated as immutable once set, so copies may share it.
    std::shared_ptr<const Message> previous;

    bool operator==(const Message& o) const;
};

enum class Kind { CommandACK, CommandNACK, EventACK, EventNACK };
const char* kindName(Kind k);
inline bool isAck(Kind k) { return k == Kind::CommandACK || k == Kind::EventACK; }

// The method table of docs/protocols/steward.md §2.1. nullopt for a method the 2021-09 node does not know.
std::optional<Kind> methodKind(std::string_view method);
// Every method a node subscribes to (REQInitial is internal only).
const std::vector<std::string>& subscribableMethods();

// "<toNode>.<method>.<kind>"; the caller makes sure the method is known.
std::string subjectFor(std::string_view toNode, std::string_view method);

// The full NATS payload: the four type definitions and the value, exactly as
// a fresh Go gob.Encoder writes them (type ids 65..68).
std::string encodeMessage(const Message& m);
// Decodes a payload from any Steward version that kept gob and the field
// names: the type definitions are read from the payload and fields bound by
// name. Throws gob::DecodeError.
Message decodeMessage(std::string_view payload);

// Go's %v of the Message struct, as Steward embeds it in error texts.
std::string goFormat(const Message& m);
// Go's time.ANSIC layout, "Mon Jan _2 15:04:05 2006", local time.
std::string ansicTime(std::time_t t);

} // namespace steward
