"""Gets the two bearer tokens the schemathesis run needs, through the server's real
paths only, and prints them as JSON: {"admin": …, "user": …}.

- admin: `client_credentials` at /token for a client registered with
  `gatehouse clients add --grant client_credentials --scope gatehouse:admin`.
- user: an account imported through the admin API, registered through its mailed
  link (password, second factor "later"), then a real login by a first-party client:
  /authorize with PKCE, the password, the e-mail code read from the .eml outbox, and
  the code redeemed at /token with the account scope.

Usage: tokens.py BASE_URL OUTBOX_DIR ADMIN_CLIENT_JSON UI_CLIENT_JSON
(the two JSON files are what `gatehouse clients add` printed).
"""

import base64
import hashlib
import json
import re
import secrets
import sys
import time
import urllib.parse
from email import policy
from email.parser import BytesParser
from pathlib import Path

import requests

BASE, OUTBOX = sys.argv[1], Path(sys.argv[2])
ADMIN_CLIENT = json.loads(Path(sys.argv[3]).read_text())
UI_CLIENT = json.loads(Path(sys.argv[4]).read_text())
EMAIL = "schemathesis@example.com"
PASSWORD = "Correct-Horse#42-Battery!"
REDIRECT = UI_CLIENT["redirect_uris"][0]
TIMEOUT = 30


def check(response, status):
    if response.status_code != status:
        sys.exit(
            f"{response.request.method} {response.request.url}: expected {status}, "
            f"got {response.status_code}: {response.text}"
        )
    return response


def mails_to(address):
    """The bodies of the mails sent to `address`, oldest first."""
    bodies = []
    for path in sorted(OUTBOX.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if address.lower() in str(message["to"]).lower():
            bodies.append(message.get_content())
    return bodies


def wait_for_mail(address, pattern, skip=0):
    """The first match of `pattern` in the mails to `address` after the first `skip`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [m.group(1) for body in mails_to(address) for m in [re.search(pattern, body)] if m]
        if len(found) > skip:
            return found[skip]
        time.sleep(0.2)
    sys.exit(f"no mail to {address} matching {pattern!r} in {OUTBOX}")


def admin_token():
    answer = check(
        requests.post(
            f"{BASE}/token",
            auth=(ADMIN_CLIENT["client_id"], ADMIN_CLIENT["client_secret"]),
            data={"grant_type": "client_credentials", "scope": "gatehouse:admin"},
            timeout=TIMEOUT,
        ),
        200,
    )
    return answer.json()["access_token"]


def register_account(admin):
    bearer = {"Authorization": f"Bearer {admin}"}
    line = json.dumps({"legacy_subject": "schemathesis-user", "email": EMAIL, "email_verified": True})
    imported = check(
        requests.post(
            f"{BASE}/api/v1/admin/accounts/import",
            headers={**bearer, "Content-Type": "application/x-ndjson"},
            data=line + "\n",
            timeout=TIMEOUT,
        ),
        200,
    ).json()
    if imported["outcomes"].get("created") != 1:
        sys.exit(f"import: {imported}")
    page = check(
        requests.get(f"{BASE}/api/v1/admin/accounts", headers=bearer, params={"q": EMAIL}, timeout=TIMEOUT),
        200,
    ).json()
    account = page["accounts"][0]["id"]
    check(
        requests.post(
            f"{BASE}/api/v1/admin/accounts/{account}/registration-link", headers=bearer, timeout=TIMEOUT
        ),
        202,
    )
    token = wait_for_mail(EMAIL, r"[?&]token=([A-Za-z0-9_-]+)")
    at = f"{BASE}/api/v1/registration/{token}"
    check(
        requests.post(
            f"{at}/password",
            json={"password": PASSWORD, "password_confirmation": PASSWORD},
            timeout=TIMEOUT,
        ),
        200,
    )
    check(requests.post(f"{at}/complete", json={"second_factor": "later"}, timeout=TIMEOUT), 200)


def user_token():
    browser = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    started = check(
        browser.get(
            f"{BASE}/authorize",
            params={
                "response_type": "code",
                "client_id": UI_CLIENT["client_id"],
                "redirect_uri": REDIRECT,
                "scope": "openid gatehouse:account",
                "state": secrets.token_urlsafe(16),
                "nonce": secrets.token_urlsafe(16),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        ),
        302,
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(started.headers["Location"]).query)
    login = f"{BASE}/api/v1/login/{query['login_challenge'][0]}"
    step = check(
        browser.post(f"{login}/password", json={"identifier": EMAIL, "password": PASSWORD}, timeout=TIMEOUT),
        200,
    ).json()
    factor = next(f["id"] for f in step["factors"] if f["kind"] == "email_otp")
    codes_before = len([b for b in mails_to(EMAIL) if re.search(r"^\s*\d{6}\s*$", b, re.M)])
    check(browser.post(f"{login}/factors/{factor}/challenge", timeout=TIMEOUT), 200)
    code = wait_for_mail(EMAIL, r"(?m)^\s*(\d{6})\s*$", skip=codes_before)
    done = check(
        browser.post(f"{login}/factors/{factor}/verify", json={"kind": "email_otp", "code": code}, timeout=TIMEOUT), 200
    ).json()
    back = urllib.parse.parse_qs(urllib.parse.urlsplit(done["redirect_to"]).query)
    tokens = check(
        requests.post(
            f"{BASE}/token",
            auth=(UI_CLIENT["client_id"], UI_CLIENT["client_secret"]),
            data={
                "grant_type": "authorization_code",
                "code": back["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            timeout=TIMEOUT,
        ),
        200,
    ).json()
    if "gatehouse:account" not in tokens.get("scope", "").split():
        sys.exit(f"the user token lacks the account scope: {tokens.get('scope')}")
    return tokens["access_token"]


admin = admin_token()
register_account(admin)
print(json.dumps({"admin": admin, "user": user_token()}))
