//! `DynamicValue.msgpack` against a schema type: see `tfplugin::fuzzing::msgpack`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tfplugin::fuzzing::msgpack(data));
