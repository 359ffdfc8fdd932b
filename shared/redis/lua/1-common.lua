#!lua name=jobstream
--[[
  The jobstream function library: numbering, storing and announcing job output in one atomic
  server-side call, so that the line numbers, the list and the published frames never disagree.

  The library is one source for Redis, kept in three files read in name order by the loader:
  1-common.lua (constants and helpers), 2-runner.lua (the runner contract), 3-gateway.lua (the
  gateway's own functions). `npm run --silent library` prints it assembled, with the defaults.

  The loader (shared/redis/library.ts) fills in the constants below from the deployment's
  configuration before `FUNCTION LOAD` (the placeholders are the names wrapped in __):
    LIBRARY_VERSION  code version; a library reporting an older one is replaced
    MAX_LINES        JOBSTREAM_MAX_LINES: lines kept per job (the list is trimmed to it)
    RETENTION_S      JOBSTREAM_RETENTION_S: life of a finished job's keys
    ARCHIVE          whether JOBSTREAM_ARCHIVE_URL is set (docs/architecture.md "Archive")
    HARD_MAX_LINES   JOBSTREAM_HARD_MAX_LINES: with an archive, the list's length past which lines
                     not yet archived are trimmed anyway (and the hole recorded)
    HOT_RETENTION_S  JOBSTREAM_HOT_RETENTION_S: life of a finished job's list once it is archived
    EVENTS_PUBLISH   'publish' on a standalone Redis, 'spublish' in a Redis Cluster
    MAX_LINE_BYTES   the 16 KiB line limit (shared/runner/line-limit.ts)
    MAX_FIELD_BYTES  the most one metadata field (or the owner) may hold (shared/job.ts)
    MAX_HASH_BYTES   the most a job's whole hash may hold, names and values (shared/job.ts)
    JOBS_FEED        the feed channel's name (shared/keys.ts)
  The tables of statuses and fields below are checked equal to shared/job.ts by
  shared/test/library-contract.test.ts.

  Every frame is published in its final wire form (docs/protocol.md, jobstream.v1) so that a
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
    FIELD_TOO_LARGE  a field over MAX_FIELD_BYTES, or a change that takes the hash over MAX_HASH_BYTES
    SEQ_MISMATCH     jobstream_append_after with an `after` past the job's seq (the message starts with it)
    NOT_CLAIMED      jobstream_archived by a process that does not hold the job's archive claim
    NOT_CONTIGUOUS   jobstream_archived with a range that does not continue from archivedSeq
]]

local LIBRARY_VERSION = '__LIBRARY_VERSION__'
local MAX_LINES = __MAX_LINES__
local RETENTION_S = __RETENTION_S__
local EVENTS_PUBLISH = '__EVENTS_PUBLISH__'
local ARCHIVE = __ARCHIVE__
local HARD_MAX_LINES = __HARD_MAX_LINES__
local HOT_RETENTION_S = __HOT_RETENTION_S__
-- With an archive, a finished job's list that was never archived still expires after 7 days
-- (at most: a shorter retention wins). Plain arithmetic: no library (math) at load time.
local UNARCHIVED_LIST_S = RETENTION_S
if UNARCHIVED_LIST_S > 7 * 24 * 3600 then UNARCHIVED_LIST_S = 7 * 24 * 3600 end

local MAX_LINE_BYTES = __MAX_LINE_BYTES__
local MAX_FIELD_BYTES = __MAX_FIELD_BYTES__
local MAX_HASH_BYTES = __MAX_HASH_BYTES__
local JOBS_FEED = '__JOBS_FEED__'
local REPLACEMENT_CHAR = '\239\191\189' -- U+FFFD in UTF-8
local PUSH_CHUNK = 1000 -- RPUSH arguments per call: unpack() is bounded by the Lua stack

local TERMINAL = { success = true, failed = true, cancelled = true }
local STATUSES = { queued = true, running = true, success = true, failed = true, cancelled = true }
local PROTECTED = {
  id = true, owner = true, seq = true, status = true,
  createdAt = true, startedAt = true, finishedAt = true,
  heartbeatAt = true, cancelRequestedAt = true, cancelRequestedBy = true, archivedSeq = true,
  annotationErrors = true, annotationWarnings = true, annotationNotices = true, firstErrorSeq = true,
}
-- Annotations (`::error file=a.js,line=3::message`, docs/protocol.md "HTTP API"): the count field of
-- each level in the job hash, and how many are kept in job:{J}:annotations.
local ANNOTATION_COUNT_FIELDS = { error = 'annotationErrors', warning = 'annotationWarnings', notice = 'annotationNotices' }
local MAX_ANNOTATIONS = 1000
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
  local errors, warnings, notices = tonumber(hash.annotationErrors) or 0, tonumber(hash.annotationWarnings) or 0,
    tonumber(hash.annotationNotices) or 0
  if errors + warnings + notices > 0 then
    parts[#parts + 1] = '"annotationCounts":{"error":' .. int_string(errors) .. ',"warning":'
      .. int_string(warnings) .. ',"notice":' .. int_string(notices) .. '}'
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
    redis.call('EXPIRE', keys[2], ARCHIVE and UNARCHIVED_LIST_S or RETENTION_S)
    redis.call('EXPIRE', keys[1] .. ':archive', RETENTION_S)
    redis.call('EXPIRE', keys[1] .. ':annotations', RETENTION_S)
  end
  local hash = announce_change(keys[1], id)
  return tonumber(hash.seq) or 0
end

-- nil when the hash at `key` with the flat `<field> <value> …` list set stays within
-- MAX_HASH_BYTES (names and values), else the FIELD_TOO_LARGE error to return.
local function hash_size_error(key, flat)
  local setting = {}
  local size = 0
  for i = 1, #flat, 2 do
    setting[flat[i]] = true
    size = size + #flat[i] + #flat[i + 1]
  end
  local current = redis.call('HGETALL', key)
  for i = 1, #current, 2 do
    if not setting[current[i]] then size = size + #current[i] + #current[i + 1] end
  end
  if size <= MAX_HASH_BYTES then return nil end
  return fail('FIELD_TOO_LARGE', 'the job would hold ' .. size .. ' bytes; at most ' .. MAX_HASH_BYTES)
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
    else
      value = sanitize_utf8(value) -- measured as stored: U+FFFD is longer than the byte it replaces
    end
    if #value > MAX_FIELD_BYTES then
      return nil, fail('FIELD_TOO_LARGE', field .. ' is ' .. #value .. ' bytes; at most ' .. MAX_FIELD_BYTES)
    end
    flat[#flat + 1] = field
    flat[#flat + 1] = value
  end
  return flat, nil
end

-- Trims the job's list after an append. Without an archive: to the newest MAX_LINES. With one,
-- never a line above archivedSeq while the list is shorter than HARD_MAX_LINES; past that the
-- oldest unarchived lines go anyway, and the hole (always starting at archivedSeq + 1, so a
-- growing hole rewrites one field) is recorded in job:{J}:archive as `<from> -> gap <to>`.
local function trim_output(keys, last_seq)
  local length = redis.call('LLEN', keys[2])
  if length <= MAX_LINES then return end
  if not ARCHIVE then
    redis.call('LTRIM', keys[2], -MAX_LINES, -1)
    return
  end
  local first = last_seq - length + 1
  local archived = tonumber(redis.call('HGET', keys[1], 'archivedSeq')) or 0
  local drop = math.min(length - MAX_LINES, math.max(0, archived - first + 1))
  if length - drop > HARD_MAX_LINES then
    drop = length - HARD_MAX_LINES
    redis.call('HSET', keys[1] .. ':archive', int_string(archived + 1), 'gap ' .. int_string(first + drop - 1))
  end
  if drop > 0 then redis.call('LTRIM', keys[2], drop, -1) end
end

-- Keeps the annotation a stored line is, if it is one (GitHub's workflow-command form, at the start
-- of the line): counted per level in the job hash, the first error's seq remembered, and the first
-- MAX_ANNOTATIONS kept in job:{J}:annotations as {"seq","level","message","file"?,"line"?}.
local function note_annotation(job_key, seq, line)
  if string.sub(line, 1, 2) ~= '::' then return end
  local level, props, message = string.match(line, '^::(%a+)([^:]*)::(.*)$')
  local count_field = level and ANNOTATION_COUNT_FIELDS[level]
  if not count_field then return end
  redis.call('HINCRBY', job_key, count_field, 1)
  if level == 'error' then redis.call('HSETNX', job_key, 'firstErrorSeq', int_string(seq)) end
  local list = job_key .. ':annotations'
  if redis.call('LLEN', list) >= MAX_ANNOTATIONS then return end
  local parts = { '"seq":' .. int_string(seq), '"level":"' .. level .. '"', '"message":' .. cjson.encode(message) }
  for key, value in string.gmatch(props, '(%a+)=([^,]*)') do
    if key == 'file' then parts[#parts + 1] = '"file":' .. cjson.encode(value)
    elseif key == 'line' and tonumber(value) then parts[#parts + 1] = '"line":' .. int_string(tonumber(value)) end
  end
  redis.call('RPUSH', list, '{' .. table.concat(parts, ',') .. '}')
end
