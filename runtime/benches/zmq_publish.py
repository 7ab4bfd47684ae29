"""The ZeroMQ publisher of the `brokers` benchmark (`cargo bench --bench brokers`).

The benchmark encodes every message beforehand (protobuf `LogEntry`, proto/log_entry.proto) and
writes them to a file, so this process spends its time sending, not encoding. Only pyzmq is
needed (Debian's python3-zmq).

Usage: zmq_publish.py MESSAGES RATE HWM
  MESSAGES  file of messages, each: u32 little-endian topic length, topic, u32 little-endian
            payload length, payload
  RATE      messages per second on a fixed timetable (message k is due k/RATE s after the
            first); 0 sends as fast as the socket takes them
  HWM       the socket's send high-water mark (libzmq's default is 1000). A PUB socket never
            blocks: what does not fit below the mark is dropped, as in production.

It binds an XPUB socket (a PUB socket that also reports subscriptions) on a free loopback port and
talks to the benchmark in JSON lines on stdout, driven by lines on stdin:
  -> {"port": N, "messages": M, "libzmq": V, "pyzmq": V}
                                         once bound and loaded
  <- go                                  send once a subscriber has subscribed
  -> {"sending": true}                   just before the first message goes out
  -> {"done": true, "sent": M, "seconds": S, "behind": B}
                                         after the last; B: how far behind the timetable the last
                                         message went out (0 when sending as fast as possible)
  <- quit (or end of input)              close and exit; until then queued messages still drain
  -> {"error": "..."}                    on failure, then exit status 1
"""

import json
import struct
import sys
import time

import zmq

SUBSCRIBE_TIMEOUT = 60.0


def say(**fields):
    print(json.dumps(fields), flush=True)


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    messages = []
    at = 0
    while at < len(data):
        (topic_len,) = struct.unpack_from("<I", data, at)
        at += 4
        topic = data[at : at + topic_len]
        at += topic_len
        (payload_len,) = struct.unpack_from("<I", data, at)
        at += 4
        payload = data[at : at + payload_len]
        at += payload_len
        messages.append([topic, payload])
    return messages


def wait_for_subscriber(sock):
    deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if sock.poll(int(left * 1000) + 1, zmq.POLLIN):
            # A subscription arrives as \x01 followed by the topic prefix.
            if sock.recv()[:1] == b"\x01":
                return True


def send_all(sock, messages):
    send = sock.send_multipart
    for message in messages:
        send(message)
    return 0.0


def send_paced(sock, messages, rate, start):
    send = sock.send_multipart
    total = len(messages)
    sent = 0
    behind = 0.0
    while sent < total:
        now = time.monotonic()
        due = min(total, int((now - start) * rate) + 1)
        if due <= sent:
            # Early: sleep until the next message is due.
            time.sleep(max(0.0, start + sent / rate - now))
            continue
        behind = now - (start + (due - 1) / rate)
        while sent < due:
            send(messages[sent])
            sent += 1
    return max(0.0, behind)


def main():
    if len(sys.argv) != 4:
        say(error="usage: zmq_publish.py MESSAGES RATE HWM")
        return 1
    path, rate, hwm = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    messages = load(path)
    context = zmq.Context()
    sock = context.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, hwm)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    say(port=port, messages=len(messages), libzmq=zmq.zmq_version(), pyzmq=zmq.__version__)

    if sys.stdin.readline().strip() != "go":
        return 0
    if not wait_for_subscriber(sock):
        say(error="no subscriber within %.0f s" % SUBSCRIBE_TIMEOUT)
        return 1
    say(sending=True)
    start = time.monotonic()
    if rate > 0:
        behind = send_paced(sock, messages, rate, start)
    else:
        behind = send_all(sock, messages)
    say(done=True, sent=len(messages), seconds=time.monotonic() - start, behind=behind)

    for line in sys.stdin:
        if line.strip() == "quit":
            break
    sock.close(linger=0)
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
