//! The ID map in front of a provider, for frontends whose group or chatroom
//! ids are integers (JMessage, haorenao, rongcloud-app) when the provider's
//! are not always (RongCloud, WildfireChat: any string). Provider ids that
//! are integers pass through unchanged; others get a stable integer from the
//! store (the same one for every frontend, across restarts), and those
//! integers are turned back into provider ids on the way in.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{CallContext, Provider, SharedProvider};
use crate::canonical::fields::Keeps;
use crate::canonical::ids::{sent_to, visit_op, visit_output, IdKind};
use crate::canonical::{Op, OpName, Output, Result};
use crate::mapping::plan::Dialect;
use crate::store::{Store, FIRST_MAPPED_ID};

/// A provider seen through the ID map.
pub struct IdMapped {
    inner: SharedProvider,
    store: Arc<Store>,
    kinds: Vec<IdKind>,
}

impl IdMapped {
    /// `provider` as a frontend of `dialect` sees it: through the ID map when
    /// the dialect carries some ids as integers (and the store is open).
    pub fn wrap(
        provider: SharedProvider,
        store: Option<&Arc<Store>>,
        dialect: &Dialect,
    ) -> SharedProvider {
        match (store, &dialect.inbound) {
            (Some(store), Some(inbound)) if !inbound.integer_ids.is_empty() => Arc::new(
                IdMapped::new(provider, store.clone(), inbound.integer_ids.clone()),
            ),
            _ => provider,
        }
    }

    /// Wraps `inner`, mapping ids of `kinds`.
    pub fn new(inner: SharedProvider, store: Arc<Store>, kinds: Vec<IdKind>) -> Self {
        IdMapped {
            inner,
            store,
            kinds,
        }
    }
}

/// Whether an id is a plain integer (in canonical decimal form).
fn is_integer(id: &str) -> bool {
    id.parse::<i64>().is_ok_and(|n| n.to_string() == id)
}

#[async_trait]
impl Provider for IdMapped {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn supports(&self, op: OpName) -> bool {
        self.inner.supports(op)
    }

    fn enumerates(&self, op: OpName) -> bool {
        self.inner.enumerates(op)
    }

    fn keeps(&self) -> Keeps {
        self.inner.keeps()
    }

    async fn execute(&self, mut op: Op, ctx: &CallContext) -> Result<Output> {
        let provider = self.inner.name();
        // In: integers the map made become provider ids again.
        let mut wanted = Vec::new();
        visit_op(&mut op, &mut |kind, id| {
            if self.kinds.contains(&kind) && id.parse::<i64>().is_ok_and(|n| n >= FIRST_MAPPED_ID) {
                wanted.push((kind, id.clone()));
            }
        });
        let mut found = HashMap::new();
        for (kind, id) in wanted {
            if let Some(internal) = self.store.internal_id(provider, kind, &id).await? {
                found.insert((kind, id), internal);
            }
        }
        visit_op(&mut op, &mut |kind, id| {
            if let Some(v) = found.get(&(kind, id.clone())) {
                *id = v.clone();
            }
        });
        let sent_to = sent_to(&op);
        let mut out = self.inner.execute(op, ctx).await?;
        // Out: provider ids that are not integers get their stable integer.
        let mut unmapped = Vec::new();
        visit_output(&mut out, sent_to, &mut |kind, id| {
            if self.kinds.contains(&kind) && !is_integer(id) {
                unmapped.push((kind, id.clone()));
            }
        });
        if unmapped.is_empty() {
            return Ok(out);
        }
        let made = self.store.external_ids(provider, unmapped).await?;
        visit_output(&mut out, sent_to, &mut |kind, id| {
            if let Some(v) = made.get(&(kind, id.clone())) {
                *id = v.clone();
            }
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::group::{GroupCreate, GroupRef};
    use crate::provider::embedded::{EmbeddedConfig, EmbeddedProvider};
    use crate::store::StoreConfig;

    fn create(id: Option<&str>, name: &str) -> Op {
        Op::GroupCreate(GroupCreate {
            id: id.map(String::from),
            owner: None,
            name: name.into(),
            desc: None,
            avatar: None,
            avatar_upload: None,
            members: Vec::new(),
            public: None,
            code: None,
            max_members: None,
        })
    }

    fn group_id(out: &Output) -> String {
        match out {
            Output::GroupCreate(g) | Output::GroupGet(g) => g.id.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn string_ids_get_stable_integers_and_integers_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddedConfig {
            path: dir.path().join("im.db"),
            media_dir: dir.path().join("media"),
            ..EmbeddedConfig::default()
        };
        let inner: SharedProvider = Arc::new(EmbeddedProvider::open("embedded", &cfg).unwrap());
        let store =
            Arc::new(Store::open(&StoreConfig::sqlite(dir.path().join("state.db"))).unwrap());
        let mapped = IdMapped::new(inner.clone(), store.clone(), vec![IdKind::Group]);
        let ctx = CallContext {
            app_key: "app".into(),
            ..CallContext::default()
        };
        // A group whose provider id is a string is seen as a big integer...
        let named = group_id(
            &mapped
                .execute(create(Some("team-a"), "a"), &ctx)
                .await
                .unwrap(),
        );
        assert_eq!(named, FIRST_MAPPED_ID.to_string());
        // ...which reaches the provider's group again.
        let get = Op::GroupGet(GroupRef {
            group_id: named.clone(),
            by: None,
        });
        assert_eq!(
            group_id(&mapped.execute(get.clone(), &ctx).await.unwrap()),
            named
        );
        // A provider integer id passes through unchanged.
        let numbered = group_id(&mapped.execute(create(None, "b"), &ctx).await.unwrap());
        assert_eq!(numbered, "10000");
        // The same integer for the same provider id, across a new store handle.
        drop(mapped);
        drop(store);
        let store =
            Arc::new(Store::open(&StoreConfig::sqlite(dir.path().join("state.db"))).unwrap());
        let again = IdMapped::new(inner, store, vec![IdKind::Group]);
        assert_eq!(group_id(&again.execute(get, &ctx).await.unwrap()), named);
    }

    /// A provider whose message ids are RongCloud's (not integers); it
    /// remembers the ids recalls reach it with.
    #[derive(Default)]
    struct Uids {
        recalled: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Provider for Uids {
        fn name(&self) -> &str {
            "rc"
        }

        async fn execute(&self, op: Op, _ctx: &CallContext) -> Result<Output> {
            let uid = "BKOA-4R3H-5O43-BJQD".to_string();
            match op {
                Op::MessageSend(r) => Ok(Output::MessageSend(crate::canonical::message::Sent {
                    msg_id: uid.clone(),
                    created: 1,
                    deliveries: r
                        .targets
                        .into_iter()
                        .map(|target| crate::canonical::message::Delivery {
                            target,
                            msg_id: uid.clone(),
                        })
                        .collect(),
                })),
                Op::MessageRetract(r) => {
                    self.recalled.lock().unwrap().push(r.msg_id);
                    Ok(Output::MessageRetract(Default::default()))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn message_ids_a_frontend_cannot_carry_go_through_the_map() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(Store::open(&StoreConfig::sqlite(dir.path().join("state.db"))).unwrap());
        let inner = Arc::new(Uids::default());
        let mapped = IdMapped::new(inner.clone(), store, vec![IdKind::Message]);
        let ctx = CallContext::default();
        let send = Op::MessageSend(
            serde_json::from_value(serde_json::json!({
                "from": "amy", "target_type": "user", "targets": ["ben"],
                "kind": "text", "content": {"text": "hi"}
            }))
            .unwrap(),
        );
        let Output::MessageSend(sent) = mapped.execute(send, &ctx).await.unwrap() else {
            panic!("not a send result");
        };
        // The frontend sees an integer, for the message and its delivery.
        assert_eq!(sent.msg_id, FIRST_MAPPED_ID.to_string());
        assert_eq!(sent.deliveries[0].msg_id, sent.msg_id);
        assert_eq!(sent.deliveries[0].target, "ben");
        // A recall by that integer reaches the provider with its own id.
        let retract = Op::MessageRetract(crate::canonical::message::MessageRetract {
            username: "amy".into(),
            msg_id: sent.msg_id.clone(),
        });
        mapped.execute(retract, &ctx).await.unwrap();
        assert_eq!(*inner.recalled.lock().unwrap(), ["BKOA-4R3H-5O43-BJQD"]);
    }
}
