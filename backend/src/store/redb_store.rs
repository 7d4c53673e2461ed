//! The embedded database: one redb file, two tables (`meta`, `records`).
//!
//! Opening refuses, with a message naming the file, what this build must not
//! touch: a file that is not a redb database (corrupt), one in a newer redb
//! file format, one whose schema marker a newer release wrote; the file is
//! then left as it is. A write that fails (disk full, read-only) fails the
//! change; the next write reopens the database (redb refuses every write after
//! an I/O error until then), so the backend works again once the disk does.
//!
//! Writes are group-committed: a writer that finds a commit under way queues
//! its batch, and the next commit takes every queued batch, in the order they
//! came, in one transaction; each writer returns once the commit holding its
//! batch is durable (or failed: then every batch of that commit failed). One
//! `fsync` then serves many concurrent writers instead of one each, and what
//! each writer was told is exactly as durable as with a commit of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, RwLock};

use anyhow::Context;
use redb::{Database, ReadableTable, TableDefinition};

use super::{Pending, Store, SCHEMA_VERSION};

const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");

/// redb's file header: its magic number and the file format versions this
/// build reads (the version byte of each of the header's two commit slots).
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
const REDB_VERSION_AT: [usize; 2] = [64, 192];
const REDB_FORMATS: std::ops::RangeInclusive<u8> = 1..=3;

pub struct RedbStore {
    path: PathBuf,
    /// `None` after a failed reopen: the next write tries again.
    db: RwLock<Option<Database>>,
    /// Batches waiting for the next commit (group commit, see the module).
    queue: Mutex<Queue>,
    /// Signalled when a commit ends: its writers return, and one of those
    /// still waiting leads the next commit.
    committed: Condvar,
    /// Set by [`RedbStore::close`]: the backend is stopping, nothing reopens.
    closed: std::sync::atomic::AtomicBool,
}

/// One write: its batch.
type Batch = Vec<(String, Option<Vec<u8>>)>;

/// The group commit's bookkeeping.
#[derive(Default)]
struct Queue {
    /// The next write's ticket.
    next: u64,
    /// Writes not yet taken by a commit, in the order they came.
    waiting: Vec<(u64, Batch)>,
    /// A commit is under way (its leader writes outside the lock).
    leading: bool,
    /// Outcomes of finished commits, per ticket, until their writer reads them.
    done: BTreeMap<u64, Result<(), String>>,
}

/// What a user reads when the database cannot be used at start: the file, the
/// cause, and that the file was left as it is.
fn refuse(path: &Path, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the database {} {what}; it was left as it is. Move it away to start with an empty \
         database (or put back a copy)",
        path.display()
    )
}

/// Check redb's header before redb opens the file (it would repair it).
fn check_header(path: &Path) -> anyhow::Result<()> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("cannot read the database {}", path.display()))?
        .take(256)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read the database {}", path.display()))?;
    if head.len() < 256 || head[..REDB_MAGIC.len()] != REDB_MAGIC {
        return Err(refuse(
            path,
            "is not a database this backend can read (it does not begin with redb's header): \
             it is corrupt, or not ours",
        ));
    }
    let newest = REDB_VERSION_AT
        .iter()
        .map(|&at| head[at])
        .max()
        .unwrap_or(0);
    if newest > *REDB_FORMATS.end() {
        return Err(refuse(
            path,
            &format!(
                "is in a newer file format (redb format {newest}, this build reads up to {}): \
                 a newer release of elasticache-local wrote it; run that release",
                REDB_FORMATS.end()
            ),
        ));
    }
    Ok(())
}

/// redb's error for `path`, with what it means for a user.
fn open_error(path: &Path, e: redb::DatabaseError) -> anyhow::Error {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => anyhow::anyhow!(
            "the database {} is open in another process (another elasticache-local?)",
            path.display()
        ),
        redb::DatabaseError::UpgradeRequired(v) => refuse(
            path,
            &format!("is in an old file format (redb format {v}) this build cannot read"),
        ),
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
            refuse(path, &format!("is corrupt ({m})"))
        }
        e => anyhow::anyhow!("cannot open the database {}: {e}", path.display()),
    }
}

/// redb's page cache: 1 MiB, enough for a transaction's pages (8 MiB let a
/// soak's resident memory keep growing while the cache filled up, drill 4).
const CACHE_BYTES: usize = 1 << 20;

/// Open (or create) the database file. redb caches up to 1 GiB of pages by
/// default: the resident memory of a long-running backend would grow with its
/// database. The control plane lives in memory anyway; the cache only has to
/// hold a transaction's pages.
fn create(path: &Path) -> Result<Database, redb::DatabaseError> {
    redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(path)
}

/// Write this build's schema marker and make the records' table.
fn set_schema(db: &Database) -> anyhow::Result<()> {
    let tx = db.begin_write()?;
    tx.open_table(META)?
        .insert("schema_version", SCHEMA_VERSION)?;
    tx.open_table(RECORDS)?;
    tx.commit()?;
    Ok(())
}

/// Make a new database at `path`, whole or not at all. redb writes its magic
/// number last when it makes a file, so a backend killed while its first start
/// made the database left a file without it, which no later start could open
/// (drill 1 found it: a SIGKILL 20 ms into a first start). The database is made
/// beside it (owner-only before redb writes a byte: records hold AUTH tokens and
/// password hashes), with its schema marker, and renamed into place once on disk.
fn create_new(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let fresh = path.with_extension("redb.new");
    // What a start killed during this left is redone from the start.
    let _ = std::fs::remove_file(&fresh);
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&fresh)
        .with_context(|| format!("cannot create the database {}", fresh.display()))?;
    {
        let db = create(&fresh).map_err(|e| open_error(&fresh, e))?;
        set_schema(&db)?;
    }
    std::fs::rename(&fresh, path)
        .with_context(|| format!("cannot create the database {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync the data directory {}", dir.display()))?;
    }
    Ok(())
}

impl RedbStore {
    /// Open (or create) `dir/state.redb`, checking and migrating its schema version.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let path = dir.join("state.redb");
        let empty = std::fs::metadata(&path).map_or(true, |m| m.len() == 0);
        if empty {
            create_new(&path)?;
        }
        // Owner-only: records hold AUTH tokens and user passwords' hashes (set
        // again on a file an older release made).
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} owner-only", path.display()))?;
        }
        check_header(&path)?;
        let db = create(&path).map_err(|e| open_error(&path, e))?;
        // The schema marker, read before anything is written.
        let found = {
            let tx = db.begin_read()?;
            match tx.open_table(META) {
                Ok(meta) => meta.get("schema_version")?.map(|v| v.value()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(v) = found.filter(|v| *v > SCHEMA_VERSION) {
            return Err(refuse(
                &path,
                &format!(
                    "was written by a newer release of elasticache-local (schema {v}, this \
                     build knows {SCHEMA_VERSION}); run that release"
                ),
            ));
        }
        if found != Some(SCHEMA_VERSION) {
            // New, or an older layout: record-level migration happens as
            // records load (each record carries its own version); set the marker.
            set_schema(&db)?;
        }
        Ok(Self {
            path,
            db: RwLock::new(Some(db)),
            queue: Mutex::new(Queue::default()),
            committed: Condvar::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue `batch` for the next commit; its ticket.
    fn enqueue(&self, batch: Batch) -> u64 {
        let mut q = self.queue();
        let ticket = q.next;
        q.next += 1;
        q.waiting.push((ticket, batch));
        ticket
    }

    /// Wait until the commit holding `ticket`'s batch is over: lead one when
    /// none is under way, taking every queued batch (see the module).
    fn wait_for(&self, ticket: u64) -> anyhow::Result<()> {
        let mut q = self.queue();
        loop {
            if let Some(r) = q.done.remove(&ticket) {
                return r.map_err(|e| anyhow::anyhow!(e));
            }
            if q.leading {
                q = self
                    .committed
                    .wait(q)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            // This batch is queued still (it has no outcome, and no commit
            // is under way): lead a commit of everything queued.
            q.leading = true;
            let round = std::mem::take(&mut q.waiting);
            drop(q);
            // A panic in the commit must not leave `leading` set (every
            // writer would wait for ever): it fails the round instead.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit(&round)))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the commit panicked")))
                .map_err(|e| format!("{e:#}"));
            q = self.queue();
            for (t, _) in &round {
                q.done.insert(*t, r.clone());
            }
            q.leading = false;
            self.committed.notify_all();
        }
    }

    /// One transaction holding `round`'s batches, applied in order.
    #[allow(clippy::result_large_err)] // redb's own error, for one call (as in `Store`)
    fn commit(&self, round: &[(u64, Batch)]) -> anyhow::Result<()> {
        self.with_db(|db| {
            let tx = db.begin_write()?;
            {
                let mut table = tx.open_table(RECORDS)?;
                for (k, v) in round.iter().flat_map(|(_, b)| b) {
                    match v {
                        Some(v) => {
                            table.insert(k.as_str(), v.as_slice())?;
                        }
                        None => {
                            table.remove(k.as_str())?;
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Run `f` on the database; after an I/O error (which redb keeps refusing
    /// every write for), reopen it first. Errors name the file and the cause.
    #[allow(clippy::result_large_err)]
    fn with_db<T>(&self, f: impl Fn(&Database) -> Result<T, redb::Error>) -> anyhow::Result<T> {
        // `None`: the instance failed an earlier I/O and must be reopened.
        let attempt = |db: &Database| match f(db) {
            Ok(v) => Some(Ok(v)),
            Err(redb::Error::PreviousIo) => None,
            Err(e) => Some(Err(self.write_error(e))),
        };
        {
            let guard = self
                .db
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(r) = guard.as_ref().and_then(attempt) {
                return r;
            }
        }
        let mut guard = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Another caller may have reopened it meanwhile.
        if let Some(r) = guard.as_ref().and_then(attempt) {
            return r;
        }
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            anyhow::bail!(
                "the database {} is closed: the backend is stopping",
                self.path.display()
            );
        }
        // Close the failed instance (releasing its file lock), then reopen.
        drop(guard.take());
        tracing::warn!(path = %self.path.display(), "reopening the database after an I/O error");
        let db = create(&self.path).map_err(|e| {
            anyhow::anyhow!("cannot write the database {}: {e}", self.path.display())
        })?;
        let out = f(&db).map_err(|e| self.write_error(e));
        *guard = Some(db);
        out
    }

    /// Close the database, as a stop by signal does: a commit under way ends
    /// first, redb records a clean shutdown, and later reads and writes fail
    /// (nothing reopens it). A kill loses nothing either: every answered
    /// change is already durable.
    pub fn close(&self) {
        let mut guard = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(guard.take());
    }

    fn write_error(&self, e: redb::Error) -> anyhow::Error {
        anyhow::anyhow!("cannot write the database {}: {e}", self.path.display())
    }
}

// The closures answer redb's own error (160 bytes), as redb's calls do; it
// lives for one call.
#[allow(clippy::result_large_err)]
impl Store for RedbStore {
    fn load_all(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(RECORDS)?;
            let mut out = Vec::new();
            for item in table.iter()? {
                let (k, v) = item?;
                out.push((k.value().to_owned(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    fn range(&self, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(RECORDS)?;
            let mut out = Vec::new();
            for item in table.range(from..to)?.take(limit) {
                let (k, v) = item?;
                out.push((k.value().to_owned(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    fn put(&self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.submit(vec![(key.to_owned(), Some(value.to_vec()))])
            .wait()
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.submit(vec![(key.to_owned(), None)]).wait()
    }

    fn write(&self, batch: &[(String, Option<Vec<u8>>)]) -> anyhow::Result<()> {
        self.submit(batch.to_vec()).wait()
    }

    fn submit(&self, batch: Vec<(String, Option<Vec<u8>>)>) -> Box<dyn Pending + '_> {
        Box::new(Queued {
            store: self,
            ticket: Some(self.enqueue(batch)),
        })
    }
}

/// A batch in the group commit's queue.
struct Queued<'a> {
    store: &'a RedbStore,
    /// `None` once waited for.
    ticket: Option<u64>,
}

impl Pending for Queued<'_> {
    fn wait(mut self: Box<Self>) -> anyhow::Result<()> {
        match self.ticket.take() {
            Some(t) => self.store.wait_for(t),
            None => Ok(()),
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            let _ = self.store.wait_for(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RedbStore::open(dir.path()).unwrap();
            super::super::store_suite(&s);
        }
        let s = RedbStore::open(dir.path()).unwrap();
        assert_eq!(s.load_all().unwrap().len(), 2);
    }

    /// Issue 15: concurrent writers are group-committed; every write that
    /// returned is in the database after a reopen, each batch whole, and one
    /// writer's later write of a key wins over its earlier one.
    #[test]
    fn concurrent_writes_are_each_durable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = std::sync::Arc::new(RedbStore::open(dir.path()).unwrap());
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        for i in 0..25 {
                            s.write(&[
                                (format!("a/{t}/{i}"), Some(vec![1])),
                                (format!("b/{t}/{i}"), Some(vec![2])),
                            ])
                            .unwrap();
                            s.put(&format!("last/{t}"), &[i]).unwrap();
                        }
                        s.delete(&format!("b/{t}/0")).unwrap();
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        let all: BTreeMap<String, Vec<u8>> = RedbStore::open(dir.path())
            .unwrap()
            .load_all()
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(all.len(), 8 * (25 + 24 + 1));
        for t in 0..8 {
            assert_eq!(all[&format!("last/{t}")], vec![24]);
            assert!(!all.contains_key(&format!("b/{t}/0")));
            for i in 0..25 {
                assert_eq!(all[&format!("a/{t}/{i}")], vec![1]);
            }
        }
    }

    /// Drill 1: a start killed while it made the database leaves no file that
    /// later starts refuse: what it left beside it (a half-made database) and
    /// an empty file are made anew.
    #[test]
    fn a_database_is_made_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        // A half-made database beside it, as a kill mid-create leaves it.
        std::fs::write(path.with_extension("redb.new"), [0u8; 4096]).unwrap();
        let s = RedbStore::open(dir.path()).unwrap();
        s.put("k", b"v").unwrap();
        drop(s);
        assert!(!path.with_extension("redb.new").exists());
        assert_eq!(
            RedbStore::open(dir.path())
                .unwrap()
                .load_all()
                .unwrap()
                .len(),
            1
        );
        // An empty file (what an older release made first) is a new database.
        std::fs::write(&path, b"").unwrap();
        let s = RedbStore::open(dir.path()).unwrap();
        assert!(s.load_all().unwrap().is_empty());
        assert_eq!(
            &std::fs::read(&path).unwrap()[..REDB_MAGIC.len()],
            &REDB_MAGIC
        );
    }

    /// Issue 17 (drill 6): the database holds secrets; only its owner reads it.
    #[test]
    fn the_database_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        drop(RedbStore::open(dir.path()).unwrap());
        let path = dir.path().join("state.redb");
        assert_eq!(mode(&path), 0o600);
        // A database an older release left readable is made owner-only.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = RedbStore::open(dir.path()).unwrap();
        assert_eq!(mode(&path), 0o600);
        s.put("k", b"v").unwrap();
        assert_eq!(s.load_all().unwrap().len(), 1);
    }

    /// Issue 17 (drill 5): a file that is not a database, a newer file format
    /// and a newer schema are refused with a message naming the file, and the
    /// file is left byte for byte as it was.
    #[test]
    fn a_database_it_cannot_read_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RedbStore::open(dir.path()).unwrap();
            s.put("k", b"v").unwrap();
        }
        let path = dir.path().join("state.redb");
        let good = std::fs::read(&path).unwrap();
        let refused = |bytes: &[u8], says: &str| {
            std::fs::write(&path, bytes).unwrap();
            let err = format!("{:#}", RedbStore::open(dir.path()).err().expect("refused"));
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains(says), "{err}");
            assert!(err.contains("left as it is"), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file was changed");
        };
        refused(&[0x42; 8192], "not a database");
        let mut newer_format = good.clone();
        newer_format[64] = 4;
        newer_format[192] = 4;
        refused(&newer_format, "newer file format");
        // A newer release's schema marker.
        std::fs::write(&path, &good).unwrap();
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(META)
                .unwrap()
                .insert("schema_version", SCHEMA_VERSION + 1)
                .unwrap();
            tx.commit().unwrap();
        }
        let newer = std::fs::read(&path).unwrap();
        refused(&newer, "newer release");
        // The good one opens, with its record.
        std::fs::write(&path, &good).unwrap();
        assert_eq!(
            RedbStore::open(dir.path())
                .unwrap()
                .load_all()
                .unwrap()
                .len(),
            1
        );
    }
}
