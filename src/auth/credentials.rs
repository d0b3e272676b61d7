//! The keys clients sign with, and the cache of signing keys derived from them.
//!
//! A signing key depends on (secret, day, region, service). Region and service are fixed
//! for a gateway, so keys are cached per (credential generation, secret, day) in `moka`;
//! a reload gives every credential a new generation, so a rotated secret can never be
//! served from the cache. An unknown access key is verified against a decoy credential
//! with a random secret, so it costs the same work as a known one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;

use crate::secret::Secret;

use super::sigv4::key::SigningKey;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// One access key and its secret(s), newest first.
#[derive(Debug)]
pub struct Credential {
    access_key_id: Arc<str>,
    secrets: Vec<Secret>,
    generation: u64,
}

impl Credential {
    /// A credential with one or more secrets (newest first; during rotation both verify).
    pub fn new(access_key_id: impl Into<Arc<str>>, secrets: Vec<Secret>) -> Self {
        Credential {
            access_key_id: access_key_id.into(),
            secrets,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &Arc<str> {
        &self.access_key_id
    }

    /// The secrets, newest first.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }
}

#[derive(Clone, Copy, Hash, PartialEq, Eq)]
struct KeyId {
    generation: u64,
    secret: u8,
    day: [u8; 8],
}

/// All credentials of one configuration, with their signing-key cache.
pub struct CredentialStore {
    by_id: HashMap<Arc<str>, Credential>,
    decoy: Credential,
    region: Arc<str>,
    keys: moka::sync::Cache<KeyId, SigningKey>,
}

impl std::fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialStore")
            .field("access_key_ids", &self.by_id.keys().collect::<Vec<_>>())
            .field("region", &self.region)
            .finish()
    }
}

/// The credential a request named, or the decoy when the name is unknown.
pub struct Lookup<'a> {
    /// The credential to verify against.
    pub credential: &'a Credential,
    /// Whether the access key id was known.
    pub known: bool,
}

impl CredentialStore {
    /// A store for `region` holding `credentials`.
    pub fn new(region: &str, credentials: Vec<Credential>) -> Self {
        let mut decoy_secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut decoy_secret);
        let decoy = Credential::new("decoy", vec![Secret::new(hex::encode(decoy_secret))]);
        CredentialStore {
            by_id: credentials.into_iter().map(|c| (c.access_key_id.clone(), c)).collect(),
            decoy,
            region: region.into(),
            keys: moka::sync::Cache::builder()
                .max_capacity(16_384)
                .time_to_idle(Duration::from_secs(2 * 24 * 3600))
                .build(),
        }
    }

    /// The region every credential scope must name.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Finds `access_key_id`, or the decoy.
    pub fn lookup(&self, access_key_id: &str) -> Lookup<'_> {
        match self.by_id.get(access_key_id) {
            Some(credential) => Lookup {
                credential,
                known: true,
            },
            None => Lookup {
                credential: &self.decoy,
                known: false,
            },
        }
    }

    /// The credential for `access_key_id`, if known (for signing, not verifying).
    pub fn get(&self, access_key_id: &str) -> Option<&Credential> {
        self.by_id.get(access_key_id)
    }

    /// Every credential.
    pub fn iter(&self) -> impl Iterator<Item = &Credential> {
        self.by_id.values()
    }

    /// The signing key of `credential`'s secret number `secret` for `day` (`yyyymmdd`),
    /// in this store's region and service `s3`, derived once and then cached.
    pub fn signing_key(&self, credential: &Credential, secret: usize, day: &str) -> SigningKey {
        let mut day_bytes = [0u8; 8];
        if day.len() == 8 {
            day_bytes.copy_from_slice(day.as_bytes());
        }
        let id = KeyId {
            generation: credential.generation,
            secret: secret as u8,
            day: day_bytes,
        };
        let m = &crate::metrics::METRICS;
        if let Some(key) = self.keys.get(&id) {
            m.key_cache_hits.inc();
            return key;
        }
        m.key_cache_misses.inc();
        let key = SigningKey::derive(&credential.secrets[secret], day, &self.region, "s3");
        self.keys.insert(id, key.clone());
        key
    }

    /// Cache hit and miss counts are exposed through moka's entry count; this drops all
    /// cached keys (used by tests and benches to measure the cold path).
    pub fn clear_key_cache(&self) {
        self.keys.invalidate_all();
        self.keys.run_pending_tasks();
    }
}
