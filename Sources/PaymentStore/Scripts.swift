/// The Lua scripts that change payment state. Each runs atomically inside Valkey, so a payment's
/// record and the lists and totals that go with it never disagree, and each is safe to run
/// again after a lost reply (the caller cannot tell whether a lost command ran).
enum Scripts {
    /// KEYS payments, queue; ARGV id, cents -> 1 queued, 0 repeat of the same payment, -1 the id
    /// is taken by a payment with another amount.
    static let accept = """
        local cur = redis.call('HGET', KEYS[1], ARGV[1])
        if cur then
          if string.match(cur, '^%a|(%d+)') == ARGV[2] then return 0 end
          return -1
        end
        redis.call('HSET', KEYS[1], ARGV[1], 'Q|' .. ARGV[2])
        redis.call('LPUSH', KEYS[2], ARGV[1] .. '|' .. ARGV[2])
        return 1
        """

    /// KEYS queue, processing; ARGV n -> up to n payloads moved from the queue to processing.
    static let claim = """
        local items = redis.call('RPOP', KEYS[1], ARGV[1])
        if not items then return {} end
        -- In slices: unpack() of more than ~8000 values overflows Lua's C stack.
        for i = 1, #items, 4000 do
          redis.call('LPUSH', KEYS[2], unpack(items, i, math.min(i + 3999, #items)))
        end
        return items
        """

    /// KEYS payments; ARGV id, cents, proposed attempt -> the record to act on, or nil when the
    /// payment has no record (purged since it was queued: it must not be sent).
    /// A queued payment takes the proposed attempt. An attempt that already exists
    /// belongs to a worker that died or to a copy still in flight elsewhere: its outcome is
    /// unknown, so it is pinned and returned. A booked record is returned as is.
    static let begin = """
        local cur = redis.call('HGET', KEYS[1], ARGV[1])
        if not cur then return false end
        if string.sub(cur, 1, 1) == 'Q' then
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
          return ARGV[3]
        end
        if string.sub(cur, 1, 1) == 'A' and string.sub(cur, -1) == '0' then
          cur = string.sub(cur, 1, -2) .. '1'
          redis.call('HSET', KEYS[1], ARGV[1], cur)
        end
        return cur
        """

    /// KEYS payments; ARGV id, expected record, new record -> the record now stored.
    /// Compare-and-set: a worker that saw a definite failure moves its own attempt only if no
    /// one pinned or booked it meanwhile.
    static let compareAndSet = """
        local cur = redis.call('HGET', KEYS[1], ARGV[1])
        if cur == ARGV[2] then
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
          return ARGV[3]
        end
        return cur
        """

    /// KEYS payments, booked, secondsCount, secondsCents, processing;
    /// ARGV id, cents, requestedAt ms, processor code, payload -> 1 booked now, 0 already booked,
    /// -1 purged while it was out (not booked: the purge cleared it).
    static let book = """
        local cur = redis.call('HGET', KEYS[1], ARGV[1])
        local added = 0
        if not cur then
          redis.call('LREM', KEYS[5], -1, ARGV[5])
          return -1
        end
        if string.sub(cur, 1, 1) ~= 'B' then
          added = redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[2] .. '|' .. ARGV[1])
          if added == 1 then
            local sec = string.format('%d', math.floor(tonumber(ARGV[3]) / 1000))
            redis.call('HINCRBY', KEYS[3], sec, 1)
            redis.call('HINCRBY', KEYS[4], sec, ARGV[2])
          end
          redis.call('HSET', KEYS[1], ARGV[1], 'B|' .. ARGV[2] .. '|' .. ARGV[4] .. '|' .. ARGV[3])
        end
        redis.call('LREM', KEYS[5], -1, ARGV[5])
        return added
        """

    /// KEYS processing, queue -> how many payloads went back to the queue, oldest first out.
    static let release = """
        local n = 0
        while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do n = n + 1 end
        return n
        """

    /// KEYS processing, queue; ARGV payloads -> how many of them were in processing and went back.
    static let requeue = """
        local n = 0
        for i = 1, #ARGV do
          if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
            redis.call('RPUSH', KEYS[2], ARGV[i])
            n = n + 1
          end
        end
        return n
        """

    /// KEYS workers, queue; ARGV key prefix -> payloads returned from workers whose heartbeat expired.
    /// (Builds key names inside the script: fine on one server, which is what this stack runs.)
    static let reap = """
        local n = 0
        for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          if redis.call('EXISTS', ARGV[1] .. ':heartbeat:' .. w) == 0 then
            local p = ARGV[1] .. ':processing:' .. w
            while redis.call('LMOVE', p, KEYS[2], 'LEFT', 'RIGHT') do n = n + 1 end
            redis.call('SREM', KEYS[1], w)
          end
        end
        return n
        """

    /// KEYS lease; ARGV owner, ttl ms -> 1 if the caller holds the lease now.
    static let holdLease = """
        local cur = redis.call('GET', KEYS[1])
        if cur == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        if not cur then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          return 1
        end
        return 0
        """

    /// KEYS lease; ARGV owner -> 1 if released.
    static let dropLease = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """

    /// KEYS payments, queue, workers, then for each processor booked, secondsCount, secondsCents;
    /// ARGV key prefix. Clears every payment, queued, in processing or booked.
    static let purge = """
        for _, w in ipairs(redis.call('SMEMBERS', KEYS[3])) do
          redis.call('DEL', ARGV[1] .. ':processing:' .. w)
        end
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9])
        return 1
        """

    /// KEYS default booked, count, cents, fallback booked, count, cents; ARGV from ms or '', to ms
    /// or '' -> {dn, dc, fn, fc}. Whole seconds inside the window come from the per-second
    /// hashes; the partial seconds at the edges from the sorted set, so the cost follows the
    /// number of seconds, not of payments. Lua numbers are doubles: exact for integers below 2^53,
    /// far above any count or sum of cents here.
    static let summary = """
        local from = tonumber(ARGV[1])
        local to = tonumber(ARGV[2])
        local function part(z, hn, hc)
          local n, c = 0, 0
          local function exact(lo, hi)
            if lo > hi then return end
            for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, lo, hi)) do
              n = n + 1
              c = c + tonumber(string.match(m, '^(%d+)'))
            end
          end
          local first = from and math.ceil(from / 1000) or nil
          local last = to and (math.floor((to + 1) / 1000) - 1) or nil
          if first and last and first > last then
            exact(from, to)
            return n, c
          end
          if from then exact(from, first * 1000 - 1) end
          if to then exact((last + 1) * 1000, to) end
          local counts = redis.call('HGETALL', hn)
          for i = 1, #counts, 2 do
            local s = tonumber(counts[i])
            if (not first or s >= first) and (not last or s <= last) then n = n + tonumber(counts[i + 1]) end
          end
          local cents = redis.call('HGETALL', hc)
          for i = 1, #cents, 2 do
            local s = tonumber(cents[i])
            if (not first or s >= first) and (not last or s <= last) then c = c + tonumber(cents[i + 1]) end
          end
          return n, c
        end
        local dn, dc = part(KEYS[1], KEYS[2], KEYS[3])
        local fn, fc = part(KEYS[4], KEYS[5], KEYS[6])
        return {dn, dc, fn, fc}
        """
}
