//! The composition root: a `Config` becomes the runtime state of one gateway (credentials,
//! policy, upstream client). The only reader of configuration.

use std::sync::Arc;

use crate::addressing::Addressing;
use crate::auth::credentials::{Credential, CredentialStore};
use crate::auth::{AuthSettings, Authenticator};
use crate::config::Config;
use crate::policy::Policy;
use crate::upstream::{TlsRoots, Upstream, UpstreamSettings};

/// Everything a request needs, built once from a configuration.
pub struct App {
    addressing: Addressing,
    auth: Authenticator,
    policy: Policy,
    upstream: Upstream,
    public_url: String,
    #[cfg(feature = "embedded")]
    embedded: Option<crate::upstream::embedded::EmbeddedStore>,
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

        #[cfg(feature = "embedded")]
        if let Some(dir) = &u.embedded_data_dir {
            let store = crate::upstream::embedded::EmbeddedStore::start(dir).await?;
            let upstream = Upstream::new(settings(
                store.endpoint.clone(),
                store.access_key_id.clone(),
                store.secret.clone(),
            ))?;
            return Ok(Arc::new(App {
                addressing: Addressing::new(config.server.virtual_host_domains.clone()),
                auth,
                // s3s-fs maps keys to files and resolves `.`/`..`.
                policy: Policy::new(config, true),
                upstream,
                public_url: config.public_url(),
                embedded: Some(store),
            }));
        }

        let endpoint = u
            .endpoint
            .clone()
            .ok_or_else(|| anyhow::anyhow!("upstream.endpoint is not set"))?;
        let upstream = Upstream::new(settings(endpoint, u.access_key_id()?, u.secret_source()?.resolve()?))?;
        Ok(Arc::new(App {
            addressing: Addressing::new(config.server.virtual_host_domains.clone()),
            auth,
            policy: Policy::new(config, false),
            upstream,
            public_url: config.public_url(),
            #[cfg(feature = "embedded")]
            embedded: None,
        }))
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

    /// Whether the upstream is the embedded store.
    pub fn is_embedded(&self) -> bool {
        #[cfg(feature = "embedded")]
        {
            self.embedded.is_some()
        }
        #[cfg(not(feature = "embedded"))]
        {
            false
        }
    }
}
