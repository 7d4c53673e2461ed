//! The embedded database: one redb file, two tables (`meta`, `records`).

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};

use super::{Store, SCHEMA_VERSION};

const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");

pub struct RedbStore {
    db: Database,
}

/// redb's page cache.
const CACHE_BYTES: usize = 8 << 20;

impl RedbStore {
    /// Open (or create) `dir/state.redb`, checking and migrating its schema version.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("state.redb");
        // Owner-only: records hold AUTH tokens and user passwords' hashes.
        // Made so before redb writes a byte (an empty file is a new database),
        // and set again on a file an older release made.
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        // redb caches up to 1 GiB of pages by default: the resident memory of
        // a long-running backend would grow with its database (the soak drill
        // saw it). The whole control plane lives in memory anyway; the cache
        // only has to hold a transaction's pages.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)?;
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            match found {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v == SCHEMA_VERSION => {}
                Some(v) if v > SCHEMA_VERSION => {
                    anyhow::bail!(
                        "{} was written by a newer release (schema {v}, this build knows {SCHEMA_VERSION})",
                        dir.display()
                    );
                }
                // Older layouts: record-level migration happens as records load
                // (each record carries its own version); bump the marker.
                Some(_) => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
            }
            tx.open_table(RECORDS)?;
        }
        tx.commit()?;
        Ok(Self { db })
    }
}

impl Store for RedbStore {
    fn load_all(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(RECORDS)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            let (k, v) = item?;
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn put(&self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        let tx = self.db.begin_write()?;
        tx.open_table(RECORDS)?.insert(key, value)?;
        tx.commit()?;
        Ok(())
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        let tx = self.db.begin_write()?;
        tx.open_table(RECORDS)?.remove(key)?;
        tx.commit()?;
        Ok(())
    }

    fn write(&self, batch: &[(String, Option<Vec<u8>>)]) -> anyhow::Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(RECORDS)?;
            for (k, v) in batch {
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
}
