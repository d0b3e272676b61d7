//! The embedded store: `s3s-fs` (an S3 server over a folder) run in-process, so
//! `guestpass serve` works with no account. It listens on an ephemeral loopback port and
//! checks SigV4 signatures made with a random key pair that only this process knows, so
//! nothing unsigned, and nothing that did not pass the gateway, can reach it.
//!
//! Tests use the same store as a real upstream, with an observer that records what it
//! received (to prove what did and did not reach it).

use std::path::Path;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::secret::Secret;

/// Called with the head of every request the store receives.
pub type Observer = Arc<dyn Fn(&http::request::Parts) + Send + Sync>;

/// A running embedded store.
pub struct EmbeddedStore {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The store's access key id.
    pub access_key_id: String,
    /// The store's secret.
    pub secret: Secret,
    root: std::path::PathBuf,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EmbeddedStore {
    /// The folder it serves.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a store over `root` with a fresh random key pair.
    pub async fn start(root: &Path) -> anyhow::Result<EmbeddedStore> {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        let access_key_id = format!("EMBEDDED{}", hex::encode_upper(&bytes[..6]));
        let secret = Secret::new(hex::encode(&bytes[6..]));
        Self::start_with(root, access_key_id, secret, None).await
    }

    /// Starts a store over `root` that accepts only `access_key_id`/`secret`, reporting
    /// each request head to `observer`.
    pub async fn start_with(
        root: &Path,
        access_key_id: String,
        secret: Secret,
        observer: Option<Observer>,
    ) -> anyhow::Result<EmbeddedStore> {
        std::fs::create_dir_all(root)?;
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| anyhow::anyhow!("embedded store at {}: {e:?}", root.display()))?;
        let service = {
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single(
                access_key_id.clone(),
                secret.expose().to_owned(),
            ));
            b.build()
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                // Without it every small answer waits for a delayed ACK (~40 ms).
                let _ = socket.set_nodelay(true);
                let service = service.clone();
                let observer = observer.clone();
                let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    if let Some(o) = &observer {
                        let (parts, body) = req.into_parts();
                        o(&parts);
                        let req = http::Request::from_parts(parts, body);
                        hyper::service::Service::call(&service, req)
                    } else {
                        hyper::service::Service::call(&service, req)
                    }
                });
                let conn = http.serve_connection(TokioIo::new(socket), svc).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Ok(EmbeddedStore {
            endpoint,
            access_key_id,
            secret,
            root: root.to_path_buf(),
            task,
        })
    }
}
