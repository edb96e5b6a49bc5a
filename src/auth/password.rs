//! Passwords: argon2id hashing and verification on blocking threads, and a
//! short-lived cache of recent successful verifications so that a dialect
//! that authenticates users on every call does not run argon2 every time.
//!
//! The cache is keyed by the stored hash and the password (a SHA-1 digest
//! keyed with a random per-process secret; it holds no password): a changed
//! password is a new hash (a new salt every time), so a change made on any
//! replica takes effect on every replica at once, with nothing to invalidate.
//! Callers read the stored hash (and whatever else decides a login, such as
//! a disabled flag) from the database on every check.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use moka::future::Cache;
use rand::Rng;
use sha1::{Digest, Sha1};

use serde::{Deserialize, Serialize};

use crate::canonical::{Error, Result};

/// How long a verified (hash, password) pair is trusted without running
/// argon2 again.
const CACHE_TTL: Duration = Duration::from_secs(60);

/// Most cached verifications.
const CACHE_CAPACITY: u64 = 100_000;

type Digest20 = [u8; 20];

/// Hashes and verifies passwords; remembers recent successful verifications.
pub struct Passwords {
    argon: Argon2<'static>,
    /// Verified against when the user is unknown, so both failures take as long.
    dummy: String,
    key: [u8; 32],
    /// Digests of (hash, password) pairs that verified.
    cache: Cache<Digest20, ()>,
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
        let dummy = hash_with(&argon, "imbridge-dummy-password")
            .map_err(|e| anyhow::anyhow!("password hashing fails: {e}"))?;
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

    /// Hashes one password on a blocking thread into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String> {
        let mut hashes = self.hash_all(vec![password]).await?;
        hashes.pop().ok_or_else(|| Error::internal("no hash"))
    }

    /// Hashes many passwords, in order, spread over one blocking task per core.
    pub async fn hash_all(&self, passwords: Vec<String>) -> Result<Vec<String>> {
        if passwords.is_empty() {
            return Ok(Vec::new());
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = passwords.len().div_ceil(cores);
        let tasks = passwords.chunks(chunk).map(|chunk| {
            let argon = self.argon.clone();
            let chunk = chunk.to_vec();
            tokio::task::spawn_blocking(move || {
                chunk
                    .iter()
                    .map(|p| hash_with(&argon, p))
                    .collect::<Result<Vec<_>>>()
            })
        });
        let mut hashes = Vec::with_capacity(passwords.len());
        for part in futures::future::join_all(tasks).await {
            hashes.extend(part.map_err(Error::internal)??);
        }
        Ok(hashes)
    }

    /// Checks `password` against a stored PHC string (or against a dummy hash
    /// when there is none, so an unknown user costs the same) on a blocking
    /// thread; a pair that verified within the last minute is not checked again.
    pub async fn verify(&self, phc: Option<String>, password: String) -> Result<bool> {
        let key = phc.as_deref().map(|phc| self.digest(phc, &password));
        if let Some(key) = &key {
            if self.cache.contains_key(key) {
                return Ok(true);
            }
        }
        let phc = phc.unwrap_or_else(|| self.dummy.clone());
        let matches = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc).map_err(Error::internal)?;
            match Argon2::default().verify_password(password.as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::Password) => Ok(false),
                Err(e) => Err(Error::internal(e)),
            }
        })
        .await
        .map_err(Error::internal)??;
        match key {
            Some(key) if matches => {
                self.cache.insert(key, ()).await;
                Ok(true)
            }
            _ => Ok(false),
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

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(Error::internal)?;
    let hash = argon
        .hash_password(password.as_bytes(), &salt)
        .map_err(Error::internal)?;
    Ok(hash.to_string())
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
