#!/usr/bin/env python3
"""Per-request cost of each function: the difference between two callgrind profiles of the same
binary (one that served only its readiness check, one that also served N requests), divided by
N, so start-up cost cancels out. Written for scripts/proxy-instructions.sh's profiles:

    python3 scripts/bench/callgrind-diff.py target/proxy-instructions/proxy-0.callgrind \\
        target/proxy-instructions/proxy-2000.callgrind 2000 [--inclusive] [--top 40] [--grep RE]

Prints the functions with the largest per-request instruction counts (self cost by default,
inclusive with --inclusive), as callgrind_annotate attributes them. With --against BASE LOADED
(the bare forwarder's two profiles), also that binary's per-request count of the same function
and the difference, sorted by the difference: where the proxy spends beyond the bare stack.
"""
import argparse
import re
import subprocess
import sys


def costs(path, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100",
         path],
        check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?(.+?)\s*$", line)
        if not m or ":" not in m.group(2):
            continue
        name = m.group(2).split(":", 1)[1]
        name = re.sub(r" \[[^\]]*\]$", "", name)
        found[name] = found.get(name, 0) + int(m.group(1).replace(",", ""))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("loaded")
    parser.add_argument("requests", type=int)
    parser.add_argument("--inclusive", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--grep", default=None)
    parser.add_argument("--against", nargs=2, metavar=("BASE", "LOADED"))
    args = parser.parse_args()

    def per_request(base_path, loaded_path):
        base = costs(base_path, args.inclusive)
        loaded = costs(loaded_path, args.inclusive)
        return {name: (value - base.get(name, 0)) / args.requests for name, value in loaded.items()}

    mine = per_request(args.base, args.loaded)
    other = per_request(*args.against) if args.against else {}
    rows = []
    for name in set(mine) | set(other):
        if args.grep and not re.search(args.grep, name):
            continue
        a, b = mine.get(name, 0.0), other.get(name, 0.0)
        rows.append((a - b if args.against else a, a, b, name))
    rows.sort(reverse=True)
    kind = "inclusive" if args.inclusive else "self"
    if args.against:
        print(f"{kind} per request: difference, this binary, the other  function")
        for diff, a, b, name in rows[: args.top]:
            print(f"{diff:9.0f} {a:9.0f} {b:9.0f}  {name[:150]}")
    else:
        print(f"{kind} instructions per request  function")
        for _, a, _, name in rows[: args.top]:
            print(f"{a:12.0f}  {name[:160]}")


if __name__ == "__main__":
    sys.exit(main())
