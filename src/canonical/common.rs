//! Small request and result shapes reused by many operations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The result of an operation that returns nothing but success.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Done {}

/// Paging of a list request: offset-based (`start`, `count`) or cursor-based.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Offset of the first item (default 0).
    #[serde(default)]
    pub start: Option<i64>,
    /// How many items at most.
    #[serde(default)]
    pub count: Option<i64>,
    /// An opaque cursor from a previous page; wins over `start`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Listing<T> {
    /// Total number of items.
    pub total: i64,
    /// Offset of the first item of this page.
    pub start: i64,
    /// Number of items on this page.
    pub count: i64,
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The members of a group, one page of them, with the group itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemberPage<T> {
    /// The group.
    pub group: super::model::Group,
    /// The page of members.
    #[serde(flatten)]
    pub page: Listing<T>,
}

/// A plain list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

/// Items to add and items to remove, in one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct AddRemove<T> {
    /// Items to add.
    #[serde(default)]
    pub add: Vec<T>,
    /// Items to remove.
    #[serde(default)]
    pub remove: Vec<T>,
}

impl<T> Default for AddRemove<T> {
    fn default() -> Self {
        AddRemove {
            add: Vec::new(),
            remove: Vec::new(),
        }
    }
}

/// An on/off switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Switch {
    /// Whether the switch is on.
    pub enabled: bool,
}

/// A count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Count {
    /// The number.
    pub count: i64,
}

/// An account configured for the app (customer, customer service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// Account id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The calling user's IM token, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}
