//! What a provider keeps of each entity: the canonical fields it stores and
//! gives back when read. A vendor mapping declares it (`outbound: keeps:`);
//! the embedded provider keeps everything. `imbridge migrate` copies a field
//! only when both sides keep it, lists the others per pair, and `verify`
//! compares only fields both sides keep.

use std::collections::BTreeMap;

/// An entity whose fields a provider may or may not keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// A user and its profile.
    User,
    /// A friendship, seen from one of the two users.
    Friend,
    /// A group.
    Group,
    /// A member of a group.
    Member,
    /// A chatroom.
    Chatroom,
    /// A member of a chatroom.
    RoomMember,
}

impl Entity {
    /// Every entity, in declaration order.
    pub const ALL: [Entity; 6] = [
        Entity::User,
        Entity::Friend,
        Entity::Group,
        Entity::Member,
        Entity::Chatroom,
        Entity::RoomMember,
    ];

    /// The name mapping files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Friend => "friend",
            Entity::Group => "group",
            Entity::Member => "member",
            Entity::Chatroom => "chatroom",
            Entity::RoomMember => "room_member",
        }
    }

    /// Looks up an entity by name.
    pub fn parse(name: &str) -> Option<Entity> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// The canonical fields of the entity that a provider may keep (names as
    /// in the entity's JSON; the user's profile fields sit at its top level).
    /// A group's or chatroom's `id` is kept when the provider takes the id
    /// the caller chooses.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Entity::User => &[
                "nickname",
                "avatar",
                "birthday",
                "gender",
                "signature",
                "region",
                "address",
                "mobile",
                "email",
                "company",
                "extras",
                "disabled",
            ],
            Entity::Friend => &["note_name", "others"],
            Entity::Group => &[
                "id",
                "name",
                "desc",
                "avatar",
                "owner",
                "public",
                "max_members",
            ],
            Entity::Member => &["role", "muted"],
            Entity::Chatroom => &["id", "name", "description", "owner", "max_members"],
            Entity::RoomMember => &["muted"],
        }
    }

    /// The field's `'static` name, when the entity has it.
    pub fn field(self, name: &str) -> Option<&'static str> {
        self.fields().iter().copied().find(|f| *f == name)
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields a provider keeps, per entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keeps(BTreeMap<Entity, Vec<&'static str>>);

impl Keeps {
    /// Every field of every entity (the embedded provider).
    pub fn all() -> Keeps {
        Keeps(
            Entity::ALL
                .into_iter()
                .map(|e| (e, e.fields().to_vec()))
                .collect(),
        )
    }

    /// Nothing yet; fill with [`Keeps::set`].
    pub fn none() -> Keeps {
        Keeps(BTreeMap::new())
    }

    /// Declares the fields kept of `entity` (replacing what was declared).
    pub fn set(&mut self, entity: Entity, fields: Vec<&'static str>) {
        self.0.insert(entity, fields);
    }

    /// Whether `field` of `entity` is kept.
    pub fn keeps(&self, entity: Entity, field: &str) -> bool {
        self.0.get(&entity).is_some_and(|f| f.contains(&field))
    }

    /// The fields of `entity` both `self` and `other` keep, in the entity's order.
    pub fn shared(&self, other: &Keeps, entity: Entity) -> Vec<&'static str> {
        entity
            .fields()
            .iter()
            .copied()
            .filter(|f| self.keeps(entity, f) && other.keeps(entity, f))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_fields_are_those_both_keep() {
        let mut rc = Keeps::none();
        rc.set(Entity::User, vec!["nickname", "avatar", "disabled"]);
        let all = Keeps::all();
        assert_eq!(
            all.shared(&rc, Entity::User),
            ["nickname", "avatar", "disabled"]
        );
        assert!(rc.shared(&all, Entity::Group).is_empty());
        assert_eq!(Entity::parse("room_member"), Some(Entity::RoomMember));
        assert_eq!(Entity::User.field("gender"), Some("gender"));
        assert_eq!(Entity::User.field("mobil"), None);
    }
}
