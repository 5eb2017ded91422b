// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The daemon's own log. Lines go to stderr (with sd-daemon priority prefixes
// when stderr is the journal, otherwise supervisord's
// "YYYY-MM-DD HH:MM:SS,mmm LEVEL message" format) and to an optional sink, which
// the engine uses for the main log file and the /mainlogtail buffer.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace scopevisor::log {

// supervisord's levels, mapped onto syslog priorities for the journal.
enum class Level { Critical = 0, Error, Warn, Info, Debug, Trace, Blather };

bool parseLevel(std::string_view s, Level& out);
void setLevel(Level l);
Level level();
bool enabled(Level l);

// `line` is the formatted line without trailing newline.
void setSink(std::function<void(Level, std::string_view line)> sink);

void write(Level l, std::string_view msg);
inline void critical(std::string_view m) { write(Level::Critical, m); }
inline void error(std::string_view m) { write(Level::Error, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void info(std::string_view m) { write(Level::Info, m); }
inline void debug(std::string_view m) {
    if (enabled(Level::Debug))
        write(Level::Debug, m);
}

} // namespace scopevisor::log
