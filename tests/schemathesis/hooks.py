"""schemathesis hooks for run.sh: the admin import's JSON Lines body, and the
refusals of schema-valid requests that no schema can predict."""

import json
import re

import schemathesis

# A schema says what a request looks like, not what the server has registered, issued
# or configured. These refusals of well-formed requests are documented answers: per
# operation (a regular expression on "METHOD /path"), the problem `code` (or OAuth
# `error`) of each, and why no schema can say it in advance. A refusal with any other
# code still fails the run.
DOCUMENTED_REFUSALS = [
    # RFC 6749 / OIDC: a client, redirect URI, ID token, code or token this server
    # never registered or issued, or two client authentications at once.
    (
        r"^(GET|POST) /(authorize|end_session|token|revoke|introspect)$",
        {"invalid_request", "invalid_grant", "invalid_client", "unauthorized_client"},
    ),
    # RFC 9126: a pushed request names a registered client (authenticated as at /token)
    # and what /authorize would accept from it; a request_uri is one the server issued.
    # RFC 9449: a DPoP header is a proof signed by the client's key, for this request.
    (
        r"^(GET|POST) /(par|authorize|token)$",
        {
            "invalid_request",
            "invalid_client",
            "unauthorized_client",
            "invalid_grant",
            "invalid_scope",
            "unsupported_response_type",
            "invalid_request_uri",
            "invalid_dpop_proof",
        },
    ),
    # The current password is a credential; the password policy is configuration.
    (r"^POST /api/v1/account/password$", {"current_password_invalid", "password_policy"}),
    # The new address must differ from the account's own.
    (r"^POST /api/v1/account/email$", {"email_unchanged"}),
    # A one-time code or a WebAuthn answer is a credential, and which of them a factor
    # takes (`code` or `credential`) depends on its kind: `invalid_json` names the
    # missing or malformed one, and `factor_kind_mismatch` a body of another kind than
    # the stored factor's (the document cannot know which kind an id has).
    (
        r"^POST /api/v1/(account/email/confirm|account/factors/\{factor\}/confirm"
        r"|login/\{login_challenge\}/(factors/\{factor\}/verify|passkey/verify)"
        r"|registration/\{token\}/factors/\{factor\}/confirm)$",
        {
            "otp_invalid",
            "otp_replayed",
            "webauthn_invalid",
            "push_number_mismatch",
            "invalid_json",
            "factor_kind_mismatch",
        },
    ),
    # A client registration is checked as a whole (RFC 7591 §3.2.2): authorization_code
    # needs a redirect URI, refresh_token goes with authorization_code, private_key_jwt
    # needs a JWKS, redirect URIs are https or loopback.
    (r"^(POST|PATCH) /api/v1/admin/clients(/\{client_id\})?$", {"client_invalid"}),
    # A phone registers with a ticket the server showed as a QR code, and a key that
    # must be a point on P-256.
    (r"^POST /api/v1/push/devices$", {"push_ticket_invalid", "invalid_public_key"}),
    # A consent keeps only scopes the client asked for (known from the stored request,
    # not from any schema), and a denial says `"deny": true`.
    (r"^POST /api/v1/login/\{login_challenge\}/consent$", {"consent_invalid"}),
]


def _refusal_codes(response):
    """The problem `code` (or OAuth `error`) of an answer; for `invalid_fields`, the
    code of each refused field."""
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return set()
    if not isinstance(body, dict):
        return set()
    if body.get("code") == "invalid_fields" and isinstance(body.get("fields"), list):
        return {f.get("code") for f in body["fields"] if isinstance(f, dict)}
    return {body.get("code") or body.get("error")} - {None}


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    """Drops a "schema-valid request rejected" failure whose answer is one of the
    documented refusals above; every other failure stands."""
    if type(failure).__name__ != "RejectedPositiveData":
        return True
    codes = _refusal_codes(response)
    label = f"{case.method.upper()} {case.operation.path}"
    return not codes or not any(
        re.match(pattern, label) and codes <= allowed for pattern, allowed in DOCUMENTED_REFUSALS
    )


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if not isinstance(value, str):
        # A negative case may give another JSON value: one line of it.
        value = json.dumps(value)
    return {"data": value.encode("utf-8", "surrogatepass")}


@schemathesis.hook
def filter_case(ctx, case):
    """A JSON Lines body is text whatever it holds (each line is checked and reported
    on its own): a body generated as another JSON type is the same bytes on the wire
    as some string, so it is no schema-violating request. Such cases are left out."""
    if case.operation.path == "/api/v1/admin/accounts/import":
        return case.body is None or isinstance(case.body, (str, bytes)) or not _is_set(case.body)
    return True


def _is_set(body):
    return type(body).__name__ != "NotSet"
