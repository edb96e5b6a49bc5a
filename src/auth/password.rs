//! Passwords: argon2id hashing and verification on dedicated threads, one
//! per core for the whole process (each hash takes `memory_kib` and a core:
//! a flood of logins queues instead of taking the memory), and a
//! short-lived cache of recent verifications, successful or not, so that a
//! dialect that authenticates users on every call does not run argon2 every
//! time, nor does a client retrying a wrong password.
//!
//! The cache is keyed by the stored hash and the password (a SHA-1 digest
//! keyed with a random per-process secret; it holds no password): a changed
//! password is a new hash (a new salt every time), so a change made on any
//! replica takes effect on every replica at once, with nothing to invalidate.
//! Callers read the stored hash (and whatever else decides a login, such as
//! a disabled flag) from the database on every check.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use moka::future::Cache;
use rand::Rng;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use serde::{Deserialize, Serialize};

use crate::canonical::{Error, Result};

/// How long a verified or refused (hash, password) pair is trusted without
/// running argon2 again.
const CACHE_TTL: Duration = Duration::from_secs(60);

/// Most cached verifications.
const CACHE_CAPACITY: u64 = 100_000;

type Digest20 = [u8; 20];

/// A piece of argon2 work for the workers.
type Job = Box<dyn FnOnce() + Send>;

/// The argon2 workers: one thread per core, taking jobs in order. Dedicated
/// threads keep what argon2 allocates in as many malloc arenas as there are
/// cores; on tokio's blocking pool it would spread over dozens of threads,
/// each arena keeping its 19 MiB after a flood.
static ARGON2_WORKERS: LazyLock<Mutex<std::sync::mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for i in 0..cores {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start an argon2 worker");
        }
    }
    Mutex::new(tx)
});

/// Runs argon2 work on the workers, in turn with every other check in the
/// process. Work whose caller gave up waiting is skipped.
async fn on_argon2_worker<R: Send + 'static>(
    work: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        if !tx.is_closed() {
            let _ = tx.send(work());
        }
    });
    ARGON2_WORKERS
        .lock()
        .map_err(|_| Error::internal("argon2 workers gone"))?
        .send(job)
        .map_err(|_| Error::internal("argon2 workers gone"))?;
    rx.await
        .map_err(|_| Error::internal("argon2 worker failed"))?
}

/// Hashes and verifies passwords; remembers recent verifications.
pub struct Passwords {
    argon: Argon2<'static>,
    /// Verified against when the user is unknown, so both failures take as long.
    dummy: String,
    key: [u8; 32],
    /// Digests of (hash, password) pairs checked lately: whether they matched.
    cache: Cache<Digest20, bool>,
}

impl Passwords {
    /// A hasher with these cost parameters (invalid parameters fail here, at startup).
    pub fn new(params: HashParams) -> anyhow::Result<Self> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid password_hash parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy =
            unmatchable(&argon).map_err(|e| anyhow::anyhow!("password hashing fails: {e}"))?;
        Ok(Passwords {
            argon,
            dummy,
            key: rand::rng().random(),
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(CACHE_TTL)
                .build(),
        })
    }

    /// Hashes one password on the argon2 workers into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String> {
        let mut hashes = self.hash_all(vec![password]).await?;
        hashes.pop().ok_or_else(|| Error::internal("no hash"))
    }

    /// Hashes many passwords, in order, spread over the argon2 workers.
    pub async fn hash_all(&self, passwords: Vec<String>) -> Result<Vec<String>> {
        if passwords.is_empty() {
            return Ok(Vec::new());
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = passwords.len().div_ceil(cores);
        let tasks = passwords.chunks(chunk).map(|chunk| {
            let argon = self.argon.clone();
            let chunk = chunk.to_vec();
            on_argon2_worker(move || {
                chunk
                    .iter()
                    .map(|p| hash_with(&argon, p))
                    .collect::<Result<Vec<_>>>()
            })
        });
        let mut hashes = Vec::with_capacity(passwords.len());
        for part in futures::future::join_all(tasks).await {
            hashes.extend(part?);
        }
        Ok(hashes)
    }

    /// Checks `password` against a stored PHC string (or against a dummy hash
    /// when there is none, so an unknown user costs the same) on the argon2
    /// workers; a pair checked within the last minute is not checked again.
    pub async fn verify(&self, phc: Option<String>, password: String) -> Result<bool> {
        let key = phc.as_deref().map(|phc| self.digest(phc, &password));
        if let Some(key) = &key {
            if let Some(matched) = self.cache.get(key).await {
                return Ok(matched);
            }
        }
        let phc = phc.unwrap_or_else(|| self.dummy.clone());
        let matches = on_argon2_worker(move || verify_with(&phc, &password)).await?;
        match key {
            Some(key) => {
                self.cache.insert(key, matches).await;
                Ok(matches)
            }
            None => Ok(false),
        }
    }

    fn digest(&self, phc: &str, password: &str) -> Digest20 {
        let mut sha = Sha1::new();
        for part in [&self.key[..], phc.as_bytes()] {
            sha.update((part.len() as u64).to_be_bytes());
            sha.update(part);
        }
        sha.update(password.as_bytes());
        sha.finalize().into()
    }
}

thread_local! {
    /// The argon2 memory of this (worker) thread, allocated once and reused:
    /// a worker holds one hash's memory however many it computes.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 of `password` and `salt` into `out`, in this thread's memory.
fn argon2_into(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    BLOCKS.with_borrow_mut(|blocks| {
        let count = argon.params().block_count();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        argon
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
            .map_err(Error::internal)
    })
}

/// A PHC string of `password` with a fresh salt.
fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String> {
    let salt: [u8; 16] = rand::rng().random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(argon, password.as_bytes(), &salt, &mut out)?;
    phc(argon, &salt, &out)
}

/// A PHC string of `argon`'s cost that no password matches: a fresh salt and
/// a random output. Checking a password against it costs a real argon2 run,
/// and making it costs none (the process starts without hashing).
fn unmatchable(argon: &Argon2<'_>) -> Result<String> {
    let salt: [u8; 16] = rand::rng().random();
    let out: [u8; Params::DEFAULT_OUTPUT_LEN] = rand::rng().random();
    phc(argon, &salt, &out)
}

/// The PHC string of an argon2id output.
fn phc(argon: &Argon2<'_>, salt: &[u8], out: &[u8]) -> Result<String> {
    let salt = SaltString::encode_b64(salt).map_err(Error::internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(Error::internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(out).map_err(Error::internal)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches a PHC string (its own algorithm and cost).
fn verify_with(phc: &str, password: &str) -> Result<bool> {
    let parsed = PasswordHash::new(phc).map_err(Error::internal)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(Error::internal(
            "a stored password hash without salt or hash",
        ));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(Error::internal)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(Error::internal)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(Error::internal)?;
    let argon = Argon2::new(algorithm, version, params);
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(Error::internal)?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, password.as_bytes(), salt, &mut out)?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

/// A random URL-safe string of `4 * bytes / 3` characters (tokens, secrets).
pub fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// argon2id cost parameters; the default is OWASP's recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashParams {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// Hashes made here are standard PHC strings, and standard ones (older
    /// stored hashes, other costs) verify here.
    #[test]
    fn hashes_are_standard_both_ways() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let ours = hash_with(&argon, "pw").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"px", &parsed).is_err());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(2048, 2, 2, Some(40)).unwrap(),
        )
        .hash_password(b"secret", &salt)
        .unwrap()
        .to_string();
        assert!(verify_with(&theirs, "secret").unwrap());
        assert!(!verify_with(&theirs, "Secret").unwrap());
        assert!(verify_with(&ours, "pw").unwrap());
        assert!(verify_with("not a hash", "pw").is_err());
    }

    /// The hash an unknown user is checked against has the configured cost
    /// (so the check takes as long as a real one) and matches no password.
    #[test]
    fn the_unknown_users_hash_costs_as_much_and_matches_nothing() {
        let params = Params::new(1024, 2, 1, None).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let real = hash_with(&argon, "pw").unwrap();
        let dummy = unmatchable(&argon).unwrap();
        let (real, dummy) = (
            PasswordHash::new(&real).unwrap(),
            PasswordHash::new(&dummy).unwrap(),
        );
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.algorithm, real.algorithm);
        let dummy = dummy.to_string();
        for password in ["pw", "", "imbridge-dummy-password"] {
            assert!(!verify_with(&dummy, password).unwrap());
        }
    }
}
