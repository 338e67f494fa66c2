"""Checks fixes 7 and 8 of `sitecustomize.py` against moto's own code.

Run by `tests/it/sitecustomize.rs` with the tools virtualenv's Python, in process (no server).
Fix 7: the module list read once equals moto's own listing, and stays so when asked again.
Fix 8: with S3 objects and SNS topics (one with published messages) held, `data.json?service=sns`
answers exactly the full dump's `sns` part and nothing else; a repeated `service` adds that
service; an unknown one gives an empty dump; no `service` gives moto's own full dump. Then prints
what a full dump and an SNS-only dump cost with 2,000 S3 objects held. Exits 1 on the first
difference.
"""

import json
import os
import sys
import time

import moto.backends
from moto.moto_api._internal.responses import MotoAPIResponse

moto_own_modules = moto.backends.list_of_moto_modules
moto_own_dump = MotoAPIResponse.model_data
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sitecustomize  # noqa: E402,F401  (replaces both)

if moto.backends.list_of_moto_modules is moto_own_modules or MotoAPIResponse.model_data is moto_own_dump:
    sys.exit("sitecustomize.py did not replace list_of_moto_modules and model_data")

own = list(moto_own_modules())
for attempt in range(2):
    listed = list(moto.backends.list_of_moto_modules())
    if listed != own:
        sys.exit(f"the module list differs (attempt {attempt + 1}): {listed} vs moto's {own}")
if "sns" not in own or "s3" not in own:
    sys.exit(f"moto's module list lacks sns or s3: {own}")
print(f"module list: {len(own)} modules, as moto's own")

from moto.s3.models import s3_backends  # noqa: E402
from moto.sns.models import sns_backends  # noqa: E402

ACCOUNT = "123456789012"
s3 = s3_backends[ACCOUNT]["aws"]
s3.create_bucket("dump-check", "us-east-1")
sns = sns_backends[ACCOUNT]["us-east-1"]
alerts = sns.create_topic("alerts")
sns.create_topic("quiet")
for i in range(3):
    sns.publish(f"move {i}", arn=alerts.arn, subject=f"AAPL {i}")


def dump(query=""):
    status, headers, body = MotoAPIResponse().model_data(None, f"http://localhost/moto-api/data.json{query}", {})
    if status != 200:
        sys.exit(f"data.json{query} answered {status}: {body[:200]}")
    return json.loads(body)


def check_sns_only(objects):
    full = dump()
    if "s3" not in full or "sns" not in full:
        sys.exit(f"the full dump lacks s3 or sns: {sorted(full)}")
    sns_only = dump("?service=sns")
    if sns_only != {"sns": full["sns"]}:
        sys.exit(f"data.json?service=sns is not the full dump's sns part ({objects} objects held)")
    sent = [t["sent_notifications"] for t in sns_only["sns"]["Topic"] if t["arn"] == alerts.arn]
    if [len(s) for s in sent] != [3]:
        sys.exit(f"the alert topic's messages are not the 3 published: {sent}")
    both = dump("?service=sns&service=s3")
    if both != {"sns": full["sns"], "s3": full["s3"]}:
        sys.exit("data.json?service=sns&service=s3 is not the full dump's sns and s3 parts")
    if dump("?service=no-such-service") != {}:
        sys.exit("an unknown service did not give an empty dump")
    if dump("?other=1") != full:
        sys.exit("a query without `service` did not give the full dump")


check_sns_only(0)
for i in range(2000):
    s3.put_object("dump-check", f"raw/{i:05}.json.gz", b"x" * 200)
check_sns_only(2000)
print("data.json?service=sns answered the full dump's sns part, with 0 and 2000 S3 objects held")

costs = {}
for query in ("", "?service=sns"):
    started = time.perf_counter()
    for _ in range(3):
        dump(query)
    costs[query] = (time.perf_counter() - started) / 3
print(
    f"one dump with 2000 S3 objects held: full {costs[''] * 1000:.1f} ms, "
    f"?service=sns {costs['?service=sns'] * 1000:.2f} ms"
)
