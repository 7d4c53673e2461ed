//! Snapshots on real engines: the reconciler takes, copies, exports and
//! deletes snapshot files, and keeps the automatic-backup schedule.
//!
//! Taking a snapshot: `BGSAVE` on the source node, wait until `LASTSAVE` moves
//! and `rdb_bgsave_in_progress:0`, then copy the node's `dump.rdb` (its data
//! directory is the engine's `--dir`, bind-mounted at `/data` under Docker)
//! into `<data-dir>/snapshots/<account>/<region>/<name>/<node-group>.rdb`
//! through a temporary file and a rename.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};

use super::mcdump;
use super::node::connect;
use super::Reconciler;
use crate::atrest::{KeyStore, DEFAULT_KEY_ID};
use crate::engine::{resp, EngineKind};
use crate::model::snapshot::{
    export_path, rdb_path, snapshot_dir, snapshot_event_source, Snapshot, AVAILABLE, CREATING,
    DELETING, EXPORTING, SOURCE_AUTOMATED,
};
use crate::model::{lifecycle, ControlPlane, Scope};

/// How long a `BGSAVE` may take.
const SAVE_TIMEOUT: Duration = Duration::from_secs(120);
/// An automatic backup is due when the last one is older than this (once a day).
const AUTOMATIC_EVERY: chrono::Duration = chrono::Duration::hours(23);

impl Reconciler {
    /// Start a task for every snapshot with work to do (the schedule of
    /// automatic ones is [`Self::schedule_automatic`], on the clock).
    pub(super) fn snapshots(self: &Arc<Self>) {
        let work: Vec<(Scope, String)> = {
            let st = self.cp.lock();
            st.regions
                .iter()
                .flat_map(|(scope, r)| {
                    r.snapshots
                        .values()
                        .filter(|s| matches!(s.status.as_str(), CREATING | EXPORTING | DELETING))
                        .map(move |s| (scope.clone(), s.name.clone()))
                })
                .collect()
        };
        for key in work {
            if !self
                .snap_inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key.clone())
            {
                continue;
            }
            let me = self.clone();
            tokio::spawn(async move {
                me.snapshot_work(&key.0, &key.1).await;
                me.snap_inflight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&key);
                me.cp.wake();
            });
        }
    }

    async fn snapshot_work(&self, scope: &Scope, name: &str) {
        let Ok(s) = self.cp.find_snapshot(scope, name) else {
            return;
        };
        let root = self.cp.settings.snapshots_dir.clone();
        match s.status.as_str() {
            DELETING => {
                let dir = snapshot_dir(&root, scope, &s.name);
                match tokio::fs::remove_dir_all(&dir).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(snapshot = %s.name, error = %e, "removing snapshot files failed");
                        return;
                    }
                }
                self.cp.remove_snapshot(scope, &s.name);
            }
            CREATING => {
                let res = if let Some(src) = &s.copy_of {
                    copy_files(&root, scope, src, &s).await
                } else {
                    self.take(scope, &s).await
                };
                self.settle_taken(scope, &s, res);
            }
            EXPORTING => {
                let mut res = Ok(());
                for ex in &s.exports {
                    for ng in s.node_groups() {
                        let from = rdb_path(&root, scope, &s.name, &ng);
                        let to =
                            export_path(&self.cp.settings.buckets_dir, &ex.bucket, &ex.name, &ng);
                        if let Err(e) = copy_atomic(&from, &to).await {
                            res = Err(e);
                        }
                    }
                }
                let done = s.exports.len();
                let _ = self.cp.update_snapshot(scope, &s.name, |x| {
                    x.exports.drain(..done.min(x.exports.len()));
                    if x.exports.is_empty() {
                        x.status = AVAILABLE.to_owned();
                    }
                    Ok(())
                });
                let (kind, id) = snapshot_event_source(&s);
                let msg = match res {
                    Ok(()) => format!("Snapshot {} exported", s.name),
                    Err(e) => {
                        tracing::warn!(snapshot = %s.name, error = %e, "export failed");
                        format!("Export of snapshot {} failed: {e}", s.name)
                    }
                };
                self.cp.event(scope, kind, &id, msg);
            }
            _ => {}
        }
    }

    /// Record the outcome of taking or copying a snapshot: `available` with
    /// the file sizes, or gone with a failure event (as ElastiCache does).
    fn settle_taken(&self, scope: &Scope, s: &Snapshot, res: anyhow::Result<Vec<(String, u64)>>) {
        let (kind, id) = snapshot_event_source(s);
        if s.copy_of.is_none() {
            self.cp.mark_snapshotting(scope, s, true);
        }
        match res {
            Ok(sizes) => {
                let now = ControlPlane::now();
                let updated = self.cp.update_snapshot(scope, &s.name, |x| {
                    for n in &mut x.node_snapshots {
                        if let Some((_, b)) = sizes.iter().find(|(ng, _)| *ng == n.node_group_id) {
                            n.size_bytes = Some(*b);
                            n.snapshot_created = Some(now);
                        }
                    }
                    x.status = AVAILABLE.to_owned();
                    Ok(())
                });
                if updated.is_ok() {
                    let what = if kind == "replication-group" {
                        "replication group"
                    } else {
                        "cache cluster"
                    };
                    self.cp.event(
                        scope,
                        kind,
                        &id,
                        format!(
                            "Snapshot succeeded for snapshot with ID '{}' of {what} with ID '{id}'",
                            s.name
                        ),
                    );
                }
            }
            Err(e) => {
                tracing::warn!(snapshot = %s.name, error = %e, "snapshot failed");
                let dir = snapshot_dir(&self.cp.settings.snapshots_dir, scope, &s.name);
                let _ = std::fs::remove_dir_all(dir);
                self.cp.remove_snapshot(scope, &s.name);
                self.cp.event(
                    scope,
                    kind,
                    &id,
                    format!("Snapshot failed for snapshot with ID '{}': {e}", s.name),
                );
            }
        }
    }

    /// `BGSAVE` on the source node and copy its RDB, per node group.
    async fn take(&self, scope: &Scope, s: &Snapshot) -> anyhow::Result<Vec<(String, u64)>> {
        let mut sizes = Vec::new();
        for ns in &s.node_snapshots {
            let cluster_id = ns.cluster_id.clone();
            let c = self
                .cp
                .find_cluster(scope, &cluster_id)
                .with_context(|| format!("cache cluster {cluster_id} is gone"))?;
            let n = c
                .nodes
                .iter()
                .find(|n| n.id == ns.cache_node_id)
                .or_else(|| c.nodes.first())
                .with_context(|| format!("cache cluster {cluster_id} has no node"))?;
            let spec = self.spec(scope, &c, n);
            let to = rdb_path(
                &self.cp.settings.snapshots_dir,
                scope,
                &s.name,
                &ns.node_group_id,
            );
            if c.engine == EngineKind::Memcached {
                // A serverless Memcached cache: a dump of every item, in the
                // snapshot's one file.
                let items = mcdump::dump(spec.host, spec.port, c.transit_encryption).await?;
                let data = mcdump::encode(&items);
                let keys = KeyStore::new(&self.cp.settings.keys_dir);
                let key_id = c
                    .kms_key_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_KEY_ID.to_owned());
                let encrypt = c.at_rest_encryption;
                let size = tokio::task::spawn_blocking(move || {
                    if encrypt {
                        keys.write_encrypted(&data, &to, &key_id)
                    } else {
                        write_atomic(&data, &to)
                    }
                })
                .await??;
                sizes.push((ns.node_group_id.clone(), size));
                continue;
            }
            bgsave(spec.host, spec.port, c.transit_encryption).await?;
            let rdb = spec.data_dir.join("dump.rdb");
            let size = if c.at_rest_encryption {
                // Encrypted at rest: never a plaintext copy under the snapshots.
                let keys = KeyStore::new(&self.cp.settings.keys_dir);
                let key_id = c
                    .kms_key_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_KEY_ID.to_owned());
                tokio::task::spawn_blocking(move || {
                    let plain =
                        std::fs::read(&rdb).with_context(|| format!("read {}", rdb.display()))?;
                    keys.write_encrypted(&plain, &to, &key_id)
                })
                .await??
            } else {
                copy_atomic(&rdb, &to).await?
            };
            sizes.push((ns.node_group_id.clone(), size));
        }
        Ok(sizes)
    }

    /// Take an automatic backup of every cluster and group whose window is
    /// open and whose last one is a day old; prune beyond the retention limit.
    pub(super) fn schedule_automatic(&self) {
        let now = ControlPlane::now();
        let mut due: Vec<(Scope, Option<String>, Option<String>)> = Vec::new();
        let mut prune: Vec<(Scope, String)> = Vec::new();
        {
            let st = self.cp.lock();
            for (scope, r) in &st.regions {
                let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
                let mut auto: HashMap<String, Vec<&Snapshot>> = HashMap::new();
                for s in r
                    .snapshots
                    .values()
                    .filter(|s| s.source == SOURCE_AUTOMATED)
                {
                    let (_, owner) = snapshot_event_source(s);
                    let e = last.entry(owner.clone()).or_insert(s.created);
                    *e = (*e).max(s.created);
                    auto.entry(owner).or_default().push(s);
                }
                // Borrowed, not copied: this runs twice a second over
                // every cluster stored.
                let mut sources: Vec<Source> = r
                    .clusters
                    .values()
                    .filter(|c| c.replication_group_id.is_none())
                    .map(|c| {
                        (
                            Some(c.id.as_str()),
                            None,
                            c.snapshot_retention_limit,
                            c.snapshot_window.as_deref().unwrap_or_default(),
                            c.status == lifecycle::AVAILABLE,
                        )
                    })
                    .collect();
                sources.extend(r.replication_groups.values().map(|g| {
                    (
                        None,
                        Some(g.id.as_str()),
                        g.snapshot_retention_limit,
                        g.snapshot_window.as_str(),
                        g.status == lifecycle::AVAILABLE,
                    )
                }));
                for &(cid, gid, limit, window, available) in &sources {
                    let owner = gid.or(cid).unwrap_or_default();
                    // Nothing to take and nothing to prune: no copies made.
                    if limit <= 0 && !auto.contains_key(owner) {
                        continue;
                    }
                    let busy = auto
                        .get(owner)
                        .is_some_and(|v| v.iter().any(|s| s.status != AVAILABLE));
                    if limit > 0
                        && available
                        && !busy
                        && in_daily_window(window, now)
                        && last.get(owner).is_none_or(|t| now - *t >= AUTOMATIC_EVERY)
                    {
                        due.push((
                            scope.clone(),
                            cid.map(str::to_owned),
                            gid.map(str::to_owned),
                        ));
                    }
                    // Prune: keep the newest `limit` automatic backups.
                    if let Some(list) = auto.get_mut(owner) {
                        list.sort_by_key(|s| std::cmp::Reverse(s.created));
                        let keep = usize::try_from(limit.max(0)).unwrap_or(0);
                        for s in list.iter().skip(keep).filter(|s| s.status == AVAILABLE) {
                            prune.push((scope.clone(), s.name.clone()));
                        }
                    }
                }
                // Automatic backups of clusters and groups that are gone go with
                // them. A set of the owners stored, built once: looking each
                // owner up in the list of sources cost owners x sources per
                // pass (thousands of each starved the API: issue 15).
                let owners: HashSet<&str> = if auto.is_empty() {
                    HashSet::new()
                } else {
                    sources.iter().filter_map(|(c, g, ..)| g.or(*c)).collect()
                };
                for (owner, list) in &auto {
                    if !owners.contains(owner.as_str()) {
                        for s in list.iter().filter(|s| s.status == AVAILABLE) {
                            prune.push((scope.clone(), s.name.clone()));
                        }
                    }
                }
            }
        }
        for (scope, cid, gid) in due {
            match self
                .cp
                .create_automatic_snapshot(&scope, cid.as_deref(), gid.as_deref())
            {
                Ok(s) => tracing::info!(snapshot = %s.name, "automatic snapshot started"),
                Err(e) => tracing::warn!(error = %e, "automatic snapshot could not start"),
            }
        }
        for (scope, name) in prune {
            tracing::info!(snapshot = %name, "pruning automatic snapshot beyond the retention limit");
            let _ = self.cp.update_snapshot(&scope, &name, |s| {
                s.status = DELETING.to_owned();
                Ok(())
            });
        }
    }
}

/// A cluster or group that may take automatic backups:
/// (cluster, group, retention limit, window, available).
type Source<'a> = (Option<&'a str>, Option<&'a str>, i64, &'a str, bool);

/// Whether `now` falls inside a daily `hh24:mi-hh24:mi` window (UTC).
fn in_daily_window(window: &str, now: DateTime<Utc>) -> bool {
    use chrono::Timelike;
    let minute = |s: &str| -> Option<u32> {
        let (h, m) = s.split_once(':')?;
        Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
    };
    let Some((a, b)) = window
        .split_once('-')
        .and_then(|(a, b)| Some((minute(a)?, minute(b)?)))
    else {
        return false;
    };
    let day = 1440;
    let cur = now.hour() * 60 + now.minute();
    (cur + day - a) % day < (b + day - a) % day
}

/// `BGSAVE` and wait until it finished: `rdb_bgsave_in_progress:0` with
/// `rdb_last_bgsave_status:ok`, and `LASTSAVE` not before its value at the start.
async fn bgsave(host: std::net::Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<()> {
    let mut conn = connect(host, port, tls).await?;
    let deadline = Instant::now() + SAVE_TIMEOUT;
    let before = lastsave(&mut conn).await?;
    // A save already running (a replica sync) is waited out, then ours starts.
    loop {
        match conn.cmd(&["BGSAVE"]).await {
            Ok(_) => break,
            Err(e) if e.to_string().contains("in progress") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.context("BGSAVE")),
        }
    }
    loop {
        let info = conn
            .cmd(&["INFO", "persistence"])
            .await?
            .as_text()
            .unwrap_or_default();
        let field = |k: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix(':')))
                .map(str::trim)
                .map(str::to_owned)
        };
        // BGSAVE forked before answering: once no save is in progress, ours is done.
        if field("rdb_bgsave_in_progress").as_deref() == Some("0") {
            if field("rdb_last_bgsave_status").as_deref() != Some("ok") {
                bail!("the engine's background save failed");
            }
            if lastsave(&mut conn).await? < before {
                bail!("LASTSAVE went back in time");
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the engine's background save did not finish within {SAVE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn lastsave(conn: &mut resp::Conn) -> anyhow::Result<i64> {
    match conn.cmd(&["LASTSAVE"]).await? {
        resp::Reply::Int(n) => Ok(n),
        other => bail!("unexpected LASTSAVE reply {other:?}"),
    }
}

/// Copy every RDB of snapshot `src` to the new snapshot `s`.
async fn copy_files(
    root: &Path,
    scope: &Scope,
    src: &str,
    s: &Snapshot,
) -> anyhow::Result<Vec<(String, u64)>> {
    let mut sizes = Vec::new();
    for ng in s.node_groups() {
        let from = rdb_path(root, scope, src, &ng);
        let size = copy_atomic(&from, &rdb_path(root, scope, &s.name, &ng)).await?;
        sizes.push((ng, size));
    }
    Ok(sizes)
}

/// Copy `from` to `to` through a temporary file and a rename; returns the size.
/// Write `data` to `to` through a temporary file and a rename.
fn write_atomic(data: &[u8], to: &Path) -> anyhow::Result<u64> {
    let dir = to.parent().context("target has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        to.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, data).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("rename into {}", to.display()))?;
    Ok(data.len() as u64)
}

async fn copy_atomic(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let dir = to.parent().context("target has no directory")?;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("create {}", dir.display()))?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp",
        to.file_name().unwrap_or_default().to_string_lossy()
    ));
    let size = tokio::fs::copy(from, &tmp)
        .await
        .with_context(|| format!("copy {}", from.display()))?;
    tokio::fs::rename(&tmp, to)
        .await
        .with_context(|| format!("rename into {}", to.display()))?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_windows() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T06:45:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(in_daily_window("06:30-07:30", t));
        assert!(!in_daily_window("07:00-08:00", t));
        assert!(in_daily_window("23:30-07:00", t));
    }
}
