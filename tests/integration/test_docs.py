"""The documentation stays whole (issue 17): no services, a few seconds.

- every relative link in every tracked *.md file resolves to a file or directory
  of the repository, and a #fragment to a heading (GitHub's anchor of it) or an
  explicit <a id="..."> of the target file;
- no tracked file cites the design documents that were never part of the
  repository (DESIGN.md, DOMAIN.md, KAFKA.md, TESTING.md) as if they were: the
  contracts are docs/REFERENCE.md and docs/RULES.md;
- docs/REFERENCE.md names every configuration key of the key table
  (common/src/config.c, and `sgs-consumer -X list` when it is built), every
  reason code of common/include/sgs/record.h and every metric name the programs
  export, so the reference cannot drift from the code.
"""
import os
import re
import subprocess

import pytest

from sgstest import env

SRC = env.SOURCE_DIR
REFERENCE = os.path.join(SRC, "docs", "REFERENCE.md")
THIS = os.path.relpath(os.path.abspath(__file__), SRC)


def tracked(*patterns):
    """Paths (relative to SRC) of the tracked files matching the git patterns."""
    out = subprocess.run(["git", "-C", SRC, "ls-files", "-z", "--", *patterns],
                         check=True, capture_output=True).stdout.decode()
    return [p for p in out.split("\0") if p and os.path.exists(os.path.join(SRC, p))]


def read(path):
    with open(os.path.join(SRC, path), encoding="utf-8") as f:
        return f.read()


FENCE = re.compile(r"^ {0,3}(```|~~~)")


def text_lines(text):
    """(line number, line) outside fenced code blocks."""
    fenced = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if m:
            if fenced is None:
                fenced = m.group(1)
            elif m.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            yield n, line


def prose_lines(text):
    """text_lines with inline code blanked."""
    for n, line in text_lines(text):
        yield n, re.sub(r"`+[^`]*`+", lambda c: " " * len(c.group(0)), line)


def github_slug(heading):
    """GitHub's anchor of a heading's text: markup dropped, lower case, every
    character that is not a letter, digit, '_', '-' or space removed, spaces as
    '-'."""
    t = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    t = re.sub(r"<[^>]+>", "", t)  # inline HTML
    t = t.replace("`", "").strip().lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return t.replace(" ", "-")


def anchors(path, cache={}):
    """Every anchor a Markdown file has: its headings' slugs (repeats get -1, -2
    as on GitHub) and explicit id/name attributes."""
    if path not in cache:
        found, seen = set(), {}
        for _, line in text_lines(read(path)):
            h = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if h:
                slug = github_slug(h.group(1))
                k = seen.get(slug, 0)
                seen[slug] = k + 1
                found.add(slug if k == 0 else "%s-%d" % (slug, k))
            for a in re.finditer(r"<a\s+(?:id|name)=\"([^\"]+)\"", line):
                found.add(a.group(1))
        cache[path] = found
    return cache[path]


# [text](target) and [text](target "title"); images too. Reference definitions
# "[label]: target" on a line of their own.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+.*)?$")


def links(text):
    for n, line in prose_lines(text):
        for m in INLINE_LINK.finditer(line):
            yield n, m.group(1)
        m = REF_DEF.match(line)
        if m:
            yield n, m.group(1)


def is_external(target):
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) is not None


def test_markdown_links_resolve():
    mds = tracked("*.md")
    assert "docs/REFERENCE.md" in mds and "docs/RULES.md" in mds
    files = set(tracked())
    dirs = {os.path.dirname(p) for p in files}
    while any(os.path.dirname(d) not in dirs for d in dirs if d):
        dirs |= {os.path.dirname(d) for d in dirs}
    bad, checked = [], 0
    for md in mds:
        for line, target in links(read(md)):
            if is_external(target):
                continue
            checked += 1
            path, _, frag = target.partition("#")
            if path:
                if path.startswith("/"):
                    bad.append("%s:%d: %s: an absolute path, not a link into the "
                               "repository" % (md, line, target))
                    continue
                dest = os.path.normpath(os.path.join(os.path.dirname(md), path))
                if dest.startswith(".."):
                    bad.append("%s:%d: %s: outside the repository" % (md, line, target))
                    continue
                if dest not in files and dest not in dirs:
                    bad.append("%s:%d: %s: no tracked file or directory %s"
                               % (md, line, target, dest))
                    continue
            else:
                dest = md
            if frag:
                if not dest.endswith(".md"):
                    bad.append("%s:%d: %s: a fragment into a file that is not Markdown"
                               % (md, line, target))
                elif frag not in anchors(dest):
                    bad.append("%s:%d: %s: %s has no heading or anchor '%s'"
                               % (md, line, target, dest, frag))
    print("%d relative links in %d Markdown files checked" % (checked, len(mds)))
    assert not bad, "broken links:\n" + "\n".join(bad)


# The design documents the project started from were never in the repository;
# a citation of them ("DESIGN §7", "DOMAIN.md §4", "KAFKA.md") sends a reader
# nowhere. Bare DESIGN/DOMAIN in capitals are such citations too.
FOREIGN = re.compile(r"\b(?:DESIGN|DOMAIN|KAFKA|TESTING)\.md\b"
                     r"|\b(?:DESIGN|DOMAIN|KAFKA|TESTING)(?:'s)?\s*§"
                     r"|\b(?:DESIGN|DOMAIN)\b")


def test_no_citations_of_absent_design_documents():
    bad = []
    for path in tracked():
        if path == THIS:
            continue
        try:
            text = read(path)
        except (UnicodeDecodeError, IsADirectoryError):
            continue  # binary files
        for n, line in enumerate(text.split("\n"), 1):
            m = FOREIGN.search(line)
            if m:
                bad.append("%s:%d: '%s' (cite docs/REFERENCE.md or docs/RULES.md)"
                           % (path, n, m.group(0)))
    assert not bad, "citations of documents that are not in the repository:\n" + "\n".join(bad)


def config_keys():
    """The keys of the configuration table in common/src/config.c, and those
    `sgs-consumer -X list` prints when the consumer is built."""
    table = re.search(r"static const struct cfg_key keys\[\] = \{(.*?)\n\};",
                      read("common/src/config.c"), re.S)
    assert table, "common/src/config.c: the key table was not found"
    keys = set(re.findall(r"^\s*\{\"([a-z0-9_.]+)\",\s*T_", table.group(1), re.M))
    assert len(keys) > 40, "common/src/config.c: only %d keys found" % len(keys)
    consumer = env.build_path("sgs-consumer")
    if os.path.exists(consumer):
        out = subprocess.run([consumer, "-X", "list"], check=True, capture_output=True,
                             text=True, env={"PATH": os.environ.get("PATH", "")}).stdout
        listed = {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
        listed -= {"group.<id>.name", "kafka.<property>"}
        assert keys <= listed, "-X list lacks %s" % sorted(keys - listed)
        keys |= listed
    return keys


def reference_names():
    """Every `code span` of REFERENCE.md's text (code blocks left out), and the
    words inside them."""
    spans = [s for _, line in text_lines(read("docs/REFERENCE.md"))
             for s in re.findall(r"`([^`]+)`", line)]
    return set(spans) | {w for s in spans for w in re.findall(r"[A-Za-z0-9_.<>-]+", s)}


def test_reference_names_every_config_key():
    names = reference_names()
    keys = config_keys()
    missing = sorted(k for k in keys if k not in names)
    print("%d configuration keys" % len(keys))
    assert not missing, "docs/REFERENCE.md does not document: " + ", ".join(missing)
    assert "group.<id>.name" in names and "kafka.<property>" in names


def test_reference_names_every_reason_code():
    codes = set(re.findall(r"#define SGS_REASON_\w+\s+\"([a-z_]+)\"",
                           read("common/include/sgs/record.h")))
    assert len(codes) >= 14
    missing = sorted(codes - reference_names())
    assert not missing, "docs/REFERENCE.md does not list the reason codes: " + ", ".join(missing)


def test_reference_names_every_metric():
    metrics = set()
    for path in tracked("consumer/*.c", "aggregator/*.c", "common/src/*.c"):
        metrics |= set(re.findall(r"\"(sgs_[a-z_]+)", read(path)))
    # names built from a family and a suffix (sgs_consumer_outbox_pending, _bytes)
    # are listed whole; a prefix of another name is no metric of its own
    metrics = {m for m in metrics if not m.endswith("_")}
    assert len(metrics) >= 25, sorted(metrics)
    missing = sorted(metrics - reference_names())
    assert not missing, "docs/REFERENCE.md does not list the metrics: " + ", ".join(missing)


@pytest.mark.parametrize("doc,sections", [("docs/REFERENCE.md", 11), ("docs/RULES.md", 6)])
def test_numbered_sections_have_stable_anchors(doc, sections):
    """"REFERENCE §7" is REFERENCE.md#s7: every section number has its anchor,
    in order, before its heading "## 7. ..."."""
    text = read(doc)
    got = re.findall(r"<a id=\"s(\d+)\"></a>\n## (\d+)\. ", text)
    assert [(str(i), str(i)) for i in range(1, sections + 1)] == got
