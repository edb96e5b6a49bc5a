"""Drives imbridge's Easemob dialect with the official ease-restapi 1.3 SDK.

Usage: easemob_scenario.py BASE_URL ORG APP CLIENT_ID CLIENT_SECRET

Every SDK call returns (success, result): success only for HTTP 200, result
the parsed JSON then (else the body text). The script asserts on each, and
prints one JSON summary as its last line for the Rust test to check against
the server's state.
"""

import json
import sys

base, org, app, client_id, client_secret = sys.argv[1:6]

from ease_restapi import config  # noqa: E402

# The SDK builds every URL from these module constants, the token URL in
# AppClientAuth's constructor: set them first.
config.HOST_SERVER = base
config.APP_ORG = org
config.APP_NAME = app
config.REST_API_DEBUG = False

from ease_restapi import service  # noqa: E402
from ease_restapi.service import (  # noqa: E402
    AppClientAuth,
    MessageTxtData,
)


def ok(call, what):
    success, result = call
    assert success, "%s failed: %s" % (what, result)
    assert isinstance(result, dict), "%s: %r" % (what, result)
    return result


def refused(call, what):
    success, result = call
    assert not success, "%s should have failed: %s" % (what, result)
    return json.loads(result)


auth = AppClientAuth(client_id, client_secret)
bad_auth = AppClientAuth(client_id, "wrong-secret")

# Users: one by one, a batch, get, list, nickname, password.
r = ok(service.create_user_credit(auth, "SDK_User1", "pw1"), "create_user_credit")
assert r["entities"][0]["username"] == "sdk_user1", r
r = ok(
    service.create_users(
        auth,
        [
            {"username": "sdk_user2", "password": "pw2"},
            {"username": "sdk_user3", "password": "pw3"},
            {"username": "sdk_gone", "password": "pw4"},
        ],
    ),
    "create_users",
)
assert [e["username"] for e in r["entities"]] == ["sdk_user2", "sdk_user3", "sdk_gone"], r
err = refused(service.create_user_credit(auth, "sdk_user1", "again"), "duplicate user")
assert err["error"] == "duplicate_unique_property_exists", err
# Open registration is off: no token, no user.
err = refused(service.create_user_open("sdk_open", "pw"), "open registration")
assert err["error"] == "unauthorized", err

r = ok(service.pickup_user(auth, "sdk_user1"), "pickup_user")
assert r["entities"][0]["username"] == "sdk_user1", r
err = refused(service.pickup_user(auth, "nobody"), "pickup_user nobody")
assert err["error"] == "service_resource_not_found", err
page = ok(service.pickup_users(auth, limit=2), "pickup_users")
assert [e["username"] for e in page["entities"]] == ["sdk_user1", "sdk_user2"], page
rest = ok(service.pickup_users(auth, limit=2, cursor=page["cursor"]), "pickup_users cursor")
assert [e["username"] for e in rest["entities"]] == ["sdk_user3", "sdk_gone"], rest
assert "cursor" not in rest, rest

ok(service.modify_nickname(auth, "sdk_user1", "SDK One"), "modify_nickname")
r = ok(service.passwd_user(auth, "sdk_user3", "changed"), "passwd_user")
assert r["action"] == "set user password", r
r = ok(service.look_user_status(auth, "sdk_user1"), "look_user_status")
assert r["data"] == {"sdk_user1": "offline"}, r
r = ok(service.delete_user(auth, "sdk_gone"), "delete_user")
assert r["entities"][0]["username"] == "sdk_gone", r

# Friends and the blacklist.
r = ok(service.create_friend(auth, "sdk_user1", "sdk_user2"), "create_friend")
assert r["entities"][0]["username"] == "sdk_user2", r
ok(service.create_friend(auth, "sdk_user1", "sdk_user3"), "create_friend 2")
ok(service.delete_friend(auth, "sdk_user1", "sdk_user3"), "delete_friend")
r = ok(service.detail_friend(auth, "sdk_user1"), "detail_friend")
assert r["data"] == ["sdk_user2"], r
r = ok(service.add_user_blacklist(auth, "sdk_user1", ["sdk_user3"]), "add_user_blacklist")
assert r["data"] == ["sdk_user3"], r
r = ok(service.pickup_user_blacklist(auth, "sdk_user1"), "pickup_user_blacklist")
assert r["data"] == ["sdk_user3"], r
ok(service.del_user_blacklist(auth, "sdk_user1", "sdk_user3"), "del_user_blacklist")

# Groups: the SDK sends the legacy `desc` and `approval`.
group = service.build_group_data("sdk group", "from ease-restapi", "sdk_user1", True, members=["sdk_user2"])
r = ok(service.create_group(auth, group), "create_group")
gid = r["data"]["groupid"]
r = ok(service.details_group(auth, gid), "details_group")
assert r["data"][0]["description"] == "from ease-restapi", r
assert r["data"][0]["affiliations"] == [{"owner": "sdk_user1"}, {"member": "sdk_user2"}], r
ok(service.modify_group(auth, gid, groupname="sdk group renamed"), "modify_group")
r = ok(service.pickup_groups(auth), "pickup_groups")
assert [g["groupid"] for g in r["data"]] == [gid], r
ok(service.user_join_group(auth, gid, "sdk_user3"), "user_join_group")
ok(service.user_kick_group(auth, gid, "sdk_user3"), "user_kick_group")
r = ok(service.add_group_users(auth, gid, ["sdk_user3"]), "add_group_users")
assert r["data"]["newmembers"] == ["sdk_user3"], r
r = ok(service.pickup_group_users(auth, gid), "pickup_group_users")
assert r["data"] == [{"owner": "sdk_user1"}, {"member": "sdk_user2"}, {"member": "sdk_user3"}], r
r = ok(service.pickup_user_group(auth, "sdk_user2"), "pickup_user_group")
assert r["data"] == [{"groupid": gid, "groupname": "sdk group renamed"}], r
err = refused(service.user_join_group(auth, gid, "sdk_user2"), "join twice")
assert err["error"] == "forbidden_op", err
# A group made to be dismissed.
r = ok(service.create_group(auth, service.build_group_data("tmp", "tmp", "sdk_user2", False)), "create_group 2")
ok(service.delete_group(auth, r["data"]["groupid"]), "delete_group")
refused(service.details_group(auth, r["data"]["groupid"]), "dismissed group")

# Messages: the legacy /messages with target_type/target/msg.
r = ok(service.send_txt_message(auth, MessageTxtData("hello from admin", ["sdk_user2"])()), "send_txt_message")
assert r["data"] == {"sdk_user2": "success"}, r
r = ok(
    service.send_txt_message(auth, MessageTxtData("hi", ["sdk_user2"], username="sdk_user1", color="red")()),
    "send_txt_message from a user",
)
assert r["data"] == {"sdk_user2": "success"}, r
r = ok(
    service.send_txt_message(auth, MessageTxtData("to the group", [gid], target_type="chatgroups", username="sdk_user1")()),
    "send_txt_message to a group",
)
assert r["data"] == {gid: "success"}, r
r = ok(service.offline_msg_count(auth, "sdk_user2"), "offline_msg_count")
assert r["data"] == {"sdk_user2": 2}, r

# A bad client secret gets no token: the SDK then sends no usable token.
refused(service.pickup_user(bad_auth, "sdk_user1"), "bad credentials")

print(json.dumps({"group_id": gid}))
