-- wrk script used by scripts/bench-proxy.sh.
--
-- Environment (all optional):
--   TOKENS_FILE  one JWT per line: every request carries the next token of the file
--                (`Authorization: Bearer <token>`); thread k of WRK_THREADS uses the tokens
--                k, k+T, k+2T, ... so no two threads send the same token.
--   WRK_THREADS  the -t value (needed only with TOKENS_FILE), default 2
--   DELAY_MS     pause of each connection between a response and its next request (a paced,
--                non-saturating load: latency then shows the service time, not the queue)
--   DELAY_JITTER with DELAY_MS: each pause is drawn uniformly from DELAY_MS * (1 +- JITTER), so
--                the connections drift apart instead of staying in lockstep (with a fixed pause
--                all of them, started together, keep sending in bursts of one request each)
--
-- Without TOKENS_FILE no request() is defined, so wrk keeps its pre-built static request and
-- the script costs nothing per request. done() prints one machine-readable line:
--   RESULT requests=... rps=... p50_us=... p90_us=... p99_us=... p999_us=... max_us=... ...

local tokens_file = os.getenv("TOKENS_FILE")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
local delay_jitter = tonumber(os.getenv("DELAY_JITTER") or "") or 0
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

if tokens_file and tokens_file ~= "" then
  local reqs, n, i = {}, 0, 0

  function init(args)
    local me = (thread_id or 1) - 1
    local threads = tonumber(os.getenv("WRK_THREADS") or "") or 2
    local line_no = 0
    for line in io.lines(tokens_file) do
      if #line > 0 then
        if line_no % threads == me then
          n = n + 1
          reqs[n] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. line })
        end
        line_no = line_no + 1
      end
    end
    if n == 0 then
      error("no tokens for thread " .. (me + 1) .. " in " .. tokens_file)
    end
  end

  function request()
    i = i % n + 1
    return reqs[i]
  end
end

if delay_ms and delay_ms > 0 then
  if delay_jitter > 0 then
    local seeded = false
    function delay()
      if not seeded then -- here, not at load: setup() has given the thread its id by now
        math.randomseed(os.time() * 1000 + (thread_id or 0))
        seeded = true
      end
      return math.floor(delay_ms * (1 - delay_jitter + 2 * delay_jitter * math.random()) + 0.5)
    end
  else
    function delay()
      return delay_ms
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d " ..
    "connect_err=%d read_err=%d write_err=%d timeout_err=%d non2xx=%d\n",
    summary.requests, secs, summary.requests / secs, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
