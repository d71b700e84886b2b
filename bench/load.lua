-- load.lua is the wrk script of bench/load.go. Arguments (after wrk's --):
--   token   bearer token sent with every request
--   mode    "paths": GET each line of list; "bodies": POST each file named in
--           list to the URL's path, with "@R@" in the body replaced by a tag
--           unique to this run, thread and pass, so that every request
--           carries uids never seen before
--   list    file with one path or body file name a line
--   threads wrk's -t, to start each thread at its own place in the list
--   run     tag of this run, part of the "@R@" replacement
-- done() prints one line "WRK_JSON {...}" with the latency percentiles,
-- socket errors and the count of each status (and, for bodies, the sum of
-- the inserted and updated counts of the 200 responses).

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("thread_index", #threads)
end

local items, next_item, pass = {}, 1, 1
local headers, posting, run_tag

statuses, inserted, updated = {}, 0, 0

function init(args)
	headers = { ["Authorization"] = "Bearer " .. args[1] }
	posting = args[2] == "bodies"
	run_tag = args[5]
	if posting then
		headers["Content-Type"] = "application/json"
	end
	for line in io.lines(args[3]) do
		if posting then
			local f = assert(io.open(line, "rb"))
			table.insert(items, f:read("*a"))
			f:close()
		else
			table.insert(items, wrk.format("GET", line, headers))
		end
	end
	next_item = 1 + math.floor((thread_index - 1) * #items / tonumber(args[4]))
end

function request()
	local item = items[next_item]
	next_item = next_item + 1
	if next_item > #items then
		next_item, pass = 1, pass + 1
	end
	if posting then
		local tag = run_tag .. "t" .. thread_index .. "p" .. pass
		return wrk.format("POST", wrk.path, headers, (item:gsub("@R@", tag)))
	end
	return item
end

function response(status, _, body)
	statuses[status] = (statuses[status] or 0) + 1
	if posting and status == 200 then
		inserted = inserted + tonumber(body:match('"inserted":(%d+)') or 0)
		updated = updated + tonumber(body:match('"updated":(%d+)') or 0)
	end
end

function done(summary, latency, _)
	local codes, ins, upd = {}, 0, 0
	for _, t in ipairs(threads) do
		for code, n in pairs(t:get("statuses")) do
			codes[code] = (codes[code] or 0) + n
		end
		ins = ins + t:get("inserted")
		upd = upd + t:get("updated")
	end
	local parts = {}
	for code, n in pairs(codes) do
		table.insert(parts, string.format('"%d":%d', code, n))
	end
	local e = summary.errors
	io.write(string.format('WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
		'"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
		'"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
		'"statuses":{%s},"inserted":%d,"updated":%d}\n',
		summary.duration, summary.requests, summary.bytes,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
		e.connect, e.read, e.write, e.timeout,
		table.concat(parts, ","), ins, upd))
end
