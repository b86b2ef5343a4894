#!/usr/bin/env python3
"""Converts the openspf.org SPF test suite (YAML, as pyspf ships it) to JSON for the Swift tests.

Usage:
    scripts/convert-spf-suite.py [SOURCE_DIR] [DEST_DIR]

SOURCE_DIR defaults to ../shared/conformance/spf (relative to the repository root), DEST_DIR to
Fixtures/conformance/spf. For each of rfc7208-tests.yml and rfc4408-tests.yml it writes
<name>.json and copies the .LICENSE (and .CHANGES) files beside it. Run it once when the suite
changes; the JSON is committed, so `swift test` needs neither Python nor PyYAML.

The conversion is structural only, so the JSON stays a faithful image of the YAML:
- a suite is {"source": file name, "scenarios": [...]} in document order;
- a scenario is {"description", "tests": [...], "zonedata": [...]}, tests sorted by name,
  zonedata names in document order;
- a test is {"name", "helo", "host", "mailfrom", "results": [acceptable results, preferred
  first], "explanation"?, "spec"?, "description"?, "comment"?};
- a zonedata entry is {"name", "entries": [...]}, each entry {"type": "A"|"AAAA"|"MX"|"PTR"|
  "CNAME"|"TXT"|"SPF"|"TIMEOUT", "value": ...} in document order: MX values stay
  [preference, host], TXT/SPF values become a list of character-strings (a plain string is one),
  the literal NONE stays the string "NONE", TIMEOUT has no value.
The harness conventions (SPF records served as TXT, TIMEOUT, error. names) are applied by the
Swift harness, Tests/DefensesTests/SPF/SPFConformanceTests.swift, not here.
"""

import json
import os
import shutil
import sys

import yaml

SUITES = ["rfc7208-tests", "rfc4408-tests"]


def text_list(value):
    """TXT/SPF data as a list of character-strings of one record."""
    if value == "NONE":
        return "NONE"
    if isinstance(value, list):
        return [str(part) for part in value]
    return [str(value)]


def convert_entry(item):
    if item == "TIMEOUT":
        return {"type": "TIMEOUT"}
    if not isinstance(item, dict) or len(item) != 1:
        raise SystemExit("unexpected zonedata entry: %r" % (item,))
    ((kind, value),) = item.items()
    kind = str(kind).upper()
    if kind in ("TXT", "SPF"):
        return {"type": kind, "value": text_list(value)}
    if kind == "MX":
        preference, host = value
        return {"type": kind, "value": [int(preference), str(host)]}
    if kind in ("A", "AAAA", "PTR", "CNAME"):
        return {"type": kind, "value": str(value)}
    raise SystemExit("unknown record type %s" % kind)


def convert_test(name, data):
    result = data["result"]
    results = [str(r) for r in result] if isinstance(result, list) else [str(result)]
    test = {
        "name": name,
        "helo": str(data.get("helo", "")),
        "host": str(data["host"]),
        "mailfrom": str(data.get("mailfrom", "") or ""),
        "results": results,
    }
    for key in ("explanation", "spec", "description", "comment"):
        value = data.get(key)
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        if value is not None:
            test[key] = str(value).strip()
    return test


def convert_suite(path):
    with open(path, "rb") as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc]
    scenarios = []
    for doc in documents:
        tests = [convert_test(name, data) for name, data in sorted(doc.get("tests", {}).items())]
        zonedata = [
            {"name": str(name), "entries": [convert_entry(item) for item in (entries or [])]}
            for name, entries in (doc.get("zonedata") or {}).items()
        ]
        scenarios.append({"description": str(doc.get("description", "")).strip(), "tests": tests, "zonedata": zonedata})
    return {"source": os.path.basename(path), "scenarios": scenarios}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "conformance", "spf")
    dest = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "Fixtures", "conformance", "spf")
    os.makedirs(dest, exist_ok=True)
    for suite in SUITES:
        converted = convert_suite(os.path.join(source, suite + ".yml"))
        with open(os.path.join(dest, suite + ".json"), "w", encoding="ascii") as handle:
            json.dump(converted, handle, indent=1, ensure_ascii=True)
            handle.write("\n")
        count = sum(len(s["tests"]) for s in converted["scenarios"])
        print("%s: %d scenarios, %d tests" % (suite, len(converted["scenarios"]), count))
        for extra in (".LICENSE", ".CHANGES"):
            licence = os.path.join(source, suite + extra)
            if os.path.exists(licence):
                shutil.copyfile(licence, os.path.join(dest, suite + extra))


if __name__ == "__main__":
    main()
