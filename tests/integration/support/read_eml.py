"""Parses an RFC 5322 message with Python's email package (an independent reader)
and prints what the tests check, as JSON. Usage: read_eml.py FILE."""

import json
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as f:
    raw = f.read()
message = BytesParser(policy=policy.default).parsebytes(raw)
print(json.dumps({
    "from": str(message["from"]),
    "to": str(message["to"]),
    "subject": str(message["subject"]),
    "message_id": str(message["message-id"]),
    "date": str(message["date"]),
    "mime_version": str(message["mime-version"]),
    "content_type": message.get_content_type(),
    "charset": message.get_content_charset(),
    "body": message.get_content(),
    "defects": [repr(d) for d in message.defects] + [
        repr(d) for h in message.values() for d in getattr(h, "defects", ())
    ],
    "ascii_only": all(b < 128 for b in raw),
    "crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
}, ensure_ascii=False))
