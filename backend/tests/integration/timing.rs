//! Create-to-available times, printed (never asserted):
//! `TIMING runtime=<rt> redis_1node_create_to_available_ms=… memcached_3node_create_to_available_ms=…`.

use std::time::Instant;

use crate::common::{self, delete_cluster, wait_cluster, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timing_create_to_available() {
    for rt in common::runtimes() {
        let b = Backend::start(&rt);
        let c = b.client();
        let mut line = format!("TIMING runtime={rt}");
        for (engine, nodes, label) in [
            ("redis", 1, "redis_1node"),
            ("memcached", 3, "memcached_3node"),
        ] {
            let id = common::name("timing");
            let t0 = Instant::now();
            c.create_cache_cluster()
                .cache_cluster_id(&id)
                .engine(engine)
                .cache_node_type("cache.t3.micro")
                .num_cache_nodes(nodes)
                .send()
                .await
                .unwrap();
            wait_cluster(&c, &id, "available").await;
            let ms = t0.elapsed().as_millis();
            line.push_str(&format!(" {label}_create_to_available_ms={ms}"));
            delete_cluster(&c, &id).await;
        }
        println!("{line}");
        eprintln!("{line}");
    }
}
