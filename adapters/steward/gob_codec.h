// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A generic decoder and the encoding primitives of Go's encoding/gob, enough
// for Steward's payloads. No gob library exists for C++, hence this one.
//
// The decoder reads the type definitions the sender puts in the stream and
// decodes values into a generic tree (GobValue) whose struct fields carry
// their names, so callers bind by name as Go's decoder does. Type ids are
// the sender's labels and are never assumed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::gob {

struct DecodeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Builtin type ids of the gob spec.
enum : int64_t {
    kBool = 1, kInt = 2, kUint = 3, kFloat = 4, kBytes = 5, kString = 6, kComplex = 7, kInterface = 8,
    kFirstUserId = 64, // the Go decoder refuses definitions below this id
};

struct GobField;

struct GobValue {
    enum class Kind { Bool, Int, Uint, Float, Complex, Bytes, String, List, Map, Struct } kind = Kind::Int;
    bool b = false;
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0, f2 = 0;
    std::string s;                                        // Bytes and String
    std::vector<GobValue> items;                          // List (slice, array); Map: key, value, key, ...
    std::vector<GobField> fields;                         // Struct: only the fields that were sent
    int64_t typeId = 0;                                   // the wire type of this value

    const GobValue* field(std::string_view name) const;
};

struct GobField {
    std::string name;
    GobValue value;
};

// One type definition read from a stream.
struct WireType {
    enum class Kind { Array, Slice, Struct, Map } kind = Kind::Struct;
    std::string name;
    int64_t elem = 0, key = 0, len = 0;
    std::vector<std::pair<std::string, int64_t>> fields; // Struct
};

class Decoder {
public:
    // Decodes one complete stream (definitions, then values) and returns the
    // values in order. Throws DecodeError on any malformation; never reads
    // beyond `data`, and bounds nesting depth and allocation by the input size.
    // With maxValues, stops after that many values and ignores what follows,
    // as Go's Decode does when called once on a stream.
    std::vector<GobValue> decodeStream(std::string_view data, size_t maxValues = SIZE_MAX);
    const std::map<int64_t, WireType>& types() const { return types_; }

    static constexpr int kMaxDepth = 100;
    // Values built per stream at most (a Message with 65536 Data lines fits).
    static constexpr size_t kMaxValues = 1u << 17;

private:
    std::map<int64_t, WireType> types_;
};

// Encoding primitives (append to `out`).
void putUint(std::string& out, uint64_t u);
void putInt(std::string& out, int64_t i);
void putString(std::string& out, std::string_view s);
// One delimited gob message: uint(length) then `body`.
void putMessage(std::string& out, std::string_view body);
// Type definition messages, as Go's encoder writes them.
std::string structTypeDef(std::string_view name, int64_t id,
                          const std::vector<std::pair<std::string, int64_t>>& fields);
std::string sliceTypeDef(std::string_view name, int64_t id, int64_t elem);

} // namespace steward::gob
