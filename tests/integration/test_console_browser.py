"""The console page in a real headless Chromium (Debian's chromium through
chromium-driver and python3-selenium): it loads without console errors,
shows a unit's figures as the generator expects them, shows a new alert
without a reload, works at a phone's width, shows a unit named with HTML as
text, asks for the token once and sends a spot check.

SGSTEST_SCREENSHOTS=DIR keeps the screenshots (desktop.png, phone.png, ...)
there; otherwise they go to the test's temporary directory.
"""
import json
import os
import time

import pytest

from sgstest import (build_path, check, check_eq, jsonl_messages, produce, run, source_path,
                     wait_until, write_config)
from sgstest.console import late_record
from sgstest.redisserver import RedisServer

MONTH = "2023-11"
NOW = "2023-11-30T20:00:00+08:00"
HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">\'"&amp;单位'


def shots(tmp):
    d = os.environ.get("SGSTEST_SCREENSHOTS") or tmp
    os.makedirs(d, exist_ok=True)
    return d


def ready(d, timeout=30):
    wait_until(lambda: d.execute_script(
        "return document.documentElement.getAttribute('data-ready')") == "1",
        timeout=timeout, what="the page loaded")


def errors(d):
    """The browser console's errors (network errors included)."""
    return [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]


def text(d, css):
    return d.execute_script("var e = document.querySelector(arguments[0]);"
                            "return e ? e.textContent : null;", css)


@pytest.fixture
def world(sgs, console, request):
    """A month consumed and snapshotted, the consumer still running, the
    console up."""
    p = sgs("cbr-" + request.node.name.replace("_", "-")[5:], partitions=4)
    jsonl, expect = p.generate(MONTH, seed=17, records=1500, late_share=0.05, invalid=10)
    msgs = jsonl_messages(jsonl)
    p.produce(msgs)
    consumer = p.consumer()
    wait_until(lambda: p.progress() >= expect["messages"], timeout=120, what="the month consumed")
    run([build_path("sgs-aggregator"), "-c", p.conf, "snapshot", "--month", MONTH],
        env={"SGS_NOW": "2023-12-06T09:00:00+08:00"})
    c = console(p.conf, env={"SGS_NOW": NOW})
    return p, expect, msgs, consumer, c


@pytest.mark.case_timeout(300)
def test_page_desktop(world, chromium, tmp):
    """loads clean, a unit's figures, a new alert without a reload"""
    p, expect, msgs, consumer, c = world
    d = chromium(1280, 900)
    d.get(c.url("/"))
    ready(d)
    uid, e = max(expect["units"].items(), key=lambda kv: (kv[1]["late"], kv[1]["records"]))
    row = 'tr[data-unit="%s"] ' % uid
    check_eq(text(d, "#live " + row + 'td[data-k="month.records"]'), str(e["records"]),
             uid + " live month records")
    check_eq(text(d, "#live " + row + 'td[data-k="month.late"]'), str(e["late"]),
             uid + " live month late")
    h = (e["late"] * 20000 + e["records"]) // (2 * e["records"])  # half-up, hundredths
    rate = "%d.%02d" % (h // 100, h % 100)
    check_eq(text(d, "#live " + row + 'td[data-k="month.late_rate"]'), rate, uid + " late rate")
    check_eq(text(d, "#live " + row + 'td[data-k="last_30_days.records"]'), str(e["records"]),
             uid + " 30 days")
    check_eq(text(d, "#month " + row + 'td[data-k="records"]'), str(e["records"]),
             uid + " annex records")
    check_eq(text(d, "#month " + row + 'td[data-k="late"]'), str(e["late"]), uid + " annex late")
    check_eq(text(d, "#month-select option:checked"), "2023年11月", "opens on the latest snapshot")
    check(d.execute_script("return document.querySelectorAll('#month svg').length") >= 5,
          "charts: 12 months, and per group units by records and by late rate")
    # the 12 calendar months to 2023-11: one bar (the only snapshot), 11 slots
    # marked 无快照, as the printed report marks them
    trend = d.execute_script(
        "var s = document.querySelector('#month .chart svg');"
        "return [s.querySelectorAll('rect').length, s.querySelectorAll('text.none').length,"
        " Array.from(s.querySelectorAll('text')).map(t => t.textContent)];")
    check_eq(trend[:2], [1, 11], "the months chart: bars, months without a snapshot")
    check("2022年" not in trend[2] and trend[2].count("2023年") == 1 and "12" in trend[2]
          and "01" in trend[2] and "11" in trend[2],
          "the months chart's axis, 12 to 11, the year under 01: %r" % trend[2])
    check(text(d, "#month .notice") and "通报" in text(d, "#month .notice"), "the notice")
    names = d.execute_script("return Array.from(document.querySelectorAll('#month ul.files a'))"
                             ".map(a => a.textContent)")
    check(MONTH + ".json" in names and MONTH + "-notice.md" in names, "downloads: %s" % names)
    n0 = d.execute_script("return document.querySelectorAll('#alert-list li').length")
    check(n0 > 0, "the feed shows the kept alerts")
    d.save_screenshot(os.path.join(shots(tmp), "desktop.png"))

    # a late record arrives while the page is open
    d.execute_script("window.__sameDocument = 4711;")
    unit, rec, doc_no = late_record(msgs[3][1], 77, "2023-11-30T19:30:00+08:00")
    produce(p.broker.bootstrap, p.topic, [(unit, rec)])
    try:
        wait_until(lambda: d.execute_script(
            "var li = document.querySelector('#alert-list li');"
            "return li && li.textContent.indexOf(arguments[0]) >= 0;", doc_no), timeout=10,
            what="the new alert at the top of the feed")
    except TimeoutError:
        raise AssertionError("no new alert %s: stream state %r, first item %r, log %r" % (
            doc_no, text(d, "#stream-state"), text(d, "#alert-list li"), d.get_log("browser")))
    check_eq(d.execute_script("return window.__sameDocument"), 4711, "no reload")
    first = text(d, "#alert-list li")
    check("迟报" in first and "报送期限" in first, "unit, deadline, working days late: " + first)
    # the live figures follow (refreshed after an alert)
    wait_until(lambda: text(d, '#live tr[data-unit="%s"] td[data-k="today.records"]' % unit)
               is not None, timeout=5)
    bad = errors(d)
    check_eq(bad, [], "no console errors")
    d.save_screenshot(os.path.join(shots(tmp), "desktop-alert.png"))
    height = d.execute_script("return document.body.scrollHeight")
    d.set_window_size(1280, min(height + 150, 8000))
    time.sleep(0.3)
    d.save_screenshot(os.path.join(shots(tmp), "desktop-full.png"))

    # Redis set to evict keys: a red banner says so, and goes with the setting
    admin = p.redis.client()
    try:
        admin.config_set("maxmemory", "512mb")
        admin.config_set("maxmemory-policy", "allkeys-lru")
        wait_until(lambda: d.execute_script(
            "var b = document.getElementById('redis-banner'); return b && !b.hidden;"),
            timeout=40, what="the Redis banner shown (live figures every 10 s, checks every 10 s)")
        banner = text(d, "#redis-banner")
        check("noeviction" in banner and "maxmemory-policy is allkeys-lru" in banner
              and "淘汰数据" in banner, "the banner says why and what to do: %r" % banner)
        check(text(d, '#live ' + row + 'td[data-k="month.records"]'), "the figures stay shown")
        d.save_screenshot(os.path.join(shots(tmp), "desktop-redis-evicts.png"))
    finally:
        admin.config_set("maxmemory-policy", "noeviction")
    wait_until(lambda: d.execute_script("return document.getElementById('redis-banner').hidden"),
               timeout=40, what="the Redis banner gone once the policy is noeviction")
    check_eq(errors(d), [], "no console errors")


@pytest.mark.case_timeout(300)
def test_page_phone(world, chromium, tmp):
    """a phone's width: one column, the feed first, wide tables scroll"""
    p, expect, msgs, consumer, c = world
    d = chromium(390, 844, mobile=True)
    d.get(c.url("/"))
    ready(d)
    check(d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
          "no sideways scrolling of the page itself")
    top_alerts = d.execute_script("return document.getElementById('alerts').getBoundingClientRect().top")
    top_live = d.execute_script("return document.getElementById('live').getBoundingClientRect().top")
    check(top_alerts < top_live, "the feed comes first")
    check_eq(errors(d), [], "no console errors")
    d.save_screenshot(os.path.join(shots(tmp), "phone.png"))
    d.execute_script("document.getElementById('month').scrollIntoView()")
    time.sleep(0.3)
    d.save_screenshot(os.path.join(shots(tmp), "phone-month.png"))


@pytest.mark.case_timeout(180)
def test_page_hostile_name_and_token(console, chromium, tmp):
    """a unit named with HTML shows as text; the token is asked for once and
    kept for the session; a spot check goes through the page"""
    r = RedisServer(tmp)
    units = os.path.join(tmp, "units.tsv")
    with open(units, "w", encoding="utf-8") as f:
        f.write("unit_id\tname\tgroup\taliases\nU1\t市交通局\tcity\t\nU2\t%s\tcity\t\n" % HOSTILE)
    conf = write_config(os.path.join(tmp, "b.conf"), {
        "redis.port": r.port, "units.file": units, "report.dir": os.path.join(tmp, "reports"),
        "calendar.file": source_path("configs", "calendar-cn.json"), "http.token": "T0k3n"})
    r.client().set("sgs:{sgs.records:0}:offset", 1)
    r.client().hset("sgs:{sgs.records:0}:m:2023-11", mapping={"U2|records": 3, "U2|late": 1})
    c = console(conf, env={"SGS_NOW": NOW})
    d = chromium(1280, 900)
    d.get(c.url("/"))
    wait_until(lambda: d.execute_script("return !document.getElementById('token-modal').hidden"),
               timeout=10, what="the token asked for")
    d.find_element("id", "token-input").send_keys("T0k3n")
    d.find_element("css selector", "#token-form button").click()
    ready(d)
    check_eq(text(d, '#live tr[data-unit="U2"] td.name'), HOSTILE, "the name, as text")
    check_eq(text(d, '#live tr[data-unit="U2"] td[data-k="month.records"]'), "3", "its figures")
    check_eq(d.execute_script("return typeof window.__xss"), "undefined", "nothing ran")
    check_eq(d.execute_script("return sessionStorage.getItem('sgs.console.token')"), "T0k3n",
             "kept for the session")
    check(d.execute_script("return !document.getElementById('spot').hidden"), "spot check shown")
    sample = os.path.join(tmp, "sample.tsv")
    with open(sample, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\nU1\tlicense\t市交许〔2023〕12号\n")
    month = d.find_element("id", "spot-month")
    month.clear()
    month.send_keys(MONTH)
    d.find_element("id", "spot-file").send_keys(sample)
    # a preview first: looked up, nothing stored
    d.find_element("id", "spot-dry").click()
    d.find_element("id", "spot-send").click()
    wait_until(lambda: "预览（未保存）" in (text(d, "#spot-result") or ""), timeout=10,
               what="the preview's result")
    check("瞒报 1 件" in text(d, "#spot-result") and "失败" not in text(d, "#spot-result"),
          "the preview: %s" % text(d, "#spot-result"))
    check_eq(text(d, "#spot-result tbody tr td:nth-child(4)"), "市交许〔2023〕12号",
             "the concealed row")
    check_eq(r.client().exists("sgs:concealed:" + MONTH), 0, "a preview stores nothing")
    d.find_element("id", "spot-dry").click()
    d.find_element("id", "spot-send").click()
    wait_until(lambda: "瞒报 1 件" in (text(d, "#spot-result") or "")
               and "预览" not in text(d, "#spot-result"), timeout=10,
               what="the spot check's result")
    check_eq(r.client().hgetall("sgs:concealed:" + MONTH),
             {"U1|license|市交许〔2023〕12号": "1"}, "stored by spot-check's code")
    # the finding withdrawn from the page, with its reason
    d.find_element("css selector", "#spot-undo summary").click()
    d.find_element("id", "spot-withdraw").click()
    wait_until(lambda: "请填写撤回原因" in (text(d, "#spot-result") or ""), timeout=10,
               what="a reason asked for")
    d.find_element("id", "spot-reason").send_keys("经核实已按时报送")
    d.find_element("id", "spot-withdraw").click()
    wait_until(lambda: "本次撤回 1 件" in (text(d, "#spot-result") or ""), timeout=10,
               what="the withdrawal's result")
    check_eq(text(d, "#spot-result tbody tr td:last-child"), "本次撤回", "the row's state")
    check("失败" not in text(d, "#spot-result"), "no failure: %s" % text(d, "#spot-result"))
    stored = r.client().hgetall("sgs:withdrawn:" + MONTH)
    check_eq(list(stored), ["U1|license|市交许〔2023〕12号"], "withdrawn by spot-check's code")
    check_eq(json.loads(stored["U1|license|市交许〔2023〕12号"])["reason"], "经核实已按时报送",
             "with its reason")
    d.execute_script("document.getElementById('spot').scrollIntoView()")
    d.find_element("id", "spot").screenshot(os.path.join(shots(tmp), "spot-withdrawn.png"))
    d.refresh()
    ready(d)
    check(d.execute_script("return document.getElementById('token-modal').hidden"),
          "not asked again in the same session")
    check_eq(errors(d), [], "no console errors")
    d.save_screenshot(os.path.join(shots(tmp), "token-hostile.png"))
