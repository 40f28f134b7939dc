-- wrk script used by scripts/soak-proxy.sh: every connection cycles through a mix of requests,
-- most of which meet a fault somewhere (the fault upstream's hang, stalled body and resets, a
-- refusing upstream, unknown kids, bad tokens), between ordinary ones.
--
-- Environment: HS_TOKEN, IDP_TOKEN, EXPIRED_TOKEN (tokens), FLOOD_FILE (one token per line, each
-- with a random kid; thread k of WRK_THREADS takes lines k, k+T, ...). done() prints the status counts and a RESULT line:
--   STATUS 200=... 401=... 502=... 503=... 504=...
--   RESULT requests=... rps=... p50_us=... p99_us=... connect_err=... read_err=... ...

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local mix, flood = {}, {}
local i, f = 0, 0
counts = {}

function init(args)
  local hs = os.getenv("HS_TOKEN")
  local idp = os.getenv("IDP_TOKEN")
  local expired = os.getenv("EXPIRED_TOKEN")
  assert(hs and idp and expired, "HS_TOKEN, IDP_TOKEN and EXPIRED_TOKEN must be set")
  local function get(path, token)
    local headers = {}
    if token then
      headers["Authorization"] = "Bearer " .. token
    end
    return wrk.format("GET", path, headers)
  end
  local upload = wrk.format("POST", "/f/record/upload", {
    ["Authorization"] = "Bearer " .. hs,
    ["Content-Type"] = "application/octet-stream",
  }, string.rep("u", 65536))
  mix = {
    get("/f/record/ok", hs), get("/f/record/ok", hs), get("/f/record/ok", hs),
    get("/f/record/idp", idp), get("/f/record/idp", idp),
    get("/f/slow?ms=20", hs),
    get("/f/hang", hs),
    get("/f/hang-body", hs),
    get("/f/reset-mid-body", hs),
    get("/f/reset-mid-body?mode=chunked", hs),
    get("/r/refused", hs),
    get("/f/record/expired", expired),
    get("/f/record/garbage", "not.a.token"),
    get("/f/record/none", nil),
    upload,
    "flood", "flood",
  }
  -- setup() ran in the main Lua state: here `threads` is empty, hence WRK_THREADS.
  local me = (thread_id or 1)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "") or 1
  local n = 0
  for line in io.lines(os.getenv("FLOOD_FILE")) do
    n = n + 1
    if n % nthreads == me - 1 then
      table.insert(flood, get("/f/record/flood", line))
    end
  end
  assert(#flood > 0, "no flood tokens")
  -- Connections start at different places in the mix.
  i = me * 7
end

function request()
  i = i % #mix + 1
  if mix[i] == "flood" then
    f = f % #flood + 1
    return flood[f]
  end
  return mix[i]
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local keys = {}
  for status in pairs(total) do
    table.insert(keys, status)
  end
  table.sort(keys)
  local parts = {}
  for _, status in ipairs(keys) do
    table.insert(parts, status .. "=" .. total[status])
  end
  io.write("STATUS " .. table.concat(parts, " ") .. "\n")
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.1f rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
    "connect_err=%d read_err=%d write_err=%d timeout_err=%d non2xx=%d\n",
    summary.requests, secs, summary.requests / secs, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
