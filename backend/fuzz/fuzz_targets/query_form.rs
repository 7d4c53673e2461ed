//! The Query form decoder of every operation: see `elasticache_local::fuzzing::query_form`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| elasticache_local::fuzzing::query_form(data));
