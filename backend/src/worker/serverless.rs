//! Serverless caches: their engines are an ordinary (hidden) replication group
//! or Memcached cluster, which the other passes run; this pass settles each
//! cache's status on them (a rule of the model) and pushes what the engines
//! take live beyond parameters: a Memcached cache's memory limit.

use super::Reconciler;
use crate::engine::{resp, EngineKind};
use crate::model::lifecycle;

impl Reconciler {
    pub(super) async fn serverless(&self) {
        for (scope, c) in self.cp.all_serverless_caches() {
            if c.engine != EngineKind::Memcached || c.status != lifecycle::MODIFYING {
                continue;
            }
            // Memcached takes a new memory limit live (`cache_memlimit`, in MB).
            let Some(cl) = self.cp.serverless_backing_cluster(&scope, &c) else {
                continue;
            };
            let Some(bytes) = cl.memory_limit else {
                continue;
            };
            for n in &cl.nodes {
                let line = format!("cache_memlimit {}", (bytes >> 20).max(1));
                if let Err(e) = resp::memcached_line(n.host, n.port, true, &line).await {
                    tracing::warn!(cache = %c.name, error = %e, "cache_memlimit");
                }
            }
        }
        self.cp.settle_serverless_caches();
    }
}
