//! Key scopes: which buckets, key prefixes and actions each access key may use.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Action, ScopeConfig};

/// One grant.
#[derive(Debug, Clone)]
pub struct Scope {
    bucket: String,
    prefix: String,
    actions: Vec<Action>,
}

impl Scope {
    fn covers_bucket(&self, bucket: &str) -> bool {
        self.bucket == "*" || self.bucket == bucket
    }
}

impl From<&ScopeConfig> for Scope {
    fn from(c: &ScopeConfig) -> Self {
        Scope {
            bucket: c.bucket.clone(),
            prefix: c.prefix.clone(),
            actions: c.actions.clone(),
        }
    }
}

/// The scopes of every access key. A key with no entry may do everything.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    by_key: HashMap<Arc<str>, Vec<Scope>>,
}

impl Scopes {
    /// Scopes from `(access key id, scopes)` pairs; keys given `None` are unrestricted.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a str, Option<&'a [ScopeConfig]>)>) -> Self {
        Scopes {
            by_key: entries
                .into_iter()
                .filter_map(|(k, s)| s.map(|s| (Arc::from(k), s.iter().map(Scope::from).collect())))
                .collect(),
        }
    }

    /// Whether `key_id` is restricted at all.
    pub fn is_restricted(&self, key_id: &str) -> bool {
        self.by_key.contains_key(key_id)
    }

    /// May `key_id` do `action` on `key` (or on keys under `key` as a list prefix) in `bucket`?
    pub fn allows(&self, key_id: &str, action: Action, bucket: &str, key: &str) -> bool {
        match self.by_key.get(key_id) {
            None => true,
            Some(scopes) => scopes
                .iter()
                .any(|s| s.covers_bucket(bucket) && key.starts_with(&s.prefix) && s.actions.contains(&action)),
        }
    }

    /// May `key_id` do `action` on a whole bucket (no prefix restriction)?
    pub fn allows_whole_bucket(&self, key_id: &str, action: Action, bucket: &str) -> bool {
        match self.by_key.get(key_id) {
            None => true,
            Some(scopes) => scopes
                .iter()
                .any(|s| s.covers_bucket(bucket) && s.prefix.is_empty() && s.actions.contains(&action)),
        }
    }

    /// May `key_id` list buckets at all (any scope with `list`)?
    pub fn may_list_buckets(&self, key_id: &str) -> bool {
        match self.by_key.get(key_id) {
            None => true,
            Some(scopes) => scopes.iter().any(|s| s.actions.contains(&Action::List)),
        }
    }

    /// Whether `bucket` is visible to `key_id` in ListBuckets (any grant on it).
    pub fn sees_bucket(&self, key_id: &str, bucket: &str) -> bool {
        match self.by_key.get(key_id) {
            None => true,
            Some(scopes) => scopes.iter().any(|s| s.covers_bucket(bucket)),
        }
    }
}
