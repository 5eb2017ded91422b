// SPDX-License-Identifier: LGPL-2.1-or-later
#include "gob_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

namespace steward::gob {

namespace {

// Go refuses single gob messages beyond 1 GiB ("tooBig"); NATS payloads are
// far smaller, so this only matters for hostile length prefixes.
constexpr uint64_t kMaxMessage = 1u << 30;

class Reader {
public:
    Reader(std::string_view d) : d_(d) {}
    size_t remaining() const { return d_.size() - p_; }
    bool atEnd() const { return p_ == d_.size(); }
    size_t pos() const { return p_; }

    uint8_t byte() {
        if (p_ >= d_.size())
            throw DecodeError("unexpected EOF");
        return static_cast<uint8_t>(d_[p_++]);
    }
    uint64_t uint() {
        uint8_t b = byte();
        if (b < 0x80)
            return b;
        unsigned n = 256u - b;
        if (n > 8)
            throw DecodeError("invalid uint length byte");
        uint64_t v = 0;
        for (unsigned k = 0; k < n; ++k)
            v = (v << 8) | byte();
        return v;
    }
    int64_t sint() {
        uint64_t u = uint();
        // Zig-zag: the low bit is the sign, the rest the (complemented) magnitude.
        uint64_t m = u >> 1;
        return static_cast<int64_t>((u & 1) ? ~m : m);
    }
    std::string_view raw(uint64_t n) {
        if (n > remaining())
            throw DecodeError("unexpected EOF in string or bytes");
        std::string_view v = d_.substr(p_, n);
        p_ += n;
        return v;
    }
    std::string str() { return std::string(raw(uint())); }
    // A child reader over the next n bytes, which this reader skips.
    Reader sub(uint64_t n) { return Reader(raw(n)); }

private:
    std::string_view d_;
    size_t p_ = 0;
};

// Reads a struct body whose fields are given by number: calls f(fieldNumber)
// for each field present, until the terminating 0 delta.
template <typename F>
void readFields(Reader& r, int maxField, F&& f) {
    int64_t last = -1;
    for (;;) {
        uint64_t d = r.uint();
        if (d == 0)
            return;
        if (d > static_cast<uint64_t>(maxField - last))
            throw DecodeError("field numbers out of bounds");
        last += static_cast<int64_t>(d);
        f(static_cast<int>(last));
    }
}

void readCommon(Reader& r, WireType& t) {
    readFields(r, 1, [&](int n) {
        if (n == 0)
            t.name = r.str();
        else
            (void)r.sint(); // the id inside CommonType repeats the message's id
    });
}

WireType readWireType(Reader& r) {
    WireType t;
    bool set = false;
    readFields(r, 6, [&](int n) {
        if (set)
            throw DecodeError("wireType with more than one kind");
        set = true;
        switch (n) {
        case 0: // ArrayT: CommonType, Elem, Len
            t.kind = WireType::Kind::Array;
            readFields(r, 2, [&](int k) {
                if (k == 0)
                    readCommon(r, t);
                else if (k == 1)
                    t.elem = r.sint();
                else
                    t.len = r.sint();
            });
            break;
        case 1: // SliceT: CommonType, Elem
            t.kind = WireType::Kind::Slice;
            readFields(r, 1, [&](int k) {
                if (k == 0)
                    readCommon(r, t);
                else
                    t.elem = r.sint();
            });
            break;
        case 2: // StructT: CommonType, Field []fieldType
            t.kind = WireType::Kind::Struct;
            readFields(r, 1, [&](int k) {
                if (k == 0) {
                    readCommon(r, t);
                    return;
                }
                uint64_t count = r.uint();
                if (count > r.remaining())
                    throw DecodeError("field count out of bounds");
                for (uint64_t i = 0; i < count; ++i) {
                    std::pair<std::string, int64_t> f;
                    readFields(r, 1, [&](int m) {
                        if (m == 0)
                            f.first = r.str();
                        else
                            f.second = r.sint();
                    });
                    t.fields.push_back(std::move(f));
                }
            });
            break;
        case 3: // MapT: CommonType, Key, Elem
            t.kind = WireType::Kind::Map;
            readFields(r, 2, [&](int k) {
                if (k == 0)
                    readCommon(r, t);
                else if (k == 1)
                    t.key = r.sint();
                else
                    t.elem = r.sint();
            });
            break;
        default:
            throw DecodeError("GobEncoder and Marshaler types are not supported");
        }
    });
    if (!set)
        throw DecodeError("empty wireType");
    return t;
}

class ValueReader {
public:
    // `budget`: how many values may still be built. Every value takes at
    // least one byte on the wire but ~140 bytes in memory, so without a
    // budget a 1 MiB payload of one-byte elements would cost ~140 MiB.
    ValueReader(const std::map<int64_t, WireType>& types, size_t& budget) : types_(types), budget_(budget) {}

    // Every id reachable from `id` must be a supported builtin or defined.
    void checkGraph(int64_t id) {
        std::set<int64_t> seen;
        checkGraph(id, seen);
    }

    GobValue value(Reader& r, int64_t id, int depth) {
        if (depth > Decoder::kMaxDepth)
            throw DecodeError("values nested too deeply");
        if (budget_ == 0)
            throw DecodeError("more than " + std::to_string(Decoder::kMaxValues) + " values in one stream");
        --budget_;
        GobValue v;
        v.typeId = id;
        switch (id) {
        case kBool: {
            v.kind = GobValue::Kind::Bool;
            uint64_t u = r.uint();
            if (u > 1)
                throw DecodeError("invalid bool");
            v.b = u == 1;
            return v;
        }
        case kInt: v.kind = GobValue::Kind::Int; v.i = r.sint(); return v;
        case kUint: v.kind = GobValue::Kind::Uint; v.u = r.uint(); return v;
        case kFloat: v.kind = GobValue::Kind::Float; v.f = floatFrom(r.uint()); return v;
        case kComplex:
            v.kind = GobValue::Kind::Complex;
            v.f = floatFrom(r.uint());
            v.f2 = floatFrom(r.uint());
            return v;
        case kBytes: v.kind = GobValue::Kind::Bytes; v.s = r.str(); return v;
        case kString: v.kind = GobValue::Kind::String; v.s = r.str(); return v;
        default: break;
        }
        const WireType& t = types_.at(id); // checkGraph made sure it exists
        switch (t.kind) {
        case WireType::Kind::Struct:
            v.kind = GobValue::Kind::Struct;
            readFields(r, static_cast<int>(t.fields.size()) - 1, [&](int n) {
                const auto& [name, fid] = t.fields[static_cast<size_t>(n)];
                v.fields.push_back(GobField{name, value(r, fid, depth + 1)});
            });
            return v;
        case WireType::Kind::Slice:
        case WireType::Kind::Array: {
            v.kind = GobValue::Kind::List;
            uint64_t n = r.uint();
            if (t.kind == WireType::Kind::Array && n != static_cast<uint64_t>(t.len))
                throw DecodeError("array length mismatch");
            // Every element takes at least one byte on the wire.
            if (n > r.remaining())
                throw DecodeError("slice length out of bounds");
            // Reserved within the budget: the loop below refuses the rest.
            v.items.reserve(std::min<uint64_t>(n, budget_));
            for (uint64_t k = 0; k < n; ++k)
                v.items.push_back(value(r, t.elem, depth + 1));
            return v;
        }
        case WireType::Kind::Map: {
            v.kind = GobValue::Kind::Map;
            uint64_t n = r.uint();
            if (n > r.remaining() / 2)
                throw DecodeError("map length out of bounds");
            for (uint64_t k = 0; k < n; ++k) {
                v.items.push_back(value(r, t.key, depth + 1));
                v.items.push_back(value(r, t.elem, depth + 1));
            }
            return v;
        }
        }
        throw DecodeError("unsupported type");
    }

private:
    static double floatFrom(uint64_t u) {
        // gob sends the IEEE bits byte-reversed, so small exponents stay short.
        return std::bit_cast<double>(__builtin_bswap64(u));
    }

    void checkGraph(int64_t id, std::set<int64_t>& seen) {
        if (id == kInterface)
            throw DecodeError("interface values are not supported");
        if (id >= kBool && id <= kComplex)
            return;
        if (!seen.insert(id).second)
            return;
        auto it = types_.find(id);
        if (it == types_.end())
            throw DecodeError("unknown type id " + std::to_string(id));
        const WireType& t = it->second;
        switch (t.kind) {
        case WireType::Kind::Struct:
            for (const auto& f : t.fields)
                checkGraph(f.second, seen);
            break;
        case WireType::Kind::Map:
            checkGraph(t.key, seen);
            checkGraph(t.elem, seen);
            break;
        default: checkGraph(t.elem, seen); break;
        }
    }

    const std::map<int64_t, WireType>& types_;
    size_t& budget_;
};

} // namespace

const GobValue* GobValue::field(std::string_view name) const {
    for (const auto& f : fields)
        if (f.name == name)
            return &f.value;
    return nullptr;
}

std::vector<GobValue> Decoder::decodeStream(std::string_view data, size_t maxValues) {
    Reader r(data);
    std::vector<GobValue> values;
    size_t budget = kMaxValues;
    if (data.empty())
        throw DecodeError("EOF");
    while (!r.atEnd() && values.size() < maxValues) {
        uint64_t len = r.uint();
        if (len == 0 || len > kMaxMessage)
            throw DecodeError("invalid message length");
        if (len > r.remaining())
            throw DecodeError("unexpected EOF");
        Reader m = r.sub(len);
        int64_t id = m.sint();
        if (id < 0) {
            if (id == INT64_MIN || -id < kFirstUserId)
                throw DecodeError("type id out of range");
            if (types_.count(-id))
                throw DecodeError("duplicate type id " + std::to_string(-id));
            types_[-id] = readWireType(m);
        } else {
            if (id == 0)
                throw DecodeError("value of type id 0");
            ValueReader vr(types_, budget);
            vr.checkGraph(id);
            auto it = types_.find(id);
            bool isStruct = it != types_.end() && it->second.kind == WireType::Kind::Struct;
            // Non-struct top-level values ("singletons") carry a 0 delta first.
            if (!isStruct && m.uint() != 0)
                throw DecodeError("bad singleton delta");
            values.push_back(vr.value(m, id, 0));
        }
        if (!m.atEnd())
            throw DecodeError("extra data in message");
    }
    if (values.empty())
        throw DecodeError("no value in stream");
    return values;
}

void putUint(std::string& out, uint64_t u) {
    if (u < 0x80) {
        out.push_back(static_cast<char>(u));
        return;
    }
    char buf[8];
    int n = 0;
    while (u) {
        buf[n++] = static_cast<char>(u & 0xff);
        u >>= 8;
    }
    out.push_back(static_cast<char>(256 - n));
    while (n)
        out.push_back(buf[--n]);
}

void putInt(std::string& out, int64_t i) {
    uint64_t u = i >= 0 ? static_cast<uint64_t>(i) << 1 : (~static_cast<uint64_t>(i) << 1) | 1;
    putUint(out, u);
}

void putString(std::string& out, std::string_view s) {
    putUint(out, s.size());
    out.append(s);
}

void putMessage(std::string& out, std::string_view body) {
    putUint(out, body.size());
    out.append(body);
}

namespace {
void putCommon(std::string& b, std::string_view name, int64_t id) {
    b.push_back(1);
    putString(b, name);
    b.push_back(1);
    putInt(b, id);
    b.push_back(0);
}
} // namespace

std::string structTypeDef(std::string_view name, int64_t id,
                          const std::vector<std::pair<std::string, int64_t>>& fields) {
    std::string b;
    putInt(b, -id);
    b.push_back(3); // wireType field 2, StructT
    b.push_back(1);
    putCommon(b, name, id);
    b.push_back(1);
    putUint(b, fields.size());
    for (const auto& [n, fid] : fields) {
        b.push_back(1);
        putString(b, n);
        b.push_back(1);
        putInt(b, fid);
        b.push_back(0);
    }
    b.push_back(0); // end of structType
    b.push_back(0); // end of wireType
    std::string out;
    putMessage(out, b);
    return out;
}

std::string sliceTypeDef(std::string_view name, int64_t id, int64_t elem) {
    std::string b;
    putInt(b, -id);
    b.push_back(2); // wireType field 1, SliceT
    b.push_back(1);
    putCommon(b, name, id);
    b.push_back(1);
    putInt(b, elem);
    b.push_back(0);
    b.push_back(0);
    std::string out;
    putMessage(out, b);
    return out;
}

} // namespace steward::gob
