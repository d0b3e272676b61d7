//! TLS termination with rustls: certificate chain and key from PEM files (parsed with
//! rustls-pki-types), ALPN h2 and http/1.1, and a certificate that can be swapped while
//! the gateway runs (SIGHUP or a change of the files).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Serves the current certificate; [`CertResolver::reload`] swaps it.
#[derive(Debug)]
pub struct CertResolver {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: ArcSwap<CertifiedKey>,
}

fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert_file.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{}: no certificate found", cert_file.display());
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| anyhow::anyhow!("{}: unsupported key: {e}", key_file.display()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|e| anyhow::anyhow!("{} does not match {}: {e}", key_file.display(), cert_file.display()))?;
    Ok(certified)
}

impl CertResolver {
    /// Loads the certificate and key.
    pub fn new(cert_file: PathBuf, key_file: PathBuf) -> anyhow::Result<Arc<CertResolver>> {
        let current = ArcSwap::from_pointee(load(&cert_file, &key_file)?);
        Ok(Arc::new(CertResolver {
            cert_file,
            key_file,
            current,
        }))
    }

    /// Reads the files again; the old certificate stays if they are not valid.
    pub fn reload(&self) -> anyhow::Result<()> {
        self.current.store(Arc::new(load(&self.cert_file, &self.key_file)?));
        Ok(())
    }

    /// The files it reads.
    pub fn files(&self) -> [&Path; 2] {
        [&self.cert_file, &self.key_file]
    }

    /// A rustls server configuration serving this resolver's certificate, with ALPN h2
    /// and http/1.1.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}
