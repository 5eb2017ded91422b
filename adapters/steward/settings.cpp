// SPDX-License-Identifier: LGPL-2.1-or-later
#include "settings.h"

#include <charconv>
#include <sstream>

#include "message.h"
#include "scopevisor/settings_reader.h"

namespace steward {

bool validNodeName(const std::string& n) {
    if (n.empty() || n.size() > 200 || n.front() == '.' || n.back() == '.' || n.find("..") != std::string::npos)
        return false;
    for (unsigned char c : n)
        if (c <= ' ' || c == '*' || c == '>' || c == '/' || c == 0x7f)
            return false;
    return true;
}

namespace {

using scopevisor::settingWhere;

bool parseInt(const scopevisor::AdapterSetting& s, int lo, int hi, int* out, std::string* error) {
    const auto v = scopevisor::parseUnsigned(s.value, uint64_t(lo), uint64_t(hi));
    if (!v) {
        *error = settingWhere(s) + "invalid value '" + s.value + "' (expected an integer from " + std::to_string(lo) +
                 " to " + std::to_string(hi) + ")";
        return false;
    }
    *out = int(*v);
    return true;
}

// Bytes, with an optional K, M or G suffix (powers of 1024).
bool parseSize(const scopevisor::AdapterSetting& s, uint64_t lo, uint64_t hi, uint64_t* out, std::string* error) {
    uint64_t v = 0;
    const char* end = s.value.data() + s.value.size();
    auto [p, ec] = std::from_chars(s.value.data(), end, v);
    unsigned shift = 0;
    if (ec == std::errc() && p + 1 == end) {
        switch (*p) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        default: shift = 64; break;
        }
        ++p;
    }
    if (ec != std::errc() || p != end || shift == 64 || v > (hi >> shift) || (v << shift) < lo) {
        *error = settingWhere(s) + "invalid value '" + s.value + "' (expected a size from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + " bytes, with an optional K, M or G)";
        return false;
    }
    *out = v << shift;
    return true;
}

bool parseBool(const scopevisor::AdapterSetting& s, bool* out, std::string* error) {
    const auto b = scopevisor::parseYesNo(s.value);
    if (!b) {
        *error = settingWhere(s) + "invalid value '" + s.value + "' (expected yes or no)";
        return false;
    }
    *out = *b;
    return true;
}

} // namespace

bool parseSettings(const scopevisor::AdapterConfig& cfg, const std::string& stateDir, Settings* out,
                   std::string* error) {
    Settings st;
    st.dataFolder = stateDir + "/data";
    st.socketFolder = stateDir;
    const scopevisor::AdapterSetting* nodeKey = nullptr;
    for (const auto& s : cfg.settings) {
        if (s.section != "adapter:steward") {
            *error = settingWhere(s) + "not a key of the steward adapter";
            return false;
        }
        const std::string& k = s.key;
        bool ok = true;
        if (k == "node_name")
            st.nodeName = s.value, nodeKey = &s;
        else if (k == "central_node_name")
            st.centralNodeName = s.value;
        else if (k == "broker_address")
            st.brokerAddress = s.value;
        else if (k == "nkey_seed_file")
            st.nkeySeedFile = s.value;
        else if (k == "nkey_public")
            st.nkeyPublic = s.value;
        else if (k == "root_ca_path")
            st.rootCaPath = s.value;
        else if (k == "tls_server_name")
            st.tlsServerName = s.value;
        else if (k == "max_message_bytes")
            ok = parseSize(s, 4096, 64ull << 20, &st.maxMessageBytes, error); // NATS' own max_payload ceiling
        else if (k == "data_folder_quota")
            ok = parseSize(s, 0, 1ull << 50, &st.dataFolderQuota, error);
        else if (k == "data_file_max")
            ok = parseSize(s, 0, 1ull << 50, &st.dataFileMax, error);
        else if (k == "start_pub_hello")
            ok = parseInt(s, 0, 86400 * 365, &st.startPubHello, error);
        else if (k == "data_folder")
            st.dataFolder = s.value;
        else if (k == "socket_folder")
            st.socketFolder = s.value;
        else if (k == "socket_mode") {
            const auto v = scopevisor::parseOctalMode(s.value, 0777);
            if (!v) {
                *error = settingWhere(s) + "invalid value '" + s.value + "' (expected an octal mode such as 0600)";
                return false;
            }
            st.socketMode = *v;
        } else if (k == "nats_connect_retry_interval")
            ok = parseInt(s, 1, 3600, &st.natsConnectRetryInterval, error);
        else if (k == "default_message_timeout")
            ok = parseInt(s, 1, 86400, &st.defaultMessageTimeout, error);
        else if (k == "default_message_retries")
            ok = parseInt(s, 1, 1000000, &st.defaultMessageRetries, error);
        else if (k == "error_message_timeout")
            ok = parseInt(s, 1, 86400, &st.errorMessageTimeout, error);
        else if (k == "error_message_retries")
            ok = parseInt(s, 1, 1000000, &st.errorMessageRetries, error);
        else if (k == "default_method_timeout")
            ok = parseInt(s, 1, 86400 * 365, &st.defaultMethodTimeout, error);
        else if (k == "max_jobs")
            ok = parseInt(s, 1, 100000, &st.maxJobs, error);
        else if (k == "start_sub_error_log") {
            bool b = false;
            ok = parseBool(s, &b, error);
            st.startSubErrorLog = b;
        } else if (k == "disabled_methods") {
            std::string v = s.value;
            for (char& c : v)
                if (c == ',')
                    c = ' ';
            std::istringstream in(v);
            std::string m;
            st.disabledMethods.clear();
            while (in >> m) {
                if (!methodKind(m) || m == "REQInitial") {
                    *error = settingWhere(s) + "unknown method '" + m + "'";
                    return false;
                }
                st.disabledMethods.insert(m);
            }
        } else if (k == "default_role")
            ; // applied by the daemon (roleFor)
        else {
            *error = settingWhere(s) + "unknown key";
            return false;
        }
        if (!ok)
            return false;
    }
    std::string prefix = nodeKey ? nodeKey->file + ": [adapter:steward] " : "[adapter:steward] ";
    if (!validNodeName(st.nodeName)) {
        *error = prefix + "node_name: " + (st.nodeName.empty() ? "missing (required)" : "invalid node name '" + st.nodeName + "'");
        return false;
    }
    if (!validNodeName(st.centralNodeName)) {
        *error = prefix + "central_node_name: " +
                 (st.centralNodeName.empty() ? "missing (required)" : "invalid node name '" + st.centralNodeName + "'");
        return false;
    }
    if (st.dataFolder.empty()) {
        *error = prefix + "data_folder: must not be empty";
        return false;
    }
    *out = std::move(st);
    return true;
}

} // namespace steward
