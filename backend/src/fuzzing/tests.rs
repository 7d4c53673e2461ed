//! The short form of drill 3, in `cargo test`: every kept corpus file and
//! crash file of each target replayed (`backend/fuzz/corpus/<target>/`,
//! `backend/fuzz/regressions/<target>/`), then a seeded generator's inputs
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

const FORM_WORDS: &[&[u8]] = &[
    b"&",
    b"=",
    b".",
    b".1",
    b".member.1",
    b"%00",
    b"%FF",
    b"%C3%A9",
    b"+",
    b"Action=",
    b"Version=2015-02-02",
    b"CacheClusterId=c",
    b"ReplicationGroupId=g",
    b"NumCacheNodes=",
    b"Tags.Tag.1.Key=k",
    b"Tags.Tag.1.Value=v",
    b"SubnetIds.SubnetIdentifier.1=s",
    b"NodeGroupConfiguration.NodeGroupConfiguration.1.ReplicaCount=",
    b"StartTime=",
    b"Duration=",
    b"true",
    b"false",
    b"-1",
    b"99999999999999999999",
    b"1e309",
    b"NaN",
    b"2026-01-01T00:00:00Z",
    b"1767225600.5",
    b"-9e18",
    b"sls--x",
];

#[test]
fn query_form_short_form() {
    short_form(
        "query_form",
        &[
            b"\x10CacheClusterId=c&NumCacheNodes=2&Engine=redis",
            b"\x20ReplicationGroupId=g&ReplicationGroupDescription=d&NodeGroupConfiguration.NodeGroupConfiguration.1.ReplicaCount=1",
            b"\x30StartTime=2026-01-01T00:00:00Z&Duration=60",
        ],
        FORM_WORDS,
        20_000,
        &query_form,
    );
}

#[test]
fn sigv4_short_form() {
    short_form(
        "sigv4",
        &[
            b"AWS4-HMAC-SHA256 Credential=AKIDFUZZEXAMPLE/20260101/us-east-1/elasticache/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000\n20260101T000000Z\nPOST\n/\n\nhost: localhost\n\nAction=DescribeCacheClusters",
        ],
        &[
            b"AWS4-HMAC-SHA256",
            b" Credential=",
            b", SignedHeaders=",
            b", Signature=",
            b"/aws4_request",
            b"AKIDFUZZEXAMPLE",
            b"123456789012",
            b"20260101T000000Z",
            b"20260101",
            b"host",
            b";",
            b"\n",
            b"X-Amz-Credential=",
            b"x-amz-content-sha256: b",
            b"%2F",
            b"&",
            b"=",
        ],
        5_000,
        &sigv4,
    );
}

#[test]
fn request_short_form() {
    let h = Harness::new();
    short_form(
        "request",
        &[
            b"POST /\ncontent-type: application/x-www-form-urlencoded\n\nAction=CreateCacheCluster&Version=2015-02-02&CacheClusterId=c&Engine=redis&CacheNodeType=cache.t3.micro&NumCacheNodes=1\n===\nGET /?Action=DescribeCacheClusters&Version=2015-02-02\n",
            b"POST /\n\nAction=CreateReplicationGroup&ReplicationGroupId=g&ReplicationGroupDescription=d&NumCacheClusters=2&Engine=redis\n===\nPOST /\n\nAction=ModifyReplicationGroup&ReplicationGroupId=g&ApplyImmediately=true&AutomaticFailoverEnabled=true",
            b"!strict\nPOST /\nauthorization: AWS4-HMAC-SHA256 Credential=AKIDFUZZEXAMPLE/20260101/us-east-1/elasticache/aws4_request, SignedHeaders=host, Signature=00\nx-amz-date: 20260101T000000Z\n\nAction=DescribeEvents",
            b"GET /\naccept: text/html\n\n",
        ],
        &[
            b"Action=",
            b"&Version=2015-02-02",
            b"CreateCacheCluster",
            b"CreateReplicationGroup",
            b"CreateUser",
            b"CreateUserGroup",
            b"CreateSnapshot",
            b"CreateCacheParameterGroup",
            b"CreateCacheSubnetGroup",
            b"DescribeCacheClusters",
            b"DescribeEvents",
            b"DeleteCacheCluster",
            b"ModifyCacheCluster",
            b"AddTagsToResource",
            b"&CacheClusterId=",
            b"&ReplicationGroupId=",
            b"&Engine=memcached",
            b"&Engine=valkey",
            b"&NumCacheNodes=",
            b"&ResourceName=arn:aws:elasticache:us-east-1:000000000000:cluster:c",
            b"\n===\n",
            b"%00",
            b"-1",
            b"99999999999",
        ],
        1_500,
        &|d| h.request(d),
    );
}
