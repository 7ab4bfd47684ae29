"""A ZeroMQ publisher for the zeromq input's tests, driven line by line over stdin.

Like seed 000's message bus, it binds a publisher socket and sends `[topic, payload]` messages
whose payload is a protobuf `LogEntry` (proto/log_entry.proto). The protobuf encoding is written
out here by hand so that only pyzmq is needed (Debian's python3-zmq).

Usage: zmq_publisher.py PORT [--deliver-all] [--connect]
  PORT 0 picks a free port. --deliver-all sends every message to every subscriber whatever it
  subscribed to (as a peer that ignores subscriptions would), so the subscriber's own topic
  filter is what is tested. --connect connects to a subscriber bound to PORT instead of binding.

It prints one JSON line once bound (or connecting): {"port": N}. Then each JSON line read from stdin is a
command, answered with one JSON line ({"ok": true} or {"ok": false, "error": ...}):
  {"op": "wait_subscribed", "prefix": "logs.", "timeout": 10}
      waits until a subscriber has subscribed (now or before) to exactly this prefix; sending
      only after that avoids losing the first messages to the slow-joiner race.
  {"op": "entry", "topic": "logs.backend", "entry": {"message": "...", "level": "INFO", ...}}
      sends one LogEntry; `level` is a name or a number, `extra` a string or an object.
  {"op": "frames", "frames": [{"text": "logs.x"}, {"hex": "ffff"}, {"byte": 120, "count": 10}]}
      sends one message made of these frames, as given.
  {"op": "quit"}
"""

import json
import sys
import time

import zmq

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

# name -> (field number, kind): "s" text, "v" varint. Must match proto/log_entry.proto.
FIELDS = {
    "timestamp": (1, "s"),
    "level": (2, "v"),
    "subsystem": (3, "s"),
    "module": (4, "s"),
    "function": (5, "s"),
    "message": (6, "s"),
    "topic": (7, "s"),
    "file_path": (9, "s"),
    "line_number": (10, "v"),
    "user_uuid": (11, "s"),
    "session_id": (12, "s"),
    "trace_id": (13, "s"),
    "extra": (15, "s"),
}


def varint(value):
    value &= (1 << 64) - 1  # negative int32 values take ten bytes, as two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode_entry(entry):
    out = bytearray()
    for name, value in entry.items():
        number, kind = FIELDS[name]
        if name == "level" and isinstance(value, str):
            value = LEVELS[value]
        if name == "extra" and not isinstance(value, str):
            value = json.dumps(value)
        if kind == "v":
            out += varint(number << 3 | 0) + varint(int(value))
        else:
            data = value.encode("utf-8")
            out += varint(number << 3 | 2) + varint(len(data)) + data
    return bytes(out)


def frame(spec):
    if "text" in spec:
        return spec["text"].encode("utf-8")
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    return bytes([spec["byte"]]) * spec["count"]


def wait_subscribed(sock, seen, prefix, timeout, deliver_all):
    wanted = prefix.encode("utf-8")
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            return {"ok": False, "error": "no subscription to %r within %ss" % (prefix, timeout)}
        if not sock.poll(int(left * 1000) + 1, zmq.POLLIN):
            continue
        message = sock.recv()
        if message[:1] == b"\x01":
            seen.add(message[1:])
            if deliver_all:
                # Manual mode: this subscriber gets everything, whatever it asked for.
                sock.setsockopt(zmq.SUBSCRIBE, b"")
    return {"ok": True}


def main():
    port = int(sys.argv[1])
    deliver_all = "--deliver-all" in sys.argv[2:]
    connect = "--connect" in sys.argv[2:]
    context = zmq.Context()
    sock = context.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.setsockopt(zmq.SNDHWM, 100000)
    if deliver_all:
        sock.setsockopt(zmq.XPUB_MANUAL, 1)
    if connect:
        sock.connect("tcp://127.0.0.1:%d" % port)
    elif port == 0:
        port = sock.bind_to_random_port("tcp://127.0.0.1")
    else:
        sock.bind("tcp://127.0.0.1:%d" % port)
    print(json.dumps({"port": port}), flush=True)
    seen = set()  # every prefix subscribed to so far, by any subscriber
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        op = command["op"]
        try:
            if op == "wait_subscribed":
                reply = wait_subscribed(sock, seen, command["prefix"], command.get("timeout", 10), deliver_all)
            elif op == "entry":
                sock.send_multipart([command["topic"].encode("utf-8"), encode_entry(command["entry"])])
                reply = {"ok": True}
            elif op == "frames":
                sock.send_multipart([frame(spec) for spec in command["frames"]])
                reply = {"ok": True}
            elif op == "quit":
                print(json.dumps({"ok": True}), flush=True)
                break
            else:
                reply = {"ok": False, "error": "unknown op %r" % op}
        except Exception as e:  # reported to the test, which fails with it
            reply = {"ok": False, "error": repr(e)}
        print(json.dumps(reply), flush=True)
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
