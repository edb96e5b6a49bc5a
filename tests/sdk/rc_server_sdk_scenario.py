"""RongCloud's official Python server SDK (PyPI `rc-server-sdk` 3.2.0) driving
a running imbridge that serves the `rongcloud` dialect: users registered by
getToken and updated, online status, a blacklist, a block, a group created,
joined, quit, renamed, gagged and synced, private and group text messages and
a recall, a chatroom, sensitive words, a dismissed group.

    python rc_server_sdk_scenario.py BASE_URL APP_KEY APP_SECRET

The SDK signs every call itself (App-Key, Nonce, Timestamp in seconds,
Signature = sha1(secret nonce timestamp)); imbridge accepting its calls is the
proof that its signature check agrees with RongCloud's own client.

Every SDK answer is checked; the first unexpected one stops the script with a
non-zero exit code. On success the last line of stdout is a JSON summary the
Rust test (tests/it/sdk_rongcloud.rs) uses to check through HTTP what was
stored.

Pitfall (reference/vendors.md §3.4): the SDK renders form bodies without URL
encoding, so test data keeps clear of `&`, `=` and `+`; spaces and UTF-8 go
through raw. It returns a dict on HTTP 200 and raw bytes on other statuses.
"""

import json
import sys

from rongcloud.rongcloud import RongCloud


def ok(answer, what):
    """A success: a dict with code 200."""
    if not isinstance(answer, dict) or answer.get("code") != 200:
        sys.exit(f"{what}: unexpected answer {answer!r}")
    return answer


def error(answer, code, what):
    """A refusal: raw bytes (an HTTP error status) or a dict with `code`."""
    body = json.loads(answer) if isinstance(answer, bytes) else answer
    if body.get("code") != code or not body.get("errorMessage"):
        sys.exit(f"{what}: expected error {code}, got {answer!r}")
    return body


def main(base, app_key, secret):
    rc = RongCloud(app_key, secret, base)
    user = rc.get_user()

    # Users: getToken registers them.
    tokens = {}
    for uid, name in [("sdk_u1", "Ann"), ("sdk_u2", "Bob 李"), ("sdk_u3", "Cy")]:
        answer = ok(user.register(uid, name, "http://img.example/" + uid + ".png"), "register")
        assert answer["userId"] == uid, answer
        tokens[uid] = answer["token"]
    assert ok(user.register("sdk_u1", "Ann"), "register again")["token"] == tokens["sdk_u1"]
    ok(user.update("sdk_u1", name="Ann Lee 安"), "update")
    info = ok(user.query("sdk_u1"), "query")
    assert info["userName"] == "Ann Lee 安", info
    assert info["userPortrait"] == "http://img.example/sdk_u1.png", info
    assert ok(user.check_online("sdk_u1"), "check_online")["status"] == "0"
    error(user.query("sdk_nobody"), 1002, "query of an unknown user")

    # Blacklist and block.
    blacklist = user.get_blacklist()
    ok(blacklist.add("sdk_u1", ["sdk_u2", "sdk_u3"]), "blacklist add")
    assert ok(blacklist.query("sdk_u1"), "blacklist query")["users"] == ["sdk_u2", "sdk_u3"]
    ok(blacklist.remove("sdk_u1", ["sdk_u3"]), "blacklist remove")
    block = user.get_block()
    ok(block.add("sdk_u3", 10), "block")
    ok(block.remove("sdk_u3"), "unblock")

    # A group: created, joined, quit, renamed, gagged, synced.
    group = rc.get_group()
    ok(group.create(["sdk_u1", "sdk_u2"], "sdk_g1", "SDK 群"), "group create")
    ok(group.join(["sdk_u3"], "sdk_g1", "SDK 群"), "group join")
    members = ok(group.query("sdk_g1"), "group query")["users"]
    assert [m["id"] for m in members] == ["sdk_u1", "sdk_u2", "sdk_u3"], members
    ok(group.quit(["sdk_u2"], "sdk_g1"), "group quit")
    ok(group.update("sdk_g1", "Renamed 群"), "group update")
    groups = ok(group.query_user_group("sdk_u3"), "user groups")["groups"]
    assert groups == [{"id": "sdk_g1", "name": "Renamed 群"}], groups
    gag = group.get_user().get_gag()
    ok(gag.add(["sdk_u3"], "sdk_g1", 0), "gag add")
    assert [u["userId"] for u in ok(gag.query("sdk_g1"), "gag list")["users"]] == ["sdk_u3"]
    ok(gag.remove(["sdk_u3"], "sdk_g1"), "gag remove")
    ok(group.sync("sdk_u2", [("sdk_g2", "Second"), ("sdk_g3", "Third")]), "group sync")
    error(group.query("sdk_nogroup"), 1002, "query of an unknown group")

    # Messages: text to users and to the group; recall the first.
    message = rc.get_message()
    sent = ok(
        message.get_private().send("sdk_u1", ["sdk_u2", "sdk_u3"], "RC:TxtMsg", {"content": "hello 你好"}),
        "private send",
    )
    uids = sent["messageUIDs"]
    assert [u["userId"] for u in uids] == ["sdk_u2", "sdk_u3"], sent
    ok(message.get_group().send("sdk_u1", "sdk_g1", "RC:TxtMsg", {"content": "hi group", "extra": "x1"}), "group send")
    ok(message.get_private().send("sdk_u3", "sdk_u1", "App:Card", {"card": 7}), "custom send")
    recalled = uids[0]["messageUID"]
    ok(message.get_private().recall("sdk_u1", "sdk_u2", recalled, 1700000000000), "recall")

    # A chatroom.
    chatroom = rc.get_chatroom()
    ok(chatroom.create([("sdk_room", "SDK Room")]), "chatroom create")
    rooms = ok(chatroom.query(["sdk_room"]), "chatroom query")["chatRooms"]
    assert [(r["chrmId"], r["name"]) for r in rooms] == [("sdk_room", "SDK Room")], rooms
    users = ok(chatroom.get_user().query("sdk_room", 10, 1), "chatroom users")
    assert users["total"] == 0, users
    ok(chatroom.create([("sdk_gone", "Gone")]), "chatroom create 2")
    ok(chatroom.destroy(["sdk_gone"]), "chatroom destroy")

    # Sensitive words (remove with one word renders a list: an SDK bug, so
    # two at once, which goes through the batch call).
    sensitive = rc.get_sensitive()
    for word in ["badword", "worse", "kept"]:
        ok(sensitive.add(word), "word add")
    ok(sensitive.remove(["badword", "worse"]), "word remove")
    words = ok(sensitive.query(1), "word list")["words"]
    assert [w["word"] for w in words] == ["kept"], words

    # A group dismissed.
    ok(group.dismiss("sdk_u2", "sdk_g3"), "group dismiss")

    print(json.dumps({"recalled": recalled, "tokens": tokens}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
