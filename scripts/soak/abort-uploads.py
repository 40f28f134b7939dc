#!/usr/bin/env python3
"""Clients that give up mid-upload, for scripts/soak-proxy.sh (standard library only).

Until --seconds have passed, each of --workers threads repeatedly opens a connection to the
proxy, sends the headers of a POST that promises a body (Content-Length, or chunked), a part of
that body, and then vanishes in one of three ways: close (FIN), reset (RST, SO_LINGER 0), or
half-close (shut down writing and read the proxy's answer). The paths are
/f/record/abort-length, /f/record/abort-chunked and /f/record/abort-half, so the fault
upstream can count, per path, whether any such body ever arrived complete.

Prints one JSON line at the end: {"attempts", "closed", "reset", "half_closed",
"answers": {status: count}, "errors"}.
"""

import argparse
import json
import random
import socket
import struct
import threading
import time


def one(host, port, token, kind, rng, totals, lock):
    chunked = kind == "chunked"
    path = {"length": "/f/record/abort-length", "chunked": "/f/record/abort-chunked"}.get(
        kind, "/f/record/abort-half"
    )
    framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 200000"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/octet-stream\r\n{framing}\r\n\r\n"
    ).encode()
    part = rng.randbytes(rng.randrange(1, 60_000))
    sock = socket.create_connection((host, port), timeout=10)
    try:
        sock.sendall(head)
        if chunked:
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        else:
            sock.sendall(part)
        time.sleep(rng.random() * 0.05)
        how = rng.choice(["close", "reset", "half"]) if kind != "half" else "half"
        if how == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            key = "reset"
        elif how == "half":
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
            with lock:
                totals["answers"][status] = totals["answers"].get(status, 0) + 1
            key = "half_closed"
        else:
            key = "closed"
        with lock:
            totals[key] += 1
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    totals = {"attempts": 0, "closed": 0, "reset": 0, "half_closed": 0, "answers": {}, "errors": 0}

    def worker(seed):
        rng = random.Random(seed)
        kinds = ["length", "chunked", "half"]
        while time.monotonic() < deadline:
            with lock:
                totals["attempts"] += 1
            try:
                one(args.host, args.port, args.token, rng.choice(kinds), rng, totals, lock)
            except OSError:
                with lock:
                    totals["errors"] += 1
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(totals), flush=True)


if __name__ == "__main__":
    main()
