// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for REQOpCommand's opArg (op_arg.h): any bytes give an
// OpArg or an error; deep nesting and large inputs are refused without
// recursion or a large allocation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "message_json.h"
#include "op_arg.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string err;
    const auto a = steward::parseOpArg(std::string_view(reinterpret_cast<const char*>(data), size), &err);
    if (a.has_value() == !err.empty())
        __builtin_trap(); // exactly one of a value and a reason
    if (!a && size > steward::kMaxOpArgJson && err.find("over the limit") == std::string::npos)
        __builtin_trap(); // an oversize opArg must be refused for its size, before parsing
    return 0;
}
