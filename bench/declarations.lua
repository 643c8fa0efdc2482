-- wrk script for POST /api/v1/declarations: every request uses the next patient token of this thread's
-- slice (so concurrent requests are different patients), a plausible answer set and a fresh
-- Idempotency-Key. Tokens come from TOKENS_FILE (bench/out/tokens.txt, written by bench/generate.py).
-- At the end it writes the summary (requests, errors, p50/p90/p95/p99 in ms) as JSON to RESULT_FILE.

local tokens_file = os.getenv("TOKENS_FILE") or "bench/out/tokens.txt"
local result_file = os.getenv("RESULT_FILE")
local path = os.getenv("API_PATH") or "/api/v1/declarations"
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(tokens_file) do
    if #line > 0 then table.insert(tokens, line) end
  end
  nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  math.randomseed(os.time() + tid * 7919)
  -- this thread's slice of the tokens
  per = math.floor(#tokens / nthreads)
  first = tid * per
end

local symptoms = { '[]', '[]', '[]', '["cough"]', '["fatigue", "headache"]', '["sore_throat"]' }

function request()
  local token = tokens[first + (counter % per) + 1]
  counter = counter + 1
  local temp = string.format("%.1f", 36.3 + math.random() * 1.2)
  if math.random() < 0.04 then temp = string.format("%.1f", 38.0 + math.random()) end
  local spo2 = 97 + math.random(0, 2)
  if math.random() < 0.03 then spo2 = 95 + math.random(0, 1) end
  local body = string.format(
    '{"answers": {"temperature": "%s", "spo2": %d, "breathing_rate": %d, "pulse": %d, "symptoms": %s}}',
    temp, spo2, math.random(15, 19), math.random(62, 98), symptoms[math.random(1, #symptoms)])
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%d-%d-%d-%d", os.time(), tid, counter, math.random(1, 1000000000)),
  }
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = string.format(
    '{"requests": %d, "duration_s": %.3f, "rps": %.1f, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_ms": {"p50": %.2f, "p90": %.2f, "p95": %.2f, "p99": %.2f, "max": %.2f, "mean": %.2f}}',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000)
  print(out)
  if result_file then
    local f = io.open(result_file, "w")
    f:write(out .. "\n")
    f:close()
  end
end
