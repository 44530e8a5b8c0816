"""The office deliverables of a month (issue 14, REFERENCE §10): the ledger CSV,
the workbook, the printable HTML report, updates and revocations in the
snapshot and the notice, `status --unit`'s ledger; hostile names and texts.

A generated month runs through the real consumer (the session's Kafka broker:
the real one when available) and a spot check, then `snapshot`. Every
expectation is computed here, independently of the aggregator's code: from the
generator's expectation file, its JSONL, the alerts topic, the spot-check
sample this test wrote, and the stored snapshots this test put in Redis.
The workbook is read back with openpyxl (Debian's python3-openpyxl); the
report is printed to PDF by headless Chromium and a page turned into PNG by
pdftoppm (poppler-utils)."""

import collections
import csv
import html.parser
import io
import json
import os
import re
import shutil

import pytest

from sgstest import build_path, check, check_eq, consume_all, jsonl_messages, run

try:
    import openpyxl
except ImportError as e:  # not a skip: the workbook would go unchecked
    raise ImportError("python3-openpyxl is needed (bash scripts/setup.sh test installs it)") from e

MONTH = "2023-12"
KIND_LABEL = {"license": "行政许可", "penalty": "行政处罚"}
LEDGER_HEADER = ["单位编码", "单位名称", "类别", "类型", "决定文书号", "决定日期", "报送期限",
                 "报送时间", "迟报工作日", "原因"]
ANNEX_HEADER = ["序号", "成员单位名称", "数据总量", "迟报量", "迟报率(%)"]
REASON_CODES = {"missing_field", "bad_kind", "bad_date", "future_decision", "bad_uscc",
                "bad_id_no", "bad_validity", "bad_amount", "bad_doc_no", "bad_op"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------
# Reading the files back

def read_csv(path):
    raw = open(path, "rb").read()
    check(raw.startswith(b"\xef\xbb\xbf"), "%s: no UTF-8 BOM" % path)
    text = raw[3:].decode("utf-8")
    check("\r\n" in text and "\n" not in text.replace("\r\n", ""), "%s: CRLF lines" % path)
    return list(csv.reader(io.StringIO(text, newline="")))


def csv_plain(cell):
    """The text a CSV cell stands for: a leading apostrophe before = + - @
    (CSV injection neutralised) is not part of it."""
    if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def rate_text(num, den):
    if den == 0:
        return "-"
    h = (20000 * num + den) // (2 * den)
    return "%d.%02d" % (h // 100, h % 100)


def sheet_rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


def check_no_formula(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                check(c.data_type != "f", "%s!%s holds a formula: %r" % (ws.title, c.coordinate,
                                                                       c.value))


class HtmlDoc(html.parser.HTMLParser):
    """Tags, attributes, texts and table rows of the report page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = collections.Counter()
        self.attrs = []
        self.text = []
        self.tables, self._row, self._cell, self._table = [], None, None, None
        self.classes = collections.Counter()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.attrs.extend(attrs)
        for k, v in attrs:
            if k == "class":
                for c in v.split():
                    self.classes[c] += 1
        if tag == "table":
            self._table = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._table is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self.tables.append(self._table)
            self._table = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell += data


def parse_html(path):
    d = HtmlDoc()
    d.feed(open(path, encoding="utf-8").read())
    d.close()
    d.all_text = "".join(d.text)
    return d


def check_self_contained(path, doc):
    """No script, no resource from anywhere (the SVG namespace is a name,
    not a resource)."""
    for tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use"):
        check_eq(doc.tags[tag], 0, "<%s> in %s" % (tag, path))
    for k, v in doc.attrs:
        check(k not in ("src", "href", "xlink:href", "srcset"), "attribute %s=%r" % (k, v))
    text = open(path, encoding="utf-8").read()
    rest = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # the ledger annex's cells are the records' own texts (a reason may quote
    # "http://x"): character data, escaped (the tag counts above and the
    # hostile test's checks see to that), never a resource
    rest = re.sub(r'<table class="ledger">.*?</table>', "", rest, flags=re.S)
    for needle in ("http:", "https:", "url(", "@import", "//"):
        check(needle not in rest, "%r in %s" % (needle, path))
    check('<meta charset="utf-8">' in text, "charset declared")
    check("size:A4" in text and ".annex{break-before:page;page-break-before:always}" in text,
          "A4 and a page break before each annex")


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    raise AssertionError("chromium not found (bash scripts/setup.sh test installs it)")


def browser(tmp, *args):
    return run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--no-first-run",
                "--user-data-dir=%s" % os.path.join(tmp, "chromium")] + list(args), timeout=180)


def print_pdf(tmp, html_path, name):
    """The report printed by headless Chromium; returns (pdf path, pages)."""
    pdf = os.path.join(tmp, name + ".pdf")
    browser(tmp, "--no-pdf-header-footer", "--print-to-pdf=%s" % pdf,
            "file://" + os.path.abspath(html_path))
    check(os.path.getsize(pdf) > 10000, "%s is a PDF of some size" % pdf)
    info = run(["pdfinfo", pdf]).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    # A4: 595 x 842 pt
    check(abs(float(size.group(1)) - 595) < 2 and abs(float(size.group(2)) - 842) < 2,
          "A4 pages: " + size.group(0))
    return pdf, pages


def page_png(pdf, page, out_prefix, dpi=80):
    run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
         pdf, out_prefix])
    png = out_prefix + ".png"
    check(os.path.getsize(png) > 5000, "%s rendered" % png)
    return png


# ---------------------------------------------------------------------------
# The generated month

PAST = {  # stored snapshots of earlier months for the trend (2023-08: none)
    "2023-05": (2731, 301), "2023-06": (2902, 150), "2023-07": (3120, 95),
    "2023-09": (2655, 211), "2023-10": (2810, 140), "2023-11": (2977, 88),
}


def store_past_snapshots(r, prefix="sgs"):
    for month, (records, late) in PAST.items():
        doc = {"month": month, "version": 1, "generated_at": month + "-28T09:00:00+08:00",
               "totals": {"records": records, "late": late}, "groups": [], "units": []}
        r.set("%s:snapshot:%s:v1" % (prefix, month), json.dumps(doc))
        r.set("%s:snapshot:%s:latest" % (prefix, month), "1")
        r.sadd("%s:snapshot:months" % prefix, month)


def spot_sample(tmp, records):
    """A sample of 4 decisions that were reported and 3 that were not.
    Returns (path, the concealed ones as (unit, kind, doc_no))."""
    found = [r for r in records if r.get("op", "insert") == "insert"
             and re.fullmatch(r"[^〔]+〔2023〕\d+号", r["doc_no"] or "")][:4]
    concealed = [(found[0]["unit_id"], "license", "抽查许〔2023〕7号"),
                 (found[0]["unit_id"], "penalty", "抽查罚〔2023〕8号"),
                 (found[-1]["unit_id"], "license", "抽查许〔2023〕9号")]
    path = os.path.join(tmp, "sample.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\n")
        for r in found:
            f.write("%s\t%s\t%s\n" % (r["unit_id"], r["kind"], r["doc_no"]))
        for u, k, d in concealed:
            f.write("%s\t%s\t%s\n" % (u, k, d))
    return path, concealed


def agg(p, *args, now=None):
    env = {"SGS_NOW": now} if now else None
    return run([build_path("sgs-aggregator"), "-c", p.conf,
                "-X", "kafka.message.timeout.ms=30000"] + list(args), timeout=180, env=env)


@pytest.mark.case_timeout(600)
def test_office_month(sgs, tmp):
    """A generated month with late, invalid, concealed, gaps, updates and
    revocations: the ledger, the workbook and the report, exactly."""
    p = sgs("office", partitions=4)
    jsonl, expect = p.generate(MONTH, seed=21, records=3000, late_share=0.06, invalid=60,
                               duplicates=40, gaps=6, updates=50, revokes=20)
    msgs = jsonl_messages(jsonl)
    p.produce(msgs)
    p.run_consumer(idle=3)
    p.check_counts(expect)
    records = [json.loads(v) for _, v, _ in msgs]
    r = p.client()
    store_past_snapshots(r)
    sample, concealed = spot_sample(tmp, records)
    res = json.loads(agg(p, "spot-check", "--month", MONTH, "--sample", sample).stdout)
    check_eq((res["sampled"], res["found"], res["concealed"]), (7, 4, 3), "spot check")

    out = os.path.join(tmp, "reports")
    agg(p, "snapshot", "--month", MONTH, "--out", out, now="2024-01-05T09:00:00+08:00")
    snap = json.load(open(os.path.join(out, MONTH + ".json"), encoding="utf-8"))
    groups = [g["group"] for g in snap["groups"]]
    names = sorted(os.listdir(out))
    want_files = sorted(["%s-%s.csv" % (MONTH, g) for g in groups] +
                        [MONTH + s for s in ("-notice.md", "-ledger.csv", ".xlsx",
                                             "-report.html", ".json")])
    check_eq(names, want_files, "report files")

    # ---- updates and revoked: the generator's, summed like every column
    units = {u["unit_id"]: u for u in snap["units"]}
    for uid, want in expect["units"].items():
        for f in ("updates", "revoked", "records", "late", "invalid", "duplicates"):
            check_eq(units[uid][f], want[f], "%s %s" % (uid, f))
    for f in ("records", "late", "invalid", "duplicates", "updates", "revoked", "concealed"):
        for g in snap["groups"]:
            check_eq(g[f], sum(u[f] for u in snap["units"] if u["group"] == g["group"]),
                     "group %s %s = sum" % (g["group"], f))
        check_eq(snap["totals"][f], sum(u[f] for u in snap["units"]), "totals %s = sum" % f)
    check_eq((snap["totals"]["updates"], snap["totals"]["revoked"]),
             (expect["updates"], expect["revoked"]), "totals updates, revoked")
    notice = open(os.path.join(out, MONTH + "-notice.md"), encoding="utf-8").read()
    sentence = ("本月各单位更正已报送的决定%d条、撤销公示已报送的决定%d条，均不重复计入数据总量"
                "（撤销的决定仍计入其原报送月份）。" % (expect["updates"], expect["revoked"]))
    check(sentence in notice, "notice lacks %r" % sentence)

    # ---- the ledger CSV against the alerts, the expectation, the sample
    rows = read_csv(os.path.join(out, MONTH + "-ledger.csv"))
    check_eq(rows[0], LEDGER_HEADER, "ledger header")
    body = [[csv_plain(c) for c in row] for row in rows[1:]]
    check(all(len(row) == 10 for row in body), "10 cells a row")
    by_cat = collections.Counter(row[2] for row in body)
    check(set(by_cat) <= {"迟报", "不合格", "瞒报", "疑似漏报"},
          "categories: REFERENCE §10's four %s" % by_cat)

    def invalid_row(row):  # 不合格, or 迟报 with quality reasons (late and invalid)
        return row[2] == "不合格" or (row[2] == "迟报" and row[9] != "")
    name_of = {u["unit_id"]: u["name"] for u in snap["units"]}

    alerts = {}
    for m in consume_all(p.broker.bootstrap, "office.alerts"):
        a = json.loads(m.value)
        if a["type"] == "late":
            alerts[a["id"]] = a
    check_eq(len(alerts), expect["late_alerts"], "late alerts")
    want_late = collections.Counter(
        (a["unit_name"], KIND_LABEL[a["kind"]], a["doc_no"], a["decision_date"], a["deadline"],
         a["reported_at"], str(a["workdays_late"])) for a in alerts.values())
    got_late = collections.Counter(
        (row[1], row[3], row[4], row[5], row[6], row[7], row[8]) for row in body
        if row[2] == "迟报")
    check_eq(got_late, want_late, "every late record once, with its alert's deadline and "
             "working days late")
    for uid, want in expect["units"].items():
        rows_u = [row for row in body if row[0] == uid]
        check_eq(sum(row[2] == "迟报" for row in rows_u), want["late"], uid + " late rows")
        check_eq(sum(invalid_row(row) for row in rows_u), want["invalid"], uid + " invalid rows")
        if rows_u:
            check_eq({row[1] for row in rows_u}, {name_of[uid]}, uid + " name in its rows")
    for row in body:
        if invalid_row(row):
            codes = {part.split(" ")[0] for part in row[9].split("; ")}
            check(row[9] and codes <= REASON_CODES, "reasons of an invalid row: %r" % row[9])
        if row[2] == "迟报":
            # 0 when reported on a rest day right after the deadline
            check(row[8].isdigit(), "late row's working days: %r" % row)
    got_conc = sorted((row[0], row[3], row[4]) for row in body if row[2] == "瞒报")
    check_eq(got_conc, sorted((u, KIND_LABEL[k], d) for u, k, d in concealed), "concealed rows")
    want_gaps = sorted((uid, KIND_LABEL[g["kind"]], g["year"], int(n))
                       for uid, gs in expect["gaps"].items() for g in gs for n in g["missing"])
    got_gaps = []
    for row in body:
        if row[2] == "疑似漏报" and not row[9].startswith("另有"):  # not a note
            mm = re.search(r"〔(\d{4})〕(\d+)号$", row[4])
            got_gaps.append((row[0], row[3], int(mm.group(1)), int(mm.group(2))))
    check_eq(sorted(got_gaps), want_gaps, "suspected gap rows")
    check(len(want_gaps) >= 6, "the month has gaps")
    check_eq(sum(by_cat.values()), expect["late_alerts"] + sum(
        u["invalid"] for u in expect["units"].values()) -
        sum(row[2] == "迟报" and row[9] != "" for row in body) + 3 +
        len(want_gaps), "ledger rows: late + invalid (both once) + concealed + gaps")

    # ---- the workbook equals the CSVs; numbers are numbers; 合计 = sum
    wb = openpyxl.load_workbook(os.path.join(out, MONTH + ".xlsx"))
    check_no_formula(wb)
    check_eq(wb.sheetnames, [g["name"] for g in snap["groups"]] + ["台账"], "sheets")
    for gi, g in enumerate(snap["groups"]):
        ws = wb.worksheets[gi]
        data = sheet_rows(ws)
        check_eq(data[0][0], "附件%d" % (gi + 1), "annex number")
        check_eq(data[1][0], "%s“双公示”数据报送情况统计表（2023年12月）" % g["name"], "annex title")
        check_eq(data[2], ANNEX_HEADER, "sheet header")
        check_eq(ws.freeze_panes, "A4", "frozen header")
        check(ws.column_dimensions["B"].width >= 2 * max(len(u["name"]) for u in snap["units"]
                                                         if u["group"] == g["group"]),
              "name column fits Chinese text")
        csv_rows = read_csv(os.path.join(out, "%s-%s.csv" % (MONTH, g["group"])))
        check_eq(len(data) - 2, len(csv_rows), "sheet rows = CSV rows")
        for got, want in zip(data[3:], csv_rows[1:]):
            check(isinstance(got[2], int) and isinstance(got[3], int), "counts are numbers")
            rate = "-" if want[4] == "-" else float(want[4])
            check_eq([got[0], got[1] or "", got[2], got[3], got[4]],
                     [int(want[0]) if want[0] != "合计" else "合计", csv_plain(want[1]),
                      int(want[2]), int(want[3]), rate], "sheet row = CSV row")
        total = data[-1]
        check_eq(total[0], "合计", "合计 row")
        for c in (2, 3):
            check_eq(total[c], sum(row[c] for row in data[3:-1]), "合计 = column sum")
        check_eq("%.2f" % total[4] if total[4] != "-" else "-",
                 rate_text(total[3], total[2]), "合计 rate")
    ws = wb["台账"]
    data = sheet_rows(ws)
    # the notice's last annex, laid out like the group sheets
    check_eq(data[0][0], "附件%d" % (len(snap["groups"]) + 1), "台账 annex number")
    check_eq(data[1][0], "“双公示”数据报送问题台账（2023年12月）", "台账 annex title")
    check("%d. “双公示”数据报送问题台账" % (len(snap["groups"]) + 1) in notice,
          "the notice lists the ledger annex")
    check_eq(ws.freeze_panes, "A4", "台账 frozen header")
    check_eq(data[2], LEDGER_HEADER, "台账 header")
    check_eq(len(data) - 3, len(body), "台账 rows = CSV rows")
    for got, want in zip(data[3:], body):
        wd = int(want[8]) if want[8] else None
        check_eq([c if c is not None else "" for c in got[:8]] + [got[8]] + [got[9] or ""],
                 want[:8] + [wd] + [want[9]], "台账 row = CSV row")

    # ---- the report page
    page = os.path.join(out, MONTH + "-report.html")
    doc = parse_html(page)
    check_self_contained(page, doc)
    check_eq(doc.classes["annex"], len(groups) + 1, "a section (page) per annex, the ledger's last")
    check_eq(doc.classes["wide"], 1, "the ledger annex alone on wide (landscape) pages")
    check_eq(doc.tags["svg"], 1 + 2 * len(groups), "trend + two charts per group")
    check_eq(len(doc.tables), len(groups) + 1, "a table per annex")
    for g, table in zip(groups, doc.tables):
        csv_rows = read_csv(os.path.join(out, "%s-%s.csv" % (MONTH, g)))
        check_eq(table, [[csv_plain(c) for c in row] for row in csv_rows], "HTML table = CSV")
    check_eq(doc.tables[-1], [LEDGER_HEADER] + body, "the ledger annex's table = the ledger CSV")
    for line in notice.split("\n\n"):
        line = line.strip().lstrip("　")
        if line and not line.startswith(("|", "---", "#")):
            check(line in doc.all_text, "the page lacks the notice's %r" % line[:60])
    for month, (records, late) in PAST.items():
        check(">%d<" % records in open(page, encoding="utf-8").read(), "trend shows " + month)
    check_eq(doc.all_text.count("无快照"), 12 - 1 - len(PAST), "months without a snapshot")

    pdf, pages = print_pdf(tmp, page, "report")
    check(pages >= 2 + len(groups), "%d pages: the notice and a page per annex" % pages)
    text = run(["pdftotext", "-layout", pdf, "-"]).stdout
    check("双公示" in text and "附件1" in text and "合计" in text, "PDF text")
    # the ledger annex's ten columns on A4 landscape pages, the rest portrait;
    # its pages show every column's header, and dates and report times whole
    # (before, on portrait pages, they broke over lines and names stood one
    # character a line)
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", run(
        ["pdfinfo", "-f", "1", "-l", str(pages), pdf]).stdout, re.M)
    check_eq(len(sizes), pages, "a size per page")
    wide = [i + 1 for i, (w, h) in enumerate(sizes) if float(w) > float(h)]
    check(wide and wide == list(range(wide[0], pages + 1)),
          "the last pages (the ledger annex) landscape: %r of %d" % (wide, pages))
    check(all(abs(float(w) - 842) < 2 and abs(float(h) - 595) < 2
              for w, h in (sizes[i - 1] for i in wide)), "A4 landscape: %r" % sizes[-1:])
    ledger_text = run(["pdftotext", "-layout", "-f", str(wide[0]), "-l", str(pages), pdf,
                       "-"]).stdout
    for head in LEDGER_HEADER:
        check(head in ledger_text, "the ledger pages show the column %s" % head)
    for row in body[:20]:
        for cell in (row[5], row[7]):
            check(cell in ledger_text, "a date or time on one line: %r" % cell)
    page_png(pdf, 1, os.path.join(tmp, "page1"))
    page_png(pdf, pages, os.path.join(tmp, "page-last"))

    # ---- status --unit: the unit's ledger of the month
    uid = max(expect["units"], key=lambda u: expect["units"][u]["late"])
    st = json.loads(agg(p, "status", "--unit", uid, "--json", now="2023-12-31").stdout)
    ledger = st["ledger"]
    check_eq(ledger["month"], MONTH, "status ledger month")
    want_u = [row for row in body if row[0] == uid and row[2] != "疑似漏报"]
    check_eq([(e["category"], e["doc_no"], e["deadline"], e["workdays_late"])
              for e in ledger["entries"]],
             [(row[2], row[4], row[6], int(row[8]) if row[8] else None) for row in want_u],
             "status --unit ledger = the CSV's rows of the unit (gaps are the snapshot's)")
    table = agg(p, "status", "--unit", uid, now="2023-12-31").stdout
    with open(os.path.join(tmp, "status-unit.txt"), "w", encoding="utf-8") as f:
        f.write(table)  # kept with SGS_KEEP_TMP=1 (docs/AGGREGATOR.md shows it)
    check("台账 %s：%d条" % (MONTH, len(want_u)) in table, "status table: " + table[-400:])


# ---------------------------------------------------------------------------
# Hostile names and texts

HOSTILE_UNITS = [
    ("H1", "=cmd|' /C calc'!A0", "city"),
    ("H2", "<script>alert(\"x\")</script>局", "city"),
    ("H3", "\"引号\"&<b>粗体</b>,逗号", "county"),
    ("H4", "@SUM(1+1)", "county"),
    ("H5", "-2+3'", "county"),
]
HOSTILE_GROUPS = {"city": "市直<单位>&\"x\"", "county": "县[区]:*?/\\'"}
HOSTILE_DOC = "=cmd|' /C calc'!A0〔2023〕%d号"
HOSTILE_USCC = "=HYPERLINK(\"http://x\",\"<b>\")"


def hostile_records():
    """Native records of the hostile units: H1 four late ones with hostile
    document numbers (1, 2, 4, 5: a gap at 3), H2 an invalid one whose reason
    quotes a hostile value, H3/H4/H5 a late one each."""
    def rec(unit, doc, reported="2023-12-20T10:00:00+08:00", subject=None, kind="license"):
        r = {"kind": kind, "unit_id": unit, "doc_no": doc, "decision_date": "2023-12-01",
             "reported_at": reported,
             "subject": subject or {"name": "<img src=x onerror=alert(1)>", "type": "natural_person"},
             "authority": {"name": "=1+1"},
             "license": {"category": "普通", "content": "</td></tr></table><h1>x</h1>"},
             "penalty": None}
        return r
    out = [rec("H1", HOSTILE_DOC % n) for n in (1, 2, 4, 5)]
    out.append(rec("H2", "<b>许</b>〔2023〕1号", reported="2023-12-04T10:00:00+08:00",
                   subject={"name": "x", "type": "legal_person", "uscc": HOSTILE_USCC}))
    out.append(rec("H3", "\"引号\"许〔2023〕1号"))
    out.append(rec("H4", "@许〔2023〕1号"))
    out.append(rec("H5", "-许〔2023〕1号"))
    return out


@pytest.mark.case_timeout(300)
def test_office_hostile(sgs, tmp):
    """Hostile unit names, group names and record texts are text in the CSVs
    (formulas neutralised with a leading apostrophe), the workbook (string
    cells, never formulas) and the page (escaped, never markup); the
    consumer's ledger bound is said in a row."""
    units = os.path.join(tmp, "units.tsv")
    with open(units, "w", encoding="utf-8") as f:
        f.write("unit_id\tname\tgroup\taliases\n")
        for uid, name, group in HOSTILE_UNITS:
            f.write("%s\t%s\t%s\t\n" % (uid, name, group))
    p = sgs("hostile", partitions=2, units__file=units, consumer__ledger__max_per_unit=2,
            group__city__name=HOSTILE_GROUPS["city"],
            group__county__name=HOSTILE_GROUPS["county"])
    recs = hostile_records()
    p.produce([(r["unit_id"], json.dumps(r, ensure_ascii=False)) for r in recs])
    p.run_consumer(idle=3)
    sample = os.path.join(tmp, "sample.tsv")
    with open(sample, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\nH2\tpenalty\t<i>罚</i>〔2023〕9号\n")
    agg(p, "spot-check", "--month", MONTH, "--sample", sample)
    out = os.path.join(tmp, "reports")
    agg(p, "snapshot", "--month", MONTH, "--out", out, now="2024-01-05T09:00:00+08:00")
    snap = json.load(open(os.path.join(out, MONTH + ".json"), encoding="utf-8"))
    check_eq({u["unit_id"]: u["records"] for u in snap["units"]},
             {"H1": 4, "H2": 1, "H3": 1, "H4": 1, "H5": 1}, "records")
    names = {uid: name for uid, name, _ in HOSTILE_UNITS}

    # CSV: the raw text, a formula start neutralised by a leading apostrophe
    for g in ("city", "county"):
        raw = open(os.path.join(out, "%s-%s.csv" % (MONTH, g)), "rb").read().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(raw, newline="")))
        for row in rows[1:-1]:
            name = csv_plain(row[1])
            check(name in names.values(), "CSV name %r" % row[1])
            check_eq(row[1], ("'" + name) if name.startswith(FORMULA_START) else name,
                     "CSV name cell")
    check('"\'=cmd|\' /C calc\'!A0"' in open(os.path.join(out, MONTH + "-city.csv"),
                                             encoding="utf-8-sig").read(), "quoted, neutralised")
    rows = read_csv(os.path.join(out, MONTH + "-ledger.csv"))[1:]
    for row in rows:
        for cell in row:
            check(not cell.startswith(FORMULA_START), "ledger cell left as a formula: %r" % cell)
    h1 = [row for row in rows if row[0] == "H1"]
    check_eq(sorted(row[2] for row in h1), ["未逐条列出", "疑似漏报", "迟报", "迟报"],
             "H1: two kept, the cut said, the gap")
    note = [row for row in h1 if row[2] == "未逐条列出"][0]
    check("另有2条迟报或不合格数据" in note[9], "cut note: %r" % note[9])
    for row in h1:
        if row[2] in ("迟报", "疑似漏报"):
            check(row[4].startswith("'=cmd|'"), "hostile doc_no neutralised: %r" % row[4])
    h2 = [row for row in rows if row[0] == "H2"]
    check_eq(sorted(row[2] for row in h2), ["不合格", "瞒报"], "H2 rows")
    inv = [row for row in h2 if row[2] == "不合格"][0]
    check(HOSTILE_USCC in inv[9] and inv[9].startswith("bad_uscc"), "reason quotes: " + inv[9])
    conc = [row for row in h2 if row[2] == "瞒报"][0]
    check_eq(conc[4], "<i>罚</i>〔2023〕9号", "concealed doc_no as text")

    # the workbook: string cells holding the raw texts, sheet names Excel takes
    wb = openpyxl.load_workbook(os.path.join(out, MONTH + ".xlsx"))
    check_no_formula(wb)
    check_eq(len(wb.sheetnames), 3, "two groups and 台账")
    check_eq(wb.sheetnames[-1], "台账", "台账 last")
    for title in wb.sheetnames:
        check(not set(title) & set("[]:*?/\\") and len(title) <= 31, "sheet name %r" % title)
    seen = set()
    for ws in wb.worksheets[:2]:
        head = sheet_rows(ws)
        check(any(v in head[1][0] for v in HOSTILE_GROUPS.values()), "raw group name in title")
        for row in ws.iter_rows(min_row=4):
            if row[1].value:
                check_eq(row[1].data_type, "s", "name is a string cell")
                seen.add(row[1].value)
    check_eq(seen, set(names.values()), "every hostile name exactly, as text")
    ledger = sheet_rows(wb["台账"])[3:]
    check_eq(len(ledger), len(rows), "台账 rows")
    for got, want in zip(ledger, rows):
        check_eq(got[4] or "", csv_plain(want[4]), "台账 doc_no = the raw text")
        check_eq(got[9] or "", csv_plain(want[9]), "台账 reasons = the raw text")

    # the page: escaped, so the names and texts are text and nothing else
    page = os.path.join(out, MONTH + "-report.html")
    doc = parse_html(page)
    check_self_contained(page, doc)
    check_eq((doc.tags["script"], doc.tags["b"], doc.tags["i"], doc.tags["img"]), (0, 0, 0, 0),
             "no injected element")
    for name in names.values():
        check(name in doc.all_text, "name shown as text: %r" % name)
    for g in HOSTILE_GROUPS.values():
        check(g in doc.all_text, "group name shown as text: %r" % g)
    check("=cmd|'/Ccalc'!A0" in doc.all_text, "the gap's hostile prefix as text")
    dom = browser(tmp, "--dump-dom", "file://" + os.path.abspath(page)).stdout
    check("<script>alert" not in dom and "&lt;script&gt;alert" in dom,
          "the browser's DOM holds the name as text")
    print_pdf(tmp, page, "hostile")
