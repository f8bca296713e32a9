//! The CRM as the server runs it: its store and sealing keys (made in the
//! data dir on a single machine), and its scheduled jobs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use super::AppError;
use crate::base::Clock;
use crate::config::Config;

/// Opens the CRM on its configured store: a redb file in the data dir,
/// or Redis.
pub(super) async fn open_crm(
    config: &Config,
    data_dir: std::path::PathBuf,
) -> Result<Arc<crate::crm::Crm>, AppError> {
    let mut cfg = config.crm.clone();
    let city = config.city_time()?;
    let crm = tokio::task::spawn_blocking(move || {
        if cfg.encryption_keys.trim().is_empty() {
            cfg.encryption_keys = local_key(&cfg.store, &data_dir)?;
        }
        let store = crate::crm::store::open_configured(&cfg, &data_dir)?;
        crate::crm::Crm::open(cfg, store).map(|crm| crm.in_city(city))
    })
    .await??;
    Ok(Arc::new(crm))
}

/// The key of a single machine's CRM: read from `<data_dir>/crm.key`, made
/// there (owner-only) on first start. A shared Redis needs keys given to
/// every instance alike, so there it is an error to have none.
fn local_key(store: &str, data_dir: &std::path::Path) -> Result<String, crate::crm::CrmError> {
    use crate::crm::{CrmError, crypto::FieldCipher};
    let fail = |reason: String| CrmError::BadField {
        field: "crm.encryption_keys".into(),
        reason,
    };
    if store == "redis" {
        return Err(fail(
            "required with store = \"redis\": set WAIMAI_CRM__ENCRYPTION_KEYS (waimai crm keygen)".into(),
        ));
    }
    let path = data_dir.join("crm.key");
    match std::fs::read_to_string(&path) {
        Ok(spec) => return Ok(spec.trim().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(fail(format!("{}: {e}", path.display())));
        }
        Err(_) => {}
    }
    let spec = FieldCipher::generate_spec("local1");
    super::secret::write_owner_only(&path, spec.as_bytes())
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    info!(path = %path.display(), "generated the CRM's encryption key");
    Ok(spec)
}

/// Runs the CRM's scheduled jobs (points expiry, birthday coupons) on the
/// blocking pool every `every_secs`, from start until shutdown.
pub(super) fn spawn_crm_jobs(
    crm: Arc<crate::crm::Crm>,
    clock: Clock,
    every_secs: u64,
    metrics: Arc<crate::live::Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(every_secs));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let crm = crm.clone();
            let now = clock.now_secs();
            let ran = tokio::task::spawn_blocking(move || (crm.sweep(now), crm.birthdays(now))).await;
            let failed = match ran {
                Ok((Ok(swept), Ok(birthdays))) => {
                    if swept + birthdays > 0 {
                        info!(swept, birthdays, "CRM jobs");
                    }
                    false
                }
                Ok((sweep, birthdays)) => {
                    tracing::warn!(sweep = ?sweep.err(), birthdays = ?birthdays.err(), "CRM jobs failed; next run retries");
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "CRM jobs did not run");
                    true
                }
            };
            metrics.crm_job_runs.fetch_add(1, Ordering::Relaxed);
            if failed {
                metrics.crm_job_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
}
