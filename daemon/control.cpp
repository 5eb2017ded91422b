// SPDX-License-Identifier: LGPL-2.1-or-later
#include "scopevisor/control.h"

namespace scopevisor {

const char* stateName(ProcessState s) noexcept {
    switch (s) {
    case ProcessState::Stopped: return "STOPPED";
    case ProcessState::Starting: return "STARTING";
    case ProcessState::Running: return "RUNNING";
    case ProcessState::Backoff: return "BACKOFF";
    case ProcessState::Stopping: return "STOPPING";
    case ProcessState::Exited: return "EXITED";
    case ProcessState::Fatal: return "FATAL";
    case ProcessState::Unknown: return "UNKNOWN";
    }
    return "UNKNOWN";
}

bool isRunningState(ProcessState s) noexcept {
    return s == ProcessState::Running || s == ProcessState::Backoff || s == ProcessState::Starting;
}

bool isStoppedState(ProcessState s) noexcept {
    return s == ProcessState::Stopped || s == ProcessState::Exited || s == ProcessState::Fatal ||
           s == ProcessState::Unknown;
}

bool isSignallableState(ProcessState s) noexcept {
    return s == ProcessState::Running || s == ProcessState::Starting || s == ProcessState::Stopping;
}

const char* errorName(ErrorCode c) noexcept {
    switch (c) {
    case ErrorCode::Ok: return "Ok";
    case ErrorCode::NoSuchProgram: return "NoSuchProgram";
    case ErrorCode::NoSuchGroup: return "NoSuchGroup";
    case ErrorCode::BadArguments: return "BadArguments";
    case ErrorCode::BadSignal: return "BadSignal";
    case ErrorCode::NoFile: return "NoFile";
    case ErrorCode::NotExecutable: return "NotExecutable";
    case ErrorCode::Failed: return "Failed";
    case ErrorCode::AbnormalTermination: return "AbnormalTermination";
    case ErrorCode::SpawnFailed: return "SpawnFailed";
    case ErrorCode::AlreadyStarted: return "AlreadyStarted";
    case ErrorCode::NotRunning: return "NotRunning";
    case ErrorCode::AlreadyAdded: return "AlreadyAdded";
    case ErrorCode::StillRunning: return "StillRunning";
    case ErrorCode::CantReread: return "CantReread";
    case ErrorCode::ShuttingDown: return "ShuttingDown";
    case ErrorCode::NoInput: return "NoInput";
    case ErrorCode::AccessDenied: return "AccessDenied";
    }
    return "Failed";
}

const char* streamName(Stream s) noexcept {
    switch (s) {
    case Stream::Stdout: return "stdout";
    case Stream::Stderr: return "stderr";
    case Stream::All: return "all";
    }
    return "all";
}

std::optional<Stream> parseStream(std::string_view s) noexcept {
    if (s == "stdout")
        return Stream::Stdout;
    if (s == "stderr")
        return Stream::Stderr;
    if (s == "all")
        return Stream::All;
    return std::nullopt;
}

} // namespace scopevisor
