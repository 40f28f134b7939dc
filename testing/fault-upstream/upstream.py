#!/usr/bin/env python3
"""A hostile HTTP/1.1 upstream for jwtkit-proxy's fault tests (standard library only).

It listens on 127.0.0.1 (an ephemeral port unless --port is given) and prints one line,
{"port": P}, on stdout once it accepts connections. What it does with a request is chosen by
the path (any prefix before the mode name is ignored, so /f/hang and /hang are the same):

  /record[/...]           reads the body as its framing says (Content-Length or chunked) and
                          answers 200 {"record": {...}}; also on GET /__fault/records
  /hang[/...]             reads the request, then never answers (the connection stays open)
  /hang-body[/...]        200 with Content-Length: 1000000, 1000 bytes of body, then silence
  /reset-mid-body[?mode=chunked]
                          200 with Content-Length: 1000000 (or chunked), 4096 bytes of body,
                          then a TCP reset (SO_LINGER 0)
  /slow?ms=N              200 {"slept_ms": N} after N ms
  /__fault/records        GET: the requests seen so far, the last --max-records of them
                          (see "Records" below)
  /__fault/stats          GET: {"connections", "requests", "paths": {path: {"complete": N,
                          "incomplete": N}}}: every request since the start, by outcome

Records: one per request other than /__fault/*, created when its headers are read and updated
when its body ends: {"id", "method", "path", "query", "headers": [[name, value]...],
"framing": "length"|"chunked"|"none", "declared_length", "received", "complete", "sha256",
"state": "receiving"|"done", "error"}. "complete" is true only when the whole body arrived as
its framing promised (every declared byte, or the terminating zero-length chunk); a peer that
vanished mid-body gives "complete": false and an "error".

With --refuse it instead binds a port without listening (connections to it are refused by the
kernel), prints that port, and holds it so no other process can take it.

It exits by itself: when stdin reaches EOF (keep it a pipe; --ignore-stdin turns this off),
when its parent process dies, on SIGTERM/SIGINT, and after --max-lifetime seconds.
"""

import argparse
import collections
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

MAX_HEADER_BYTES = 64 * 1024
MODES = ("record", "hang-body", "hang", "reset-mid-body", "slow")


class PeerGone(Exception):
    """The peer closed or reset the connection."""


class Conn:
    """A buffered reader over a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        try:
            data = self.sock.recv(65536)
        except OSError as err:
            raise PeerGone(f"recv failed: {err}") from err
        if not data:
            raise PeerGone("the peer closed the connection")
        self.buf += data

    def read_until(self, marker, limit):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise PeerGone("line or header block too long")
            self.fill()
        head, _, self.buf = self.buf.partition(marker)
        return head

    def read_some(self, most):
        if not self.buf:
            self.fill()
        out, self.buf = self.buf[:most], self.buf[most:]
        return out


class State:
    def __init__(self, max_records=10000):
        self.lock = threading.Lock()
        self.records = collections.deque(maxlen=max_records)
        self.connections = 0
        self.requests = 0
        self.outcomes = collections.defaultdict(lambda: {"complete": 0, "incomplete": 0})

    def new_record(self, method, path, query, headers, framing, declared):
        with self.lock:
            self.requests += 1
            record = {
                "id": self.requests,
                "method": method,
                "path": path,
                "query": query,
                "headers": [[k, v] for k, v in headers],
                "framing": framing,
                "declared_length": declared,
                "received": 0,
                "complete": False,
                "sha256": None,
                "state": "receiving",
                "error": None,
            }
            self.records.append(record)
            return record

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(list(self.records)))

    def stats(self):
        with self.lock:
            return {
                "connections": self.connections,
                "requests": self.requests,
                "paths": json.loads(json.dumps(self.outcomes)),
            }


STATE = State()


def send_json(sock, status, value, reason="OK"):
    body = json.dumps(value).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body)


def read_body(conn, framing, declared, record):
    """Reads the body into the record; raises PeerGone when it ends early."""
    digest = hashlib.sha256()

    def take(data):
        digest.update(data)
        with STATE.lock:
            record["received"] += len(data)

    try:
        if framing == "length":
            left = declared
            while left > 0:
                data = conn.read_some(min(left, 65536))
                take(data)
                left -= len(data)
        elif framing == "chunked":
            while True:
                line = conn.read_until(b"\r\n", 4096)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError as err:
                    raise PeerGone(f"bad chunk size line {line[:40]!r}") from err
                if size == 0:
                    # Trailers, then the empty line.
                    while conn.read_until(b"\r\n", MAX_HEADER_BYTES) != b"":
                        pass
                    break
                left = size
                while left > 0:
                    data = conn.read_some(min(left, 65536))
                    take(data)
                    left -= len(data)
                if conn.read_until(b"\r\n", 2) != b"":
                    raise PeerGone("chunk not followed by CRLF")
        with STATE.lock:
            record["complete"] = True
    except PeerGone as err:
        with STATE.lock:
            record["error"] = str(err)
        raise
    finally:
        with STATE.lock:
            record["sha256"] = digest.hexdigest()
            record["state"] = "done"
            if "path" in record:
                outcome = "complete" if record["complete"] else "incomplete"
                STATE.outcomes[record["path"]][outcome] += 1


def mode_of(path):
    """The mode named by the path's last segment that is a mode (so /f/x/hang is hang)."""
    for segment in reversed(path.split("/")):
        if segment in MODES:
            return segment
    return "record"


def serve_connection(sock):
    conn = Conn(sock)
    while True:
        try:
            head = conn.read_until(b"\r\n\r\n", MAX_HEADER_BYTES)
        except PeerGone:
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            send_json(sock, 400, {"error": "bad request line"}, "Bad Request")
            return
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        names = dict(headers)
        split = urlsplit(target)
        path, query = split.path, split.query
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if "chunked" in names.get("transfer-encoding", "").lower():
            framing, declared = "chunked", None
        elif "content-length" in names:
            framing, declared = "length", int(names["content-length"])
        else:
            framing, declared = "none", 0

        if path.startswith("/__fault/"):
            scratch = {"received": 0}
            try:
                read_body(conn, framing, declared, scratch)
            except PeerGone:
                return
            if path == "/__fault/records":
                send_json(sock, 200, STATE.snapshot())
            elif path == "/__fault/stats":
                send_json(sock, 200, STATE.stats())
            else:
                send_json(sock, 404, {"error": "unknown"}, "Not Found")
            continue

        record = STATE.new_record(method, path, query, headers, framing, declared)
        try:
            read_body(conn, framing, declared, record)
        except PeerGone:
            return
        mode = mode_of(path)
        if mode == "record":
            send_json(sock, 200, {"record": record})
        elif mode == "slow":
            ms = int(params.get("ms", "1000"))
            time.sleep(ms / 1000)
            send_json(sock, 200, {"slept_ms": ms})
        elif mode == "hang":
            hang(conn)
            return
        elif mode == "hang-body":
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: 1000000\r\n\r\n" + b"h" * 1000
            )
            hang(conn)
            return
        elif mode == "reset-mid-body":
            chunked = params.get("mode") == "chunked"
            part = b"x" * 4096
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            if chunked:
                head += b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(part), part)
            else:
                head += b"Content-Length: 1000000\r\n\r\n" + part
            sock.sendall(head)
            time.sleep(0.1)
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return


def hang(conn):
    """Holds the connection without answering until the peer goes away."""
    try:
        while True:
            conn.fill()
            conn.buf = b""
    except PeerGone:
        pass


def handle(sock):
    with STATE.lock:
        STATE.connections += 1
    try:
        serve_connection(sock)
    except OSError:
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--refuse", action="store_true", help="hold a port that refuses connections")
    parser.add_argument("--max-lifetime", type=float, default=300)
    parser.add_argument("--max-records", type=int, default=10000)
    parser.add_argument("--ignore-stdin", action="store_true")
    args = parser.parse_args()
    global STATE
    STATE = State(args.max_records)

    def stop(*_):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Timer(args.max_lifetime, stop).start()
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        stop()

    threading.Thread(target=watch_parent, daemon=True).start()
    if not args.ignore_stdin:

        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            stop()

        threading.Thread(target=watch_stdin, daemon=True).start()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", args.port))
        if not args.refuse:
            listener.listen(512)
    except OSError as err:
        sys.stderr.write(f"fault-upstream: cannot listen on 127.0.0.1:{args.port}: {err}\n")
        sys.exit(1)
    sys.stdout.write(json.dumps({"port": listener.getsockname()[1]}) + "\n")
    sys.stdout.flush()
    if args.refuse:
        # Bound, never listening: the kernel answers every SYN with RST.
        while True:
            time.sleep(3600)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
