//! Where a secret comes from: the file itself, an environment variable, or a file.

use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// One of the three ways a secret may be given.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Written in the config file.
    Literal(Secret),
    /// Named environment variable.
    Env(String),
    /// File whose content (trailing newline removed) is the secret.
    File(PathBuf),
}

/// Why a secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretSourceError {
    /// No source set.
    #[error("not set; give the value, a *_env variable name or a *_file path")]
    None,
    /// More than one source set.
    #[error("set more than once; give exactly one of the value, *_env or *_file")]
    Several,
    /// The variable is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The value is empty.
    #[error("is empty")]
    Empty,
}

impl SecretSource {
    /// Picks the one source that is set.
    pub fn pick(literal: Option<&Secret>, env: Option<&str>, file: Option<&Path>) -> Result<Self, SecretSourceError> {
        match (literal, env, file) {
            (Some(s), None, None) => Ok(SecretSource::Literal(s.clone())),
            (None, Some(v), None) => Ok(SecretSource::Env(v.to_owned())),
            (None, None, Some(p)) => Ok(SecretSource::File(p.to_owned())),
            (None, None, None) => Err(SecretSourceError::None),
            _ => Err(SecretSourceError::Several),
        }
    }

    /// Reads the secret now.
    pub fn resolve(&self) -> Result<Secret, SecretSourceError> {
        let secret = match self {
            SecretSource::Literal(s) => s.clone(),
            SecretSource::Env(var) => {
                Secret::new(std::env::var(var).map_err(|_| SecretSourceError::MissingEnv(var.clone()))?)
            }
            SecretSource::File(path) => {
                let mut text = std::fs::read_to_string(path).map_err(|source| SecretSourceError::File {
                    path: path.clone(),
                    source,
                })?;
                let trimmed = text.trim_end_matches(['\r', '\n']).len();
                text.truncate(trimmed);
                Secret::new(text)
            }
        };
        if secret.is_empty() {
            return Err(SecretSourceError::Empty);
        }
        Ok(secret)
    }
}
