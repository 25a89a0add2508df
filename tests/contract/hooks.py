"""Schemathesis hooks for scripts/contract (loaded through SCHEMATHESIS_HOOKS).

A request that creates or changes an integration needs a real RSA key: schemathesis cannot
invent one, so every generated `data.privateKey` that is a string becomes the simulator's key
(CONTRACT_KEY_FILE). Everything else stays as generated: wrong types, a missing key, unknown
fields still reach the server. The key is what scripts/contract then greps every answer for.
"""

import os

import schemathesis

KEY = open(os.environ["CONTRACT_KEY_FILE"], encoding="utf-8").read()


@schemathesis.hook
def before_call(context, case, kwargs):
    body = getattr(case, "body", None)
    if not isinstance(body, dict):
        return
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("privateKey"), str):
        data["privateKey"] = KEY
