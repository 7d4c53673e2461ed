//! The whole request path: see `elasticache_local::fuzzing::Harness::request`.
#![no_main]
use std::sync::OnceLock;

static HARNESS: OnceLock<elasticache_local::fuzzing::Harness> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    HARNESS
        .get_or_init(elasticache_local::fuzzing::Harness::new)
        .request(data);
});
