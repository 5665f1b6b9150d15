-- wrk script of the benchmark: replays prebuilt HTTP requests and checks every answer.
--
--   wrk -t1 -cN -dD -s bench/wrk.lua URL -- REQUESTS_FILE
--
-- REQUESTS_FILE holds complete HTTP/1.1 requests (bench/wrk.py writes it), each as its length in
-- bytes on a line of its own followed by the bytes: one request for a single caller, one per token
-- when many users call (sent in turn, so every user calls at the same rate). An answer is good when
-- it is HTTP 200 and its JSON body, or the last `data:` line of an SSE stream, is a JSON-RPC result
-- whose isError is false (the rule of answered() in bench/load.py). `done` prints one line,
-- `WRK_RESULT {json}`: counts, socket errors, bad answers by kind, a sample of the first bad answer,
-- and latency percentiles in microseconds from wrk's histogram.

local requests = {}
local next_index = 0

bad_status = 0
bad_body = 0
bad_sample = ""

function init(args)
    local file = assert(io.open(args[1], "rb"), "wrk.lua: cannot open the requests file " .. tostring(args[1]))
    local data = file:read("*a")
    file:close()
    local position = 1
    while position <= #data do
        local newline = assert(data:find("\n", position, true), "wrk.lua: a record has no length line")
        local length = assert(tonumber(data:sub(position, newline - 1)), "wrk.lua: a bad length line")
        requests[#requests + 1] = data:sub(newline + 1, newline + length)
        position = newline + length + 1
    end
    assert(#requests > 0, "wrk.lua: the requests file holds no request")
end

function request()
    next_index = next_index % #requests + 1
    return requests[next_index]
end

-- The JSON-RPC message of an answer: the body itself, or the last `data:` line of an SSE stream.
local function message(body)
    if body:match("^%s*{") then
        return body
    end
    local last = ""
    for line in body:gmatch("[^\r\n]+") do
        if line:sub(1, 5) == "data:" then
            last = line:sub(6)
        end
    end
    return last
end

function good_answer(body)
    local text = message(body or "")
    return text:match("^%s*{") ~= nil
        and text:find('"result"%s*:%s*{') ~= nil
        and text:find('"isError"%s*:%s*false') ~= nil
end

local function remember(status, body)
    if bad_sample == "" then
        bad_sample = "HTTP " .. status .. ": " .. (body or ""):sub(1, 300)
    end
end

function response(status, headers, body)
    if status ~= 200 then
        bad_status = bad_status + 1
        remember(status, body)
    elseif not good_answer(body) then
        bad_body = bad_body + 1
        remember(status, body)
    end
end

local threads = {}

function setup(thread)
    threads[#threads + 1] = thread
end

local function json_string(text)
    return '"' .. text:gsub('[%c"\\\128-\255]', function(c)
        return string.format("\\u%04x", c:byte())
    end) .. '"'
end

function done(summary, latency, requests_done)
    local statuses, bodies, sample = 0, 0, ""
    for _, thread in ipairs(threads) do
        statuses = statuses + thread:get("bad_status")
        bodies = bodies + thread:get("bad_body")
        if sample == "" then
            sample = thread:get("bad_sample")
        end
    end
    local e = summary.errors
    io.write(string.format(
        'WRK_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
            .. '"timeout":%d,"bad_status":%d,"bad_body":%d,"bad_sample":%s,"p50_us":%d,"p90_us":%d,'
            .. '"p95_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
        summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.timeout,
        statuses, bodies, json_string(sample), latency:percentile(50), latency:percentile(90),
        latency:percentile(95), latency:percentile(99), latency.mean, latency.max
    ))
end
