//! SigV4 header and presigned-credential parsing: see `elasticache_local::fuzzing::sigv4`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| elasticache_local::fuzzing::sigv4(data));
