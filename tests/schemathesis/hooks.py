"""schemathesis hooks for run.sh: the admin import's JSON Lines body.

The document gives it as a string (the file's text); schemathesis has no serializer
for `application/x-ndjson`, so the string is sent as it is, UTF-8 encoded."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if not isinstance(value, str):
        # A negative case may give another JSON value: one line of it.
        value = json.dumps(value)
    return {"data": value.encode("utf-8", "surrogatepass")}
