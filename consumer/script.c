/* The batch script: one atomic step per partition per batch (docs/REDIS.md).
 *
 * KEYS[1]  base "<prefix>:{<topic>:<partition>}"
 * ARGV     1 expected stored offset ("-1": none yet)   2 new offset
 *          3 the batch's first offset                  4 prefix (channel <prefix>:alerts)
 *          5 day retention (days)                      6 UTC offset of local days (seconds)
 *          7 late-rate window (days: day buckets live at least this long)
 *          8 the route's epoch (kept in fi with the first offset, first batch)
 *          9 latest alerts kept in P:T:al              10 ledger entries kept per unit, month
 *          11 n acks, then n outbox fields to delete (delivered)
 *          then the batch's outbox entry: its alerts and rejects, outbox-encoded
 *            (store.h), those whose conditions hold (decided with the
 *            identities: decide.c) and its late_rate alerts (tally.c)
 *          then n, then the n alerts (JSON) to PUBLISH and keep in P:T:al
 *          then n ledger entries, 3 values each: unit, report month, JSON
 *          then n counter keys, each: key suffix (":m:<month>", ":d:<day>"),
 *            n fields, the n fields ("<unit>|<counter>", "_|<counter>"), then
 *            their n increments (tally.c: the consumer decided which records
 *            are new, duplicates, updates, revocations)
 *          then n, then n pairs (unit, late-rate state after the batch) for P:T:lr
 *          then n, then n pairs (target partition, next sequence): fo after the batch
 *          then n, then n pairs (source partition, next sequence): fi after the batch
 *          then n keys of the identity store the batch reads or writes, each:
 *            key suffix (":b:<year>", ":x:<year>", ":g:<month>", ":ik"),
 *            expiry (the key's as the consumer keeps it in P:T:ik: the latest
 *            decision date + horizon of the identities it keeps, at least 32
 *            days after the batch, Unix seconds; 0 kept forever; -1 none),
 *            1 when the batch drops the key first (its expiry has come, by
 *            the consumer's clock) else 0, the number of fields it changes,
 *            then those fields and their new values (whole: bitmap and gap
 *            fields with the batch's bits set, own fields "1", P:T:ik states)
 * Returns  {"OK", "", ""} (the consumer has the outbox entry it sent)
 *          or {"FENCED", stored offset or "-1"} having written nothing,
 *          or an error having written nothing.
 *
 * Atomicity: Redis keeps the writes a script made before a runtime error. So
 * the script first does everything that can fail: the fence; reading every
 * key it will write, which checks its type (a key of another type is an error
 * here, before any write); reading the current value of every counter field it
 * will change (a field that is not an integer is an error here). Only then does
 * it write, with commands that cannot fail on what was checked, each given at
 * most 2 * CHUNK values (Redis's Lua refuses to unpack ~8,000 values: a
 * bigger HSET would fail after the writes before it, hset()); no value it
 * writes grows beyond a bitmap field (1 KiB) and a batch's outbox entry, so
 * proto-max-bulk-len never applies. The shebang makes Redis 7 refuse the whole
 * script up front when it is over maxmemory.
 *
 * The identity store (store.h): the consumer decides which identities are new
 * (from its cache of the partition's fields, which the fence keeps true:
 * idcache.h) and sends the values of the fields that change; the script
 * checks the type of every key of the store the batch reads or writes,
 * deletes the keys the consumer drops, sets the fields, and gives each key
 * the expiry the consumer decided plus two days (at least 32 days from now,
 * never sooner than it had): Redis drops a key only after the consumer has
 * (decide.c), so a key never vanishes under a consumer that believes it.
 *
 * Counters: the consumer sends each field's increment; the script reads the
 * fields (each must be an integer), adds, and writes one HSET per key. The
 * rolling late rate (P:T:lr: per unit the number of its upward crossings,
 * positive while above the threshold, negative below; the n-th crossing's
 * alert id is "late_rate:<topic>:<unit>:n", the same after a replay or a Redis
 * rollback) is decided by the consumer from the day buckets and states as its
 * cache holds them (tally.c); the script writes the states and the alerts.
 *
 * Lines "--@ <step>" mark the steps: bench/script_replay.py times each by
 * cutting the script there.
 *
 * Day buckets expire `retention` days after their day, but never sooner than
 * the late-rate window from now, so a replay of old months still computes its
 * rolling late rates. */
#include "consumer.h"
#include "sgs/store.h"

/* A unit's counter field: "<unit>|<counter>" (the unit is prepended in Lua);
 * a global one: "_|<counter>". */
#define F(counter) SGS_STORE_FIELD_SEP counter
#define G(counter) SGS_STORE_GLOBAL_UNIT SGS_STORE_FIELD_SEP counter

/* The Lua text, one line per line: not for clang-format. */
// clang-format off
const char sgs_consumer_script[] =
    "#!lua\n"
    "local base = KEYS[1]\n"
    "local okey = base .. '" SGS_STORE_OFFSET "'\n"
    "local stored = redis.call('GET', okey)\n"
    "if stored then\n"
    "  if stored ~= ARGV[1] then return {'FENCED', stored} end\n"
    "  if tonumber(ARGV[3]) < tonumber(stored) then return {'FENCED', stored} end\n"
    "elseif ARGV[1] ~= '-1' then\n"
    "  return {'FENCED', '-1'}\n"
    "end\n"
    "local CHUNK = 1000\n"
    "local function hset(key, t, first, last)\n"
    "  for j = first, last, 2 * CHUNK do\n"
    "    redis.call('HSET', key, unpack(t, j, math.min(j + 2 * CHUNK - 1, last)))\n"
    "  end\n"
    "end\n"
    "local DAYK = '" SGS_STORE_DAY "'\n"
    "local floor = math.floor\n"
    "local newoff = ARGV[2]\n"
    "local prefix = ARGV[4]\n"
    "local retention = tonumber(ARGV[5])\n"
    "local tzoff = tonumber(ARGV[6])\n"
    "local window = tonumber(ARGV[7])\n"
    "local epoch = ARGV[8]\n"
    "local alkeep = tonumber(ARGV[9])\n"
    "local lgmax = tonumber(ARGV[10])\n"
    "local i = 11\n"
    "local nacks = tonumber(ARGV[i]); i = i + 1\n"
    "local ack0, ack1 = i, i + nacks - 1\n"
    "i = ack1 + 1\n"
    "local entry = ARGV[i]; i = i + 1\n"
    "local npubs = tonumber(ARGV[i]); i = i + 1\n"
    "local pub0 = i\n"
    "i = i + npubs\n"
    "local nlg = tonumber(ARGV[i]); i = i + 1\n"
    "local lg0 = i\n"
    "i = i + 3 * nlg\n"
    "local ncnt = tonumber(ARGV[i]); i = i + 1\n"
    "local ck = {}\n"
    "for k = 1, ncnt do\n"
    "  local nf = tonumber(ARGV[i + 1])\n"
    "  ck[k] = {ARGV[i], i + 2, nf}\n"
    "  i = i + 2 + 2 * nf\n"
    "end\n"
    "local nlr = tonumber(ARGV[i]); i = i + 1\n"
    "local lr0 = i\n"
    "i = i + 2 * nlr\n"
    "local nfo = tonumber(ARGV[i]); i = i + 1\n"
    "local fo0 = i\n"
    "i = i + 2 * nfo\n"
    "local nfi = tonumber(ARGV[i]); i = i + 1\n"
    "local fi0 = i\n"
    "i = i + 2 * nfi\n"
    "local nidk = tonumber(ARGV[i]); i = i + 1\n"
    "local idk = {}\n"
    "for k = 1, nidk do\n"
    "  local nf = tonumber(ARGV[i + 3])\n"
    "  idk[k] = {base .. ARGV[i], tonumber(ARGV[i + 1]), i + 4, nf, ARGV[i + 2] == '1'}\n"
    "  i = i + 4 + 2 * nf\n"
    "end\n"
    "--@ types\n"
    "local function daynum(s)\n"
    "  local y, m, d = tonumber(s:sub(1, 4)), tonumber(s:sub(6, 7)), tonumber(s:sub(9, 10))\n"
    "  if m <= 2 then y = y - 1 end\n"
    "  local era = floor(y / 400)\n"
    "  local yoe = y - era * 400\n"
    "  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1\n"
    "  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy\n"
    "  return era * 146097 + doe - 719468\n"
    "end\n"
    "local function want(key, typ)\n"
    "  local t = redis.call('TYPE', key)['ok']\n"
    "  if t ~= 'none' and t ~= typ then\n"
    "    return redis.error_reply('WRONGTYPE sgs: ' .. key .. ' holds a ' .. t ..\n"
    "                             ', expected a ' .. typ .. '; nothing was written')\n"
    "  end\n"
    "end\n"
    "local e = want(base .. '" SGS_STORE_OUTBOX "', 'hash') or\n"
    "          want(base .. '" SGS_STORE_FWD_OUT "', 'hash') or\n"
    "          want(base .. '" SGS_STORE_FWD_IN "', 'hash') or\n"
    "          want(base .. '" SGS_STORE_LR "', 'hash') or\n"
    "          want(base .. '" SGS_STORE_ALERT_LIST "', 'list')\n"
    "if e then return e end\n"
    "for k = 1, nidk do\n"
    "  e = want(idk[k][1], 'hash')\n"
    "  if e then return e end\n"
    "end\n"
    "--@ expiries\n"
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local expire = {}\n"
    "for k = 1, nidk do\n"
    "  local key, at = idk[k][1], idk[k][2]\n"
    "  if at == 0 then\n"
    "    expire[key] = 0\n"
    "  elseif at > 0 then\n"
    "    at = math.max(at + 2 * 86400, now + 32 * 86400)\n"
    "    if not idk[k][5] then at = math.max(at, redis.call('EXPIRETIME', key)) end\n"
    "    expire[key] = at\n"
    "  end\n"
    "end\n"
    "--@ counters read\n"
    "local writes, days = {}, {}\n"
    "for k = 1, ncnt do\n"
    "  local sfx, f0, nf = ck[k][1], ck[k][2], ck[k][3]\n"
    "  local key = base .. sfx\n"
    "  e = want(key, 'hash')\n"
    "  if e then return e end\n"
    "  local w = {}\n"
    "  for j = 0, nf - 1, CHUNK do\n"
    "    local cur = redis.call('HMGET', key, unpack(ARGV, f0 + j, f0 + math.min(j + CHUNK, nf) - 1))\n"
    "    for x = 1, #cur do\n"
    "      local v, at = 0, j + x\n"
    "      if cur[x] then\n"
    "        v = tonumber(cur[x])\n"
    "        if not v or v ~= floor(v) then\n"
    "          return redis.error_reply('ERR sgs: ' .. key .. ' field ' .. ARGV[f0 + at - 1] ..\n"
    "                                   ' is not an integer; nothing was written')\n"
    "        end\n"
    "      end\n"
    "      w[2 * at - 1] = ARGV[f0 + at - 1]\n"
    "      w[2 * at] = string.format('%d', v + tonumber(ARGV[f0 + nf + at - 1]))\n"
    "    end\n"
    "  end\n"
    "  writes[key] = w\n"
    "  if sfx:sub(1, #DAYK) == DAYK then days[key] = sfx:sub(#DAYK + 1) end\n"
    "end\n"
    "--@ ledger entries\n"
    "local lg, lgunits = {}, {}\n"
    "for a = 1, nlg do\n"
    "  local o = lg0 + (a - 1) * 3\n"
    "  local unit, month = ARGV[o], ARGV[o + 1]\n"
    "  local l = lg[month]\n"
    "  if not l then l = {}; lg[month] = l; lgunits[month] = {} end\n"
    "  l[#l + 1] = {unit, ARGV[o + 2]}\n"
    "  lgunits[month][unit] = true\n"
    "end\n"
    "--@ ledger read\n"
    "local lgw = {}\n"
    "for month, l in pairs(lg) do\n"
    "  local lkey = base .. '" SGS_STORE_LEDGER "' .. month\n"
    "  local nkey = base .. '" SGS_STORE_LEDGER_N "' .. month\n"
    "  e = want(lkey, 'list') or want(nkey, 'hash')\n"
    "  if e then return e end\n"
    "  local fields, nf = {}, 0\n"
    "  for unit in pairs(lgunits[month]) do\n"
    "    fields[nf + 1] = unit; fields[nf + 2] = unit .. '" F(SGS_STORE_C_CUT) "'; nf = nf + 2\n"
    "  end\n"
    "  local cur = {}\n"
    "  for j = 1, nf, CHUNK do\n"
    "    local part = redis.call('HMGET', nkey, unpack(fields, j, math.min(j + CHUNK - 1, nf)))\n"
    "    for x = 1, #part do cur[j + x - 1] = part[x] end\n"
    "  end\n"
    "  local have, cut = {}, {}\n"
    "  for k = 1, nf, 2 do\n"
    "    local h, c = tonumber(cur[k] or '0'), tonumber(cur[k + 1] or '0')\n"
    "    if not h or not c then\n"
    "      return redis.error_reply('ERR sgs: ' .. nkey .. ' holds a count that is not a number; '\n"
    "                               .. 'nothing was written')\n"
    "    end\n"
    "    have[fields[k]] = h; cut[fields[k]] = c\n"
    "  end\n"
    "  local push, npush = {}, 0\n"
    "  for k = 1, #l do\n"
    "    local unit = l[k][1]\n"
    "    if have[unit] < lgmax then\n"
    "      have[unit] = have[unit] + 1; npush = npush + 1; push[npush] = l[k][2]\n"
    "    else\n"
    "      cut[unit] = cut[unit] + 1\n"
    "    end\n"
    "  end\n"
    "  local w = {}\n"
    "  for unit, h in pairs(have) do\n"
    "    w[#w + 1] = unit; w[#w + 1] = h; w[#w + 1] = unit .. '" F(SGS_STORE_C_CUT) "'; w[#w + 1] = cut[unit]\n"
    "  end\n"
    "  lgw[month] = {lkey, nkey, push, npush, w}\n"
    "end\n"
    "--@ identity writes\n"
    "local obkey = base .. '" SGS_STORE_OUTBOX "'\n"
    "for j = ack0, ack1, CHUNK do\n"
    "  redis.call('HDEL', obkey, unpack(ARGV, j, math.min(j + CHUNK - 1, ack1)))\n"
    "end\n"
    "for k = 1, nidk do\n"
    "  local x = idk[k]\n"
    "  local last = x[3] + 2 * x[4] - 1\n"
    "  if x[5] then redis.call('DEL', x[1]) end\n"
    "  hset(x[1], ARGV, x[3], last)\n"
    "end\n"
    "--@ counter writes, expiries\n"
    "for key, at in pairs(expire) do\n"
    "  if at > 0 then redis.call('EXPIREAT', key, at) elseif at == 0 then redis.call('PERSIST', key) end\n"
    "end\n"
    "for key, w in pairs(writes) do hset(key, w, 1, #w) end\n"
    "local mintime = now + (window + 2) * 86400\n"
    "for dkey, day in pairs(days) do\n"
    "  redis.call('EXPIREAT', dkey, math.max((daynum(day) + retention + 1) * 86400 - tzoff, mintime))\n"
    "end\n"
    "--@ late rate, sequences, ledger\n"
    "hset(base .. '" SGS_STORE_LR "', ARGV, lr0, lr0 + 2 * nlr - 1)\n"
    "hset(base .. '" SGS_STORE_FWD_OUT "', ARGV, fo0, fo0 + 2 * nfo - 1)\n"
    "hset(base .. '" SGS_STORE_FWD_IN "', ARGV, fi0, fi0 + 2 * nfi - 1)\n"
    "if not stored then\n"
    "  redis.call('HSET', base .. '" SGS_STORE_FWD_IN "', '" SGS_STORE_FI_EPOCH "', epoch, '" SGS_STORE_FI_START "', ARGV[3])\n"
    "end\n"
    "for month, w in pairs(lgw) do\n"
    "  for j = 1, w[4], CHUNK do\n"
    "    redis.call('RPUSH', w[1], unpack(w[3], j, math.min(j + CHUNK - 1, w[4])))\n"
    "  end\n"
    "  hset(w[2], w[5], 1, #w[5])\n"
    "end\n"
    "--@ outbox\n"
    "if entry ~= '' then redis.call('HSET', obkey, newoff, entry) end\n"
    "--@ alerts\n"
    "if npubs > 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  local ms = t[1] .. string.format('%03d', floor(tonumber(t[2]) / 1000))\n"
    "  local alkey = base .. '" SGS_STORE_ALERT_LIST "'\n"
    "  local kept, first = {}, math.max(1, npubs - alkeep + 1)\n"
    "  for k = 1, npubs do\n"
    "    redis.call('PUBLISH', prefix .. ':" SGS_STORE_ALERTS "', ARGV[pub0 + k - 1])\n"
    "    if k >= first then kept[#kept + 1] = ms .. ' ' .. ARGV[pub0 + k - 1] end\n"
    "  end\n"
    "  if alkeep > 0 then\n"
    "    for j = 1, #kept, CHUNK do\n"
    "      redis.call('LPUSH', alkey, unpack(kept, j, math.min(j + CHUNK - 1, #kept)))\n"
    "    end\n"
    "    redis.call('LTRIM', alkey, 0, alkeep - 1)\n"
    "  end\n"
    "end\n"
    "--@ offset\n"
    "redis.call('SET', okey, newoff)\n"
    "return {'OK', '', ''}\n";
// clang-format on
