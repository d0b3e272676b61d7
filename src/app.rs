//! The composition root: a `Config` becomes the runtime state of one gateway (credentials,
//! policy, upstream client). The only reader of configuration.
//!
//! [`Runtime`] holds the current [`App`] behind an `ArcSwap`: a reload builds a whole new
//! `App` from the new configuration and swaps it in atomically. Requests in flight keep
//! the `App` they started with; new ones see the new one; a configuration that does not
//! validate or build is refused and the old one stays.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::addressing::Addressing;
use crate::auth::credentials::{Credential, CredentialStore};
use crate::auth::{AuthSettings, Authenticator};
use crate::config::Config;
use crate::metrics::{ReloadLabels, METRICS};
use crate::policy::Policy;
use crate::upstream::{TlsRoots, Upstream, UpstreamSettings};

#[cfg(feature = "embedded")]
type Embedded = Option<Arc<crate::upstream::embedded::EmbeddedStore>>;
#[cfg(not(feature = "embedded"))]
type Embedded = Option<()>;

/// Everything a request needs, built once from a configuration.
pub struct App {
    config: Config,
    addressing: Addressing,
    auth: Authenticator,
    policy: Policy,
    upstream: Upstream,
    public_url: String,
    embedded: Embedded,
    issuers: Vec<Issuer>,
}

/// An app allowed to use the issuing API.
pub struct Issuer {
    /// Name for the audit log.
    pub name: String,
    /// The credential its URLs are signed with.
    pub access_key_id: String,
    token: crate::secret::Secret,
}

impl Issuer {
    /// Whether `presented` is this issuer's token (constant time).
    pub fn token_matches(&self, presented: &str) -> bool {
        use sha2::Digest;
        use subtle::ConstantTimeEq;
        // Hashing first makes the comparison independent of the lengths.
        let a = sha2::Sha256::digest(self.token.expose().as_bytes());
        let b = sha2::Sha256::digest(presented.as_bytes());
        a.ct_eq(&b).into()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("auth", &self.auth)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the gateway for `config` (validated here too). Starts the embedded store
    /// when the config asks for it.
    pub async fn build(config: &Config) -> anyhow::Result<Arc<App>> {
        Self::build_reusing(config, None).await
    }

    /// Builds the gateway for `config`, keeping `previous`'s embedded store when the new
    /// configuration names the same folder (a store cannot move while it runs).
    pub async fn build_reusing(config: &Config, previous: Option<&App>) -> anyhow::Result<Arc<App>> {
        config
            .validate()
            .map_err(|p| anyhow::anyhow!(crate::config::ConfigError::Invalid(p)))?;
        // Several tests build apps in one process: installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let credentials = config
            .credentials
            .iter()
            // A disabled (revoked) credential is left out: whatever it signed now meets
            // InvalidAccessKeyId, at the same cost as any unknown key.
            .filter(|c| !c.disabled)
            .map(|c| Ok(Credential::new(c.access_key_id.as_str(), c.secrets()?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let auth = Authenticator::new(
            AuthSettings {
                max_expires_secs: config.auth.max_expires.0.as_secs(),
                clock_skew: config.auth.clock_skew.0,
                mismatch_details: config.auth.signature_mismatch_details,
                sigv2: config.auth.sigv2,
            },
            CredentialStore::new(&config.auth.region, credentials),
        );

        let u = &config.upstream;
        let settings = |endpoint: String, access_key_id: String, secret| UpstreamSettings {
            endpoint,
            region: u.region.clone(),
            access_key_id,
            secret,
            connect_timeout: u.connect_timeout.0,
            response_timeout: u.response_timeout.0,
            pool_idle_timeout: u.pool_idle_timeout.0,
            pool_max_idle_per_host: u.pool_max_idle_per_host,
            tls_roots: TlsRoots::default(),
        };

        let (upstream, embedded, refuse_dot_segments) = match &u.embedded_data_dir {
            #[cfg(feature = "embedded")]
            Some(dir) => {
                let reuse = previous
                    .and_then(|p| p.embedded.clone())
                    .filter(|s| s.root() == dir.as_path());
                let store = match reuse {
                    Some(s) => s,
                    None => Arc::new(crate::upstream::embedded::EmbeddedStore::start(dir).await?),
                };
                let upstream = Upstream::new(settings(
                    store.endpoint.clone(),
                    store.access_key_id.clone(),
                    store.secret.clone(),
                ))?;
                // s3s-fs maps keys to files and resolves `.`/`..`.
                (upstream, Some(store), true)
            }
            #[cfg(not(feature = "embedded"))]
            Some(_) => {
                let _ = previous;
                anyhow::bail!("this build has no embedded store")
            }
            None => {
                let endpoint = u
                    .endpoint
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("upstream.endpoint is not set"))?;
                (
                    Upstream::new(settings(endpoint, u.access_key_id()?, u.secret_source()?.resolve()?))?,
                    None,
                    false,
                )
            }
        };
        let issuers = config
            .issuers
            .iter()
            .map(|i| {
                Ok(Issuer {
                    name: i.name.clone(),
                    access_key_id: i.access_key_id.clone(),
                    token: i.token_source()?.resolve()?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Arc::new(App {
            config: config.clone(),
            issuers,
            addressing: Addressing::new(config.server.virtual_host_domains.clone()),
            auth,
            policy: Policy::new(config, refuse_dot_segments),
            upstream,
            public_url: config.public_url(),
            embedded,
        }))
    }

    /// The configuration this app was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bucket and key resolution.
    pub fn addressing(&self) -> &Addressing {
        &self.addressing
    }

    /// Signature verification.
    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// Policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The upstream client.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The URL clients reach the gateway at.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The issuers of the issuing API.
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// Whether the upstream is the embedded store.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }
}

/// The running gateway: the current `App`, where its configuration came from, and its
/// readiness.
pub struct Runtime {
    current: ArcSwap<App>,
    config_path: Option<PathBuf>,
    ready: AtomicBool,
    draining: AtomicBool,
    tls: Option<Arc<crate::server::tls::CertResolver>>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config_path", &self.config_path)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime around a built app; `config_path` is where reloads read from (none: the
    /// configuration cannot be reloaded).
    pub fn new(app: Arc<App>, config_path: Option<PathBuf>) -> anyhow::Result<Arc<Runtime>> {
        let tls = match &app.config.server.tls {
            Some(t) => Some(crate::server::tls::CertResolver::new(
                t.cert_file.clone(),
                t.key_file.clone(),
            )?),
            None => None,
        };
        Ok(Arc::new(Runtime {
            current: ArcSwap::new(app),
            config_path,
            ready: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            tls,
            reload_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The app new requests are served with.
    pub fn app(&self) -> Arc<App> {
        self.current.load_full()
    }

    /// The certificate resolver, when TLS is on.
    pub fn tls(&self) -> Option<&Arc<crate::server::tls::CertResolver>> {
        self.tls.as_ref()
    }

    /// Whether the gateway should receive traffic: built, and not draining.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) && !self.draining.load(Ordering::Relaxed)
    }

    /// Marks the gateway as draining (`/readyz` fails from now on).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// The files whose change should trigger a reload: the config file, secret files and
    /// certificates.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.config_path.iter().cloned().collect();
        let app = self.app();
        let c = &app.config;
        for cred in &c.credentials {
            files.extend(cred.secret_access_key_file.iter().cloned());
            files.extend(cred.previous_secret_access_key_file.iter().cloned());
        }
        files.extend(c.upstream.secret_access_key_file.iter().cloned());
        for i in &c.issuers {
            files.extend(i.token_file.iter().cloned());
        }
        if let Some(tls) = &self.tls {
            files.extend(tls.files().iter().map(|p| p.to_path_buf()));
        }
        files
    }

    /// Reads the configuration again and swaps it in; on any error the old one stays.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let result = self.reload_inner().await;
        let label = ReloadLabels {
            result: if result.is_ok() { "success" } else { "failure" },
        };
        METRICS.reloads.get_or_create(&label).inc();
        match &result {
            Ok(()) => tracing::info!(config = ?self.config_path, "configuration reloaded"),
            Err(e) => {
                tracing::error!(config = ?self.config_path, error = %format!("{e:#}"), "reload refused; the previous configuration stays")
            }
        }
        result
    }

    async fn reload_inner(&self) -> anyhow::Result<()> {
        // Everything is checked before anything is swapped: a refused config leaves the
        // certificate as it was too.
        let app = match &self.config_path {
            Some(path) => {
                let config = Config::load(path)?;
                let old = self.app();
                check_restart_only(&old.config, &config)?;
                Some(App::build_reusing(&config, Some(&old)).await?)
            }
            None => None,
        };
        if let Some(tls) = &self.tls {
            tls.reload()?;
        }
        if let Some(app) = app {
            let _ = crate::telemetry::set_level(&app.config.log.level);
            self.current.store(app);
        }
        Ok(())
    }

    /// The config file, if any.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }
}

/// Settings a running process cannot change (its sockets and TLS mode): a reload that
/// changes them is refused, so the running gateway never silently ignores them.
fn check_restart_only(old: &Config, new: &Config) -> anyhow::Result<()> {
    let listen_changed = old.server.listen != new.server.listen;
    let admin_changed = old.admin.as_ref().map(|a| &a.listen) != new.admin.as_ref().map(|a| &a.listen);
    let tls_changed = old.server.tls.is_some() != new.server.tls.is_some()
        || old.server.tls.as_ref().map(|t| (&t.cert_file, &t.key_file))
            != new.server.tls.as_ref().map(|t| (&t.cert_file, &t.key_file));
    let embedded_changed = old.upstream.embedded_data_dir != new.upstream.embedded_data_dir;
    anyhow::ensure!(
        !(listen_changed || admin_changed || tls_changed || embedded_changed),
        "server.listen, admin.listen, server.tls files and upstream.embedded_data_dir take a restart to change"
    );
    Ok(())
}
