// SPDX-License-Identifier: LGPL-2.1-or-later
//
// JSON from the network, parsed within bounds: a size limit checked before
// any parsing, RapidJSON's iterative parser (no recursion on the input's
// nesting), and a depth limit enforced by a first SAX pass before a
// Document is built. RapidJSON's values are recursive structures (copy,
// Accept, destruction), so a deep document must never be built at all.
//
// Header-only and optional: only adapters that link RapidJSON include it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace scopevisor {

struct JsonLimits {
    size_t maxBytes = 64 * 1024;
    unsigned maxDepth = 64;
};

namespace detail {

// Counts nesting and stops the reader as soon as it is too deep.
struct JsonDepthCounter : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, JsonDepthCounter> {
    unsigned depth = 0, limit = 0;
    bool tooDeep = false;
    bool Default() { return true; }
    bool open() {
        if (++depth > limit) {
            tooDeep = true;
            return false;
        }
        return true;
    }
    bool StartObject() { return open(); }
    bool StartArray() { return open(); }
    bool EndObject(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool EndArray(rapidjson::SizeType) {
        --depth;
        return true;
    }
};

} // namespace detail

// Parse `json` into `doc` (flags: extra RapidJSON parse flags, e.g.
// kParseValidateEncodingFlag). False with *error set to one line naming
// what was wrong: the size, the depth, or RapidJSON's message and offset.
template <unsigned Flags = 0>
bool parseBoundedJson(std::string_view json, rapidjson::Document& doc, std::string* error,
                      JsonLimits limits = {}) {
    if (json.size() > limits.maxBytes) {
        *error = "JSON body of " + std::to_string(json.size()) + " bytes is over the limit of " +
                 std::to_string(limits.maxBytes) + " bytes";
        return false;
    }
    constexpr unsigned flags = Flags | rapidjson::kParseIterativeFlag;
    {
        detail::JsonDepthCounter counter;
        counter.limit = limits.maxDepth;
        rapidjson::Reader reader;
        rapidjson::MemoryStream ms(json.data(), json.size());
        reader.Parse<flags>(ms, counter);
        if (counter.tooDeep) {
            *error = "JSON nested deeper than " + std::to_string(limits.maxDepth) + " levels";
            return false;
        }
    }
    doc.Parse<flags>(json.data(), json.size());
    if (doc.HasParseError()) {
        *error = std::string("malformed JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                 " at offset " + std::to_string(doc.GetErrorOffset());
        return false;
    }
    return true;
}

} // namespace scopevisor
