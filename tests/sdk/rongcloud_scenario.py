"""RongCloud's older official Python server SDK (PyPI `rongcloud` 2.0.1)
driving a running imbridge that serves the `rongcloud` dialect: users, a
blacklist, a block, a group, private, group and chatroom text messages, a
chatroom, legacy word-filter calls.

    python rongcloud_scenario.py BASE_URL APP_KEY APP_SECRET

This SDK signs with `RC-App-Key`, `RC-Nonce`, `RC-Timestamp` (milliseconds)
and `RC-Signature`, and URL-encodes properly, so the data here has `&`, `=`
and `+` in it. Every answer is checked (HTTP status and `code`); the first
unexpected one stops the script with a non-zero exit code. The last line of
stdout is a JSON summary for the Rust test (tests/it/sdk_rongcloud.rs).
"""

import json
import sys

import rongcloud.base
from rongcloud import RongCloud


def ok(response, what):
    """A success: HTTP 200 and code 200."""
    body = response.result
    if response.status != 200 or body.get("code") != 200:
        sys.exit(f"{what}: unexpected answer {response.status} {body!r}")
    return body


def error(response, status, code, what):
    body = response.result
    if response.status != status or body.get("code") != code or not body.get("errorMessage"):
        sys.exit(f"{what}: expected {status}/{code}, got {response.status} {body!r}")
    return body


def main(base, app_key, secret):
    rongcloud.base.RongCloudBase.api_host = base
    rc = RongCloud(app_key, secret)

    token = ok(rc.User.getToken("py_u1", "Ann", "http://img.example/a.png"), "getToken")["token"]
    for uid in ["py_u2", "py_u3"]:
        ok(rc.User.getToken(uid, uid.upper(), ""), "getToken")
    ok(rc.User.refresh("py_u1", "Ann & Co = 1+1", "http://img.example/p.png?a=1&b=2"), "refresh")
    assert ok(rc.User.checkOnline("py_u1"), "checkOnline")["status"] == "0"
    error(rc.User.checkOnline("py_nobody"), 404, 1002, "checkOnline of an unknown user")

    ok(rc.User.addBlacklist("py_u1", "py_u2"), "addBlacklist")
    assert ok(rc.User.queryBlacklist("py_u1"), "queryBlacklist")["users"] == ["py_u2"]
    ok(rc.User.removeBlacklist("py_u1", "py_u2"), "removeBlacklist")
    ok(rc.User.block("py_u2", 10), "block")
    ok(rc.User.unBlock("py_u2"), "unBlock")

    ok(rc.Group.create(["py_u1", "py_u2"], "py_g1", "R&D + Ops"), "group create")
    ok(rc.Group.join(["py_u3"], "py_g1", "R&D + Ops"), "group join")
    ok(rc.Group.quit("py_u2", "py_g1"), "group quit")
    users = ok(rc.Group.queryUser("py_g1"), "queryUser")["users"]
    assert [u["id"] for u in users] == ["py_u1", "py_u3"], users
    ok(rc.Group.addGagUser("py_u3", "py_g1", "5"), "addGagUser")
    assert [u["userId"] for u in ok(rc.Group.lisGagUser("py_g1"), "lisGagUser")["users"]] == ["py_u3"]
    ok(rc.Group.rollBackGagUser("py_u3", "py_g1"), "rollBackGagUser")
    ok(rc.Group.sync("py_u2", [("py_g2", "Two"), ("py_g3", "Three")]), "sync")
    ok(rc.Group.dismiss("py_u2", "py_g3"), "dismiss")

    text = json.dumps({"content": "a&b=c+d 你好"})
    sent = ok(rc.Message.publishPrivate("py_u1", "py_u2", "RC:TxtMsg", text), "publishPrivate")
    assert [u["userId"] for u in sent["messageUIDs"]] == ["py_u2"], sent
    ok(rc.Message.publishGroup("py_u1", "py_g1", "RC:TxtMsg", json.dumps({"content": "group"})), "publishGroup")

    ok(rc.Chatroom.create([("py_room", "Room"), ]), "chatroom create")
    ok(rc.Chatroom.join(["py_u3"], "py_room"), "chatroom join")
    rooms = ok(rc.Chatroom.query("py_room"), "chatroom query")["chatRooms"]
    assert [r["chrmId"] for r in rooms] == ["py_room"], rooms
    assert ok(rc.Chatroom.queryUser("py_room", "10", "1"), "chatroom queryUser")["total"] == 1
    ok(rc.Message.publishChatroom("py_u3", "py_room", "RC:TxtMsg", json.dumps({"content": "room"})), "publishChatroom")
    ok(rc.Chatroom.create([("py_gone", "Gone")]), "chatroom create 2")
    ok(rc.Chatroom.destroy("py_gone"), "chatroom destroy")

    ok(rc.Wordfilter.add("drop"), "wordfilter add")
    ok(rc.Wordfilter.add("keep"), "wordfilter add")
    ok(rc.Wordfilter.delete("drop"), "wordfilter delete")
    words = ok(rc.Wordfilter.getList(), "wordfilter list")["words"]
    assert [w["word"] for w in words] == ["keep"], words

    print(json.dumps({"token": token}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
