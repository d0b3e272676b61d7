//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{HumanDuration, LogFormat};

/// guestpass: a signature-verifying S3 gateway.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway. Without --config: the embedded local store and a demo credential.
    Serve {
        /// Configuration file (TOML). See config.example.toml.
        #[arg(long, short, env = "GUESTPASS_CONFIG")]
        config: Option<PathBuf>,
        /// Data folder of the embedded store (only without --config).
        #[arg(long, default_value = "guestpass-data")]
        data_dir: PathBuf,
        /// Listen address (only without --config).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Log format; overrides the config.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Check a configuration file and explain every problem; exits non-zero if any.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(long, short, env = "GUESTPASS_CONFIG")]
        config: PathBuf,
    },
    /// Print a SigV4 pre-signed URL for the gateway's public_url.
    Presign {
        /// Configuration file; without it, the embedded default's demo credential.
        #[arg(long, short, env = "GUESTPASS_CONFIG")]
        config: Option<PathBuf>,
        /// HTTP method the URL allows.
        #[arg(long, short, default_value = "GET", value_parser = ["GET", "PUT", "HEAD", "DELETE"])]
        method: String,
        /// Lifetime, such as 15m, 1h or 7d (at most auth.max_expires).
        #[arg(long, short, default_value = "15m")]
        expires: HumanDuration,
        /// Access key to sign with (default: the first [[credentials]] entry).
        #[arg(long)]
        access_key_id: Option<String>,
        /// The object, as s3://bucket/key.
        object: String,
    },
}
