#!lua name=jobstream
--[[
  The jobstream function library: numbering, storing and announcing job output in one atomic
  server-side call, so that the line numbers, the list and the published frames never disagree.

  The loader (shared/redis/library.ts) fills in the constants below from the deployment's
  configuration before `FUNCTION LOAD` (the placeholders are the names wrapped in __):
    LIBRARY_VERSION  code version; a library reporting an older one is replaced
    MAX_LINES        JOBSTREAM_MAX_LINES: lines kept per job (the list is trimmed to it)
    RETENTION_S      JOBSTREAM_RETENTION_S: life of a finished job's keys
    EVENTS_PUBLISH   'publish' on a standalone Redis, 'spublish' in a Redis Cluster
    MAX_LINE_BYTES   the 16 KiB line limit (shared/line-limit.ts)
    JOBS_FEED        the feed channel's name (shared/keys.ts)
  The tables of statuses and fields below are checked equal to shared/job.ts by
  shared/test/library-contract.test.ts.

  Every frame is published in its final wire form (DESIGN.md, protocol jobstream.v1) so that a
  gateway forwards the bytes without decoding them again.

  Errors are replies whose first word is a stable code:
    BAD_ARGUMENTS    wrong number or shape of keys or arguments
    BAD_JOB_ID       the key is not job:{J} / job:{J}:output with J matching [A-Za-z0-9._-]{1,128}
    NOT_FOUND        the job does not exist
    JOB_EXISTS       jobstream_create on an existing job
    JOB_FINISHED     jobstream_append on a job in a terminal status
    BAD_STREAM       a stream other than stdout or stderr
    BAD_STATUS       a status other than queued, running, success, failed, cancelled
    BAD_TRANSITION   a status change the design does not allow
    PROTECTED_FIELD  a field that only the library writes (id, owner, seq, status, createdAt, …)
    BAD_FIELD        an unknown field, or a numeric field whose value is not an integer
]]

local LIBRARY_VERSION = '__LIBRARY_VERSION__'
local MAX_LINES = __MAX_LINES__
local RETENTION_S = __RETENTION_S__
local EVENTS_PUBLISH = '__EVENTS_PUBLISH__'

local MAX_LINE_BYTES = __MAX_LINE_BYTES__
local JOBS_FEED = '__JOBS_FEED__'
local REPLACEMENT_CHAR = '\239\191\189' -- U+FFFD in UTF-8
local PUSH_CHUNK = 1000 -- RPUSH arguments per call: unpack() is bounded by the Lua stack

local TERMINAL = { success = true, failed = true, cancelled = true }
local STATUSES = { queued = true, running = true, success = true, failed = true, cancelled = true }
local PROTECTED = {
  id = true, owner = true, seq = true, status = true,
  createdAt = true, startedAt = true, finishedAt = true,
  heartbeatAt = true, cancelRequestedAt = true, cancelRequestedBy = true,
}
local TEXT_FIELDS = { title = true, errorMessage = true, mrUrl = true, branch = true }
local INTEGER_FIELDS = { linesAdded = true, linesRemoved = true, exitCode = true }

-- The job object's fields in the order they are written to JSON.
local JOB_FIELDS = {
  { 'id', 'text' }, { 'owner', 'text' }, { 'title', 'text' }, { 'status', 'text' },
  { 'createdAt', 'number' }, { 'startedAt', 'number' }, { 'finishedAt', 'number' },
  { 'errorMessage', 'text' }, { 'linesAdded', 'number' }, { 'linesRemoved', 'number' },
  { 'mrUrl', 'text' }, { 'branch', 'text' }, { 'exitCode', 'number' },
  { 'heartbeatAt', 'number' }, { 'cancelRequestedAt', 'number' }, { 'cancelRequestedBy', 'text' },
  { 'seq', 'number', 'lastSeq' },
}

local function fail(code, message)
  return redis.error_reply(code .. ' ' .. message)
end

-- job:{J} → J, or nil when the key is not a job key with a valid id.
local function job_id_of(job_key)
  local id = string.match(job_key, '^job:{([A-Za-z0-9._%-]+)}$')
  if id == nil or #id > 128 then return nil end
  return id
end

local function check_keys(keys, count)
  if #keys ~= count then return nil, fail('BAD_ARGUMENTS', 'expected ' .. count .. ' keys') end
  local id = job_id_of(keys[1])
  if id == nil then return nil, fail('BAD_JOB_ID', 'job keys are job:{J} with J matching [A-Za-z0-9._-]{1,128}') end
  if count == 2 and keys[2] ~= keys[1] .. ':output' then
    return nil, fail('BAD_JOB_ID', 'the second key must be ' .. keys[1] .. ':output')
  end
  return id, nil
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int_string(n)
  return string.format('%.0f', n)
end

-- Replaces every invalid UTF-8 sequence by U+FFFD, one per maximal invalid subpart (the rule of
-- the WHATWG decoder, so that the stored text is what a browser's TextDecoder would show).
-- cjson passes invalid bytes through untouched, and a browser drops a socket that receives them.
local function sanitize_utf8(s)
  if not string.find(s, '[\128-\255]') then return s end
  local out = {}
  local n = #s
  local i = 1
  local run_start = 1
  while i <= n do
    local c = string.byte(s, i)
    if c < 0x80 then
      i = i + 1
    else
      local len = 0
      if c >= 0xC2 and c <= 0xDF then len = 2
      elseif c >= 0xE0 and c <= 0xEF then len = 3
      elseif c >= 0xF0 and c <= 0xF4 then len = 4 end
      local valid_bytes = 0 -- bytes of the sequence seen valid so far
      if len > 0 then
        local lo, hi = 0x80, 0xBF
        if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F
        elseif c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
        valid_bytes = 1
        for k = 1, len - 1 do
          local b = string.byte(s, i + k)
          if b == nil or b < lo or b > hi then break end
          valid_bytes = valid_bytes + 1
          lo, hi = 0x80, 0xBF
        end
      end
      if len > 0 and valid_bytes == len then
        i = i + len
      else
        out[#out + 1] = string.sub(s, run_start, i - 1)
        out[#out + 1] = REPLACEMENT_CHAR
        i = i + math.max(valid_bytes, 1)
        run_start = i
      end
    end
  end
  out[#out + 1] = string.sub(s, run_start)
  return table.concat(out)
end

-- Cuts a line longer than MAX_LINE_BYTES on a character boundary so that, with the marker
-- ' [truncated N bytes]' appended, it is at most MAX_LINE_BYTES long. N counts the bytes cut.
local function limit_line(s)
  local n = #s
  if n <= MAX_LINE_BYTES then return s end
  local marker_room = #(' [truncated ' .. n .. ' bytes]')
  local keep = MAX_LINE_BYTES - marker_room
  -- step back over continuation bytes (10xxxxxx) so that no character is split
  while keep > 0 do
    local b = string.byte(s, keep + 1)
    if b < 0x80 or b >= 0xC0 then break end
    keep = keep - 1
  end
  return string.sub(s, 1, keep) .. ' [truncated ' .. (n - keep) .. ' bytes]'
end

-- The job object of the wire protocol from the job hash: numbers as numbers, absent fields out.
local function job_json(job_key)
  local flat = redis.call('HGETALL', job_key)
  local hash = {}
  for i = 1, #flat, 2 do hash[flat[i]] = flat[i + 1] end
  local parts = {}
  for _, spec in ipairs(JOB_FIELDS) do
    local value = hash[spec[1]]
    if value ~= nil and value ~= '' then
      local name = spec[3] or spec[1]
      if spec[2] == 'number' then
        parts[#parts + 1] = '"' .. name .. '":' .. int_string(tonumber(value) or 0)
      else
        parts[#parts + 1] = '"' .. name .. '":' .. cjson.encode(value)
      end
    elseif spec[1] == 'title' then
      parts[#parts + 1] = '"title":""'
    end
  end
  return '{' .. table.concat(parts, ',') .. '}', hash
end

-- Announces a change of the job: a `status` frame on its events channel and a `job` frame on the
-- feed, both carrying the job object as it is now. Returns the job hash.
local function announce_change(job_key, id)
  local job, hash = job_json(job_key)
  redis.call(EVENTS_PUBLISH, job_key .. ':events', '{"type":"status","jobId":"' .. id .. '","job":' .. job .. '}')
  redis.call('PUBLISH', JOBS_FEED, '{"type":"job","job":' .. job .. '}')
  return hash
end

-- Sets a (checked) status and validated fields, stamps the times, starts the expiry of a finished
-- job and announces the change. Returns the job's last seq.
local function set_status(keys, id, status, fields)
  local now = int_string(now_ms())
  redis.call('HSET', keys[1], 'status', status)
  if status == 'running' then redis.call('HSETNX', keys[1], 'startedAt', now) end
  if TERMINAL[status] then redis.call('HSETNX', keys[1], 'finishedAt', now) end
  if #fields > 0 then
    for i = 2, #fields, 2 do fields[i] = sanitize_utf8(fields[i]) end
    redis.call('HSET', keys[1], unpack(fields))
  end
  if TERMINAL[status] then
    redis.call('EXPIRE', keys[1], RETENTION_S)
    redis.call('EXPIRE', keys[2], RETENTION_S)
  end
  local hash = announce_change(keys[1], id)
  return tonumber(hash.seq) or 0
end

-- Validates `<field> <value> …` starting at args[first] into a flat HSET argument list.
local function metadata_fields(args, first)
  if (#args - first + 1) % 2 ~= 0 then return nil, fail('BAD_ARGUMENTS', 'fields come in <field> <value> pairs') end
  local flat = {}
  for i = first, #args, 2 do
    local field, value = args[i], args[i + 1]
    if PROTECTED[field] then return nil, fail('PROTECTED_FIELD', field .. ' is written by the library only') end
    if INTEGER_FIELDS[field] then
      if not string.match(value, '^%-?%d+$') then
        return nil, fail('BAD_FIELD', field .. ' must be an integer')
      end
    elseif not TEXT_FIELDS[field] then
      return nil, fail('BAD_FIELD', 'unknown field ' .. field)
    end
    flat[#flat + 1] = field
    flat[#flat + 1] = value
  end
  return flat, nil
end

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
  local fields, field_err = metadata_fields(args, 3)
  if fields == nil then return field_err end
  if redis.call('EXISTS', keys[1]) == 1 then return fail('JOB_EXISTS', 'job ' .. id .. ' exists') end
  local created_at = now_ms()
  redis.call('HSET', keys[1], 'id', id, 'owner', owner, 'title', sanitize_utf8(title),
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
           LTRIM to MAX_LINES; PUBLISH (or SPUBLISH) job:{J}:events
           {"type":"output","jobId":"J","lines":[…the same entries…]}
  Lines are made valid UTF-8 and cut to 16 KiB (marked) rather than rejected.
]]
local function jobstream_append(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  if #args == 0 or #args % 2 ~= 0 then
    return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_append 2 job:{J} job:{J}:output <stream> <line> [<stream> <line> …]')
  end
  for i = 1, #args, 2 do
    if args[i] ~= 'stdout' and args[i] ~= 'stderr' then
      return fail('BAD_STREAM', 'stream must be stdout or stderr, not ' .. args[i])
    end
  end
  local status = redis.call('HGET', keys[1], 'status')
  if not status then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if TERMINAL[status] then return fail('JOB_FINISHED', 'job ' .. id .. ' is ' .. status .. '; no line follows the end') end

  local count = #args / 2
  local last_seq = redis.call('HINCRBY', keys[1], 'seq', count)
  local seq = last_seq - count
  local ts = int_string(now_ms())
  local entries = {}
  for i = 1, #args, 2 do
    seq = seq + 1
    entries[#entries + 1] = '{"seq":' .. int_string(seq) .. ',"ts":' .. ts .. ',"stream":"' .. args[i]
      .. '","line":' .. cjson.encode(limit_line(sanitize_utf8(args[i + 1]))) .. '}'
  end
  for first = 1, #entries, PUSH_CHUNK do
    redis.call('RPUSH', keys[2], unpack(entries, first, math.min(first + PUSH_CHUNK - 1, #entries)))
  end
  redis.call('LTRIM', keys[2], -MAX_LINES, -1)
  redis.call(EVENTS_PUBLISH, keys[1] .. ':events',
    '{"type":"output","jobId":"' .. id .. '","lines":[' .. table.concat(entries, ',') .. ']}')
  return last_seq
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
  jobstream_reap (the gateway's reaper; not part of the runner contract)
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <runnerTimeoutMs> <cancelGraceMs>
  Returns  what it found or did: 'failed' (finished now: runner lost), 'cancelled' (finished now:
           the cancel was not acted on within the grace), 'alive' (left alone) or 'terminal'
           (already finished)
  The check and the finish are one atomic call, so a runner that finishes at the same moment
  wins and the change is announced exactly once. Last sign of life: max(heartbeatAt, startedAt,
  createdAt), all Redis time.
  Errors   NOT_FOUND
]]
local function jobstream_reap(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local timeout_ms, grace_ms = tonumber(args[1] or ''), tonumber(args[2] or '')
  if #args ~= 2 or timeout_ms == nil or grace_ms == nil then
    return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_reap 2 job:{J} job:{J}:output <runnerTimeoutMs> <cancelGraceMs>')
  end
  local f = redis.call('HMGET', keys[1], 'status', 'heartbeatAt', 'startedAt', 'createdAt', 'cancelRequestedAt', 'cancelRequestedBy')
  local status = f[1]
  if not status then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if TERMINAL[status] then return 'terminal' end
  local now = now_ms()
  local last_sign = math.max(tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4]) or 0)
  if now - last_sign > timeout_ms then
    set_status(keys, id, 'failed', { 'errorMessage', 'runner lost' })
    return 'failed'
  end
  local asked = tonumber(f[5])
  if asked ~= nil and now - asked > grace_ms then
    set_status(keys, id, 'cancelled', { 'errorMessage', 'cancelled by ' .. (f[6] or 'unknown') .. '; the runner did not stop in time' })
    return 'cancelled'
  end
  return 'alive'
end

--[[
  jobstream_read (read-only; not part of the runner contract: the gateway's replay uses it)
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <fromSeq> <count> [<toSeq>] [<maxBytes>]   (maxBytes needs toSeq before it)
  Returns  { lastSeq, startSeq, { entry, … } }: up to count stored entries with
           startSeq ≤ seq ≤ min(toSeq, lastSeq), where startSeq = max(fromSeq, first retained seq),
           and no more entries than fit in maxBytes (at least one), so a page of long lines
           stays a reasonable frame.
  One atomic read, so the seq → index mapping holds while the runner appends and the list is
  trimmed under a busy job.
]]
local function jobstream_read(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local from, count = tonumber(args[1]), tonumber(args[2])
  local to, max_bytes = tonumber(args[3] or ''), tonumber(args[4] or '')
  if from == nil or count == nil or count < 1 then
    return fail('BAD_ARGUMENTS', 'usage: FCALL_RO jobstream_read 2 job:{J} job:{J}:output <fromSeq> <count> [<toSeq> [<maxBytes>]]')
  end
  local seq = tonumber(redis.call('HGET', keys[1], 'seq'))
  if seq == nil then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  local first = seq - redis.call('LLEN', keys[2]) + 1
  local start = math.max(from, first)
  local stop = math.min(start + count - 1, seq)
  if to ~= nil then stop = math.min(stop, to) end
  local entries = {}
  if stop >= start then entries = redis.call('LRANGE', keys[2], start - first, stop - first) end
  if max_bytes ~= nil then
    local bytes = 0
    for i = 1, #entries do
      bytes = bytes + #entries[i]
      if bytes > max_bytes and i > 1 then
        for j = #entries, i, -1 do entries[j] = nil end
        break
      end
    end
  end
  return { seq, start, entries }
end

--[[
  jobstream_version
  No keys, no arguments, read-only.
  Returns  { version, maxLines, retentionS, eventsPublish }: what this deployment loaded.
]]
local function jobstream_version()
  return { LIBRARY_VERSION, MAX_LINES, RETENTION_S, EVENTS_PUBLISH }
end

redis.register_function('jobstream_create', jobstream_create)
redis.register_function('jobstream_append', jobstream_append)
redis.register_function('jobstream_status', jobstream_status)
redis.register_function('jobstream_heartbeat', jobstream_heartbeat)
redis.register_function('jobstream_cancel', jobstream_cancel)
redis.register_function('jobstream_reap', jobstream_reap)
redis.register_function{
  function_name = 'jobstream_read',
  callback = jobstream_read,
  flags = { 'no-writes' },
}
redis.register_function{
  function_name = 'jobstream_version',
  callback = jobstream_version,
  flags = { 'no-writes', 'allow-stale' },
}
