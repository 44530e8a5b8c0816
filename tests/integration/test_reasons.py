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

import pytest

from sgstest import build_path, check, check_eq, consume_all, run

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
       "文书号“鲁山县许〔2023〕17号”的决定日期2019-01-04早于报送日24个月以上，超出查重期限，"
       "无法判断是否重复报送，不予计入；应在决定后24个月内报送",
       "decided more than 24 months before its report: its identity is no longer kept")], False),
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
    # too_old needs a horizon (the default, 0, keeps every identity)
    p.run_consumer(idle=3, extra=("consumer.identity_horizon_months=24",))

    rejects = {}
    for m in consume_all(p.broker.bootstrap, "reasons.rejects"):
        rj = json.loads(m.value)
        rejects[rj["payload"]] = rj
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
    late record of its unit, not a reject: by default no identity horizon
    (consumer.identity_horizon_months = 0) turns it into too_old"""
    p = sgs("yearslate", partitions=1)
    rec = native(40, reported_at=DELETE)
    p.produce([(UNIT, text_of(rec))])
    p.run_consumer(idle=3)
    rejects = [json.loads(m.value) for m in consume_all(p.broker.bootstrap, "yearslate.rejects")]
    check_eq(rejects, [], "no reject")
    got = p.counts()["units"][UNIT]
    check_eq((got["records"], got["late"], got.get("too_old", 0)), (1, 1, 0),
             "one late record of " + UNIT)
