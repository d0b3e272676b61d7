//! What triggers a reload: SIGHUP, and a change of the config file, a secret file or a
//! certificate (polled, so it works with Kubernetes' symlink-swapped volumes too).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::app::Runtime;

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    // metadata() follows symlinks: a swapped `..data` link changes the target's stamp.
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

/// Runs until the process ends: reloads on SIGHUP and when a watched file changes.
pub async fn run(runtime: Arc<Runtime>, poll: Duration) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut seen: HashMap<PathBuf, Option<(SystemTime, u64)>> = runtime
        .watched_files()
        .into_iter()
        .map(|p| {
            let s = stamp(&p);
            (p, s)
        })
        .collect();
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let hup_fired = async {
            match hup.as_mut() {
                Some(h) => h.recv().await.is_some(),
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hup_fired = std::future::pending::<bool>();
        let reason = tokio::select! {
            _ = hup_fired => "SIGHUP",
            _ = tick.tick() => {
                let changed = seen.iter().any(|(p, s)| stamp(p) != *s);
                if !changed { continue; }
                "a watched file changed"
            }
        };
        tracing::info!(reason, "reloading");
        let _ = runtime.reload().await;
        seen = runtime
            .watched_files()
            .into_iter()
            .map(|p| {
                let s = stamp(&p);
                (p, s)
            })
            .collect();
    }
}
