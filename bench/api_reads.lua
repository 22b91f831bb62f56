-- wrk script of bench/api (bench/api.c): the read mix against gpufleet's HTTP API.
--   wrk ... -s bench/api_reads.lua URL -- TOKEN_FILE HISTORY CURSOR_FILE [ENDPOINT]
-- TOKEN_FILE holds the bearer token (a file, not the command line); HISTORY is how many
-- historical pods the store holds (ids seed-00000000 ..); CURSOR_FILE has one page cursor
-- of GET /v1/pods?all=1 a line (URL-encoded); ENDPOINT (live, history, pod, hosts,
-- healthz) sends only that request instead of the mix. Prints one GPF_RESULT line.

-- The mix, in percent: what a portal and a CLI user do most.
local MIX = { { "live", 30 }, { "history", 10 }, { "pod", 40 }, { "hosts", 10 }, { "healthz", 10 } }

local nthreads = 0

-- Runs in wrk's main state, once per thread: gives each its number (a global there).
function setup(thread)
  nthreads = nthreads + 1
  thread:set("thread_no", nthreads)
end

local headers, history, cursors, only = {}, 0, {}, nil

function init(args)
  local f = assert(io.open(args[1], "r"), "token file")
  local token = f:read("*l")
  f:close()
  headers = { ["Authorization"] = "Bearer " .. token }
  history = tonumber(args[2]) or 0
  local cf = io.open(args[3] or "", "r")
  if cf then
    for line in cf:lines() do
      if #line > 0 then cursors[#cursors + 1] = line end
    end
    cf:close()
  end
  if args[4] and #args[4] > 0 then only = args[4] end
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end

local function pick()
  local r = math.random(100)
  for _, m in ipairs(MIX) do
    if r <= m[2] then return m[1] end
    r = r - m[2]
  end
  return "healthz"
end

local function path_of(kind)
  if kind == "pod" and history > 0 then
    return string.format("/v1/pods/seed-%08d", math.random(0, history - 1))
  elseif kind == "history" then
    local c = math.random(0, #cursors)
    if c > 0 then return "/v1/pods?all=1&limit=100&cursor=" .. cursors[c] end
    return "/v1/pods?all=1&limit=100"
  elseif kind == "hosts" then
    return "/v1/hosts"
  elseif kind == "healthz" then
    return "/healthz"
  end
  return "/v1/pods" -- live (and "pod" when there is no history)
end

function request()
  return wrk.format("GET", path_of(only or pick()), headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "GPF_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
