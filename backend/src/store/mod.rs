//! Persistence of the control plane behind one small trait.
//!
//! Records are opaque bytes keyed by `kind/account/region/id`; the model
//! serialises them (JSON with a schema version, see [`crate::model::record`]).
//! `redb` is the embedded database: pure Rust (no C toolchain), ACID with a
//! crash-safe commit per write, one file under the data directory.

mod memory;
mod redb_store;

pub use memory::MemoryStore;
pub use redb_store::RedbStore;

/// The version of the on-disk layout this build writes. Older layouts are
/// migrated on open (see `RedbStore::open`).
pub const SCHEMA_VERSION: u32 = 1;

pub trait Store: Send + Sync + 'static {
    /// Every record, for loading the control plane at start.
    fn load_all(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>>;
    /// Insert or replace one record, durably.
    fn put(&self, key: &str, value: &[u8]) -> anyhow::Result<()>;
    /// Remove one record (no error when absent).
    fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// The first `limit` records whose keys are in `from..to`, in key order
    /// (records that need not stay in memory are read this way when asked for).
    fn range(&self, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<(String, Vec<u8>)>>;
    /// Several puts (`Some`) and deletes (`None`) in one durable transaction:
    /// after a crash either all of them are there or none.
    fn write(&self, batch: &[(String, Option<Vec<u8>>)]) -> anyhow::Result<()>;
    /// Queue a batch (as [`write`](Self::write) takes it) for the next
    /// commit and return at once: batches are stored in the order they were
    /// submitted (a later one never under an earlier one), and one is durable
    /// once its [`Pending::wait`] answers `Ok`. A caller fixes the order of
    /// its write under its own lock and waits for the commit outside it. By
    /// default the write happens here.
    fn submit(&self, batch: Vec<(String, Option<Vec<u8>>)>) -> Box<dyn Pending + '_> {
        Box::new(Written(self.write(&batch)))
    }
}

/// A batch [`Store::submit`] queued. Dropped without `wait`, it is still
/// stored (the drop waits).
pub trait Pending {
    /// Wait until the batch is durable (or its commit failed).
    fn wait(self: Box<Self>) -> anyhow::Result<()>;
}

/// A batch written when it was submitted.
struct Written(anyhow::Result<()>);

impl Pending for Written {
    fn wait(self: Box<Self>) -> anyhow::Result<()> {
        self.0
    }
}

#[cfg(test)]
pub(crate) fn store_suite(s: &dyn Store) {
    s.put("cluster/000000000000/us-east-1/a", b"1").unwrap();
    s.put("cluster/000000000000/us-east-1/b", b"2").unwrap();
    s.put("cluster/000000000000/us-east-1/a", b"3").unwrap();
    s.delete("cluster/000000000000/us-east-1/b").unwrap();
    s.delete("cluster/000000000000/us-east-1/none").unwrap();
    assert_eq!(
        s.range("cluster/", "cluster0", 10).unwrap(),
        vec![("cluster/000000000000/us-east-1/a".to_owned(), b"3".to_vec())]
    );
    assert!(s.range("cluster/", "cluster0", 0).unwrap().is_empty());
    assert!(s.range("event/", "event0", 10).unwrap().is_empty());
    let all = s.load_all().unwrap();
    assert_eq!(
        all,
        vec![("cluster/000000000000/us-east-1/a".to_owned(), b"3".to_vec())]
    );
    s.write(&[
        ("cluster/000000000000/us-east-1/a".to_owned(), None),
        (
            "cluster/000000000000/us-east-1/c".to_owned(),
            Some(b"4".to_vec()),
        ),
        (
            "replicationgroup/000000000000/us-east-1/g".to_owned(),
            Some(b"5".to_vec()),
        ),
    ])
    .unwrap();
    let all = s.load_all().unwrap();
    assert_eq!(
        all,
        vec![
            ("cluster/000000000000/us-east-1/c".to_owned(), b"4".to_vec()),
            (
                "replicationgroup/000000000000/us-east-1/g".to_owned(),
                b"5".to_vec()
            ),
        ]
    );
}
