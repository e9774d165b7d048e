/// A payment's whole life in Valkey, as one library of Valkey functions (`FUNCTION LOAD`, then
/// `FCALL name`): loaded once per server, called by name, so no command carries a script's text.
/// One file of ~400 lines, most of it Lua: the library is one text loaded at once, and the state
/// machine reads best whole.
///
/// ```
///              accept                 claim                    book
///   (none) ─────────────▶ Q|cents ─────────────▶ A|cents|p|ms|0 ─────────▶ B|cents|p|ms
///                                                   │   ▲     │
///                             claim again (a copy   │   │     │ reroute (the processor said
///                             was in flight) / pin  ▼   │     │ no: 500, 429, refused)
///                                              A|cents|p|ms|1 ─┘ (never moves: outcome unknown)
/// ```
/// An attempt that every processor refused while none would take it now goes back to `Q`
/// (`unclaim`), at the head of the queue.
/// `p` is the processor code, `ms` the requestedAt sent to it, the last digit `1` once the
/// payment is pinned. The grammar is written by `PaymentRecord` on the Swift side and read
/// here by position only (the first byte says the state; the last byte says pinned).
///
/// Records live in one hash per retention bucket (`payments:<b>`, b = accept time / retention),
/// which expires two buckets later: a record is kept at least one retention, which is how long a
/// repeat of a payment is recognised. Queue payloads are `id|cents|b`, so every step knows its
/// record's key. Booked payments are kept three ways: each one in a sorted set (trimmed to the
/// retention), per-second totals in one hash per hour (expiring after the retention), and
/// per-hour totals kept for good; a summary reads whole hours from the last, whole seconds from
/// the second, and the milliseconds at its edges from the first.
///
/// Every key a function touches comes in KEYS (the callers build them with `StoreKeys`, all
/// with one hash tag), so the library also runs on a Valkey Cluster. Every function is safe to
/// run again after a lost reply. Functions that finish what was already accepted are flagged
/// `allow-oom`: at `maxmemory` Valkey refuses new payments (`accept` is not flagged) but every
/// payment already accepted still gets booked.
enum PaymentLifecycle {
    /// The library's text with `@V` where its version goes (in its name and its functions' names).
    static let source = """
        #!lua name=rinha_payments_@V

        -- A payload (the queue's and the processing lists' element) is `id|cents|bucket`.
        local function parse(payload) return string.match(payload, '^([^|]+)|(%d+)|(%d+)$') end

        -- KEYS records of this bucket, of the previous one, queue; ARGV id, cents, bucket, the
        -- bucket's expiry (epoch ms), deadline (epoch ms, 0: none)
        -- -> 1 queued, 0 repeat of the same payment, -1 id taken with another amount,
        --    -2 arrived after the caller's deadline (nothing stored: the client was told 503).
        local function accept(keys, args)
          local deadline = tonumber(args[5])
          if deadline and deadline > 0 then
            local t = redis.call('TIME')
            if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then return -2 end
          end
          local cur = redis.call('HGET', keys[1], args[1]) or redis.call('HGET', keys[2], args[1])
          if cur then
            if string.match(cur, '^%a|(%d+)') == args[2] then return 0 end
            return -1
          end
          redis.call('HSET', keys[1], args[1], 'Q|' .. args[2])
          redis.call('PEXPIREAT', keys[1], args[4], 'NX')
          redis.call('LPUSH', keys[3], args[1] .. '|' .. args[2] .. '|' .. args[3])
          return 1
        end

        -- Starts or resumes the attempt of one payment; returns the record to act on, or nil
        -- when there is nothing to send (purged, or booked by a copy).
        local function begin_one(records, id, code, ms)
          local cur = redis.call('HGET', records, id)
          if not cur then return nil end
          local state = string.sub(cur, 1, 1)
          if state == 'Q' then
            local a = 'A|' .. string.sub(cur, 3) .. '|' .. code .. '|' .. ms .. '|0'
            redis.call('HSET', records, id, a)
            return a
          end
          if state == 'A' then
            -- An attempt already exists: a worker died with it, or a copy is in flight. Its
            -- outcome is unknown, so it is pinned to that processor and that requestedAt.
            if string.sub(cur, -1) == '0' then
              cur = string.sub(cur, 1, -2) .. '1'
              redis.call('HSET', records, id, cur)
            end
            return cur
          end
          return nil
        end

        -- KEYS queue, processing, then the records of the buckets in ARGV[5...]; ARGV n, processor
        -- code, requestedAt ms, a payload already moved to processing by BLMOVE (or ''), buckets
        -- -> {payload, record, ...}: up to n payments moved from the queue to the worker's list,
        -- each with the attempt it must make. Payments purged or booked meanwhile are dropped
        -- here and never reach the worker. A payload of a bucket not passed comes back with
        -- record '?': the worker begins it on its own (`begin`).
        local function claim(keys, args)
          local records = {}
          for i = 5, #args do records[args[i]] = keys[i - 2] end
          local out = {}
          local keep = {}
          local function take(payload, moved)
            local id, _, b = parse(payload)
            local r = nil
            if not id then
              r = nil
            elseif records[b] then
              r = begin_one(records[b], id, args[2], args[3])
            else
              r = '?'
            end
            if r then
              out[#out + 1] = payload; out[#out + 1] = r
              if not moved then keep[#keep + 1] = payload end
            elseif moved then
              redis.call('LREM', keys[2], -1, payload)
            end
          end
          if args[4] ~= '' then take(args[4], true) end
          local n = tonumber(args[1])
          if n > 0 then
            local items = redis.call('RPOP', keys[1], n)
            if items then
              for _, payload in ipairs(items) do take(payload, false) end
            end
            -- In slices: unpack() of more than ~8000 values overflows Lua's C stack.
            for i = 1, #keep, 4000 do
              redis.call('LPUSH', keys[2], unpack(keep, i, math.min(i + 3999, #keep)))
            end
          end
          return out
        end

        -- KEYS records; ARGV id, proposed attempt -> the record to act on (the proposal if the
        -- payment was queued; an existing attempt, pinned now; a booked record as is), or nil
        -- when the payment has no record (purged: it must not be sent).
        local function begin(keys, args)
          local cur = redis.call('HGET', keys[1], args[1])
          if not cur then return false end
          local state = string.sub(cur, 1, 1)
          if state == 'Q' then
            redis.call('HSET', keys[1], args[1], args[2])
            return args[2]
          end
          if state == 'A' and string.sub(cur, -1) == '0' then
            cur = string.sub(cur, 1, -2) .. '1'
            redis.call('HSET', keys[1], args[1], cur)
          end
          return cur
        end

        -- KEYS records; ARGV id, expected record, new record -> the record now stored.
        -- A worker that saw a definite failure moves (reroute) or pins its own attempt only if
        -- nobody pinned or booked it meanwhile.
        local function reroute(keys, args)
          local cur = redis.call('HGET', keys[1], args[1])
          if cur == args[2] then
            redis.call('HSET', keys[1], args[1], args[3])
            return args[3]
          end
          return cur
        end

        -- KEYS records, processing, queue; ARGV id, expected attempt, payload -> the record now
        -- stored. A payment that no processor took (every one it went to said no) and that no
        -- processor would take now goes back to the head of the queue, queued again: it waits
        -- there, not in a worker's memory, and a purge clears it like any queued payment.
        local function unclaim(keys, args)
          local cur = redis.call('HGET', keys[1], args[1])
          if cur ~= args[2] then return cur end
          local queued = 'Q|' .. string.match(cur, '^A|(%d+)')
          redis.call('HSET', keys[1], args[1], queued)
          redis.call('LREM', keys[2], -1, args[3])
          redis.call('RPUSH', keys[3], args[3])
          return queued
        end

        -- KEYS processing, default booked, default hours, fallback booked, fallback hours, then
        -- records and per-hour seconds hashes; ARGV retention ms, trim cutoff ms (0: none), then
        -- per payment: payload, processor code, requestedAt ms, index in KEYS of its records,
        -- index of its seconds hash -> one result per payment: 1 booked now, 0 booked before.
        -- The processor has the payment, so it is booked even if a purge cleared its record
        -- meanwhile: our totals must agree with the processor's.
        local function book(keys, args)
          local retention = tonumber(args[1])
          local sets = { d = { keys[2], keys[3] }, f = { keys[4], keys[5] } }
          local results = {}
          -- The totals' increments, summed over the call and applied once per field: payments of
          -- one batch mostly share their second and hour. Then each seconds hash's expiry.
          local totals, touched, expiring = {}, {}, {}
          local function add(key, field, by)
            local t = totals[key]
            if not t then t = {}; totals[key] = t; touched[#touched + 1] = key end
            t[field] = (t[field] or 0) + by
          end
          -- Every entry read and checked before anything is written: a refused call changes nothing.
          local entries = {}
          for i = 3, #args, 5 do
            local e = { payload = args[i], code = args[i + 1], at = args[i + 2], ms = tonumber(args[i + 2]),
                        records = keys[tonumber(args[i + 3]) or 0], seconds = keys[tonumber(args[i + 4]) or 0] }
            e.id, e.cents, e.b = parse(e.payload)
            e.set = sets[e.code]
            if not (e.id and e.set and e.ms and e.records and e.seconds) then
              return redis.error_reply('bad booking: ' .. e.payload .. ' ' .. e.code .. ' ' .. e.at)
            end
            entries[#entries + 1] = e
          end
          for _, e in ipairs(entries) do
            local payload, code, ms, records, seconds = e.payload, e.code, e.ms, e.records, e.seconds
            local id, cents, b, set = e.id, e.cents, e.b, e.set
            local cur = redis.call('HGET', records, id)
            local result = 0
            if not cur or string.sub(cur, 1, 1) ~= 'B' then
              result = redis.call('ZADD', set[1], 'NX', ms, cents .. '|' .. id)
              if result == 1 then
                local s = string.format('%d', math.floor(ms / 1000))
                local h = math.floor(ms / 3600000)
                add(seconds, 'n' .. s, 1)
                add(seconds, 'c' .. s, tonumber(cents))
                expiring[seconds] = (h + 1) * 3600000 + retention
                add(set[2], 'n' .. h, 1)
                add(set[2], 'c' .. h, tonumber(cents))
              end
              redis.call('HSET', records, id, 'B|' .. cents .. '|' .. code .. '|' .. e.at)
              if not cur then
                -- A purge cleared the record meanwhile, so this may be a new hash. One that held
                -- the record has its expiry already (`accept` set it; `purge` keeps it).
                redis.call('PEXPIREAT', records, string.format('%d', (tonumber(b) + 2) * retention), 'NX')
              end
            end
            redis.call('LREM', keys[1], -1, payload)
            results[#results + 1] = result
          end
          for _, key in ipairs(touched) do
            for field, by in pairs(totals[key]) do
              redis.call('HINCRBY', key, field, string.format('%d', by))
            end
            if expiring[key] then
              redis.call('PEXPIREAT', key, string.format('%d', expiring[key]), 'NX')
            end
          end
          local cutoff = tonumber(args[2])
          if cutoff > 0 then
            redis.call('ZREMRANGEBYSCORE', keys[2], '-inf', '(' .. args[2])
            redis.call('ZREMRANGEBYSCORE', keys[4], '-inf', '(' .. args[2])
          end
          return results
        end

        -- KEYS processing; ARGV payload -> removed count. A payment booked by a copy leaves.
        local function drop(keys, args)
          return redis.call('LREM', keys[1], -1, args[1])
        end

        -- KEYS processing, queue -> how many payloads went back to the queue, oldest first out.
        local function release(keys, args)
          local n = 0
          while redis.call('LMOVE', keys[1], keys[2], 'LEFT', 'RIGHT') do n = n + 1 end
          return n
        end

        -- KEYS processing, queue; ARGV payloads -> how many of them were in processing and went back.
        local function requeue(keys, args)
          local n = 0
          for i = 1, #args do
            if redis.call('LREM', keys[1], -1, args[i]) > 0 then
              redis.call('RPUSH', keys[2], args[i])
              n = n + 1
            end
          end
          return n
        end

        -- KEYS workers, queue, then pairs heartbeat, processing for each worker the caller saw in
        -- the set; ARGV their ids -> payloads returned from workers whose heartbeat expired.
        local function reap(keys, args)
          local n = 0
          for i = 1, #args do
            local hb, p = keys[1 + 2 * i], keys[2 + 2 * i]
            if redis.call('EXISTS', hb) == 0 then
              while redis.call('LMOVE', p, keys[2], 'LEFT', 'RIGHT') do n = n + 1 end
              redis.call('SREM', keys[1], args[i])
            end
          end
          return n
        end

        -- KEYS workers, heartbeat; ARGV worker, ttl ms.
        local function heartbeat(keys, args)
          redis.call('SADD', keys[1], args[1])
          redis.call('SET', keys[2], '1', 'PX', args[2])
          return 1
        end

        -- KEYS workers, heartbeat; ARGV worker.
        local function retire(keys, args)
          redis.call('SREM', keys[1], args[1])
          redis.call('DEL', keys[2])
          return 1
        end

        -- KEYS lease; ARGV owner, ttl ms -> 1 if the caller holds the lease now.
        local function hold_lease(keys, args)
          local cur = redis.call('GET', keys[1])
          if cur == args[1] then
            redis.call('PEXPIRE', keys[1], args[2])
            return 1
          end
          if not cur then
            redis.call('SET', keys[1], args[1], 'PX', args[2])
            return 1
          end
          return 0
        end

        -- KEYS lease; ARGV owner -> 1 if released.
        local function drop_lease(keys, args)
          if redis.call('GET', keys[1]) == args[1] then return redis.call('DEL', keys[1]) end
          return 0
        end

        -- KEYS gate; ARGV interval ms -> 1 if the caller may poll now (stack-wide, whoever asks).
        local function may_poll(keys, args)
          if redis.call('SET', keys[1], '1', 'NX', 'PX', args[1]) then return 1 end
          return 0
        end

        -- KEYS health; ARGV text, ttl ms.
        local function publish_health(keys, args)
          redis.call('SET', keys[1], args[1], 'PX', args[2])
          return 1
        end

        -- KEYS queue, default booked, default hours, fallback booked, fallback hours, then
        -- ARGV[1] records hashes, then per-hour seconds hashes -> how many attempts in flight
        -- were kept. Clears every payment, queued or booked. Attempts in flight keep their
        -- record: a processor may have them, so a client's re-send is a repeat (one processor,
        -- never two) and the worker that holds one books it when the processor answers.
        -- Payloads on the workers' lists whose record is gone are dropped by `claim`.
        local function purge(keys, args)
          local kept = 0
          local nrecords = tonumber(args[1])
          for k = 6, 5 + nrecords do
            local inflight = {}
            local all = redis.call('HGETALL', keys[k])
            for i = 1, #all, 2 do
              if string.sub(all[i + 1], 1, 1) == 'A' then
                inflight[#inflight + 1] = all[i]; inflight[#inflight + 1] = all[i + 1]
              end
            end
            local ttl = redis.call('PTTL', keys[k])
            redis.call('DEL', keys[k])
            for i = 1, #inflight, 4000 do
              redis.call('HSET', keys[k], unpack(inflight, i, math.min(i + 3999, #inflight)))
            end
            if #inflight > 0 and ttl > 0 then redis.call('PEXPIRE', keys[k], ttl) end
            kept = kept + #inflight / 2
          end
          for k = 1, 5 do redis.call('DEL', keys[k]) end
          for k = 6 + nrecords, #keys do redis.call('DEL', keys[k]) end
          return kept
        end

        -- KEYS per processor (default, fallback): booked, hours, the seconds hash of the hour of
        -- the window's first whole second, that of its last whole second; ARGV from ms or '',
        -- to ms or '' (inclusive) -> {dn, dc, fn, fc}. Whole hours come from the hours hash,
        -- whole seconds from the seconds hashes, the milliseconds at the edges from the sorted
        -- set: the cost follows the window's edges, not the number of payments. Lua numbers are
        -- doubles: exact for integers below 2^53, far above any count or sum of cents here.
        local function summary(keys, args)
          local from = tonumber(args[1])
          local to = tonumber(args[2])
          local function part(z, hours, sfrom, sto)
            local n, c = 0, 0
            local function exact(lo, hi)
              if lo > hi then return end
              for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, lo, hi)) do
                n = n + 1
                c = c + tonumber(string.match(m, '^(%d+)'))
              end
            end
            local function seconds(key, lo, hi)
              for s0 = lo, hi, 500 do
                local fields = {}
                for s = s0, math.min(s0 + 499, hi) do
                  fields[#fields + 1] = 'n' .. s; fields[#fields + 1] = 'c' .. s
                end
                local v = redis.call('HMGET', key, unpack(fields))
                for i = 1, #v, 2 do
                  if v[i] then n = n + tonumber(v[i]); c = c + tonumber(v[i + 1]) end
                end
              end
            end
            local function whole_hours(lo, hi)
              local all = redis.call('HGETALL', hours)
              for i = 1, #all, 2 do
                local h = tonumber(string.sub(all[i], 2))
                if (not lo or h >= lo) and (not hi or h <= hi) then
                  if string.sub(all[i], 1, 1) == 'n' then n = n + tonumber(all[i + 1]) else c = c + tonumber(all[i + 1]) end
                end
              end
            end
            local s1 = from and math.ceil(from / 1000)
            local s2 = to and (math.floor((to + 1) / 1000) - 1)
            if s1 and s2 and s1 > s2 then
              exact(from, to)
              return n, c
            end
            if from then exact(from, s1 * 1000 - 1) end
            if to then exact((s2 + 1) * 1000, to) end
            local h1 = s1 and math.ceil(s1 / 3600)
            local h2 = s2 and (math.floor((s2 + 1) / 3600) - 1)
            if h1 and h2 and h1 > h2 then
              -- No whole hour: the seconds lie in the hour of s1 and perhaps the next one.
              local e1 = math.floor(s1 / 3600) * 3600 + 3599
              seconds(sfrom, s1, math.min(s2, e1))
              if s2 > e1 then seconds(sto, e1 + 1, s2) end
              return n, c
            end
            if s1 then seconds(sfrom, s1, h1 * 3600 - 1) end
            if s2 then seconds(sto, (h2 + 1) * 3600, s2) end
            whole_hours(h1, h2)
            return n, c
          end
          local dn, dc = part(keys[1], keys[2], keys[3], keys[4])
          local fn, fc = part(keys[5], keys[6], keys[7], keys[8])
          return {dn, dc, fn, fc}
        end

        local finishing = { 'allow-oom' }
        local function register(name, callback, flags)
          redis.register_function{ function_name = name .. '_@V', callback = callback, flags = flags }
        end
        register('accept', accept)
        register('claim', claim, finishing)
        register('begin', begin, finishing)
        register('reroute', reroute, finishing)
        register('unclaim', unclaim, finishing)
        register('book', book, finishing)
        register('drop', drop, finishing)
        register('release', release, finishing)
        register('requeue', requeue, finishing)
        register('reap', reap, finishing)
        register('heartbeat', heartbeat, finishing)
        register('retire', retire, finishing)
        register('hold_lease', hold_lease, finishing)
        register('drop_lease', drop_lease, finishing)
        register('may_poll', may_poll, finishing)
        register('publish_health', publish_health, finishing)
        register('purge', purge, finishing)
        register('summary', summary, { 'no-writes' })
        """

    /// Derived from the text, so that a changed library is a new one: Valkey names functions
    /// globally, and a stack whose Valkey still holds an older build's library calls names that
    /// library does not have, gets "Function not found" and loads this one beside it.
    static let version: String = {
        var hash: UInt32 = 2_166_136_261  // FNV-1a
        for byte in source.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }()

    static let library = source.replacing("@V", with: version)

    /// The name a function of this build's library is called by.
    static func function(_ name: String) -> String { name + "_" + version }
}
