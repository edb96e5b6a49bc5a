"""The official JMessage Python SDK (PyPI `jmessage` 2.0.0) driving a running
imbridge through a realistic scenario: users, profile and password updates,
friends, a blacklist, a group with members, text and image messages, a
retraction, media upload and download, a chatroom, sensitive words, the SDK
register switch, user lists and deletions.

    python jmessage_scenario.py BASE_URL APP_KEY MASTER_SECRET

Every SDK call's answer (status code, JSON) is checked; the first unexpected
one stops the script with a non-zero exit code and the answer. On success the
last line of stdout is a JSON summary of the ids created, which the Rust test
(tests/it/sdk_jmessage.rs) uses to check through HTTP what was stored.

The SDK needs patching to run at all (reference/vendors.md, JMessage SDK
pitfalls): every module hard-codes https://api.im.jpush.cn in class
constants, and JMessage.put/delete raise UnboundLocalError whenever a body is
passed. `jmessage.sensitiveword` and `jmessage.report` do not even import
(syntax errors); sensitive words go through `jmessage.im.IM`.
"""

import json
import struct
import sys
import zlib

import requests

import jmessage
from jmessage import group, im, message, resource, room, user

VENDOR = "https://api.im.jpush.cn"
JSON = {"content-type": "application/json; charset=utf-8"}


def patch(base):
    """Points every URI constant at `base`; fixes put/delete with a body."""
    constants = [
        (user.User, ["URI", "ADMIN_URI"]),
        (group.Group, ["URI"]),
        (message.Message, ["URI"]),
        (message.Resource, ["URI"]),
        (resource.Resource, ["URI"]),
        (room.Room, ["URI"]),
        (im.IM, ["SDK_URI", "WORD_URI"]),
    ]
    for cls, names in constants:
        for name in names:
            value = getattr(cls, name)
            assert value.startswith(VENDOR), f"{cls.__name__}.{name} = {value}"
            setattr(cls, name, base + value[len(VENDOR):])

    def put(self, uri, params=None, data=None):
        return self._session.put(uri, params=params, json=data, headers=JSON)

    def delete(self, uri, params=None, data=None):
        return self._session.delete(uri, params=params, json=data, headers=JSON)

    jmessage.JMessage.put = put
    jmessage.JMessage.delete = delete


def expect(resp, status, what):
    """Asserts the status code; returns the JSON body (None when empty)."""
    assert resp.status_code == status, (
        f"{what}: expected HTTP {status}, got {resp.status_code} {resp.text!r}"
    )
    if status == 204:
        assert resp.text == "", f"{what}: 204 with a body {resp.text!r}"
    return resp.json() if resp.text else None


def expect_error(resp, code, what):
    """Asserts a JMessage error answer with this code."""
    assert resp.status_code >= 400, f"{what}: expected an error, got {resp.status_code}"
    body = resp.json()
    assert body["error"]["code"] == code, f"{what}: expected {code}, got {body}"


def names(users):
    return [u["username"] for u in users]


def png(width, height):
    """A valid RGB PNG of this size."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def users_and_profiles(users):
    people = [{"username": n, "password": "password"}
              for n in ["sdk_alice", "sdk_bob", "sdk_carol", "sdk_erin",
                        "sdk_frank", "sdk_gina"]]
    answer = expect(users.register(people), 201, "register")
    assert answer == [{"username": p["username"]} for p in people], answer
    answer = expect(users.create("sdk_dave", "password", nickname="Dave", gender=1,
                                 extras={"team": "blue"}), 201, "create")
    assert answer == [{"username": "sdk_dave"}], answer
    again = expect(users.create("sdk_dave", "password"), 201, "create again")
    assert again[0]["error"]["code"] == 899001, again

    expect(users.update("sdk_alice", nickname="Alice", signature="hi there",
                        region="shenzhen"), 204, "update")
    alice = expect(users.get("sdk_alice"), 200, "get")
    assert alice["nickname"] == "Alice" and alice["signature"] == "hi there", alice
    assert alice["region"] == "shenzhen", alice
    dave = expect(users.get("sdk_dave"), 200, "get dave")
    assert (dave["nickname"], dave["gender"], dave["extras"]) == ("Dave", 1, {"team": "blue"}), dave
    expect(users.update_password("sdk_alice", "n3w-password"), 204, "password")

    stat = expect(users.stat("sdk_alice"), 200, "stat")
    assert stat == {"login": False, "online": False}, stat
    stats = expect(users.stat(["sdk_alice", "sdk_bob"]), 200, "stat batch")
    assert names(stats) == ["sdk_alice", "sdk_bob"], stats

    # The SDK sends disable=True / disable=False.
    expect(users.block("sdk_dave"), 204, "block")
    expect(users.active("sdk_dave"), 204, "active")


def friends_and_blacklist(users):
    expect(users.add_friends("sdk_alice", ["sdk_bob", "sdk_carol"]), 201, "add friends")
    expect_error(users.add_friends("sdk_alice", "sdk_bob"), 899070, "add a friend twice")
    expect(users.update_friend("sdk_alice", "sdk_bob", remark="Bobby", others="from work"),
           204, "friend note")
    expect(users.remove_friends("sdk_alice", "sdk_carol"), 204, "remove friend")
    friends = expect(users.friends("sdk_alice"), 200, "friends")
    assert names(friends) == ["sdk_bob"], friends
    assert friends[0]["note_name"] == "Bobby" and friends[0]["others"] == "from work", friends

    expect(users.add_blacklist("sdk_alice", ["sdk_dave", "sdk_carol"]), 204, "blacklist add")
    expect(users.remove_blacklist("sdk_alice", "sdk_carol"), 204, "blacklist remove")
    blacklist = expect(users.blacklist("sdk_alice"), 200, "blacklist")
    assert names(blacklist) == ["sdk_dave"], blacklist


def groups_and_messages(j, users):
    groups = group.Group(j)
    created = expect(groups.create("sdk_alice", "SDK group", members=["sdk_bob"],
                                   desc="made by the SDK", flag=1), 201, "create group")
    gid = created["gid"]
    assert isinstance(gid, int), created
    assert created["members_username"] == ["sdk_bob"], created
    expect(groups.add_members(gid, ["sdk_carol"]), 204, "add members")
    expect_error(groups.add_members(gid, "sdk_carol"), 899011, "add a member twice")
    members = expect(groups.members(gid), 200, "members")
    assert [(m["username"], m["flag"]) for m in members] == [
        ("sdk_alice", 1), ("sdk_bob", 0), ("sdk_carol", 0)], members
    expect(groups.update(gid, name="SDK group 2"), 204, "update group")
    info = expect(groups.get(gid), 200, "get group")
    assert (info["gid"], info["name"], info["desc"]) == (gid, "SDK group 2", "made by the SDK"), info
    mine = expect(users.groups("sdk_bob"), 200, "user groups")
    assert [g["gid"] for g in mine] == [gid], mine
    page = expect(groups.all(10), 200, "all groups")
    assert page["total"] == 1 and page["groups"][0]["gid"] == gid, page
    expect(groups.add_silence(gid, ["sdk_carol"]), 204, "silence")
    expect(users.add_group_nodisturb("sdk_bob", gid), 204, "group nodisturb")
    expect(users.add_groups_shield("sdk_bob", gid), 204, "groups shield")
    doomed = expect(groups.create("sdk_alice", "short-lived"), 201, "second group")["gid"]
    expect(groups.delete(doomed), 204, "dismiss")
    expect_error(groups.get(doomed), 899006, "dismissed group")

    msgs = message.Message(j)
    text = message.Model().text("Hello from the SDK") \
        .set_from("sdk_alice", "user").set_target("sdk_bob", "single")
    sent = expect(msgs.send(text), 201, "send text")
    msg_id = sent["msg_id"]
    assert isinstance(msg_id, int) and isinstance(sent["msg_ctime"], int), sent
    expect(msgs.retract("sdk_alice", msg_id), 204, "retract")
    expect_error(msgs.retract("sdk_alice", msg_id), 855004, "retract twice")
    to_group = message.Model().text("Hello group").set_from("sdk_bob", "user") \
        .set_target(gid, "group")
    expect(msgs.send(to_group), 201, "send to group")
    muted = message.Model().text("Am I muted?").set_from("sdk_carol", "user") \
        .set_target(gid, "group")
    expect_error(msgs.send(muted), 899016, "muted member sends")
    blocked = message.Model().text("hi").set_from("sdk_dave", "user") \
        .set_target("sdk_alice", "single")
    expect_error(msgs.send(blocked), 899016, "blacklisted sender")
    return gid, msg_id


def media(j):
    res = message.Resource(j)
    image = png(7, 4)
    up = expect(res.upload_image(("sdk.png", image, "image/png")), 200, "upload")
    assert (up["width"], up["height"], up["format"], up["fsize"]) == (7, 4, "png", len(image)), up
    assert up["media_crc32"] == zlib.crc32(image), up
    url = expect(res.download(up["media_id"]), 200, "download url")["url"]
    got = requests.get(url)
    assert got.status_code == 200 and got.content == image, f"GET {url}: {got.status_code}"
    picture = message.Model().image(up).set_from("sdk_bob", "user") \
        .set_target("sdk_alice", "single")
    expect(message.Message(j).send(picture), 201, "send image")
    return up["media_id"]


def chatroom(j, users):
    rooms = room.Room(j)
    created = expect(rooms.create("sdk_alice", "SDK room", members=["sdk_bob"], desc="room"),
                     201, "create room")
    rid = created["chatroom_id"]
    assert isinstance(rid, int), created
    expect(rooms.add_members(rid, ["sdk_carol", "sdk_dave"]), 204, "room add members")
    expect(rooms.remove_members(rid, "sdk_dave"), 204, "room remove member")
    expect(rooms.add_silence(rid, "sdk_carol"), 204, "room mute")
    listed = expect(rooms.members(rid, 10), 200, "room members")
    flags = sorted((u["username"], u["flag"]) for u in listed["users"])
    assert flags == [("sdk_alice", 0), ("sdk_bob", 0), ("sdk_carol", 1)], listed
    expect(rooms.update(rid, owner="sdk_bob", name="SDK room 2", desc="renamed"), 204,
           "room update")
    info = expect(rooms.get(rid), 200, "room info")
    assert (info[0]["name"], info[0]["owner_username"]) == ("SDK room 2", "sdk_bob"), info
    mine = expect(users.chatrooms("sdk_carol"), 200, "user rooms")
    assert [r["id"] for r in mine] == [rid], mine
    page = expect(rooms.all(10), 200, "all rooms")
    assert page["total"] == 1, page
    return rid


def settings(j):
    admin = im.IM(j)
    expect(admin.add_words(["badword", "worseword"]), 204, "add words")
    expect(admin.change_word(old="badword", new="bad"), 204, "change word")
    expect(admin.remove_word("worseword"), 204, "remove word")
    words = expect(admin.all_words(10), 200, "words")
    assert [w["name"] for w in words["words"]] == ["bad"], words
    expect(admin.close_filter(), 204, "filter off")
    assert expect(admin.word_status(), 200, "filter status") == {"status": 0}
    expect(admin.close_sdk(), 204, "sdk register off")
    assert expect(admin.sdk_status(), 200, "sdk status") == {"status": 0}
    expect(admin.open_sdk(), 204, "sdk register on")
    assert expect(admin.sdk_status(), 200, "sdk status") == {"status": 1}


def cleanup(users):
    expect(users.delete("sdk_erin"), 204, "delete user")
    expect(users.delete(["sdk_frank", "sdk_gina"]), 200, "delete users")
    expect_error(users.get("sdk_erin"), 899002, "deleted user")
    page = expect(users.all(500), 200, "all users")
    assert sorted(names(page["users"])) == [
        "sdk_alice", "sdk_bob", "sdk_carol", "sdk_dave"], page
    assert page["total"] == 4, page


def main():
    base, app_key, secret = sys.argv[1:4]
    patch(base.rstrip("/"))
    j = jmessage.JMessage(app_key, secret)
    users = user.User(j)
    users_and_profiles(users)
    friends_and_blacklist(users)
    gid, msg_id = groups_and_messages(j, users)
    media_id = media(j)
    rid = chatroom(j, users)
    settings(j)
    cleanup(users)
    print(json.dumps({"gid": gid, "room": rid, "msg_id": msg_id, "media_id": media_id}))


if __name__ == "__main__":
    main()
