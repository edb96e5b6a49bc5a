//! What a migration copies, in dependency order: users before anything that
//! names them, groups before their members, rooms before theirs.

use std::fmt;

/// One kind of entity a migration copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Users with their profiles and disabled state.
    Users,
    /// Friendships with the notes each side keeps.
    Friends,
    /// Blocked users, per user.
    Blacklists,
    /// Groups: name, description, avatar, owner, public flag, size.
    Groups,
    /// Group memberships with roles and mutes.
    Members,
    /// Chatrooms: name, description, owner, size.
    Chatrooms,
    /// Chatroom memberships with mutes.
    RoomMembers,
    /// Message history.
    Messages,
}

impl Kind {
    /// Every kind, in the order a migration copies them.
    pub const ALL: [Kind; 8] = [
        Kind::Users,
        Kind::Friends,
        Kind::Blacklists,
        Kind::Groups,
        Kind::Members,
        Kind::Chatrooms,
        Kind::RoomMembers,
        Kind::Messages,
    ];

    /// The name on the command line, in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Friends => "friends",
            Kind::Blacklists => "blacklists",
            Kind::Groups => "groups",
            Kind::Members => "members",
            Kind::Chatrooms => "chatrooms",
            Kind::RoomMembers => "room_members",
            Kind::Messages => "messages",
        }
    }

    /// Looks up a kind by name.
    pub fn parse(name: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Parses `--only` (comma-separated names) into kinds in copy order.
    pub fn parse_list(text: &str) -> Result<Vec<Kind>, String> {
        let mut kinds = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Kind::parse(name) {
                Some(k) => kinds.push(k),
                None => {
                    let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    return Err(format!(
                        "unknown kind `{name}` (known: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        if kinds.is_empty() {
            return Err("--only names no kind".into());
        }
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lists_parse_into_copy_order() {
        assert_eq!(
            Kind::parse_list("members, users,members").unwrap(),
            [Kind::Users, Kind::Members]
        );
        let err = Kind::parse_list("users,avatars").unwrap_err();
        assert!(err.contains("unknown kind `avatars`"), "{err}");
        assert!(Kind::parse_list(" , ").is_err());
    }
}
