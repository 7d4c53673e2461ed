//! An in-memory store, for `--data-dir` less runs and tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::Store;

#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Store for MemoryStore {
    fn load_all(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let map = self
            .map
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn put(&self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        map.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        map.remove(key);
        Ok(())
    }

    fn range(&self, from: &str, to: &str, limit: usize) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let map = self
            .map
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        Ok(map
            .range::<str, _>((
                std::ops::Bound::Included(from),
                std::ops::Bound::Excluded(to),
            ))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, batch: &[(String, Option<Vec<u8>>)]) -> anyhow::Result<()> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        for (k, v) in batch {
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn suite() {
        super::super::store_suite(&super::MemoryStore::default());
    }
}
