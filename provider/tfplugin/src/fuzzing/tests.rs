//! The short form of drill 3, in `cargo test`: every kept corpus file and
//! crash file of each target replayed (`provider/tfplugin/fuzz/corpus/<target>/`,
//! `provider/tfplugin/fuzz/regressions/<target>/`), then a seeded generator's inputs
//! (mutations of the corpus and of dictionary words). `FUZZ_ITERATIONS=<n>`
//! runs more of them, `FUZZ_SEED=<n>` repeats a run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use super::*;

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target)
}

/// The files of a target's corpus or regressions, sorted.
fn files(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(dir(kind, target)) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Vec<u8>)> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    out.sort();
    out
}

/// Run `f` on `input`; a failure names the input.
fn run(what: &str, input: &[u8], f: &dyn Fn(&[u8])) {
    if catch_unwind(AssertUnwindSafe(|| f(input))).is_err() {
        panic!(
            "{what} failed on input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// A small xorshift generator: no dependency, the same inputs for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap()
    }
}

/// One input from the seeds: a seed with one to four mutations (byte changes,
/// insertions and deletions, a dictionary word, a splice of another seed).
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], words: &[&[u8]]) -> Vec<u8> {
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = u8::try_from(rng.next() & 0xff).unwrap();
            }
            1 => v.insert(at, u8::try_from(rng.next() & 0xff).unwrap()),
            2 if at < v.len() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            3 | 4 => {
                let w = words[rng.below(words.len())];
                v.splice(at..at, w.iter().copied());
            }
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
        }
    }
    v
}

/// Replay a target's kept files, then `n` generated inputs.
fn short_form(target: &str, builtin: &[&[u8]], words: &[&[u8]], n: usize, f: &dyn Fn(&[u8])) {
    let mut seeds: Vec<Vec<u8>> = builtin.iter().map(|s| s.to_vec()).collect();
    for kind in ["regressions", "corpus"] {
        for (path, bytes) in files(kind, target) {
            run(&path.display().to_string(), &bytes, f);
            seeds.push(bytes);
        }
    }
    let n = std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n);
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0017_u64);
    let mut rng = Rng(seed | 1);
    for i in 0..n {
        let input = mutate(&mut rng, &seeds, words);
        run(
            &format!("{target} (FUZZ_SEED={seed}, input {i})"),
            &input,
            f,
        );
    }
}

#[test]
fn msgpack_short_form() {
    short_form(
        "msgpack",
        &[
            b"\x00\xa5hello",
            b"\x01\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18",
            b"\x03\x92\xa8\"string\"\xa1x",
            b"\x06\x82\xa1a\xa1b\xa1c\xc0",
            b"\x07\x93\xa1s\x2a\x92\xa6\"bool\"\xc3",
            b"\x0a\x83\xa2id\xa1x\xa4tags\x81\xa1k\xa1v\xb0primary_endpoint\x91\x82\xa7address\xa1h\xa4port\xcd\x18\xeb",
            b"\x05\x92\xd4\x00\x00\xc7\x03\x0c\x81\x01\xc3",
            b"\xff[\"list\",[\"object\",{\"a\":\"number\"}]]\n\x91\x81\xa1a\xa31.5",
        ],
        &[
            b"\xc0", b"\xc3", b"\x90", b"\x91", b"\x92", b"\x80", b"\x81", b"\xa1a", b"\xd4\x00\x00",
            b"\xc7\x01\x0c\x80", b"\xcb", b"\xcf", b"\xd3", b"\xdc\xff\xff", b"\xdd\xff\xff\xff\xff",
            b"\xdf\x00\x00\x00\x10", b"\xc6\xff\xff\xff\xff", b"\xa7\"number\"", b"\xa9\"dynamic\"",
            b"\xb0[\"list\",\"bool\"]", b"\xa2id", b"\xa4tags", b"\xa5extra",
        ],
        20_000,
        &msgpack,
    );
}

#[test]
fn json_short_form() {
    short_form(
        "json",
        &[
            b"\x00\x00\"hello\"",
            b"\x01\x00-1.5e3",
            b"\x03\x00{\"type\":[\"list\",\"number\"],\"value\":[1,2]}",
            b"\x05\x00[\"a\",\"a\",\"b\"]",
            b"\x0a\x01{\"id\":\"x\",\"gone\":1,\"tags\":{\"k\":\"v\"},\"timeouts\":null}",
            b"\xff[\"tuple\",[\"bool\",\"string\"]]\n\x00[true,\"s\"]",
        ],
        &[
            b"null",
            b"true",
            b"\"true\"",
            b"[b",
            b"]",
            b"{",
            b"}",
            b",b",
            b":",
            b"\"",
            b"\\u0000",
            b"\\ud800",
            b"1e99999",
            b"-0",
            b"0.000",
            b"{\"type\":",
            b",\"value\":",
            b"\"dynamic\"",
            b"[\"list\",b",
        ],
        20_000,
        &json,
    );
}

/// A dynamic value whose type is `dynamic` again, nested deeper than any
/// type or value Terraform sends, is refused with a diagnostic (it overflowed
/// the stack: every level of nesting was a level of recursion).
#[test]
fn deeply_nested_dynamic_msgpack_is_a_diagnostic() {
    let mut input = vec![0x03]; // Type::Dynamic
    for _ in 0..200_000 {
        input.extend_from_slice(b"\x92\xa9\"dynamic\"");
    }
    input.push(0xc0);
    msgpack(&input);
    let mut input = vec![0x08]; // list(dynamic)
    for _ in 0..200_000 {
        input.extend_from_slice(b"\x91\x92\xb2[\"list\",\"dynamic\"]");
    }
    input.push(0x90);
    msgpack(&input);
}

/// The same in JSON, as deep as its reader lets values nest.
#[test]
fn deeply_nested_dynamic_json_is_a_diagnostic() {
    for levels in [200, 255, 600, 100_000] {
        let mut input = vec![0x03, 0x00]; // Type::Dynamic
        for _ in 0..levels {
            input.extend_from_slice(b"{\"type\":\"dynamic\",\"value\":");
        }
        input.extend_from_slice(b"null");
        input.extend(std::iter::repeat_n(b'}', levels));
        json(&input);
    }
}
