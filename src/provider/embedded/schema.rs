//! The embedded provider's schema, per backend: migration `i` takes it from
//! version `i` to `i + 1`, each in its own transaction (SQLite keeps the
//! version in `PRAGMA user_version`).
//!
//! Every row that belongs to a user references `users(id)` with `ON DELETE
//! CASCADE`, so deleting a user removes their memberships, friendships,
//! blacklist entries, settings and pins with it.

use crate::db::Schema;

/// The migrations, oldest first; the schema version is their count.
pub(super) static SCHEMA: Schema = Schema {
    name: "embedded",
    sqlite: &[V1, V2, V3, V4],
};

/// Version 1: users, social graph, groups, rooms, messages, media, app settings.
const V1: &str = r#"
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    next INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, next) VALUES
    ('group', 10000), ('room', 10000000), ('message', 1000000000);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    app TEXT NOT NULL,
    username TEXT NOT NULL,
    uuid TEXT NOT NULL,
    kind TEXT NOT NULL,
    profile TEXT NOT NULL,
    password TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    token TEXT UNIQUE,
    login INTEGER NOT NULL DEFAULT 0,
    nodisturb INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    UNIQUE (app, username)
);

CREATE TABLE robots (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    owner TEXT,
    callback TEXT,
    extra TEXT
);

CREATE TABLE friends (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    friend_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    note_name TEXT,
    others TEXT,
    created INTEGER NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);
CREATE INDEX friends_by_friend ON friends(friend_id);

CREATE TABLE blacklist (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
CREATE INDEX blacklist_by_blocked ON blacklist(blocked_id);

CREATE TABLE nodisturb_users (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    other_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, other_id)
);
CREATE INDEX nodisturb_users_by_other ON nodisturb_users(other_id);

CREATE TABLE user_settings (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, scope, key)
);

CREATE TABLE conversation_tops (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type INTEGER NOT NULL,
    target TEXT NOT NULL,
    line INTEGER NOT NULL,
    PRIMARY KEY (user_id, type, target, line)
);

CREATE TABLE chat_groups (
    id INTEGER PRIMARY KEY,
    app TEXT NOT NULL,
    gid TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    avatar TEXT,
    flag INTEGER NOT NULL,
    code TEXT,
    max_members INTEGER NOT NULL,
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    UNIQUE (app, gid)
);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    muted INTEGER NOT NULL DEFAULT 0,
    joined INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE group_shields (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX group_shields_by_group ON group_shields(group_id);

CREATE TABLE nodisturb_groups (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX nodisturb_groups_by_group ON nodisturb_groups(group_id);

CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    app TEXT NOT NULL,
    rid TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    max_members INTEGER NOT NULL,
    created INTEGER NOT NULL,
    UNIQUE (app, rid)
);
CREATE INDEX rooms_by_owner ON rooms(owner_id);

CREATE TABLE room_members (
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    muted INTEGER NOT NULL DEFAULT 0,
    joined INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_by_user ON room_members(user_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    app TEXT NOT NULL,
    sender TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_app TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    no_offline INTEGER NOT NULL,
    created INTEGER NOT NULL,
    retracted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_target ON messages(target_type, target_app, target, created);
CREATE INDEX messages_by_sender ON messages(app, sender, created);

CREATE TABLE media (
    media_id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    crc32 INTEGER NOT NULL,
    size INTEGER NOT NULL,
    filename TEXT,
    format TEXT,
    width INTEGER,
    height INTEGER,
    hash TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sensitive_words (
    app TEXT NOT NULL,
    word TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (app, word)
) WITHOUT ROWID;

CREATE TABLE switches (
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    PRIMARY KEY (app, name)
) WITHOUT ROWID;

CREATE TABLE system_settings (
    app TEXT NOT NULL,
    id INTEGER NOT NULL,
    value TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (app, id)
) WITHOUT ROWID;
"#;

/// Version 2: a group is public or not (was JMessage's flag, 1 or 2).
const V2: &str = r#"
ALTER TABLE chat_groups RENAME COLUMN flag TO public;
UPDATE chat_groups SET public = (public = 2);
"#;

/// Version 3: pinned conversations name whom they are with (`target_type`,
/// as the canonical model does), not WildfireChat's type 0 to 3.
const V3: &str = r#"
CREATE TABLE conversation_tops_v3 (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target_type TEXT NOT NULL,
    target TEXT NOT NULL,
    line INTEGER NOT NULL,
    PRIMARY KEY (user_id, target_type, target, line)
);
INSERT INTO conversation_tops_v3 (user_id, target_type, target, line)
    SELECT user_id, CASE type WHEN 0 THEN 'user' WHEN 1 THEN 'group'
                              WHEN 2 THEN 'chatroom' ELSE 'channel' END, target, line
    FROM conversation_tops WHERE type BETWEEN 0 AND 3;
DROP TABLE conversation_tops;
ALTER TABLE conversation_tops_v3 RENAME TO conversation_tops;
"#;

/// Version 4: memberships, friendships and blacklist entries get a `seq`
/// column (their insertion order, the tie-break of lists by time) instead of
/// SQLite's implicit `rowid`, which portable queries cannot name.
const V4: &str = r#"
CREATE TABLE group_members_v4 (
    seq INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    muted INTEGER NOT NULL DEFAULT 0,
    joined INTEGER NOT NULL,
    UNIQUE (group_id, user_id)
);
INSERT INTO group_members_v4 (seq, group_id, user_id, role, muted, joined)
    SELECT rowid, group_id, user_id, role, muted, joined FROM group_members;
DROP TABLE group_members;
ALTER TABLE group_members_v4 RENAME TO group_members;
CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE room_members_v4 (
    seq INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    muted INTEGER NOT NULL DEFAULT 0,
    joined INTEGER NOT NULL,
    UNIQUE (room_id, user_id)
);
INSERT INTO room_members_v4 (seq, room_id, user_id, muted, joined)
    SELECT rowid, room_id, user_id, muted, joined FROM room_members;
DROP TABLE room_members;
ALTER TABLE room_members_v4 RENAME TO room_members;
CREATE INDEX room_members_by_user ON room_members(user_id);

CREATE TABLE friends_v4 (
    seq INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    friend_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    note_name TEXT,
    others TEXT,
    created INTEGER NOT NULL,
    UNIQUE (user_id, friend_id)
);
INSERT INTO friends_v4 (seq, user_id, friend_id, note_name, others, created)
    SELECT rowid, user_id, friend_id, note_name, others, created FROM friends;
DROP TABLE friends;
ALTER TABLE friends_v4 RENAME TO friends;
CREATE INDEX friends_by_friend ON friends(friend_id);

CREATE TABLE blacklist_v4 (
    seq INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created INTEGER NOT NULL,
    UNIQUE (user_id, blocked_id)
);
INSERT INTO blacklist_v4 (seq, user_id, blocked_id, created)
    SELECT rowid, user_id, blocked_id, created FROM blacklist;
DROP TABLE blacklist;
ALTER TABLE blacklist_v4 RENAME TO blacklist;
CREATE INDEX blacklist_by_blocked ON blacklist(blocked_id);
"#;
