// SPDX-License-Identifier: LGPL-2.1-or-later
//
// server.yml and child yml parsing (docs/protocols/supervisor-rs.md §5), the command split (§6), the
// adapter's settings, and signature checks with keys made here.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "srs_keys.h"
#include "srs_settings.h"
#include "srs_yml.h"

using namespace srs;
namespace fs = std::filesystem;

namespace {
ChildYml child(const std::string& text, const std::string& file = "/etc/srs/kids/web.app.yml") {
    ChildYml c;
    std::string err;
    EXPECT_TRUE(parseChildYml(text, file, &c, &err)) << err;
    return c;
}
std::string childError(const std::string& text) {
    ChildYml c;
    std::string err;
    EXPECT_FALSE(parseChildYml(text, "/k/x.yml", &c, &err));
    return err;
}
std::string serverError(const std::string& text) {
    ServerYml s;
    std::string err;
    EXPECT_FALSE(parseServerYml(text, "/etc/srs/server.yml", &s, &err));
    return err;
}
} // namespace

TEST(SrsYml, Server) {
    ServerYml s;
    std::string err;
    ASSERT_TRUE(parseServerYml("loadpaths:\n  - /a\n  - kids\nmode: half\nstartup: [x, y]\nencrypt: on\n"
                               "pub_keys_path: [keys]\nlistener_addr: 127.0.0.1\nipv6: true\nunknown: 1\n",
                               "/etc/srs/server.yml", &s, &err)) << err;
    EXPECT_EQ(s.loadpaths, (std::vector<std::string>{"/a", "/etc/srs/kids"}));
    EXPECT_EQ(s.mode, "half");
    EXPECT_EQ(s.startup, (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(s.encrypt, "on"); // unquoted on is a string
    EXPECT_EQ(s.pubKeysPath, (std::vector<std::string>{"/etc/srs/keys"}));
    EXPECT_EQ(s.listenerAddr.value_or(""), "127.0.0.1");
    EXPECT_TRUE(s.ipv6);
    ASSERT_TRUE(parseServerYml("", "/s.yml", &s, &err));
    EXPECT_EQ(s.mode, "quiet");
    EXPECT_TRUE(s.loadpaths.empty());
}

TEST(SrsYml, ServerErrors) {
    EXPECT_EQ(serverError("loadpaths: [1, [2]]\n"), "/etc/srs/server.yml:1: loadpaths: expected a string item");
    EXPECT_EQ(serverError("loadpaths: /a\n"), "/etc/srs/server.yml:1: loadpaths: expected a list of strings");
    EXPECT_EQ(serverError("mode: half\n"),
              "/etc/srs/server.yml: mode is half but there is no startup list (startup list not found)");
    EXPECT_EQ(serverError("ipv6: maybe\n"), "/etc/srs/server.yml:1: ipv6: expected true or false");
    EXPECT_NE(serverError("a: [\n").find("not valid YAML"), std::string::npos);
    EXPECT_EQ(serverError("- a\n"), "/etc/srs/server.yml: expected a YAML mapping at the top");
}

TEST(SrsYml, Child) {
    ChildYml c = child("command: ./run.sh -x\noutput:\n  - stdout: out.log\n    mode: create\n"
                       "  - stderr: /abs/err.log\n    mode: append\nrepeat:\n  action: trystart\n  seconds: 5\n"
                       "hooks:\n  - prehook: start db\n  - posthook: start cleaner\n");
    EXPECT_EQ(c.name, "web"); // up to the first '.'
    EXPECT_EQ(c.dir, "/etc/srs/kids");
    EXPECT_EQ(c.command, "./run.sh -x");
    ASSERT_TRUE(c.stdoutFile && c.stderrFile);
    EXPECT_EQ(c.stdoutFile->path, "/etc/srs/kids/out.log");
    EXPECT_FALSE(c.stdoutFile->append);
    EXPECT_EQ(c.stderrFile->path, "/abs/err.log");
    EXPECT_TRUE(c.stderrFile->append);
    EXPECT_TRUE(c.repeat);
    EXPECT_EQ(c.repeatAction, "trystart");
    EXPECT_EQ(c.repeatSeconds, 5);
    EXPECT_EQ(c.prehook, "start db");
    EXPECT_EQ(c.posthook, "start cleaner");
    EXPECT_TRUE(c.warnings.empty());
}

TEST(SrsYml, ChildIgnoredSections) {
    // As the original: a bad output section or repeat is ignored (here with a warning).
    ChildYml c = child("command: sleep 1\noutput: out.log\nrepeat:\n  seconds: 0\n");
    EXPECT_FALSE(c.stdoutFile);
    EXPECT_FALSE(c.repeat);
    EXPECT_EQ(c.warnings.size(), 2u);
    c = child("command: a\noutput:\n  - stdout: o\n    colour: red\n");
    EXPECT_FALSE(c.stdoutFile);
    c = child("command: a\noutput:\n  - stdout: o\n    mode: weird\nrepeat:\n  seconds: 2\n  action: [x]\n");
    ASSERT_TRUE(c.stdoutFile);
    EXPECT_FALSE(c.stdoutFile->append); // unknown mode: create
    EXPECT_EQ(c.repeatAction, "restart");
    c = child("command: true\n"); // the original panicked on a boolean here
    EXPECT_EQ(c.command, "true");
}

TEST(SrsYml, ChildErrors) {
    EXPECT_EQ(childError("output: []\n"), "/k/x.yml: command: missing, empty or not a string");
    EXPECT_EQ(childError("command: [a, b]\n"), "/k/x.yml: command: missing, empty or not a string");
    EXPECT_EQ(childError("command: \" sleep\"\n"),
              "/k/x.yml:1: command: starts with a space, so the program name would be empty");
    EXPECT_EQ(childError("command: a\nhooks: start x\n"),
              "/k/x.yml:2: hooks: expected a list of {prehook|posthook: \"<op> <child>\"}");
    EXPECT_EQ(childError("command: a\nhooks:\n  - prehook: [1]\n"), "/k/x.yml:3: hooks: prehook must be a string");
}

TEST(SrsYml, NamesAndSplit) {
    EXPECT_EQ(childNameOf("a.b.yml"), "a");
    EXPECT_EQ(childNameOf("a.yaml"), "a");
    EXPECT_EQ(childNameOf("a.yml.bak"), "");
    EXPECT_EQ(childNameOf("a"), "");
    EXPECT_EQ(splitCommand("sleep 300"), (std::vector<std::string>{"sleep", "300"}));
    EXPECT_EQ(splitCommand("sh -c \"echo  a b\""),
              (std::vector<std::string>{"sh", "-c", "\"echo", "", "a", "b\""}));
    EXPECT_EQ(splitCommand("prog"), (std::vector<std::string>{"prog"}));
    EXPECT_TRUE(reservedName("all"));
    EXPECT_TRUE(reservedName("on"));
    EXPECT_TRUE(reservedName("Restart"));
    EXPECT_FALSE(reservedName("web"));
}

TEST(SrsYml, FilesInLoadpaths) {
    fs::path d = fs::temp_directory_path() / ("srs_yml_" + std::to_string(getpid()));
    fs::create_directories(d / "one");
    fs::create_directories(d / "two");
    std::ofstream(d / "one" / "a.yml") << "command: a1\n";
    std::ofstream(d / "two" / "a.yaml") << "command: a2\n";
    std::ofstream(d / "two" / "b.x.yml") << "command: b\n";
    std::ofstream(d / "two" / "c.txt") << "command: c\n";
    ServerYml s;
    s.file = "server.yml";
    s.loadpaths = {(d / "one").string(), (d / "two").string()};
    std::vector<std::string> files;
    std::string err;
    ASSERT_TRUE(listChildFiles(s, &files, &err)) << err;
    EXPECT_EQ(files, (std::vector<std::string>{(d / "one" / "a.yml").string(), (d / "two" / "b.x.yml").string()}));
    EXPECT_EQ(findChildFile(s, "a", &err), (d / "one" / "a.yml").string());
    EXPECT_EQ(findChildFile(s, "b", &err), (d / "two" / "b.x.yml").string());
    EXPECT_EQ(findChildFile(s, "c", &err), "");
    s.loadpaths.push_back((d / "missing").string());
    EXPECT_FALSE(listChildFiles(s, &files, &err));
    EXPECT_NE(err.find("loadpaths: " + (d / "missing").string()), std::string::npos);
    fs::remove_all(d);
}

TEST(SrsSettings, KeysAndErrors) {
    scopevisor::AdapterConfig cfg;
    cfg.name = "supervisor-rs";
    auto set = [&](std::string k, std::string v) {
        cfg.settings.push_back({"adapter:supervisor-rs", k, v, "/etc/scopevisor/main.conf", 7});
    };
    Settings s;
    std::string err;
    ASSERT_TRUE(readSettings(cfg, &s, &err)) << err;
    EXPECT_EQ(s.listenerAddr, "0.0.0.0");
    EXPECT_EQ(s.port, 33889);
    EXPECT_FALSE(s.encrypt);
    EXPECT_EQ(s.replayWindow, 0); // plain mode: nothing signed to replay
    set("ipv6", "yes");
    set("encrypt", "on");
    set("pub_keys_path", "keys, /other");
    ASSERT_TRUE(readSettings(cfg, &s, &err)) << err;
    EXPECT_EQ(s.replayWindow, kDefaultReplayWindow); // encrypted mode: on unless told otherwise
    set("replay_window", "0");
    ASSERT_TRUE(readSettings(cfg, &s, &err)) << err;
    EXPECT_EQ(s.replayWindow, 0);
    cfg.settings.pop_back();
    set("replay_window", "120");
    ASSERT_TRUE(readSettings(cfg, &s, &err)) << err;
    EXPECT_EQ(s.listenerAddr, "::");
    EXPECT_TRUE(s.encrypt);
    EXPECT_EQ(s.pubKeysPath, (std::vector<std::string>{"/etc/scopevisor/keys", "/other"}));
    EXPECT_EQ(s.replayWindow, 120);
    set("port", "70000");
    EXPECT_FALSE(readSettings(cfg, &s, &err));
    EXPECT_EQ(err, "/etc/scopevisor/main.conf:7: [adapter:supervisor-rs] port: not a port number: '70000'");
    cfg.settings.pop_back();
    set("colour", "red");
    EXPECT_FALSE(readSettings(cfg, &s, &err));
    EXPECT_NE(err.find("colour: unknown key"), std::string::npos);
    cfg.settings.pop_back();
    set("listener_addr", "");
    EXPECT_FALSE(readSettings(cfg, &s, &err));
    EXPECT_NE(err.find("listener_addr: empty"), std::string::npos) << err;
    cfg.settings.clear();
    set("encrypt", "on");
    EXPECT_FALSE(readSettings(cfg, &s, &err));
    EXPECT_EQ(err, "[adapter:supervisor-rs] encrypt is on but pub_keys_path names no directory");
}

TEST(SrsSettings, ProgramOfAChild) {
    ChildYml c = child("command: ./run.sh a  b\noutput:\n  - stdout: o.log\n    mode: append\n");
    scopevisor::ImportedProgram p = programFor(c, true);
    EXPECT_EQ(p.name, "web");
    EXPECT_EQ(p.argv, (std::vector<std::string>{"./run.sh", "a", "", "b"}));
    EXPECT_EQ(p.directory, "/etc/srs/kids");
    EXPECT_TRUE(p.autostart);
    EXPECT_FALSE(p.autorestart);
    EXPECT_EQ(p.startsecs, 0);
    EXPECT_EQ(p.stdoutLogfile, "/etc/srs/kids/o.log");
    EXPECT_TRUE(p.stdoutLogfileAppend);
    EXPECT_EQ(p.stderrLogfile, "");
}

namespace {
// A key pair made here; the signature as the original's client makes it
// (RSA_private_encrypt with PKCS#1 v1.5 padding: EVP sign without a digest).
struct KeyPair {
    EVP_PKEY* key = EVP_RSA_gen(1024);
    std::string pem;
    KeyPair() {
        BIO* b = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(b, key);
        char* data = nullptr;
        long n = BIO_get_mem_data(b, &data);
        pem.assign(data, size_t(n));
        BIO_free(b);
    }
    ~KeyPair() { EVP_PKEY_free(key); }
    std::string sign(const std::string& text) const {
        EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
        EVP_PKEY_sign_init(ctx);
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
        size_t len = 0;
        EVP_PKEY_sign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(text.data()), text.size());
        std::string sig(len, '\0');
        EVP_PKEY_sign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                      reinterpret_cast<const unsigned char*>(text.data()), text.size());
        EVP_PKEY_CTX_free(ctx);
        sig.resize(len);
        return sig;
    }
};
} // namespace

TEST(SrsKeys, VerifyAndFind) {
    KeyPair alice, other;
    fs::path d = fs::temp_directory_path() / ("srs_keys_" + std::to_string(getpid()));
    fs::create_directories(d / "a");
    fs::create_directories(d / "b");
    std::ofstream(d / "b" / "alice.pem") << alice.pem;
    std::ofstream(d / "b" / "alice.old.pem") << other.pem; // name up to the first '.' matches too
    std::ofstream(d / "b" / "bob.pem.txt") << other.pem;   // not a .pem
    std::ofstream(d / "a" / "broken.pem") << "not a key";
    const std::vector<std::string> dirs{(d / "a").string(), (d / "b").string()};
    EXPECT_EQ(findKeyFile(dirs, "alice"), (d / "b" / "alice.old.pem").string()); // first by name: "alice.old.pem" < "alice.pem"
    EXPECT_EQ(findKeyFile(dirs, "bob"), "");
    const std::string pem = (d / "b" / "alice.pem").string();

    Verified v = verifySignature(pem, alice.sign("start web"));
    EXPECT_EQ(v.command.value_or("?"), "start web") << v.error;
    // A client's trailing NUL padding beyond the key size is dropped.
    const std::string checkSig = alice.sign("check");
    v = verifySignature(pem, checkSig + std::string(3, '\0'));
    EXPECT_EQ(v.command.value_or("?"), "check") << v.error;
    // ... and the signature the replay guard remembers is the one verified.
    EXPECT_EQ(v.signature, checkSig);
    EXPECT_EQ(verifySignaturePem(alice.pem, "x.pem", checkSig).signature, checkSig);
    // Another key's signature: OpenSSL's error, a bad padding or, when the
    // number exceeds this modulus, "data too large for modulus".
    v = verifySignature(pem, other.sign("check"));
    EXPECT_FALSE(v.command);
    EXPECT_NE(v.error.find("rsa routines"), std::string::npos) << v.error;
    v = verifySignature((d / "a" / "broken.pem").string(), alice.sign("check"));
    EXPECT_EQ(v.error, "Cannot read key file " + (d / "a" / "broken.pem").string() + ": not an RSA public key in PEM");
    // A signature ending in 0x00 (the original fails these): found by trying commands.
    int found = 0;
    for (int i = 0; i < 3000 && !found; ++i) {
        std::string text = "check c" + std::to_string(i);
        std::string sig = alice.sign(text);
        if (sig.back() == '\0') {
            found = 1;
            EXPECT_EQ(verifySignature(pem, sig).command.value_or("?"), text);
        }
    }
    EXPECT_TRUE(found);
    // One that starts with 0x00 verifies without it too (the same number):
    // the replay guard must see the same signature.
    found = 0;
    for (int i = 0; i < 5000 && !found; ++i) {
        std::string text = "stop c" + std::to_string(i);
        std::string sig = alice.sign(text);
        if (sig.front() == '\0') {
            found = 1;
            Verified shorter = verifySignature(pem, sig.substr(1));
            EXPECT_EQ(shorter.command.value_or("?"), text) << shorter.error;
            EXPECT_EQ(shorter.signature, sig);
        }
    }
    EXPECT_TRUE(found);
    fs::remove_all(d);
}

TEST(SrsKeys, ReplayGuard) {
    using namespace std::chrono;
    const auto t0 = steady_clock::time_point(hours(1));
    ReplayGuard off(0);
    EXPECT_FALSE(off.enabled());
    ReplayGuard g(60);
    EXPECT_TRUE(g.enabled());
    EXPECT_FALSE(g.replayed("alice;sig1", t0));
    EXPECT_TRUE(g.replayed("alice;sig1", t0 + seconds(59)));
    EXPECT_FALSE(g.replayed("alice;sig2", t0 + seconds(59)));
    EXPECT_FALSE(g.replayed("alice;sig1", t0 + seconds(60))); // the window has passed
}

TEST(SrsYml, ChildNamesAreCheckedLikeTheDaemonsProgramNames) {
    std::string why;
    EXPECT_TRUE(validChildName("web-1_a", &why));
    for (std::string bad : std::vector<std::string>{"a:b", "a b", "a\tb", "a\nb", std::string("a\x1b") + "b", "a\x7f", ""}) {
        EXPECT_FALSE(validChildName(bad, &why)) << bad;
        EXPECT_FALSE(why.empty());
    }
    ChildYml c;
    std::string err;
    EXPECT_FALSE(parseChildYml("command: sleep 1\n", "/k/a:b.yml", &c, &err));
    EXPECT_EQ(err, "/k/a:b.yml: invalid child name 'a:b' (a name may not contain a space, ':', '/' or a control character)");
    EXPECT_FALSE(parseChildYml("command: sleep 1\n", "/k/a\nb.yml", &c, &err));
    EXPECT_EQ(err.find('\n'), std::string::npos) << err; // one line in the log
    EXPECT_NE(serverError("loadpaths: []\nstartup:\n  - \"a:b\"\n").find("startup: invalid child name 'a:b'"),
              std::string::npos);
}
