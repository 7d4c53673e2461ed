//! cty JSON (`DynamicValue.json`, stored state) against a schema type: see `tfplugin::fuzzing::json`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tfplugin::fuzzing::json(data));
