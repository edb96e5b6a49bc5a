//! The facade on both backends: values, transactions, migrations, retries,
//! a lost database.

use std::sync::Arc;
use std::time::Duration;

use super::{Db, Dialect, Location, Schema};
use crate::canonical::{Error, ErrorKind, Result};
use crate::test_pg::Postgres;

static SCHEMA: Schema = Schema {
    name: "facade_test",
    sqlite: &[
        "CREATE TABLE kv (k TEXT PRIMARY KEY, i INTEGER, f REAL, b INTEGER, t TEXT, x BLOB)",
        "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
         INSERT INTO counter (id, n) VALUES (1, 0);",
        "CREATE TABLE jobs (seq INTEGER PRIMARY KEY, state TEXT NOT NULL, owner INTEGER)",
    ],
    postgres: &[
        "CREATE TABLE kv (k TEXT PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, b BOOLEAN, t TEXT,
                          x BYTEA)",
        "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
         INSERT INTO counter (id, n) VALUES (1, 0);",
        "CREATE TABLE jobs (seq BIGINT PRIMARY KEY, state TEXT NOT NULL, owner BIGINT)",
    ],
};

/// A database of each backend (the cluster lives as long as the guard).
fn backends() -> Vec<(Location, Box<dyn std::any::Any>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Location::Sqlite(dir.path().join("t.db"));
    let pg = Postgres::start();
    let postgres = Location::Postgres(pg.url());
    vec![(sqlite, Box::new(dir)), (postgres, Box::new(pg))]
}

#[tokio::test]
async fn values_round_trip_and_transactions_roll_back() {
    for (location, _guard) in backends() {
        let db = Db::open(&location, 2, &SCHEMA).unwrap();
        db.write(|tx| {
            tx.execute(
                "INSERT INTO kv (k, i, f, b, t, x) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    &"a",
                    &-7i64,
                    &1.5f64,
                    &true,
                    &"héllo ?1 'x'",
                    &vec![0u8, 255],
                ],
            )?;
            tx.execute(
                "INSERT INTO kv (k, i, f, b, t, x) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    &"b",
                    &None::<i64>,
                    &None::<f64>,
                    &false,
                    &None::<String>,
                    &None::<Vec<u8>>,
                ],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        type Row = (i64, f64, bool, String, Vec<u8>);
        let a: Row = db
            .read(|tx| {
                tx.query_one("SELECT i, f, b, t, x FROM kv WHERE k = ?1", &[&"a"], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
            })
            .await
            .unwrap();
        assert_eq!(a, (-7, 1.5, true, "héllo ?1 'x'".into(), vec![0, 255]));
        let b: (Option<i64>, bool, Option<String>) = db
            .read(|tx| {
                tx.query_one("SELECT i, b, t FROM kv WHERE k = ?1", &[&"b"], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
            })
            .await
            .unwrap();
        assert_eq!(b, (None, false, None));
        // A failing closure changes nothing.
        let failed: Result<()> = db
            .write(|tx| {
                tx.execute("DELETE FROM kv", &[])?;
                Err(Error::new(ErrorKind::NotFound, "no"))
            })
            .await;
        assert_eq!(failed.unwrap_err().kind, ErrorKind::NotFound);
        let keys: Vec<String> = db
            .read(|tx| {
                tx.query_all(
                    "SELECT k FROM kv WHERE b = ?1 OR b = ?2 ORDER BY k LIMIT ? OFFSET ?",
                    &[&true, &false, &10i64, &0i64],
                    |r| r.get(0),
                )
            })
            .await
            .unwrap();
        assert_eq!(keys, ["a", "b"], "{location}");
        let missing = db
            .read(|tx| {
                tx.query_opt("SELECT k FROM kv WHERE k = ?1", &[&"z"], |r| {
                    r.get::<String>(0)
                })
            })
            .await
            .unwrap();
        assert_eq!(missing, None);
        db.health().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_lose_an_update() {
    for (location, _guard) in backends() {
        let db = Arc::new(Db::open(&location, 8, &SCHEMA).unwrap());
        let bumps = (0..200).map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(|tx| {
                    let n: i64 =
                        tx.query_one("SELECT n FROM counter WHERE id = 1", &[], |r| r.get(0))?;
                    tx.execute("UPDATE counter SET n = ?1 WHERE id = 1", &[&(n + 1)])?;
                    Ok(())
                })
                .await
            })
        });
        for bump in futures::future::join_all(bumps).await {
            bump.unwrap().unwrap();
        }
        let n: i64 = db
            .read(|tx| tx.query_one("SELECT n FROM counter WHERE id = 1", &[], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(n, 200, "{location}");
    }
}

#[test]
fn replicas_opening_at_once_migrate_once() {
    let pg = Postgres::start();
    let location = Location::Postgres(pg.url());
    std::thread::scope(|s| {
        let opens: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Db::open(&location, 1, &SCHEMA).map(drop)))
            .collect();
        for open in opens {
            open.join().unwrap().unwrap();
        }
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = Db::open(&location, 1, &SCHEMA).unwrap();
    let (version, rows): (i64, i64) = rt
        .block_on(db.read(|tx| {
            assert_eq!(tx.dialect(), Dialect::Postgres);
            let v = tx.query_one(
                "SELECT version FROM imbridge_schema WHERE name = ?1",
                &[&SCHEMA.name],
                |r| r.get(0),
            )?;
            let n = tx.query_one("SELECT COUNT(*) FROM counter", &[], |r| r.get(0))?;
            Ok((v, n))
        }))
        .unwrap();
    assert_eq!((version, rows), (3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_take_each_item_once() {
    const JOBS: i64 = 300;
    for (location, _guard) in backends() {
        let db = Arc::new(Db::open(&location, 8, &SCHEMA).unwrap());
        db.write(|tx| {
            for seq in 0..JOBS {
                tx.execute(
                    "INSERT INTO jobs (seq, state) VALUES (?1, 'ready')",
                    &[&seq],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let claimers = (0..6i64).map(|owner| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let taken: Vec<i64> = db
                        .claim(move |tx| {
                            let sql = format!(
                                "SELECT seq FROM jobs WHERE state = 'ready' ORDER BY seq LIMIT 7{}",
                                tx.skip_locked("jobs")
                            );
                            let seqs: Vec<i64> = tx.query_all(&sql, &[], |r| r.get(0))?;
                            for seq in &seqs {
                                tx.execute(
                                    "UPDATE jobs SET state = 'taken', owner = ?2 WHERE seq = ?1",
                                    &[seq, &owner],
                                )?;
                            }
                            Ok(seqs)
                        })
                        .await
                        .unwrap();
                    if taken.is_empty() {
                        return mine;
                    }
                    mine.extend(taken);
                }
            })
        });
        let mut all: Vec<i64> = Vec::new();
        for claimed in futures::future::join_all(claimers).await {
            all.extend(claimed.unwrap());
        }
        all.sort_unstable();
        assert_eq!(
            all,
            (0..JOBS).collect::<Vec<_>>(),
            "each job once ({location})"
        );
        let unowned: i64 = db
            .read(|tx| {
                tx.query_one(
                    "SELECT COUNT(*) FROM jobs WHERE state <> 'taken' OR owner IS NULL",
                    &[],
                    |r| r.get(0),
                )
            })
            .await
            .unwrap();
        assert_eq!(unowned, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_unavailable_then_comes_back() {
    let pg = Postgres::start();
    let db = Db::open(&Location::Postgres(pg.url()), 2, &SCHEMA).unwrap();
    db.health().await.unwrap();
    pg.stop();
    let e = db.health().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::UpstreamUnavailable, "{e}");
    assert!(!e.message.contains("postgres://"), "{e}");
    pg.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db.health().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn locations_never_show_a_password() {
    let url = Location::of(
        Some("postgres://imb:s3cret@db.example:5432/imbridge?sslmode=disable"),
        "x".as_ref(),
    )
    .unwrap();
    assert_eq!(url.to_string(), "postgres://imb@db.example:5432/imbridge");
    assert!(!format!("{url:?}").contains("s3cret"));
    assert!(Location::of(Some("mysql://x"), "x".as_ref()).is_err());
    assert_eq!(
        Location::of(None, "data/x.db".as_ref()).unwrap(),
        Location::Sqlite("data/x.db".into())
    );
}
