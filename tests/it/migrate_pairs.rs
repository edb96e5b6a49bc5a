//! Every pair: for each source (the embedded provider and the four vendors,
//! each an emulator seeded through its own API) and every other provider as
//! the target, `imbridge migrate` copies the app's data; the target's own
//! API then shows what the source's shows, field by field, except what the
//! report lists as not carried; a second run copies nothing and `verify`
//! agrees. Sources that cannot list users get the users file.

use crate::migrate::{migrate_and_compare, Migration};
use crate::migrate_sites::{Kind, Site, ALL, USERS};

/// Seeds `source`, then migrates it to every other provider in turn.
async fn from(source: Kind) {
    let from = Site::start(source);
    from.seed().await;
    let targets: Vec<Site> = ALL
        .into_iter()
        .filter(|k| *k != source)
        .map(Site::start)
        .collect();
    let mut sites = vec![&from];
    sites.extend(targets.iter());
    let m = Migration::new(&sites);
    let users = m.dir.path().join("users.txt");
    std::fs::write(&users, format!("# the app's users\n{}\n", USERS.join("\n"))).unwrap();
    let extra: Vec<&str> = match source {
        Kind::Rongcloud | Kind::Wildfire => vec!["--users", users.to_str().unwrap()],
        _ => Vec::new(),
    };
    for to in &targets {
        let run = migrate_and_compare(&m, &from, to, &extra).await;
        assert_eq!(
            run.kind("users")["copied"],
            4,
            "{} -> {}: {}",
            source.name(),
            to.kind.name(),
            run.stdout
        );
    }
}

#[tokio::test]
async fn migrate_pairs_from_embedded() {
    from(Kind::Embedded).await;
}

#[tokio::test]
async fn migrate_pairs_from_jmessage() {
    from(Kind::Jmessage).await;
}

#[tokio::test]
async fn migrate_pairs_from_easemob() {
    from(Kind::Easemob).await;
}

#[tokio::test]
async fn migrate_pairs_from_rongcloud() {
    from(Kind::Rongcloud).await;
}

#[tokio::test]
async fn migrate_pairs_from_wildfire() {
    from(Kind::Wildfire).await;
}
