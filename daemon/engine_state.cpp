// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The engine's state across daemon restarts (docs/architecture.md §4, §5):
// adoption of the programs a previous daemon left running, the coalesced
// saves of the state file, the refill of the log buffers from the journal,
// and the AUTO log files of the previous runs.
#include "engine.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <glob.h>
#include <random>

#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"
#include "state_file.h"

namespace scopevisor {
namespace {

std::string randomSuffix() {
    static std::mt19937 rng{std::random_device{}()};
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
    std::string s;
    for (int i = 0; i < 8; ++i)
        s += chars[rng() % (sizeof chars - 1)];
    return s;
}

// Where AUTO log files go: childlogdir when it is set, else "logs" in the
// state directory, made (mode 0750) when a file is about to be put there.
// Never a world-writable directory by default: there anyone could plant a
// symlink or a FIFO at the next name, or read the programs' output.
std::string childLogDir(const config::DaemonConfig& d, bool make) {
    if (!d.childlogdir.empty())
        return d.childlogdir;
    const std::string stateDir = stateDirectory(d.stateDir);
    const std::string dir = stateDir + "/logs";
    if (make) {
        std::error_code ec;
        std::filesystem::create_directories(stateDir, ec);
        if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
            log::warn("cannot make the directory of AUTO log files " + dir + ": " + std::strerror(errno));
    }
    return dir;
}

} // namespace

std::string Engine::autoLogPath(const config::ProcessConfig& p, const char* channel) {
    const std::string dir = childLogDir(cfg().daemon, true);
    return dir + "/" + p.name + "-" + channel + "---" + cfg().daemon.identifier + "-" + randomSuffix() + ".log";
}

void Engine::cleanupAutoLogs() {
    const std::string dir = childLogDir(cfg().daemon, false);
    std::string pattern = dir + "/*---" + cfg().daemon.identifier + "-*.log*";
    glob_t g{};
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i)
            unlink(g.gl_pathv[i]);
    globfree(&g);
}

void Engine::adoptPrograms() {
    if (stateFile_.empty())
        return;
    StateMap state = readStateFile(stateFile_);
    // Records of programs that are not configured now are kept: their
    // desired state counts again if a later reload brings them back.
    for (auto& [name, record] : state)
        if (!findProgram(name))
            savedState_.emplace(name, record);
    for (auto* p : programsInOrder()) {
        auto it = state.find(p->namespec());
        if (it != state.end())
            p->adopt(it->second); // sets the desired state even if nothing runs
    }
    // Line numbers and byte offsets move on while programs talk: keep the
    // file fresh enough that a crash loses little.
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [this, tick] {
        if (outputSinceSave_ && state_ == DaemonState::Running)
            saveState();
        refreshTimer_ = loop_.addTimer(loop_.now() + 5000000, *tick);
    };
    refreshTimer_ = loop_.addTimer(loop_.now() + 5000000, *tick);
    saveState();
}

void Engine::refillLogs() {
    if (!opts_.journal)
        return;
    // Adopted or not, every program's buffer starts with its newest lines
    // and its numbering goes on; before the loop runs, so no new line comes
    // in between (journal_read.h says why this is synchronous).
    // Thousands of full buffers could take minutes, and systemd waits for
    // READY=1 only so long: after kRefillBudgetUs the remaining programs
    // only continue their numbering (their older lines are still read from
    // the journal on request).
    constexpr uint64_t kRefillBudgetUs = 10 * 1000000;
    const uint64_t t0 = loop_.now();
    size_t lines = 0, numberedOnly = 0;
    for (auto* p : programsInOrder()) {
        const bool inBudget = loop_.now() - t0 < kRefillBudgetUs;
        lines += refillLog(p->log(), *opts_.journal, p->namespec(), inBudget ? SIZE_MAX : 1);
        numberedOnly += !inBudget;
    }
    if (lines)
        log::info("log buffers refilled from the journal: " + std::to_string(lines) + " lines in " +
                  std::to_string((loop_.now() - t0) / 1000) + " ms" +
                  (numberedOnly ? "; " + std::to_string(numberedOnly) +
                                      " programs only continue their numbering (time budget spent)"
                                : ""));
}

void Engine::setDesired(Program& p, Desired d) {
    if (p.desired() == d)
        return;
    p.setDesired(d);
    scheduleSave();
}

void Engine::scheduleSave() {
    // Coalesce: a thousand programs starting or stopping write the file once.
    // During a shutdown nothing is written until everything has stopped.
    if (stateFile_.empty() || saveTimer_ || state_ == DaemonState::Shutdown)
        return;
    saveTimer_ = loop_.addTimer(loop_.now() + 100000, [this] { saveState(); });
}

void Engine::saveState(bool final) {
    saveTimer_.reset();
    if (stateFile_.empty())
        return;
    outputSinceSave_ = false;
    // The records of configured programs are made afresh each time; only
    // those of programs not configured now are kept in memory.
    StateMap state = savedState_;
    for (auto* p : programsInOrder())
        state.emplace(p->namespec(), p->record());
    // The file itself is written by another thread (state_writer.h says why).
    if (!stateWriter_)
        stateWriter_ = std::make_unique<StateWriter>(stateFile_);
    std::string text = formatStateFile(state);
    std::string err;
    if (!final)
        stateWriter_->post(std::move(text));
    else if (!stateWriter_->writeNow(std::move(text), &err))
        log::warn("cannot save the state: " + err);
    // No malloc_trim(0) here: it walks every free chunk of the heap, a
    // millisecond of the loop after a thousand programs stopped, and this
    // runs every 100 ms while they change. The records are freed at once and
    // their memory serves the next save.
}

} // namespace scopevisor
