-- Sliding-window counter over sub-buckets: check and consume every window of a request, all or none.
-- The Python reference is secapi.adapters.memory.rate_limiter (arithmetic: secapi.domain.sliding_window);
-- the two must agree call for call.
--
-- KEYS[i]  one hash per window, field = bucket index (floor(ms / bucket_ms)), value = count.
-- ARGV     now_ms, cost, force (1 = count without checking), peeks, then per window: window_ms, buckets, limit.
--          The last `peeks` windows are only reported (cost 0): they neither decide nor consume, so one
--          round trip can consume the request windows and report the scan windows for the headers.
-- Reply    allowed (1 or 0, over the consumed windows), then per window: used, reset_ms, free_at_ms
--          (free_at_ms: -1 when the window did not refuse, -2 when the cost can never fit).
--
-- A window of N buckets counts the N + 1 buckets that overlap the last window_ms, the oldest one whole:
-- that refuses up to one bucket early but never admits more than `limit` in any span of window_ms.
-- Time comes from the caller, never from TIME, so tests can drive it and every instance agrees.

local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local force = ARGV[3] == '1'
local consumed = #KEYS - tonumber(ARGV[4])
local windows = {}
local allowed = true

for i, key in ipairs(KEYS) do
  local at = 5 + (i - 1) * 3
  local charge = cost
  if i > consumed then
    charge = 0
  end
  local span, buckets, limit = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local width = span / buckets
  local current = math.floor(now / width)
  local oldest = current - buckets
  local flat = redis.call('HGETALL', key)
  local live, used, first = {}, 0, nil
  for j = 1, #flat, 2 do
    local index, count = tonumber(flat[j]), tonumber(flat[j + 1])
    if index == nil or count == nil or index < oldest or count <= 0 then
      -- Pruning on every call is what keeps a hash at N + 1 fields whatever the limit.
      redis.call('HDEL', key, flat[j])
    else
      live[#live + 1] = {index, count}
      used = used + count
      if first == nil or index < first then
        first = index
      end
    end
  end
  local violated = (not force) and used + charge > limit
  if violated then
    if i <= consumed then
      allowed = false
    end
    -- Only a refusal needs the buckets in order (to find when enough of them leave); sorting is the costly part.
    table.sort(live, function(a, b) return a[1] < b[1] end)
  end
  windows[i] = {key = key, span = span, buckets = buckets, limit = limit, width = width, charge = charge,
                current = current, live = live, first = first, used = used, violated = violated}
end

if allowed and cost > 0 then
  for i = 1, consumed do
    local w = windows[i]
    redis.call('HINCRBY', w.key, w.current, cost)
    -- The newest bucket overlaps the window until window_ms + bucket_ms from now at most.
    redis.call('PEXPIRE', w.key, w.span + w.width)
    w.used = w.used + cost
    if w.first == nil or w.first > w.current then
      w.first = w.current
    end
  end
end

local reply = {allowed and 1 or 0}
for _, w in ipairs(windows) do
  local reset = now + w.width
  if w.first ~= nil then
    reset = (w.first + w.buckets + 1) * w.width
  end
  local free_at = -1
  if w.violated then
    free_at = -2
    local need, freed = w.used + w.charge - w.limit, 0
    for _, bucket in ipairs(w.live) do
      freed = freed + bucket[2]
      if freed >= need then
        free_at = (bucket[1] + w.buckets + 1) * w.width
        break
      end
    end
  end
  reply[#reply + 1] = w.used
  reply[#reply + 1] = reset
  reply[#reply + 1] = free_at
end
return reply
