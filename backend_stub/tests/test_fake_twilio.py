"""The fake Twilio server itself: auth, validation, and the test read-back endpoints."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from backend_stub.fake_twilio import DEFAULT_SID, DEFAULT_TOKEN, FakeTwilio


def post(fake: FakeTwilio, form: dict[str, str], token: str = DEFAULT_TOKEN) -> tuple[int, dict]:  # type: ignore[type-arg]
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(f"{fake.url}/2010-04-01/Accounts/{DEFAULT_SID}/Messages.json", data=data)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{DEFAULT_SID}:{token}".encode()).decode())
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_fake_twilio_behaves_like_the_api() -> None:
    with FakeTwilio() as fake:
        status, body = post(fake, {"To": "+393331234567", "From": "+15005550006", "Body": "ciao"})
        assert status == 201 and body["sid"].startswith("SM") and body["status"] == "queued"
        assert post(fake, {"To": "+39333", "From": "+1", "Body": "x"}, token="bad")[0] == 401
        status, error = post(fake, {"From": "+15005550006", "Body": "x"})
        assert status == 400 and error["code"] == 21604
        assert post(fake, {"To": "+393331234567", "Body": "x"})[1]["code"] == 21603
        with urllib.request.urlopen(f"{fake.url}/_messages?to=%2B393331234567") as response:
            listed = json.load(response)
        assert [m["body"] for m in listed] == ["ciao"]
        fetch = urllib.request.Request(f"{fake.url}/2010-04-01/Accounts/{DEFAULT_SID}/Messages/{body['sid']}.json")
        fetch.add_header(
            "Authorization", "Basic " + base64.b64encode(f"{DEFAULT_SID}:{DEFAULT_TOKEN}".encode()).decode()
        )
        with urllib.request.urlopen(fetch) as response:
            assert json.load(response)["to"] == "+393331234567"
        urllib.request.urlopen(urllib.request.Request(f"{fake.url}/_messages", method="DELETE")).close()
        assert fake.messages == []
        assert len(fake.requests) == 0
