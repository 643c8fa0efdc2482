-- wrk script for GET of a portal list page as logged-in patients (bench/portal_lists.py --wrk): every request
-- uses the next line of this thread's slice of SESSIONS_FILE ("<cookie>\t<path>", one account each), so
-- concurrent requests are different accounts. At the end it writes the summary as JSON to RESULT_FILE.

local sessions_file = os.getenv("SESSIONS_FILE") or "bench/out/portal_sessions.tsv"
local result_file = os.getenv("RESULT_FILE")
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  cookies, paths = {}, {}
  for line in io.lines(sessions_file) do
    local cookie, path = line:match("^([^\t]+)\t(.+)$")
    if cookie then
      table.insert(cookies, cookie)
      table.insert(paths, path)
    end
  end
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  per = math.max(1, math.floor(#cookies / nthreads))
  first = (tid * per) % #cookies
end

function request()
  local k = first + (counter % per) + 1
  counter = counter + 1
  return wrk.format("GET", paths[k], { ["Cookie"] = cookies[k], ["Host"] = "127.0.0.1" })
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
