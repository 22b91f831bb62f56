-- wrk script of bench/api (bench/api.c): launch and stop pods through gpufleet's HTTP API.
--   wrk -t N -c N ... -s bench/api_launch.lua URL -- TOKEN_FILE SKU
-- Run with as many threads as connections: each thread's one connection then alternates
-- POST /v1/pods (launch, 201) and POST /v1/pods/{id}/stop of the pod it got (202), and
-- the script knows which request each response answers, so it times launches and stops
-- apart (LuaJIT's ffi reads the monotonic clock). Only 2xx count as done; the others are
-- counted by status. Prints GPF_KIND lines (count and p50/p90/p99/max per kind),
-- GPF_STATUS lines (non-2xx) and a GPF_RESULT line (wrk's own totals).

local ffi = require("ffi")
ffi.cdef [[
  struct gpf_bench_ts { long sec; long nsec; };
  int clock_gettime(int clock, struct gpf_bench_ts *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("struct gpf_bench_ts")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.sec) * 1000000 + tonumber(ts.nsec) / 1000
end

local threads = {}

-- Runs in wrk's main state, once per thread: keeps the thread to read its figures in done().
function setup(thread)
  table.insert(threads, thread)
end

-- Per thread (globals, so that done() can read them with thread:get).
lat_launch, lat_stop, failed, first_error = {}, {}, {}, ""
local pending, kind, t0, backoff = {}, nil, 0, false
local auth, launch_body = {}, ""

function init(args)
  local f = assert(io.open(args[1], "r"), "token file")
  local token = f:read("*l")
  f:close()
  auth = { ["Authorization"] = "Bearer " .. token }
  launch_body = string.format('{"sku":"%s"}', args[2] or "bench-api")
end

-- After a refused request (409 no capacity: the agents are behind with their reports) the
-- connection waits 10 ms before its next one rather than flooding the control plane.
function delay()
  if backoff then
    backoff = false
    return 10
  end
  return 0
end

function request()
  local id = table.remove(pending)
  t0 = now_us()
  if id then
    kind = "stop"
    return wrk.format("POST", "/v1/pods/" .. id .. "/stop", auth, "")
  end
  kind = "launch"
  local h = { ["Authorization"] = auth["Authorization"], ["Content-Type"] = "application/json" }
  return wrk.format("POST", "/v1/pods", h, launch_body)
end

function response(status, headers, body)
  local us = now_us() - t0
  if kind == "launch" and status == 201 then
    local id = body:match('"id"%s*:%s*"([^"]+)"')
    if id then pending[#pending + 1] = id end
    lat_launch[#lat_launch + 1] = us
  elseif kind == "stop" and status == 202 then
    lat_stop[#lat_stop + 1] = us
  else
    backoff = true
    local key = (kind or "?") .. " " .. status
    failed[key] = (failed[key] or 0) + 1
    if first_error == "" then first_error = key .. ": " .. string.sub(body or "", 1, 200) end
  end
end

local function report(name, all)
  table.sort(all)
  local n = #all
  local function pct(p)
    if n == 0 then return 0 end
    return all[math.floor(p / 100 * (n - 1) + 0.5) + 1]
  end
  io.write(string.format("GPF_KIND kind=%s n=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n", name, n,
    pct(50), pct(90), pct(99), n > 0 and all[n] or 0))
end

function done(summary, latency, requests)
  local launches, stops, fails, err = {}, {}, {}, ""
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("lat_launch") or {}) do launches[#launches + 1] = v end
    for _, v in ipairs(t:get("lat_stop") or {}) do stops[#stops + 1] = v end
    for k, v in pairs(t:get("failed") or {}) do fails[k] = (fails[k] or 0) + v end
    local fe = t:get("first_error")
    if err == "" and fe and #fe > 0 then err = fe end
  end
  report("launch", launches)
  report("stop", stops)
  for k, v in pairs(fails) do
    io.write(string.format("GPF_STATUS what=%s n=%d\n", string.gsub(k, " ", "/"), v))
  end
  if err ~= "" then io.write("GPF_FIRST_ERROR " .. string.gsub(err, "\n", " ") .. "\n") end
  local e = summary.errors
  io.write(string.format(
    "GPF_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
