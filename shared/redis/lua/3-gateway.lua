--[[ The gateway's own functions: the reaper's atomic finish and its lease, the archiver's record,
  replay pages, the version. ]]

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
  jobstream_lease_renew (the gateway's; not part of the runner contract)
  KEYS[1]  a lease key (jobstream:reaper:lease)
  ARGV     <holder> <ms>
  Returns  1 when `holder` holds the lease and it now expires in `ms`, else 0
  Takes a free lease (SET NX PX) or extends one's own, never another holder's: a process that
  lost its lease (a pause longer than the lease) must not extend the new holder's.
]]
local function jobstream_lease_renew(keys, args)
  local ms = tonumber(args[2] or '')
  if #keys ~= 1 or #args ~= 2 or ms == nil or ms < 1 then
    return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_lease_renew 1 <key> <holder> <ms>')
  end
  if redis.call('SET', keys[1], args[1], 'NX', 'PX', ms) then return 1 end
  if redis.call('GET', keys[1]) == args[1] then
    redis.call('PEXPIRE', keys[1], ms)
    return 1
  end
  return 0
end

--[[
  jobstream_lease_release (the gateway's; not part of the runner contract)
  KEYS[1]  a lease key
  ARGV     <holder>
  Returns  1 when `holder` held the lease (now free), else 0 (another's is left alone)
]]
local function jobstream_lease_release(keys, args)
  if #keys ~= 1 or #args ~= 1 then
    return fail('BAD_ARGUMENTS', 'usage: FCALL jobstream_lease_release 1 <key> <holder>')
  end
  if redis.call('GET', keys[1]) ~= args[1] then return 0 end
  redis.call('DEL', keys[1])
  return 1
end

--[[
  jobstream_archived (the gateway's archiver; not part of the runner contract)
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     chunk <holder> <firstSeq> <lastSeq> <bytes> <sha256>   a chunk is stored in the archive
           gap <holder> <firstSeq> <lastSeq>                      these lines are gone for good
           manifest <holder>                                      the finished job's manifest is stored
  Returns  archivedSeq after the call
  Effects  chunk and gap: HSET job:{J}:archive <firstSeq> '<lastSeq> <bytes> <sha256>' (or
           'gap <lastSeq>') and archivedSeq = lastSeq; the range must continue from archivedSeq
           (firstSeq = archivedSeq + 1 <= lastSeq <= seq). A hole the append recorded at the
           same firstSeq that reaches further (it trimmed on meanwhile) moves to lastSeq + 1.
           manifest: the job must be finished and archived to its last seq; its list then
           expires after HOT_RETENTION_S (Redis lets go: docs/architecture.md "Archive").
  Only the holder of job:{J}:archiving (SET NX PX, renewed with jobstream_lease_renew) may
  record, checked atomically here, so a process that lost its claim mid-upload records nothing.
  Errors   NOT_FOUND, NOT_CLAIMED, NOT_CONTIGUOUS, BAD_ARGUMENTS
]]
local function jobstream_archived(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local kind, holder = args[1], args[2]
  local usage = 'usage: FCALL jobstream_archived 2 job:{J} job:{J}:output chunk <holder> <firstSeq> <lastSeq> <bytes> <sha256> | gap <holder> <firstSeq> <lastSeq> | manifest <holder>'
  local arity = { chunk = 6, gap = 4, manifest = 2 }
  if kind == nil or arity[kind] ~= #args or holder == '' then return fail('BAD_ARGUMENTS', usage) end
  local job = redis.call('HMGET', keys[1], 'seq', 'archivedSeq', 'status')
  local seq = tonumber(job[1])
  if seq == nil then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  if redis.call('GET', keys[1] .. ':archiving') ~= holder then
    return fail('NOT_CLAIMED', 'job ' .. id .. ' is not claimed by ' .. holder)
  end
  local archived = tonumber(job[2]) or 0
  local index = keys[1] .. ':archive'
  if kind == 'manifest' then
    if not TERMINAL[job[3]] or archived ~= seq then
      return fail('NOT_CONTIGUOUS', 'job ' .. id .. ' is not finished and archived to seq ' .. int_string(seq))
    end
    local ttl = redis.call('TTL', keys[2])
    if ttl < 0 or ttl > HOT_RETENTION_S then redis.call('EXPIRE', keys[2], HOT_RETENTION_S) end
    return archived
  end
  local first, last = tonumber(args[3]), tonumber(args[4])
  if first == nil or last == nil then return fail('BAD_ARGUMENTS', usage) end
  if first ~= archived + 1 or last < first or last > seq then
    return fail('NOT_CONTIGUOUS', 'job ' .. id .. ' is archived to ' .. int_string(archived)
      .. ' of ' .. int_string(seq) .. '; ' .. int_string(first) .. '-' .. int_string(last) .. ' does not continue it')
  end
  local field = int_string(first)
  local recorded = redis.call('HGET', index, field)
  local hole_end = recorded and tonumber(string.match(recorded, '^gap (%d+)$')) or nil -- HGET of nothing is false
  if hole_end ~= nil and hole_end > last then
    redis.call('HSET', index, int_string(last + 1), 'gap ' .. int_string(hole_end))
  end
  if kind == 'chunk' then
    redis.call('HSET', index, field, int_string(last) .. ' ' .. args[5] .. ' ' .. args[6])
  else
    redis.call('HSET', index, field, 'gap ' .. int_string(last))
  end
  redis.call('HSET', keys[1], 'archivedSeq', int_string(last))
  local ttl = redis.call('PTTL', keys[1])
  if ttl > 0 then redis.call('PEXPIRE', index, ttl) end
  return last
end

--[[
  jobstream_read (read-only; not part of the runner contract: the gateway's replay uses it)
  KEYS[1]  job:{J}
  KEYS[2]  job:{J}:output
  ARGV     <fromSeq> <count> [<toSeq>] [<maxBytes>]   (maxBytes needs toSeq before it)
  Returns  { lastSeq, startSeq, { entry, … }, archivedSeq }: up to count stored entries with
           startSeq ≤ seq ≤ min(toSeq, lastSeq), where startSeq = max(fromSeq, first retained seq),
           and no more entries than fit in maxBytes (at least one), so a page of long lines
           stays a reasonable frame.
  One atomic read, so the seq → index mapping holds while the runner appends and the list is
  trimmed under a busy job.
]]
local READ_FIRST_BATCH = 128 -- entries a maxBytes read takes before it knows their size

local function jobstream_read(keys, args)
  local id, err = check_keys(keys, 2)
  if id == nil then return err end
  local from, count = tonumber(args[1]), tonumber(args[2])
  local to, max_bytes = tonumber(args[3] or ''), tonumber(args[4] or '')
  if from == nil or count == nil or count < 1 then
    return fail('BAD_ARGUMENTS', 'usage: FCALL_RO jobstream_read 2 job:{J} job:{J}:output <fromSeq> <count> [<toSeq> [<maxBytes>]]')
  end
  local job = redis.call('HMGET', keys[1], 'seq', 'archivedSeq')
  local seq = tonumber(job[1])
  if seq == nil then return fail('NOT_FOUND', 'job ' .. id .. ' does not exist') end
  local archived = tonumber(job[2]) or 0
  local first = seq - redis.call('LLEN', keys[2]) + 1
  local start = math.max(from, first)
  local stop = math.min(start + count - 1, seq)
  if to ~= nil then stop = math.min(stop, to) end
  if stop < start then return { seq, start, {}, archived } end
  if max_bytes == nil then return { seq, start, redis.call('LRANGE', keys[2], start - first, stop - first), archived } end
  -- Within maxBytes: read a first batch, then as many more as the lines seen so far say will
  -- fit, so a page of long lines never copies `count` of them into Lua (2,000 lines of 8 KB were
  -- 16 MB copied per call for a 1 MB page, and Redis answered nothing else meanwhile).
  local entries, bytes = {}, 0
  local at, last = start - first, stop - first
  local batch_size = math.min(READ_FIRST_BATCH, last - at + 1)
  while at <= last do
    local batch = redis.call('LRANGE', keys[2], at, math.min(at + batch_size - 1, last))
    for i = 1, #batch do
      bytes = bytes + #batch[i]
      if bytes > max_bytes and #entries > 0 then return { seq, start, entries, archived } end
      entries[#entries + 1] = batch[i]
    end
    at = at + #batch
    if #batch == 0 then break end
    local average = bytes / #entries
    batch_size = math.max(1, math.min(last - at + 1, math.floor((max_bytes - bytes) / average) + 1))
  end
  return { seq, start, entries, archived }
end

--[[
  jobstream_version
  No keys, no arguments, read-only.
  Returns  { version, maxLines, retentionS, eventsPublish, hardMaxLines, hotRetentionS }: what
           this deployment loaded (the last two 0 without an archive).
]]
local function jobstream_version()
  if not ARCHIVE then return { LIBRARY_VERSION, MAX_LINES, RETENTION_S, EVENTS_PUBLISH, 0, 0 } end
  return { LIBRARY_VERSION, MAX_LINES, RETENTION_S, EVENTS_PUBLISH, HARD_MAX_LINES, HOT_RETENTION_S }
end

redis.register_function('jobstream_reap', jobstream_reap)
redis.register_function('jobstream_archived', jobstream_archived)
redis.register_function('jobstream_lease_renew', jobstream_lease_renew)
redis.register_function('jobstream_lease_release', jobstream_lease_release)
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
