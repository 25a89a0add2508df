#!/usr/bin/env python3
"""Checks the metric names the alert rules and the dashboards use against a Prometheus that
scrapes a running collector.

    metric_names.py PROMETHEUS_URL FILE...

Every `docusign_collector_…` name in FILEs (rules, dashboards) must belong to a family that the
Prometheus server learned from the scrape (/api/v1/metadata: families are listed there with
their type even before their first sample), with the suffix its type gives: `_total` for a
counter, `_bucket`/`_sum`/`_count` for a histogram, none for a gauge. So a renamed or retyped
family fails here. Prints what it checked; exit 1 names what is missing.
"""
import json
import re
import sys
import urllib.request

NAME = re.compile(r"\bdocusign_collector_[a-z0-9_]+")
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit("FAIL: %s answered %s" % (path, body))
    return body["data"]


def main():
    base, files = sys.argv[1].rstrip("/"), sys.argv[2:]
    used = {}
    for f in files:
        for name in NAME.findall(open(f, encoding="utf-8").read()):
            used.setdefault(name, set()).add(f)
    if not used:
        raise SystemExit("FAIL: no docusign_collector_ metric named in %s" % files)
    metadata = get(base, "/api/v1/metadata")
    families = {n: m[0]["type"] for n, m in metadata.items() if n.startswith("docusign_collector_")}
    with_samples = set(get(base, "/api/v1/label/__name__/values"))
    missing = []
    for name in sorted(used):
        found = None
        for family, kind in families.items():
            if any(name == family + s for s in SUFFIXES.get(kind, [""])):
                found = (family, kind)
        if found is None:
            missing.append("%s (used in %s)" % (name, ", ".join(sorted(used[name]))))
        else:
            print("  %-55s %-9s %s" % (name, found[1], "samples" if name in with_samples else "declared, no sample yet"))
    if missing:
        print("FAIL: families the scraped collector does not have (renamed or retyped?):")
        for m in missing:
            print("  " + m)
        print("the collector's families: %s" % ", ".join("%s (%s)" % kv for kv in sorted(families.items())))
        sys.exit(1)
    print("OK: %d metric names from %d files, each a family of the scraped collector" % (len(used), len(files)))


main()
