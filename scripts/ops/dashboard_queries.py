#!/usr/bin/env python3
"""Runs every query of the Grafana dashboards against a Prometheus that scrapes a collector.

    dashboard_queries.py PROMETHEUS_URL DASHBOARD.json...

Each panel target's `expr` (and the alert annotation's), with the dashboard variables replaced
by what "All" selects ($job, $instance, $integration, $sink → .*, $__rate_interval → 30s,
$budget → 1000), must be valid PromQL that Prometheus evaluates without error; `label_values(...)`
variable queries must name a metric. Prints how many queries returned data; at least one panel
per dashboard must (the collector delivered records).
"""
import json
import re
import sys
import urllib.parse
import urllib.request

SUBST = {"$job": ".*", "$instance": ".*", "$integration": ".*", "$sink": ".*",
         "$__rate_interval": "30s", "$budget": "1000", "${datasource}": ""}


def exprs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield v
            else:
                yield from exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from exprs(v)


def query(base, q):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def main():
    base, files = sys.argv[1].rstrip("/"), sys.argv[2:]
    bad = []
    for f in files:
        dash = json.load(open(f, encoding="utf-8"))
        ids = [p["id"] for p in dash["panels"]]
        if len(ids) != len(set(ids)):
            bad.append("%s: panel ids repeat" % f)
        qs = list(exprs(dash["panels"])) + list(exprs(dash.get("annotations", {})))
        for var in dash["templating"]["list"]:
            if var["type"] == "query" and not re.match(r"label_values\((docusign_collector_\w+)", var["definition"]):
                bad.append("%s: variable %s: %s" % (f, var["name"], var["definition"]))
        answered = 0
        for q in qs:
            text = q
            for k, v in SUBST.items():
                text = text.replace(k, v)
            r = query(base, text)
            if r.get("status") != "success":
                bad.append("%s: %s -> %s" % (f, q, r.get("error")))
            elif r["data"]["result"]:
                answered += 1
        print("%s: %d queries, all valid; %d returned data" % (f, len(qs), answered))
        if answered == 0:
            bad.append("%s: no query returned data" % f)
    if bad:
        print("FAIL:\n  " + "\n  ".join(bad))
        sys.exit(1)


main()
