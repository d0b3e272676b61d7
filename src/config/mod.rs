//! Configuration: the TOML file's shape, its defaults, loading, and validation.
//!
//! A leaf module: it knows nothing of requests. `app.rs` is its only reader. Unknown keys
//! are errors (`deny_unknown_fields`), and `validate` reports every problem at once so
//! `guestpass check-config` can explain them all in one run.

mod duration;
pub mod policy;
mod secret_source;
mod size;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use duration::HumanDuration;
pub use policy::{Action, CorsConfig, ScopeConfig, UploadRuleConfig};
pub use secret_source::{SecretSource, SecretSourceError};
pub use size::ByteSize;

/// The longest a SigV4 pre-signed URL may live, in seconds (seven days), per
/// "Authenticating Requests: Using Query Parameters".
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The listener and the names the gateway answers to.
    #[serde(default)]
    pub server: ServerConfig,
    /// How signatures are checked.
    #[serde(default)]
    pub auth: AuthConfig,
    /// The keys clients sign with. Never the upstream's keys.
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
    /// The admin listener; absent: none.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// Apps allowed to use the issuing API.
    #[serde(default)]
    pub issuers: Vec<IssuerConfig>,
    /// Upload rules by bucket and key prefix.
    #[serde(default)]
    pub rules: Vec<UploadRuleConfig>,
    /// Browser cross-origin access by bucket.
    #[serde(default)]
    pub cors: Vec<CorsConfig>,
    /// The store requests are forwarded to.
    pub upstream: UpstreamConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the S3 listener binds, such as `0.0.0.0:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The URL clients reach the gateway at; `guestpass presign` builds URLs on it.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Domains under which `bucket.<domain>` is a virtual-hosted bucket.
    #[serde(default)]
    pub virtual_host_domains: Vec<String>,
    /// Time a client has to send its request headers.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: HumanDuration,
    /// Proxies (CIDR) whose client-address header is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The header trusted proxies put the client address in.
    #[serde(default = "default_client_ip_header")]
    pub client_ip_header: String,
    /// Longest silence while a client sends a request body; then 400 RequestTimeout.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// Largest request head (request line and headers) accepted.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: ByteSize,
    /// Longest request URL (path and query) accepted.
    #[serde(default = "default_max_url_length")]
    pub max_url_length: usize,
    /// Most client connections served at once; further ones wait to be accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long in-flight requests may run after SIGTERM/SIGINT before the gateway exits.
    #[serde(default = "default_drain_grace")]
    pub drain_grace: HumanDuration,
    /// TLS termination; absent: plain HTTP (behind a TLS-terminating proxy, say).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `[server.tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// `[admin]`: the admin listener (probes, metrics, issuing API).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin listener, such as `127.0.0.1:9090`. Keep it private.
    pub listen: String,
}

/// One `[[issuers]]` entry: an app allowed to ask the admin API for pre-signed URLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Name written in the audit log.
    pub name: String,
    /// The credential URLs are signed with.
    pub access_key_id: String,
    /// Bearer token, given literally.
    #[serde(default)]
    pub token: Option<crate::secret::Secret>,
    /// Environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding the token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

impl IssuerConfig {
    /// Where the token comes from.
    pub fn token_source(&self) -> Result<SecretSource, SecretSourceError> {
        SecretSource::pick(
            self.token.as_ref(),
            self.token_env.as_deref(),
            self.token_file.as_deref(),
        )
    }
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The region clients must sign for.
    #[serde(default = "default_region")]
    pub region: String,
    /// Longest lifetime accepted for a pre-signed URL (never above seven days).
    #[serde(default = "default_max_expires")]
    pub max_expires: HumanDuration,
    /// How far in the future a signing time may lie.
    #[serde(default = "default_clock_skew")]
    pub clock_skew: HumanDuration,
    /// Whether `SignatureDoesNotMatch` bodies carry StringToSign and CanonicalRequest, as
    /// S3's do. They help a client find its signing bug and reveal nothing secret.
    #[serde(default = "default_true")]
    pub signature_mismatch_details: bool,
    /// Whether legacy Signature Version 2 (header and query) is accepted.
    #[serde(default = "default_true")]
    pub sigv2: bool,
}

/// One `[[credentials]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// The access key id clients put in their credential scope.
    pub access_key_id: String,
    /// The secret, given literally.
    #[serde(default)]
    pub secret_access_key: Option<crate::secret::Secret>,
    /// The name of an environment variable holding the secret.
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// A file holding the secret (a mounted Kubernetes Secret, say).
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    /// The previous secret during a rotation, given literally: both verify, presign uses
    /// the newest.
    #[serde(default)]
    pub previous_secret_access_key: Option<crate::secret::Secret>,
    /// The previous secret, from an environment variable.
    #[serde(default)]
    pub previous_secret_access_key_env: Option<String>,
    /// The previous secret, from a file.
    #[serde(default)]
    pub previous_secret_access_key_file: Option<PathBuf>,
    /// A disabled (revoked) credential: everything it signed stops working at once.
    #[serde(default)]
    pub disabled: bool,
    /// What this key may do. Absent: everything; empty: nothing.
    #[serde(default)]
    pub scopes: Option<Vec<ScopeConfig>>,
}

/// `[upstream]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The store's endpoint, such as `https://s3.filebase.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Instead of `endpoint`: run the embedded store over this folder.
    #[serde(default)]
    pub embedded_data_dir: Option<PathBuf>,
    /// The region the upstream signs for.
    #[serde(default = "default_region")]
    pub region: String,
    /// The upstream access key id, given literally.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The name of an environment variable holding the upstream access key id.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    /// The upstream secret, given literally.
    #[serde(default)]
    pub secret_access_key: Option<crate::secret::Secret>,
    /// The name of an environment variable holding the upstream secret.
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// A file holding the upstream secret.
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    /// Time allowed to open a connection to the upstream.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Time allowed for the upstream to send response headers.
    #[serde(default = "default_response_timeout")]
    pub response_timeout: HumanDuration,
    /// How long an idle pooled connection is kept.
    #[serde(default = "default_pool_idle_timeout")]
    pub pool_idle_timeout: HumanDuration,
    /// Most idle connections kept per upstream host.
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle_per_host: usize,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `guestpass=debug`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}
fn default_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_max_header_bytes() -> ByteSize {
    ByteSize(64 * 1024)
}
fn default_max_url_length() -> usize {
    8 * 1024
}
fn default_max_connections() -> usize {
    10_000
}
fn default_drain_grace() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_client_ip_header() -> String {
    "x-forwarded-for".to_owned()
}
fn default_region() -> String {
    "us-east-1".to_owned()
}
fn default_max_expires() -> HumanDuration {
    HumanDuration(Duration::from_secs(MAX_PRESIGNED_EXPIRES_SECS))
}
fn default_clock_skew() -> HumanDuration {
    HumanDuration(Duration::from_secs(15 * 60))
}
fn default_header_read_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_response_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_pool_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(90))
}
fn default_pool_max_idle() -> usize {
    64
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_true() -> bool {
    true
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            public_url: None,
            virtual_host_domains: Vec::new(),
            header_read_timeout: default_header_read_timeout(),
            trusted_proxies: Vec::new(),
            client_ip_header: default_client_ip_header(),
            idle_timeout: default_idle_timeout(),
            max_header_bytes: default_max_header_bytes(),
            max_url_length: default_max_url_length(),
            max_connections: default_max_connections(),
            drain_grace: default_drain_grace(),
            tls: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            region: default_region(),
            max_expires: default_max_expires(),
            clock_skew: default_clock_skew(),
            signature_mismatch_details: true,
            sigv2: true,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::default(),
            level: default_log_level(),
        }
    }
}

impl UpstreamConfig {
    /// An upstream that is the embedded store over `data_dir`.
    pub fn embedded(data_dir: PathBuf) -> Self {
        UpstreamConfig {
            endpoint: None,
            embedded_data_dir: Some(data_dir),
            region: default_region(),
            access_key_id: None,
            access_key_id_env: None,
            secret_access_key: None,
            secret_access_key_env: None,
            secret_access_key_file: None,
            connect_timeout: default_connect_timeout(),
            response_timeout: default_response_timeout(),
            pool_idle_timeout: default_pool_idle_timeout(),
            pool_max_idle_per_host: default_pool_max_idle(),
        }
    }

    /// Where the upstream secret comes from, if exactly one source is set.
    pub fn secret_source(&self) -> Result<SecretSource, SecretSourceError> {
        SecretSource::pick(
            self.secret_access_key.as_ref(),
            self.secret_access_key_env.as_deref(),
            self.secret_access_key_file.as_deref(),
        )
    }

    /// The upstream access key id, from the literal or the environment.
    pub fn access_key_id(&self) -> Result<String, SecretSourceError> {
        match (&self.access_key_id, &self.access_key_id_env) {
            (Some(v), None) => Ok(v.clone()),
            (None, Some(var)) => std::env::var(var).map_err(|_| SecretSourceError::MissingEnv(var.clone())),
            (None, None) => Err(SecretSourceError::None),
            (Some(_), Some(_)) => Err(SecretSourceError::Several),
        }
    }
}

impl CredentialConfig {
    /// Where this credential's secret comes from, if exactly one source is set.
    pub fn secret_source(&self) -> Result<SecretSource, SecretSourceError> {
        SecretSource::pick(
            self.secret_access_key.as_ref(),
            self.secret_access_key_env.as_deref(),
            self.secret_access_key_file.as_deref(),
        )
    }

    /// Where the previous secret comes from, if one is set.
    pub fn previous_secret_source(&self) -> Result<Option<SecretSource>, SecretSourceError> {
        match SecretSource::pick(
            self.previous_secret_access_key.as_ref(),
            self.previous_secret_access_key_env.as_deref(),
            self.previous_secret_access_key_file.as_deref(),
        ) {
            Ok(s) => Ok(Some(s)),
            Err(SecretSourceError::None) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The secrets, newest first.
    pub fn secrets(&self) -> Result<Vec<crate::secret::Secret>, SecretSourceError> {
        let mut out = vec![self.secret_source()?.resolve()?];
        if let Some(prev) = self.previous_secret_source()? {
            out.push(prev.resolve()?);
        }
        Ok(out)
    }
}

/// A configuration that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// The file parsed but describes an unusable gateway.
    #[error("{} problem(s) in the configuration:\n  - {}", .0.len(), .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        config.validate().map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// Parses TOML text without validating it.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The configuration `guestpass serve` uses with no file: the embedded store over
    /// `data_dir`, one demo credential, listening on `listen`.
    pub fn embedded_default(data_dir: PathBuf, listen: &str) -> Config {
        Config {
            server: ServerConfig {
                listen: listen.to_owned(),
                public_url: Some(format!("http://{listen}")),
                ..ServerConfig::default()
            },
            auth: AuthConfig::default(),
            credentials: vec![CredentialConfig {
                access_key_id: DEMO_ACCESS_KEY_ID.to_owned(),
                secret_access_key: Some(crate::secret::Secret::new(DEMO_SECRET_ACCESS_KEY)),
                secret_access_key_env: None,
                secret_access_key_file: None,
                previous_secret_access_key: None,
                previous_secret_access_key_env: None,
                previous_secret_access_key_file: None,
                disabled: false,
                scopes: None,
            }],
            admin: None,
            issuers: Vec::new(),
            rules: Vec::new(),
            cors: Vec::new(),
            upstream: UpstreamConfig::embedded(data_dir),
            log: LogConfig::default(),
        }
    }

    /// The URL presigned links are built on: `public_url`, else `http://<listen>`.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.server.listen),
        }
    }

    /// Every problem with this configuration, or `Ok` when there is none. Secrets that
    /// come from the environment or files are resolved here, so a missing variable is
    /// reported before the gateway starts.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut bad = |msg: String| problems.push(msg);

        if self.server.listen.parse::<SocketAddr>().is_err() {
            bad(format!(
                "server.listen: {:?} is not an address such as 127.0.0.1:8080",
                self.server.listen
            ));
        }
        if let Some(url) = &self.server.public_url {
            if let Err(why) = check_base_url(url) {
                bad(format!("server.public_url: {why}"));
            }
        }
        for d in &self.server.virtual_host_domains {
            if !is_dns_name(d) {
                bad(format!(
                    "server.virtual_host_domains: {d:?} is not a lower-case domain name (no scheme, port or path)"
                ));
            }
        }
        if self.server.header_read_timeout.0.is_zero() {
            bad("server.header_read_timeout: must be more than zero".to_owned());
        }

        if self.auth.region.is_empty() {
            bad("auth.region: must not be empty".to_owned());
        }
        let max = self.auth.max_expires.0;
        if max.as_secs() < 1 || max > Duration::from_secs(MAX_PRESIGNED_EXPIRES_SECS) {
            bad(format!(
                "auth.max_expires: {} is outside 1s..=7d ({MAX_PRESIGNED_EXPIRES_SECS} s), the range S3 allows for X-Amz-Expires",
                self.auth.max_expires
            ));
        }
        if self.auth.clock_skew.0 > Duration::from_secs(3600) {
            bad(format!(
                "auth.clock_skew: {} is more than 1h; S3 allows 15m",
                self.auth.clock_skew
            ));
        }

        if self.credentials.is_empty() {
            bad("credentials: at least one [[credentials]] entry is needed, or no client can sign".to_owned());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.credentials.iter().enumerate() {
            let at = format!("credentials[{i}] ({})", c.access_key_id);
            if !is_access_key_id(&c.access_key_id) {
                bad(format!(
                    "{at}: access_key_id must be 3 to 128 characters of A-Z a-z 0-9 _ - ."
                ));
            }
            if !seen.insert(c.access_key_id.as_str()) {
                bad(format!("{at}: access_key_id appears more than once"));
            }
            if let Err(e) = c
                .previous_secret_source()
                .and_then(|p| p.map(|p| p.resolve()).transpose())
            {
                bad(format!("{at}: previous_secret_access_key: {e}"));
            }
            match c.secret_source().and_then(|s| s.resolve()) {
                Ok(secret) if secret.expose().len() < 8 => {
                    bad(format!("{at}: the secret is shorter than 8 characters"))
                }
                Ok(_) => {}
                Err(e) => bad(format!("{at}: secret_access_key: {e}")),
            }
            if self.upstream.access_key_id().ok().as_deref() == Some(c.access_key_id.as_str()) {
                bad(format!(
                    "{at}: uses the upstream's access key id; clients must never hold upstream keys"
                ));
            }
        }

        let u = &self.upstream;
        match (&u.endpoint, &u.embedded_data_dir) {
            (Some(endpoint), None) => {
                if let Err(why) = check_base_url(endpoint) {
                    bad(format!("upstream.endpoint: {why}"));
                }
                if let Err(e) = u.access_key_id() {
                    bad(format!("upstream.access_key_id: {e}"));
                }
                if let Err(e) = u.secret_source().and_then(|s| s.resolve()) {
                    bad(format!("upstream.secret_access_key: {e}"));
                }
            }
            (None, Some(_)) => {
                if !cfg!(feature = "embedded") {
                    bad("upstream.embedded_data_dir: this build has no embedded store (built without the `embedded` feature)".to_owned());
                }
                if u.access_key_id.is_some()
                    || u.secret_access_key.is_some()
                    || u.secret_access_key_env.is_some()
                    || u.secret_access_key_file.is_some()
                    || u.access_key_id_env.is_some()
                {
                    bad("upstream: the embedded store makes its own keys; remove the upstream access keys".to_owned());
                }
            }
            (Some(_), Some(_)) => bad("upstream: set endpoint or embedded_data_dir, not both".to_owned()),
            (None, None) => {
                bad("upstream: set endpoint (such as https://s3.filebase.com) or embedded_data_dir".to_owned())
            }
        }
        if u.region.is_empty() {
            bad("upstream.region: must not be empty".to_owned());
        }
        if u.connect_timeout.0.is_zero() || u.response_timeout.0.is_zero() {
            bad("upstream: connect_timeout and response_timeout must be more than zero".to_owned());
        }

        for p in &self.server.trusted_proxies {
            if p.parse::<ipnet::IpNet>().is_err() && p.parse::<std::net::IpAddr>().is_err() {
                bad(format!("server.trusted_proxies: {p:?} is not an address or CIDR range"));
            }
        }
        if http::HeaderName::from_bytes(self.server.client_ip_header.as_bytes()).is_err() {
            bad(format!(
                "server.client_ip_header: {:?} is not a header name",
                self.server.client_ip_header
            ));
        }
        if self.server.max_header_bytes.0 < 8192 {
            bad("server.max_header_bytes: must be at least 8KiB".to_owned());
        }
        if self.server.max_url_length < 256 {
            bad("server.max_url_length: must be at least 256".to_owned());
        }
        if self.server.max_connections == 0 {
            bad("server.max_connections: must be at least 1".to_owned());
        }
        if let Some(tls) = &self.server.tls {
            for (what, path) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
                if let Err(e) = std::fs::metadata(path) {
                    bad(format!("server.tls.{what}: cannot read {}: {e}", path.display()));
                }
            }
        }
        if let Some(admin) = &self.admin {
            if admin.listen.parse::<SocketAddr>().is_err() {
                bad(format!(
                    "admin.listen: {:?} is not an address such as 127.0.0.1:9090",
                    admin.listen
                ));
            } else if admin.listen == self.server.listen {
                bad("admin.listen: must differ from server.listen".to_owned());
            }
        }
        if !self.issuers.is_empty() && self.admin.is_none() {
            bad("issuers: the issuing API lives on the admin listener; set [admin] listen".to_owned());
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            let at = format!("issuers[{i}] ({})", issuer.name);
            match issuer.token_source().and_then(|s| s.resolve()) {
                Ok(t) if t.expose().len() < 16 => bad(format!("{at}: the token is shorter than 16 characters")),
                Ok(_) => {}
                Err(e) => bad(format!("{at}: token: {e}")),
            }
            if !self.credentials.iter().any(|c| c.access_key_id == issuer.access_key_id) {
                bad(format!(
                    "{at}: access_key_id {:?} is not a [[credentials]] entry",
                    issuer.access_key_id
                ));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            bad(format!(
                "log.level: {:?} is not a valid filter (try info, debug, guestpass=debug)",
                self.log.level
            ));
        }
        policy::validate(&self.credentials, &self.rules, &self.cors, &mut problems);

        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The demo credential of the embedded default. Public by design: it only opens the local
/// embedded store of `guestpass serve` run without a config file.
pub const DEMO_ACCESS_KEY_ID: &str = "GUESTPASSDEMO";
/// The demo credential's secret (see [`DEMO_ACCESS_KEY_ID`]).
pub const DEMO_SECRET_ACCESS_KEY: &str = "guestpass-demo-secret-not-for-production";

fn check_base_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("{url:?} must start with http:// or https://")),
    }
    if uri.authority().is_none() {
        return Err(format!("{url:?} has no host"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!("{url:?} must not have a path or query"));
    }
    Ok(())
}

fn is_dns_name(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_access_key_id(id: &str) -> bool {
    (3..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"
public_url = "https://files.example.com"
virtual_host_domains = ["files.example.com"]

[auth]
region = "us-east-1"
max_expires = "7d"
clock_skew = "15m"

[[credentials]]
access_key_id = "APPKEY1"
secret_access_key = "app-secret-number-one"

[upstream]
endpoint = "https://s3.filebase.com"
region = "us-east-1"
access_key_id = "UPSTREAMKEY"
secret_access_key = "upstream-secret"
"#;

    #[test]
    fn good_config_validates() {
        let c = Config::parse(GOOD).unwrap();
        c.validate().unwrap();
        assert_eq!(c.auth.max_expires.0, Duration::from_secs(604_800));
        assert_eq!(c.public_url(), "https://files.example.com");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = GOOD.replace("clock_skew", "clock_skwe");
        let err = Config::parse(&text).unwrap_err();
        assert!(err.contains("clock_skwe"), "{err}");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = GOOD
            .replace("\"7d\"", "\"8d\"")
            .replace("127.0.0.1:8080", "nowhere")
            .replace("secret_access_key = \"app-secret-number-one\"", "");
        let problems = Config::parse(&text).unwrap().validate().unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("server.listen")));
        assert!(problems.iter().any(|p| p.starts_with("auth.max_expires")));
        assert!(problems.iter().any(|p| p.contains("credentials[0]")));
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let c = Config::parse(GOOD).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("app-secret-number-one"));
        assert!(!dbg.contains("upstream-secret"));
    }

    #[test]
    fn secrets_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "file-secret-value\n").unwrap();
        std::env::set_var("GUESTPASS_TEST_SECRET_ENV", "env-secret-value");
        let text = GOOD
            .replace(
                "secret_access_key = \"app-secret-number-one\"",
                &format!("secret_access_key_file = {:?}", file.display().to_string()),
            )
            .replace(
                "secret_access_key = \"upstream-secret\"",
                "secret_access_key_env = \"GUESTPASS_TEST_SECRET_ENV\"",
            );
        let c = Config::parse(&text).unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.credentials[0].secret_source().unwrap().resolve().unwrap().expose(),
            "file-secret-value"
        );
        assert_eq!(
            c.upstream.secret_source().unwrap().resolve().unwrap().expose(),
            "env-secret-value"
        );
    }
}
