-- wrk script for GET of a list endpoint (bench/api_lists.py, issue 11): every request asks API_PATH with the
-- next bearer token of this thread's slice of TOKENS_FILE (one token a line), so concurrent requests are
-- different patients (a file of one staff token repeated: one staff member from every connection).
-- At the end it writes the summary (requests, bytes, errors, p50/p90/p95/p99 in ms) as JSON to RESULT_FILE;
-- wrk counts an answer outside 2xx/3xx under errors.status.

local tokens_file = os.getenv("TOKENS_FILE") or "bench/out/tokens.txt"
local result_file = os.getenv("RESULT_FILE")
local path = os.getenv("API_PATH") or "/api/v1/declarations?limit=100"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(tokens_file) do
    if #line > 0 then table.insert(tokens, line) end
  end
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  -- this thread's slice of the tokens (every thread gets at least one)
  per = math.max(1, math.floor(#tokens / nthreads))
  first = (tid * per) % #tokens
  headers = { ["Accept"] = "application/json" }
end

function request()
  headers["Authorization"] = "Bearer " .. tokens[((first + counter % per) % #tokens) + 1]
  counter = counter + 1
  return wrk.format("GET", path, headers)
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
