-- wrk script for hoist's benchmarks: counts every response by status code and,
-- when wrk stops, prints one machine-readable "BENCH" line per run, so
-- bench/run.sh does not have to scrape wrk's human summary.
--
-- A request counts as failed when it got a status outside 2xx/3xx (the same
-- thing wrk reports as "Non-2xx or 3xx responses") or never got a response:
-- wrk's socket errors (connect, read, write, timeout).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  -- One table per wrk thread (each thread has its own Lua state); done()
  -- collects them with thread:get.
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes, bad = {}, 0
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      codes[code] = (codes[code] or 0) + n
      if code < 200 or code > 399 then
        bad = bad + n
      end
    end
  end
  local list = {}
  for code, n in pairs(codes) do
    table.insert(list, code .. ":" .. n)
  end
  table.sort(list)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_s=%.2f connect=%d read=%d write=%d timeout=%d bad_status=%d max_ms=%.1f p99_ms=%.1f mean_ms=%.1f codes=%s\n",
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.timeout, bad,
    latency.max / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    table.concat(list, ",")))
end
