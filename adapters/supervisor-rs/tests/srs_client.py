# SPDX-License-Identifier: LGPL-2.1-or-later
"""A supervisor-rs client as a raw TCP socket (one message, read until EOF),
`openssl genrsa` keys and `openssl pkeyutl -sign` signatures: what the tests
and the benchmark share. The daemon helpers (scopevisord on the direct
backend, free ports, waits) are the adapter tests' common ones."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "khanat", "tests"))
from khanat_client import Daemon, free_port, wait_for  # noqa: E402,F401
BANNER = b"Running on encrypt mode, need to dencrypt your command.\n"


def send(port, payload, host="127.0.0.1", timeout=30):
    """One command as the official client sends it: write, then read to EOF."""
    if isinstance(payload, str):
        payload = payload.encode()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        if payload:
            s.sendall(payload)
        else:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode("utf-8", "replace")
            out += chunk


def make_key(directory, name, bits=2048):
    """priv/<name>.pem (openssl genrsa) and pub/<name>.pem ("BEGIN PUBLIC KEY")."""
    (directory / "priv").mkdir(parents=True, exist_ok=True)
    (directory / "pub").mkdir(parents=True, exist_ok=True)
    priv, pub = directory / "priv" / f"{name}.pem", directory / "pub" / f"{name}.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(priv), str(bits)], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(priv), "-pubout", "-out", str(pub)], check=True,
                   capture_output=True)
    return priv


def sign(priv, text):
    """RSA PKCS#1 v1.5 type 1 of the bare text, no digest: the original's signature."""
    data = text.encode() if isinstance(text, str) else text
    return subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(priv)], input=data,
                          check=True, capture_output=True).stdout


def signed(priv, keyname, text):
    return keyname.encode() + b";" + sign(priv, text)
