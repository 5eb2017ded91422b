#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes gob_vectors.jsonl: Steward messages and the exact payload bytes the
reference codec (steward_gob.py) produces for them. The C++ codec must encode
each message to these bytes and decode the bytes back to the message.

Run from this folder:  /usr/bin/python3 make_gob_vectors.py > gob_vectors.jsonl
"""
import json
import sys

import steward_gob as sg

REPLY_PREV = {
    "ToNode": "ship1", "ID": 1, "Data": ["bash", "-c", "echo apekatt"], "Method": "REQCliCommand",
    "ReplyMethod": "REQToFileAppend", "FromNode": "central", "ACKTimeout": 5, "Retries": 1,
    "ReplyACKTimeout": 5, "ReplyRetries": 3, "MethodTimeout": 5, "Directory": "steward-check",
    "FileName": "cli-apekatt.log", "Operation": {}}

VECTORS = dict(sg.SAMPLES)
VECTORS.update({
    "real hello, first (ID 0)": {
        "ToNode": "central", "FromNode": "ship1", "Data": ["Hello from ship1\n"], "Method": "REQHello",
        "ACKTimeout": 10, "Retries": 1, "Directory": "hello-messages", "FileName": "hello.log"},
    "real hello, second (ID 1)": {
        "ToNode": "central", "ID": 1, "FromNode": "ship1", "Data": ["Hello from ship1\n"],
        "Method": "REQHello", "ACKTimeout": 10, "Retries": 1, "Directory": "hello-messages",
        "FileName": "hello.log"},
    "real reply to REQCliCommand": {
        "ToNode": "central", "Data": ["apekatt\n"], "Method": "REQToFileAppend", "ACKTimeout": 5,
        "Retries": 3, "PreviousMessage": REPLY_PREV},
    "empty message": {},
    "negative and large ints": {
        "ToNode": "x", "ID": -1, "ACKTimeout": 300, "Retries": -65, "ReplyACKTimeout": 2**40,
        "ReplyRetries": -(2**63), "MethodTimeout": 2**63 - 1},
    "empty strings inside Data, toNodes": {
        "ToNodes": ["ship1", "ship2", ""], "Data": ["", "x", ""], "Method": "REQCliCommand"},
    "utf-8 and long data": {
        "ToNode": "n\u00e6de", "Data": ["\u00e5" * 100, "y" * 1000], "Method": "REQToFile"},
    "operation with json opArg": {
        "ToNode": "ship1", "Method": "REQOpCommand",
        "Operation": {"OpCmd": "startProc", "OpArg": b'{"program":"web","allowedNodes":["central"]}'}},
    "operation with only opArg": {"Operation": {"OpArg": b"\x00\xff"}},
    "three levels of PreviousMessage": {
        "ToNode": "a", "Method": "REQPong",
        "PreviousMessage": {"ToNode": "b", "Method": "REQPing",
                            "PreviousMessage": {"ToNode": "c", "ID": 7, "Operation": {"OpCmd": "ps"}}}},
})


def jsonable(m):
    out = {}
    for k, v in m.items():
        if k == "PreviousMessage":
            out[k] = jsonable(v)
        elif k == "Operation":
            out[k] = {ok: (ov.hex() if isinstance(ov, bytes) else ov) for ok, ov in v.items()}
        else:
            out[k] = v
    return out


for name, m in VECTORS.items():
    payload = sg.encode_message(m)
    # Every vector must also survive the reference decoder.
    sg.GobDecoder().decode(payload)
    print(json.dumps({"name": name, "message": jsonable(m), "hex": payload.hex(),
                      "hex64": sg.encode_message(m, first_id=64).hex()}, ensure_ascii=False))
sys.stdout.flush()
