"""Schemathesis hooks for scripts/contract (loaded through SCHEMATHESIS_HOOKS).

A request that creates or changes an integration needs a real RSA key: schemathesis cannot
invent one, so every generated `data.privateKey` that is a string becomes the simulator's key
(CONTRACT_KEY_FILE). A created integration that names no `endpoints` gets the simulator's
(CONTRACT_SIM_URL): its `test` and its streams then get their answers (mostly refusals of the
made-up credentials) from loopback at once, instead of retrying a Docusign that this run cannot
reach. Everything else stays as generated: wrong types, a missing key, unknown fields, endpoints
of its own still reach the server. The key is what scripts/contract then greps every answer for.
"""

import os

import schemathesis

KEY = open(os.environ["CONTRACT_KEY_FILE"], encoding="utf-8").read()
SIM = os.environ["CONTRACT_SIM_URL"]


@schemathesis.hook
def before_call(context, case, kwargs):
    body = getattr(case, "body", None)
    if not isinstance(body, dict):
        return
    data = body.get("data")
    if not isinstance(data, dict):
        return
    if isinstance(data.get("privateKey"), str):
        data["privateKey"] = KEY
    if case.method.upper() == "POST" and case.path == "/integrations" and "endpoints" not in data:
        data["endpoints"] = {"oauth": SIM, "monitor": SIM, "admin": SIM + "/management"}
