#!/usr/bin/env python3
"""A Storm RPC client in plain Python 3 (standard library only), written from docs/wire-format.md.

Usage: storm_rpc_client.py HOST PORT
Calls `sum`, `{"cmd":"multiply","version":2}`, the streaming `countdown` and an unknown pattern,
emits the `math.logged` event, then prints one JSON object with what it got.
"""
import json
import socket
import struct
import sys

REQUEST, EVENT, CANCEL = 0x01, 0x02, 0x03
NEXT, LAST, COMPLETE, ERROR = 0x10, 0x11, 0x12, 0x13
HEADER = struct.Struct(">BBIH")  # kind, flags, id, pattern length: 8 bytes, big-endian


def frame(kind, frame_id, pattern=b"", body=b""):
    message = HEADER.pack(kind, 0, frame_id, len(pattern)) + pattern + body
    return struct.pack(">I", len(message)) + message  # 4-byte big-endian length prefix


def json_body(value):
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data


def read_frame(sock):
    (length,) = struct.unpack(">I", read_exactly(sock, 4))
    message = read_exactly(sock, length)
    kind, flags, frame_id, pattern_length = HEADER.unpack_from(message)
    start = HEADER.size + pattern_length
    if flags & 0x01:  # metadata block: u32 length + JSON
        (meta_length,) = struct.unpack_from(">I", message, start)
        start += 4 + meta_length
    body = message[start:]
    value = json.loads(body.decode("utf-8")) if body else None
    return kind, frame_id, value


def call(sock, frame_id, pattern, data):
    """Sends one request and collects its replies until Last, Complete or Error."""
    sock.sendall(frame(REQUEST, frame_id, pattern.encode("utf-8"), json_body(data)))
    values = []
    while True:
        kind, reply_id, value = read_frame(sock)
        if reply_id != frame_id:
            raise RuntimeError("reply for an unexpected id %d" % reply_id)
        if kind == NEXT:
            values.append(value)
        elif kind == LAST:
            values.append(value)
            return {"values": values}
        elif kind == COMPLETE:
            return {"values": values}
        elif kind == ERROR:
            return {"values": values, "error": value}
        else:
            raise RuntimeError("unknown frame kind %#x" % kind)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    with socket.create_connection((host, port), timeout=5) as sock:
        result = {
            "sum": call(sock, 1, "sum", [1, 2, 3, 4.5]),
            "multiply": call(sock, 2, '{"cmd":"multiply","version":2}', [6, 7]),
            "countdown": call(sock, 3, "countdown", 3),
            "unknown": call(sock, 4, "no-such-pattern", {}),
        }
        sock.sendall(frame(EVENT, 0, b"math.logged", json_body({"from": "python"})))
        # An event has no reply: a request after it proves the server read it (frames are in order).
        result["after_event"] = call(sock, 5, "sum", [1])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
