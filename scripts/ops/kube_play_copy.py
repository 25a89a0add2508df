#!/usr/bin/env python3
"""Writes the copy of deploy/kubernetes/collector.yaml that `podman kube play` runs in the test:

    kube_play_copy.py MANIFEST OUT IMAGE API_PORT SNIPPET KEY

Only what a user replaces changes: the image, the integration (the simulator's, from SNIPPET,
with its key KEY; see below for the Secret), and the ports; and the pod joins the host's network (test
traffic stays on loopback), so [api] listens on 127.0.0.1:API_PORT, with the port named by
number (podman publishes none on the host's network). Everything else (probes,
securityContext, volumes and their mounts, the ConfigMap's main file, the strategy) is kept
as it is.
"""
import os
import re
import sys

import yaml

manifest, out, image, port, snippet, key = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
named = {(d["kind"], d["metadata"]["name"]): d for d in docs}
cm = named[("ConfigMap", "docusign-collector")]
dropins = named[("ConfigMap", "docusign-collector-conf-d")]
secret = named[("Secret", "docusign-collector")]
deploy = named[("Deployment", "docusign-collector")]

main = cm["data"]["config.toml"]
assert 'listen = "0.0.0.0:9464"' in main, "the manifest's [api] listen changed"
main = main.replace('listen = "0.0.0.0:9464"', 'listen = "127.0.0.1:%s"' % port)
cm["data"]["config.toml"] = main
integration = open(snippet).read()
integration = re.sub(r'(?m)^private_key_file = .*$',
                     'private_key_file = "/run/secrets/docusign-collector/acme.pem"', integration)
assert "/run/secrets/docusign-collector/acme.pem" in dropins["data"]["10-acme.toml"]
dropins["data"]["10-acme.toml"] = integration + (
    '\n[integrations.customer_events]\ninterval = "2s"\nstart_from = "30d"\n'
    '\n[integrations.audit_users]\ninterval = "2s"\nstart_from = "3650d"\n')
# podman 4.3 writes a Secret's values into its volume base64-encoded (it ignores `stringData`, and
# re-encodes `data`), so no PEM key can come through it: the Secret stays (with a placeholder),
# and its volume is the directory holding KEY (mode 0440, group 65532, as fsGroup makes it),
# mounted at the same path.
assert set(secret.pop("stringData")) == {"acme.pem"}
secret["data"] = {"acme.pem": "cGxhY2Vob2xkZXI="}

spec = deploy["spec"]["template"]["spec"]
keys = [v for v in spec["volumes"] if v["name"] == "keys"]
assert keys and keys[0]["secret"]["secretName"] == "docusign-collector"
keys[0].pop("secret")
keys[0]["hostPath"] = {"path": os.path.dirname(os.path.abspath(key)), "type": "Directory"}
spec["hostNetwork"] = True
c = spec["containers"][0]
c["image"] = image
c["imagePullPolicy"] = "Never"
# On the host's network podman publishes no ports (it refuses them), so the probes name the
# port by number.
assert [p["name"] for p in c.pop("ports")] == ["api"]
for probe in ("livenessProbe", "readinessProbe"):
    assert c[probe]["httpGet"]["port"] == "api"
    c[probe]["httpGet"]["port"] = int(port)
yaml.safe_dump_all(docs, open(out, "w"), sort_keys=False)
