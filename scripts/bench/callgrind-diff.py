#!/usr/bin/env python3
"""Per-request cost of each function: the difference between two callgrind profiles of the same
binary (one that served only its readiness check, one that also served N requests), divided by
N, so start-up cost cancels out. Written for scripts/proxy-instructions.sh's profiles:

    python3 scripts/bench/callgrind-diff.py target/proxy-instructions/proxy-0.callgrind \\
        target/proxy-instructions/proxy-2000.callgrind 2000 [--inclusive] [--top 40] [--grep RE]

Prints the functions with the largest per-request instruction counts (self cost by default,
inclusive with --inclusive), as callgrind_annotate attributes them.
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
    args = parser.parse_args()
    base = costs(args.base, args.inclusive)
    loaded = costs(args.loaded, args.inclusive)
    rows = []
    for name, value in loaded.items():
        per = (value - base.get(name, 0)) / args.requests
        if args.grep and not re.search(args.grep, name):
            continue
        rows.append((per, name))
    rows.sort(reverse=True)
    kind = "inclusive" if args.inclusive else "self"
    print(f"{kind} instructions per request  function")
    for per, name in rows[: args.top]:
        print(f"{per:12.0f}  {name[:160]}")


if __name__ == "__main__":
    sys.exit(main())
