#!/usr/bin/env python3
"""Start-to-ready time of a server: spawn it, poll GET /ready as fast as a socket allows, stop it.

Usage: ready.py --runs N -- COMMAND ARGS...

The literal `{port}` in COMMAND is replaced by a free loopback port, a new one for each run, so a
run never waits for the previous run's socket. The clock starts just before the spawn
(fork + exec included) and stops when a complete `HTTP/1.x 200` status line arrives. Prints one
line per run and a final `READY median_ms=... min_ms=... max_ms=... runs=...` line.
"""

import argparse
import signal
import socket
import statistics
import subprocess
import sys
import time

REQUEST = b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def ready_once(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(REQUEST)
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_run(command: list[str], port: int, limit_s: float) -> float:
    argv = [a.replace("{port}", str(port)) for a in command]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if ready_once(port):
                return (time.perf_counter() - start) * 1000.0
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise SystemExit(f"ready.py: the server exited with {proc.returncode}: {err.strip()}")
            if time.perf_counter() - start > limit_s:
                raise SystemExit(f"ready.py: not ready after {limit_s} s")
            time.sleep(0.0002)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--limit", type=float, default=15.0, help="seconds per run")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    # Stopped by the calling script: leave through `finally`, which stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    times = []
    for i in range(args.runs):
        ms = one_run(command, free_port(), args.limit)
        times.append(ms)
        print(f"run {i + 1}: {ms:.1f} ms", flush=True)
    print(
        f"READY median_ms={statistics.median(times):.1f} min_ms={min(times):.1f} "
        f"max_ms={max(times):.1f} runs={len(times)}"
    )


if __name__ == "__main__":
    sys.exit(main())
