"""Run in a test host with Debian's python3-dkim (dkimpy), by the scenarios' tests.

Usage: python3 dkim_verify.py MAILBOX TOKEN RECORD_NAME RECORD [OLD NEW]

Finds the one message of the mbox MAILBOX that holds TOKEN and prints, as JSON, its From:,
Reply-To: and Cc:, the tags of its DKIM-Signature headers, and whether dkimpy verifies it: as
delivered, with OLD replaced by NEW in its body, and with a second From: added above the first.
DNS is a test double that answers the TXT query of RECORD_NAME with RECORD (the test derived the
record from its own copy of the key), and nothing else; the names asked are reported.
"""

import json
import mailbox
import sys

import dkim
from dkim.util import parse_tag_value

mailbox_path, token, record_name, record = sys.argv[1:5]
old, new = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else ("", "")
queries = []


def fake_dns_txt(name, timeout=5):
    """Test double of DNS: one TXT record, nothing else."""
    queries.append(name.decode())
    return record.encode() if name.decode() == record_name else None


box = mailbox.mbox(mailbox_path)
# (Iterating a mailbox yields messages: the keys are asked for.)
found = [key for key in box.keys() if token.encode() in box.get_bytes(key)]  # noqa: SIM118
if len(found) != 1:
    print(json.dumps({"found": len(found)}))
    sys.exit(0)
message = box.get_bytes(found[0])
headers = box.get_message(found[0])
head, _, body = message.partition(b"\n\n")
altered = head + b"\n\n" + body.replace(old.encode(), new.encode(), 1) if old else None
print(
    json.dumps(
        {
            "found": 1,
            "from": str(headers.get("From")),
            "reply_to": str(headers.get("Reply-To", "")),
            "cc": str(headers.get("Cc", "")),
            "signatures": [
                {k.decode(): v.decode() for k, v in parse_tag_value(value.encode()).items()}
                for value in headers.get_all("DKIM-Signature", [])
            ],
            "verified": dkim.verify(message, dnsfunc=fake_dns_txt),
            "body_altered": dkim.verify(altered, dnsfunc=fake_dns_txt) if altered else None,
            "from_added": dkim.verify(
                b"From: someone-else@attacker.example\n" + message, dnsfunc=fake_dns_txt
            ),
            "queries": queries,
        }
    )
)
