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
    /// Print a SigV4 pre-signed URL (or, with --post, a browser POST form) for the
    /// gateway's public_url, optionally with restrictions signed into it.
    Presign(PresignArgs),
    /// Drive a gateway with pre-signed requests; report req/s, bytes/s, latency and status counts.
    Loadtest(crate::loadtest::LoadtestArgs),
}

/// `guestpass presign`.
#[derive(Debug, clap::Args)]
pub struct PresignArgs {
    /// Configuration file; without it, the embedded default's demo credential.
    #[arg(long, short, env = "GUESTPASS_CONFIG")]
    pub config: Option<PathBuf>,
    /// HTTP method the URL allows.
    #[arg(long, short, default_value = "GET", value_parser = ["GET", "PUT", "HEAD", "DELETE"])]
    pub method: String,
    /// Lifetime, such as 15m, 1h or 7d (at most auth.max_expires).
    #[arg(long, short, default_value = "15m")]
    pub expires: HumanDuration,
    /// Access key to sign with (default: the first [[credentials]] entry).
    #[arg(long)]
    pub access_key_id: Option<String>,
    /// The gateway's URL, overriding server.public_url (such as http://127.0.0.1:9000 for
    /// a `serve --listen 127.0.0.1:9000` without a config).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Largest upload the URL accepts, such as 10MiB.
    #[arg(long)]
    pub max_size: Option<crate::config::ByteSize>,
    /// Smallest upload the URL accepts.
    #[arg(long)]
    pub min_size: Option<crate::config::ByteSize>,
    /// Content-Type uploads must have: exact (image/png) or a family (image/*); repeat for several.
    #[arg(long)]
    pub content_type: Vec<String>,
    /// Client address range (CIDR) the URL may be used from; repeat for several.
    #[arg(long)]
    pub ip: Vec<String>,
    /// Print a browser POST form (URL and fields, as JSON) instead of a URL. The key may
    /// end in ${filename}.
    #[arg(long)]
    pub post: bool,
    /// The object, as s3://bucket/key.
    pub object: String,
}
