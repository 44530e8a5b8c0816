"""Reasons in Chinese (issue 17, point 6): every reason code the consumer can
emit carries a Chinese message for the unit that must fix the record (the
field by its Chinese name, the value quoted, what is wrong, what is expected)
and the former English text in message_en, for operators. Checked in the real
rejects the real consumer produces on the rejects topic, and in the ledger
(台账) 原因 column of the month's files and of `status --unit` for the reasons
that reach the ledger (those of invalid records that count).

The codes: REFERENCE §4's table (missing_field, bad_kind, bad_date,
future_decision, bad_uscc, bad_id_no, bad_validity, bad_amount, bad_doc_no),
malformed_json and unknown_unit, and sgs's own: bad_op (common/src/
record_rules.c), unknown_record and too_old (consumer/batch.c)."""

import copy
import csv
import io
import json
import os
import time

import pytest

from sgstest import build_path, check, check_eq, consume_all, consumer_cmd, run, spawn

MONTH = "2023-12"
UNIT = "410423"  # 鲁山县 in configs/units.tsv
NOW = "2024-01-05T09:00:00+08:00"

GOOD = {
    "kind": "license", "unit_id": UNIT, "doc_no": None,
    "decision_date": "2023-12-01", "reported_at": "2023-12-05T10:00:00+08:00",
    "subject": {"name": "鲁山县某某商贸有限公司", "type": "legal_person",
                "uscc": "91310110666007217T"},
    "authority": {"name": "鲁山县市场监督管理局"},
    "license": {"category": "普通", "content": "食品经营许可",
                "valid_from": "2023-12-01", "valid_to": "2028-11-30"},
}
NATIONAL = {
    "XK_XDR_MC": "平顶山市某某商贸有限公司", "XK_XDR_LB": "法人及非法人组织",
    "XK_XDR_SHXYM": "91310110666007217T", "XK_WSH": None, "XK_NR": "食品经营许可",
    "XK_JDRQ": "2023/12/01", "XK_YXQZ": "2023/12/01", "XK_YXQZI": "2028/11/30",
    "XK_XKJG": "鲁山县市场监督管理局", "XK_XKJGDM": "11230500001755309F",
    "XK_LYDW": "鲁山县", "XK_LYDWDM": UNIT, "reported_at": "2023-12-05T10:00:00+08:00",
}


def native(serial, **changes):
    """The good licence with doc_no 鲁山县许〔2023〕<serial>号 and changes:
    dotted paths ("subject.uscc") to a value, or to DELETE."""
    r = copy.deepcopy(GOOD)
    r["doc_no"] = "鲁山县许〔2023〕%d号" % serial
    for path, value in changes.items():
        obj, keys = r, path.split("__")
        for k in keys[:-1]:
            obj = obj[k]
        if value is DELETE:
            del obj[keys[-1]]
        else:
            obj[keys[-1]] = value
    return r


DELETE = object()


def national(serial, **changes):
    r = dict(NATIONAL, XK_WSH="鲁山县许〔2023〕%d号" % serial)
    r.update(changes)
    return r


# (name, message value, [(code, field, part of message, part of message_en)],
#  in the ledger). The Chinese parts are whole sentences where they are fixed
# (the example among them), so a word lost or an English one left
# shows.
CASES = [
    ("malformed_json: invalid JSON", '{"kind": "license",}',
     [("malformed_json", "",
       "消息不是有效的JSON（应为UTF-8编码的JSON对象）：第1行第20列（第19字节）处出错",
       "invalid JSON at byte 19")], False),
    ("malformed_json: an array", '[1, 2]',
     [("malformed_json", "", "消息是JSON数组，应为一个JSON对象（{...}）",
       "JSON array, expected an object")], False),
    ("unknown_unit", native(1, unit_id="999999"),
     [("unknown_unit", "unit_id", "单位代码“999999”不在单位名录中，应为单位名录中的单位代码",
       "unit '999999' is not in the registry")], False),
    ("unknown_unit: national", national(2, XK_LYDWDM="999999", XK_LYDW=DELETE,
                                       XK_XKJG="某某局", XK_XKJGDM=DELETE),
     # a named source unit not in the registry: the organ is not looked at
     [("unknown_unit", "XK_LYDWDM",
       "数据来源单位统一社会信用代码“999999”不在单位名录中，应为名录中单位的代码",
       "source unit '999999' is not in the registry")],
     False),
    ("missing_field", native(3, subject__name=""),
     [("missing_field", "subject.name", "行政相对人名称为空，应为非空文本", "empty")], True),
    ("missing_field: absent", native(4, authority=DELETE),
     [("missing_field", "authority.name", "缺少必填项决定机关名称（没有authority对象），应为非空文本",
       "missing (no authority object)")], True),
    ("bad_kind", native(5, kind="permit"),
     [("bad_kind", "kind", "决定类别“permit”无效，应为license（行政许可）或penalty（行政处罚）",
       "'permit' is not license or penalty")], True),
    ("bad_date", native(6, decision_date="2023-02-30"),
     [("bad_date", "decision_date",
       "决定日期“2023-02-30”不是有效日期，应为YYYY-MM-DD格式的真实日期",
       "'2023-02-30' is not a real date (YYYY-MM-DD)")], True),
    ("future_decision", native(7, decision_date="2023-12-20", license__valid_from="2023-12-20"),
     [("future_decision", "decision_date",
       "决定日期2023-12-20晚于报送日期2023-12-05，决定日期应不晚于报送日期",
       "decided 2023-12-20, after the report date 2023-12-05")], True),
    ("bad_uscc", native(8, subject__uscc="91310110666007217U"),
     [("bad_uscc", "subject.uscc",
       "行政相对人统一社会信用代码“91310110666007217U”的校验码为“U”，应为“T”",
       "'91310110666007217U': check character is 'U', expected 'T'")], True),
    ("bad_uscc: national", national(9, XK_XDR_SHXYM="9131011066600721"),
     [("bad_uscc", "XK_XDR_SHXYM",
       "行政相对人统一社会信用代码“9131011066600721”为16个字符，应为18个字符",
       "'9131011066600721' has 16 characters, expected 18")], True),
    ("bad_id_no", native(10, subject={"name": "张三", "type": "natural_person",
                                      "id_no": "110105194912310021"}),
     [("bad_id_no", "subject.id_no",
       "行政相对人证件号码“110105194912310021”的校验码为“1”，应为“X”",
       "'110105194912310021': check character is '1', expected 'X'")], True),
    ("bad_validity", native(11, license__valid_to="2023-11-30"),
     [("bad_validity", "license.valid_to", "有效期至2023-11-30早于有效期自2023-12-01，应不早于有效期自",
       "valid to 2023-11-30 is before valid from 2023-12-01")], True),
    ("bad_amount", dict(native(12, kind="penalty", license=DELETE),
                        penalty={"category": ["罚款"], "fine_amount": -5}),
     [("bad_amount", "penalty.fine_amount", "罚款金额-5无效，应为不小于0的有限数字",
       "-5 is not a finite number >= 0")], True),
    ("bad_doc_no", native(13, doc_no=" Ａ B "),
     [("bad_doc_no", "doc_no", "文书号“AB”规范化后为2个字符，应为4至64个字符",
       "'AB' normalises to 2 characters, expected 4 to 64")], True),
    ("bad_op", native(14, op="delete"),
     [("bad_op", "op", "操作类型“delete”无效，应为insert（新增）、update（更正）或revoke（撤销）",
       "'delete' is not insert, update or revoke")], True),
    ("bad_op: national", national(15, SYNC_STATUS="X"),
     [("bad_op", "SYNC_STATUS", "同步状态“X”无效，应为I（新增）、U（更正）或D（撤销）",
       "'X' is not I, U or D")], True),
    ("unknown_record", native(16, op="revoke"),
     [("unknown_record", "doc_no",
       "撤销的决定（文书号“鲁山县许〔2023〕16号”）从未报送过，无法撤销；应先报送该决定，或核对文书号",
       "revoke of a decision that was never reported")], False),
    ("too_old", native(17, decision_date="2019-01-04", license__valid_from="2019-01-04"),
     [("too_old", "doc_no",
       "文书号“鲁山县许〔2023〕17号”的决定日期2019-01-04距今已超过24个月，"
       "该年度的查重记录已按保存期限清除，无法判断是否重复报送，不予计入；应在决定后24个月内报送",
       "decided more than 24 months ago and its year's identities were dropped: it cannot be "
       "told from a duplicate")], False),
    ("several reasons", native(18, subject__uscc="1234", decision_date="2023/12/01"),
     [("bad_date", "decision_date", "决定日期“2023/12/01”不是有效日期",
       "'2023/12/01' is not a real date"),
      ("bad_uscc", "subject.uscc", "行政相对人统一社会信用代码“1234”为4个字符，应为18个字符",
       "'1234' has 4 characters, expected 18")], True),
]

# Every code the consumer can emit (sgs/record.h's SGS_REASON_*).
ALL_CODES = {"malformed_json", "unknown_unit", "missing_field", "bad_kind", "bad_date",
             "future_decision", "bad_uscc", "bad_id_no", "bad_validity", "bad_amount",
             "bad_doc_no", "bad_op", "unknown_record", "too_old"}


def text_of(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def drop_deleted(value):
    """national() marks members to leave out with DELETE."""
    if isinstance(value, dict):
        return {k: drop_deleted(v) for k, v in value.items() if v is not DELETE}
    return value


def has_hanzi(s):
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


def agg(p, *args, now=NOW):
    return run([build_path("sgs-aggregator"), "-c", p.conf,
                "-X", "kafka.message.timeout.ms=30000"] + list(args), timeout=180,
               env={"SGS_NOW": now})


@pytest.mark.case_timeout(300)
def test_reasons_in_chinese(sgs, tmp):
    """Each reason code, in real rejects and in the ledger: message in
    Chinese (specific), message_en the English text, code and field as
    before."""
    check_eq({code for _, _, reasons, _ in CASES for code, _, _, _ in reasons}, ALL_CODES,
             "the cases cover every reason code")
    p = sgs("reasons", partitions=2)
    texts = [text_of(drop_deleted(value)) for _, value, _, _ in CASES]
    p.produce([(UNIT, t) for t in texts])
    # too_old needs a dropped key: the store's state after P:T:b:2023 was
    # dropped at its expiry of 2021-02-01 (the too_old case was decided
    # 2019-01-04, so it may have been there; the others, decided 2023-12, not)
    with p.client() as r:
        for part in range(2):
            r.hset("%s:{%s:%d}:ik" % (p.prefix, p.topic, part), "b2023", "-1 1612137600")
    p.run_consumer(idle=3)

    rejects = {}
    for m in consume_all(p.broker.bootstrap, "reasons.rejects"):
        rj = json.loads(m.value)
        rejects[rj["payload"]] = rj
        # keyed by its unit_id, or empty (REFERENCE §2): never without a key
        check_eq(m.key, (rj.get("unit_id") or "").encode(), "the key of " + m.value.decode())
    check(any(not rj.get("unit_id") for rj in rejects.values()), "a reject without a unit")
    check_eq(len(rejects), len(CASES), "one reject per message")
    for (name, _, want, _), text in zip(CASES, texts):
        rj = rejects.get(text)
        check(rj is not None, "%s: no reject" % name)
        got = rj["reasons"]
        check_eq([(x["code"], x["field"]) for x in got], [(c, f) for c, f, _, _ in want],
                 name + ": codes and fields")
        for x, (code, _, zh, en) in zip(got, want):
            check_eq(sorted(x), ["code", "field", "message", "message_en"], name + ": members")
            check(zh in x["message"], "%s: message %r lacks %r" % (name, x["message"], zh))
            check(en in x["message_en"], "%s: message_en %r lacks %r" % (name, x["message_en"], en))
            check(has_hanzi(x["message"]), name + ": message not Chinese")
            check(len(x["message"].encode()) < 320 and len(x["message_en"].encode()) < 200,
                  name + ": message bounds")

    # The ledger (台账): the 原因 column lists "code field: message" with the
    # Chinese message, never the English one; in the month's CSV and in
    # `status --unit` (what the console's ledger shows).
    out = os.path.join(tmp, "reports")
    agg(p, "snapshot", "--month", MONTH, "--out", out)
    raw = open(os.path.join(out, MONTH + "-ledger.csv"), "rb").read().decode("utf-8-sig")
    # (the others: 疑似漏报, serials missing between those counted)
    rows = [r for r in list(csv.reader(io.StringIO(raw, newline="")))[1:] if r[2] != "疑似漏报"]
    status = json.loads(agg(p, "status", "--unit", UNIT, "--json",
                            now="2023-12-20T09:00:00+08:00").stdout)
    live = [e for e in status["ledger"]["entries"] if e["category"] != "疑似漏报"]
    in_ledger = [(name, drop_deleted(value), want) for name, value, want, ledger in CASES
                 if ledger]
    check_eq(len(rows), len(in_ledger), "ledger rows: one per invalid record counted")
    check_eq(len(live), len(in_ledger), "status ledger entries")
    for name, value, want in in_ledger:
        doc = value["doc_no"] if "doc_no" in value else value["XK_WSH"]
        row = [r for r in rows if r[4] == doc]
        check_eq(len(row), 1, name + ": its ledger row")
        check_eq(row[0][2], "不合格", name + ": category")
        entry = [e for e in live if e["doc_no"] == doc]
        check_eq(len(entry), 1, name + ": its status ledger entry")
        for cell in (row[0][9], entry[0]["reasons"]):
            for code, field, zh, en in want:
                check(("%s %s: " % (code, field)) + zh in cell,
                      "%s: 原因 %r lacks %r" % (name, cell, zh))
                check(en not in cell, "%s: 原因 has the English %r" % (name, en))


@pytest.mark.case_timeout(300)
def test_years_late_counted_by_default(sgs, tmp):
    """REFERENCE §3-4: a record without reported_at takes its Kafka timestamp
    (here: now) as its report time, and a decision of 2023 reported now is a
    late record of its unit, not a reject: the identity horizon (24 months
    by default) turns a decision into too_old only when its year's
    identities were dropped, and nothing of 2023 was ever stored here. The
    key it creates lives 24 months after the decision, but at least 32 days
    from now (Redis drops it two days after the consumer would)."""
    p = sgs("yearslate", partitions=1)
    rec = native(40, reported_at=DELETE)
    p.produce([(UNIT, text_of(rec))])
    p.run_consumer(idle=3)
    rejects = [json.loads(m.value) for m in consume_all(p.broker.bootstrap, "yearslate.rejects")]
    check_eq(rejects, [], "no reject")
    got = p.counts()["units"][UNIT]
    check_eq((got["records"], got["late"], got.get("too_old", 0)), (1, 1, 0),
             "one late record of " + UNIT)
    with p.client() as r:
        base = "%s:{%s:0}" % (p.prefix, p.topic)
        state = r.hget(base + ":ik", "b2023")
        check(state is not None, "the key's state is kept in %s:ik" % base)
        expiry, dropped = (int(x) for x in state.split())
        now = time.time()
        check(now + 31 * 86400 < expiry < now + 33 * 86400 and dropped == 0,
              "b2023: state %r, expected about 32 days from now, never dropped" % state)
        check_eq(r.execute_command("EXPIRETIME", base + ":b:2023"), expiry + 2 * 86400,
                 "Redis drops the key two days after the consumer")


def run_at(p, now, name):
    """sgs-consumer until idle with its clock at `now` (SGS_NOW)."""
    proc = spawn(consumer_cmd(p.conf, 3, ()), p.tmp, name=name,
                 env=dict(os.environ, SGS_NOW=now))
    check_eq(proc.wait(300), 0, name + " exit status")


@pytest.mark.case_timeout(300)
def test_horizon_drops_a_year(sgs, tmp):
    """docs/REDIS.md, "Retention": a year's identities are dropped once the
    latest (decision date + 24 months) of them has come; the batch that finds
    so deletes the key and remembers the drop in P:T:ik. Then a re-send of a
    decision that was there, and one never sent that may have been there,
    are too_old (never a record or a duplicate); a decision of the same
    document year decided later is counted and re-creates the key."""
    p = sgs("horizon", partitions=1)
    base = "%s:{%s:0}" % (p.prefix, p.topic)
    p.produce([(UNIT, text_of(native(1))), (UNIT, text_of(native(2)))])
    run_at(p, "2024-01-05T09:00:00+08:00", "first")
    got = p.counts()["units"][UNIT]
    check_eq((got["records"], got.get("too_old", 0)), (2, 0), "2 records in 2024")
    with p.client() as r:
        # decided 2023-12-01: kept until 2025-12-02
        check_eq(r.hget(base + ":ik", "b2023"), "1764633600 0", "b2023 state after 2024")
        check(r.exists(base + ":b:2023"), "the key lives")

    late = dict(reported_at="2026-03-02T10:00:00+08:00")
    p.produce([(UNIT, text_of(native(1, **late))),  # a re-send
               (UNIT, text_of(native(1, **late))),  # again, in the same batch
               (UNIT, text_of(native(3, **late))),  # never sent, decided 2023-12-01
               (UNIT, text_of(native(4, decision_date="2025-06-30",
                                     license__valid_from="2025-06-30", **late)))])
    run_at(p, "2026-03-02T12:00:00+08:00", "second")
    got = p.counts(month="2026-03")["units"][UNIT]
    check_eq((got["records"], got["duplicates"], got["too_old"]), (1, 0, 3),
             "2026-03: serial 4 counted, the others too_old")
    rejects = [json.loads(m.value) for m in consume_all(p.broker.bootstrap, "horizon.rejects")]
    check_eq(sorted((json.loads(x["payload"])["doc_no"], [c["code"] for c in x["reasons"]])
                    for x in rejects),
             [("鲁山县许〔2023〕1号", ["too_old"])] * 2 + [("鲁山县许〔2023〕3号", ["too_old"])],
             "one too_old reject per message")
    with p.client() as r:
        # dropped at 2025-12-02; serial 4 keeps the new key until 2027-07-01
        check_eq(r.hget(base + ":ik", "b2023"), "1814400000 1764633600", "b2023 state after")
    raw = p.redis.client(decode=False)
    fields = raw.hgetall(base.encode() + b":b:2023")
    raw.close()
    check_eq(len(fields), 1, "one bitmap field")
    value = next(iter(fields.values()))
    bits = [8 * i + k for i, byte in enumerate(value) for k in range(8) if byte & (0x80 >> k)]
    check_eq(bits, [4], "only serial 4 is in the re-created key")
