--[[ The runner contract: create, append, status, heartbeat, cancel, progress (docs/runners.md). ]]

--[[
  jobstream_create
  KEYS[1]  job:{J}
  ARGV     <owner> <title> [<field> <value> …]   fields: title errorMessage linesAdded
           linesRemoved mrUrl branch exitCode
  Returns  createdAt (ms, Redis time)
  Effects  HSET job:{J} id owner title status=queued createdAt seq=0 [fields];
           PUBLISH jobs:feed {"type":"job","job":{…}}
  The caller then adds J to jobs:index, jobs:owner:<owner> and jobs:active (other cluster slots).
]]
local function jobstream_create(keys, args)
  local id, err = check_keys(keys, 1)
  if id == nil then return err end
  local owner, title = args[1], args[2]
  if owner == nil or owner == '' or title == nil then
    return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_create 1 job:{J} <owner> <title> [<field> <value> …]')
  end
  title = sanitize_utf8(title)
  if #owner > MAX_FIELD_BYTES or #title > MAX_FIELD_BYTES then
    return fail('FIELD_TOO_LARGE', 'owner and title are at most ' .. MAX_FIELD_BYTES .. ' bytes')
  end
  local fields, field_err = metadata_fields(args, 3)
  if fields == nil then return field_err end
  if redis.call('EXISTS', keys[1]) == 1 then return fail('JOB_EXISTS', 'job ' .. id .. ' exists') end
  local created_at = now_ms()
  redis.call('HSET', keys[1], 'id', id, 'owner', owner, 'title', title,
    'status', 'queued', 'createdAt', int_string(created_at), 'seq', '0')
  if #fields > 0 then
    for i = 2, #fields, 2 do fields[i] = sanitize_utf8(fields[i]) end
    redis.call('HSET', keys[1], unpack(fields))
  end
  local job = job_json(keys[1])
  redis.call('PUBLISH', JOBS_FEED, '{"type":"job","job":' .. job .. '}')
  return created_at
end

--[[
  jobstream_append
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <stream> <line> [<stream> <line> …]   stream: stdout | stderr
  Returns  the last seq given out
  Effects  HINCRBY job:{J} seq; RPUSH job:{J}:output {"seq":…,"ts":…,"stream":…,"line":…} …;
           LTRIM to MAX_LINES (with an archive: see trim_output); PUBLISH (or SPUBLISH) job:{J}:events
           {"type":"output","jobId":"J","lines":[…the same entries…]}
  Lines are made valid UTF-8 and cut to 16 KiB (marked) rather than rejected.
]]
-- Checks `<stream> <line> …` from args[first]: nil, or the error to return.
local function check_line_args(args, first, usage)
  if #args < first or (#args - first + 1) % 2 ~= 0 then return fail('BAD_ARGUMENTS', usage) end
  for i = first, #args, 2 do
    if args[i] ~= 'stdout' and args[i] ~= 'stderr' then
      return fail('BAD_STREAM', 'stream must be stdout or stderr, not ' .. args[i])
    end
  end
  return nil
end

-- Numbers, stores, trims and publishes the `<stream> <line>` pairs of args from index `first`
-- (the job exists and is not finished). Returns the last seq given out.
local function append_pairs(keys, id, args, first)
  local count = (#args - first + 1) / 2
  local last_seq = redis.call('HINCRBY', keys[1], 'seq', count)
  local seq = last_seq - count
  local ts = int_string(now_ms())
  local entries = {}
  for i = first, #args, 2 do
    seq = seq + 1
    local line = limit_line(sanitize_utf8(args[i + 1]))
    note_annotation(keys[1], seq, line)
    entries[#entries + 1] = '{"seq":' .. int_string(seq) .. ',"ts":' .. ts .. ',"stream":"' .. args[i]
      .. '","line":' .. cjson.encode(line) .. '}'
  end
  for chunk = 1, #entries, PUSH_CHUNK do
    redis.call('RPUSH', keys[2], unpack(entries, chunk, math.min(chunk + PUSH_CHUNK - 1, #entries)))
  end
  trim_output(keys, last_seq)
  redis.call(EVENTS_PUBLISH, keys[1] .. ':events',
    '{"type":"output","jobId":"' .. id .. '","lines":[' .. table.concat(entries, ',') .. ']}')
  return last_seq
end

local function jobstream_append(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local bad = check_line_args(args, 1, 'usage: FCALL jobstream_append 2 job:{J} job:{J}:output <stream> <line> [<stream> <line> …]')
  if bad then return bad end
  local status = redis.call('HGET', keys[1], 'status')
  if not status then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if TERMINAL[status] then return fail('JOB_FINISHED', 'job ' .. id .. ' is ' .. status .. '; no line follows the end') end
  return append_pairs(keys, id, args, 1)
end

--[[
  jobstream_append_after (the HTTP ingest's idempotent append: docs/runners.md "Over HTTP")
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <after> <stream> <line> [<stream> <line> …]   after: the last seq the writer knows stored
  Returns  the job's seq afterwards
  Effects  with S the job's seq: after == S appends every line; after < S skips the first S - after
           lines (a retried batch that landed) and appends the rest (none when S >= after + n);
           appends as jobstream_append does (numbering, trim, publish) and stamps heartbeatAt.
  Errors   SEQ_MISMATCH <S> when after > S (nothing appended: resend from S); NOT_FOUND,
           JOB_FINISHED, BAD_STREAM, BAD_ARGUMENTS
]]
local function jobstream_append_after(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local usage = 'usage: FCALL jobstream_append_after 2 job:{J} job:{J}:output <after> <stream> <line> [<stream> <line> …]'
  local after = tonumber(args[1] or '')
  if after == nil or after < 0 or after ~= math.floor(after) then return fail('BAD_ARGUMENTS', usage) end
  local bad = check_line_args(args, 2, usage)
  if bad then return bad end
  local fields = redis.call('HMGET', keys[1], 'status', 'seq')
  local status = fields[1]
  if not status then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if TERMINAL[status] then return fail('JOB_FINISHED', 'job ' .. id .. ' is ' .. status .. '; no line follows the end') end
  local seq = tonumber(fields[2]) or 0
  if after > seq then
    return fail('SEQ_MISMATCH', int_string(seq) .. ' is the last seq stored for job ' .. id .. ', not ' .. int_string(after))
  end
  redis.call('HSET', keys[1], 'heartbeatAt', int_string(now_ms()))
  local first = 2 + 2 * (seq - after) -- the first pair not yet stored
  if first > #args then return seq end
  return append_pairs(keys, id, args, first)
end

--[[
  jobstream_status
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <status> [<field> <value> …]
  Returns  the job's last seq
  Effects  sets status and fields; startedAt on the first `running`, finishedAt on the terminal
           status; a terminal status sets both keys to expire after RETENTION_S;
           PUBLISH (or SPUBLISH) job:{J}:events {"type":"status","jobId":"J","job":{…}} and
           PUBLISH jobs:feed {"type":"job","job":{…}}
  Legal: queued→running, queued|running→success|failed|cancelled, any status to itself.
]]
local function jobstream_status(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local status = args[1]
  if status == nil then return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_status 2 job:{J} job:{J}:output <status> [<field> <value> …]') end
  if not STATUSES[status] then return fail('BAD_STATUS', 'unknown status ' .. status) end
  local fields, field_err = metadata_fields(args, 2)
  if fields == nil then return field_err end
  local current = redis.call('HGET', keys[1], 'status')
  if not current then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  local legal = current == status
    or (current == 'queued' and not TERMINAL[status])
    or ((current == 'queued' or current == 'running') and TERMINAL[status] ~= nil)
  if not legal then return fail('BAD_TRANSITION', 'job ' .. id .. ' cannot go from ' .. current .. ' to ' .. status) end
  local too_large = hash_size_error(keys[1], fields)
  if too_large then return too_large end

  return set_status(keys, id, status, fields)
end

--[[
  jobstream_heartbeat
  KEYS[1]  job:{J}
  ARGV     none
  Returns  cancelRequestedAt (ms), or 0 when no cancel was asked for
  Effects  HSET job:{J} heartbeatAt <Redis time>: the runner's sign of life, never its own clock.
  A runner calls it at least every 10 s while its job is queued or running; a job whose last sign
  of life is older than JOBSTREAM_RUNNER_TIMEOUT_S is finished by the gateway's reaper.
  Errors   NOT_FOUND (no such job), JOB_FINISHED (the job has ended: stop the runner's work)
]]
local function jobstream_heartbeat(keys, args)
  local id, err = check_keys(keys, 1)
  if id == nil then return err end
  if #args ~= 0 then return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_heartbeat 1 job:{J}') end
  local fields = redis.call('HMGET', keys[1], 'status', 'cancelRequestedAt')
  local status = fields[1]
  if not status then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if TERMINAL[status] then return fail('JOB_FINISHED', 'job ' .. id .. ' is ' .. status) end
  redis.call('HSET', keys[1], 'heartbeatAt', int_string(now_ms()))
  return tonumber(fields[2]) or 0
end

--[[
  jobstream_cancel
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <requestedBy>
  Returns  cancelRequestedAt (ms): the first request's time when asked again
  Effects  the first time: HSET cancelRequestedAt <Redis time> cancelRequestedBy; announces the
           change like jobstream_status (status frame on job:{J}:events, job frame on jobs:feed)
           and publishes {"type":"cancel","jobId":"J","requestedBy":…,"requestedAt":…} on
           job:{J}:control. The status stays what it was: the runner (or, after
           JOBSTREAM_CANCEL_GRACE_S, the reaper) finishes the job.
  Errors   NOT_FOUND, JOB_FINISHED (the job has already ended)
]]
local function jobstream_cancel(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local by = args[1]
  if #args ~= 1 or by == '' then
    return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_cancel 2 job:{J} job:{J}:output <requestedBy>')
  end
  local fields = redis.call('HMGET', keys[1], 'status', 'cancelRequestedAt')
  local status = fields[1]
  if not status then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if TERMINAL[status] then return fail('JOB_FINISHED', 'job ' .. id .. ' is ' .. status .. '; nothing to cancel') end
  local asked = tonumber(fields[2])
  if asked ~= nil then return asked end
  local now = now_ms()
  redis.call('HSET', keys[1], 'cancelRequestedAt', int_string(now), 'cancelRequestedBy', sanitize_utf8(by))
  announce_change(keys[1], id)
  redis.call(EVENTS_PUBLISH, keys[1] .. ':control', '{"type":"cancel","jobId":"' .. id .. '","requestedBy":'
    .. cjson.encode(sanitize_utf8(by)) .. ',"requestedAt":' .. int_string(now) .. '}')
  return now
end

--[[
  jobstream_progress
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <stream> <text>
  Returns  the job's seq (the frame's afterSeq)
  Effects  PUBLISH (or SPUBLISH) job:{J}:events
           {"type":"progress","jobId":"J","afterSeq":S,"stream":"stdout","line":"…"}: the current
           text of a line still being written (a `\r` progress bar, a prompt without a newline),
           made valid UTF-8 and cut to 16 KiB like a line. Stores nothing; the line is appended as
           usual when it ends. A runner sends it at most every 250 ms, and only once every earlier
           line is stored (so afterSeq is the seq of the line before it).
  Errors   NOT_FOUND, JOB_FINISHED (nothing is written after the end), BAD_STREAM
]]
local function jobstream_progress(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  if #args ~= 2 then
    return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_progress 2 job:{J} job:{J}:output <stream> <text>')
  end
  if args[1] ~= 'stdout' and args[1] ~= 'stderr' then
    return fail('BAD_STREAM', 'stream must be stdout or stderr, not ' .. args[1])
  end
  local fields = redis.call('HMGET', keys[1], 'status', 'seq')
  local status = fields[1]
  if not status then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if TERMINAL[status] then return fail('JOB_FINISHED', 'job ' .. id .. ' is ' .. status) end
  local seq = tonumber(fields[2]) or 0
  redis.call(EVENTS_PUBLISH, keys[1] .. ':events', '{"type":"progress","jobId":"' .. id .. '","afterSeq":'
    .. int_string(seq) .. ',"stream":"' .. args[1] .. '","line":' .. cjson.encode(limit_line(sanitize_utf8(args[2]))) .. '}')
  return seq
end

redis.register_function('jobstream_create', jobstream_create)
redis.register_function('jobstream_append', jobstream_append)
redis.register_function('jobstream_append_after', jobstream_append_after)
redis.register_function('jobstream_status', jobstream_status)
redis.register_function('jobstream_heartbeat', jobstream_heartbeat)
redis.register_function('jobstream_cancel', jobstream_cancel)
redis.register_function('jobstream_progress', jobstream_progress)
