-- Requests for wrk, one per call, read from the file named by the first script argument:
-- a line each, "<METHOD> <path> <bearer token>", sent in order and round-robin. The second
-- argument is the most calls to make (0: no limit; wrk's -d gates the time): once they are
-- answered the script stops its thread and sends wrk SIGINT, which ends the run and its
-- clock as the -d timer would. done() writes the run's figures as one JSON line (latencies in microseconds).
local ffi = require("ffi")
ffi.cdef [[
int kill(int pid, int sig);
int getpid(void);
]]
local SIGINT = 2
local prepared = {}
local next_index = 0
local limit = 0
local answered = 0

function init(args)
  for line in io.lines(args[1]) do
    local method, path, token = line:match("^(%S+) (%S+) (%S+)$")
    prepared[#prepared + 1] = wrk.format(method, path, {["authorization"] = "Bearer " .. token})
  end
  limit = tonumber(args[2]) or 0
end

function request()
  next_index = next_index + 1
  return prepared[(next_index - 1) % #prepared + 1]
end

function response(status, headers, body)
  answered = answered + 1
  if limit > 0 and answered == limit then
    wrk.thread:stop()                    -- this thread sends no more
    ffi.C.kill(ffi.C.getpid(), SIGINT)   -- and wrk's main thread stops waiting
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
