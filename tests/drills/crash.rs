//! Drill 1, crash at any point: rounds of a workload against a real backend,
//! SIGKILLed at a random moment of each round and started again on the same
//! data directory; then the invariants.
//!
//! Invariants after each round (a round survives when all hold):
//! - every acknowledged create is there and reaches `available` (an
//!   acknowledged create never ends `create-failed`); every acknowledged
//!   modification's effect is there; every acknowledged delete is done;
//! - every resource the kill left in doubt converges to `available`, a clean
//!   failure state (`create-failed`) or gone;
//! - the engines running are exactly the nodes described, one each; no node
//!   directory or pid file is left of a node that is not described; every
//!   address of a deleted resource (nodes, endpoints, proxies) is closed;
//! - the database opens (the backend starts again on it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::Client;

use crate::harness::{self, Backend, Rng};

/// What a request came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with success: its effect must be there.
    Acked,
    /// Answered with an error: it must have changed nothing (or it was refused
    /// for the resource's state, which the drill tolerates).
    Refused,
    /// Cut off by the kill: either way is fine, as long as it converges.
    Unknown,
}

fn outcome<T, E: std::fmt::Debug>(
    r: &Result<T, aws_sdk_elasticache::error::SdkError<E>>,
) -> Outcome {
    match r {
        Ok(_) => Outcome::Acked,
        Err(aws_sdk_elasticache::error::SdkError::ServiceError(_)) => Outcome::Refused,
        Err(_) => Outcome::Unknown,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A Redis cluster of one node.
    Redis,
    /// A Memcached cluster of two nodes.
    Memcached,
    /// A replication group, 1 primary + 1 replica, automatic failover on.
    Group,
    /// A cluster-mode replication group: 2 shards of 1 node.
    Sharded,
    /// A Redis cluster restored from a snapshot.
    Restore,
}

impl Kind {
    fn is_group(self) -> bool {
        matches!(self, Kind::Group | Kind::Sharded)
    }
}

/// One resource the drill made.
#[derive(Debug, Clone)]
pub struct Res {
    pub id: String,
    pub kind: Kind,
    pub created: Outcome,
    pub deleted: Option<Outcome>,
    /// An acknowledged modification whose effect must show: (what, expected).
    pub modified: Option<(String, String)>,
}

/// A workload: what a round does besides creating and deleting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// The reproduction: 16 concurrent creates (Redis, 2-node
    /// Memcached, 1+1 groups) while the previous round's are deleted.
    Churn,
    /// Creates and deletes of every kind (cluster-mode groups and restores
    /// too), modifications, snapshots, failovers, users and user groups.
    Mixed,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Churn => "churn",
            Workload::Mixed => "mixed",
        }
    }
}

/// A create's or delete's answer: (id, kind, outcome, "create" or "delete").
type Answer = (String, Kind, Outcome, &'static str);
/// Another request's answer: (what, outcome, the effect to check).
type Other = (String, Outcome, Option<(String, String)>);

/// What one drill run found.
#[derive(Debug, Default)]
pub struct Report {
    pub rounds: usize,
    pub survived: usize,
    pub kills: usize,
    pub acked_creates: usize,
    pub acked_deletes: usize,
    pub acked_other: usize,
    pub failures: Vec<String>,
}

const CONVERGE: Duration = Duration::from_secs(150);

pub struct Drill {
    pub backend: Backend,
    pub rng: Rng,
    pub prefix: String,
    pub workload: Workload,
    /// Resources alive (or in doubt) now, by id.
    pub live: BTreeMap<String, Res>,
    /// Resources deleted: their node addresses and endpoints must be closed.
    pub gone_addrs: Vec<(String, u16, String)>,
    /// Users made by the drill, with the password last acknowledged.
    pub users: BTreeMap<String, Outcome>,
    pub snapshots: BTreeMap<String, Outcome>,
    /// Long-lived resources of the mixed workload (never deleted in a round).
    pub fixtures: Vec<String>,
    pub report: Report,
}

impl Drill {
    pub fn new(runtime: &str, data_dir: &Path, workload: Workload, seed: u64) -> Self {
        let mut backend = Backend::new(runtime, data_dir, &[]);
        backend.start();
        let mut rng = Rng::new(seed);
        let prefix = format!("d{:x}", rng.next() % 0xfffff);
        Self {
            backend,
            rng,
            prefix,
            workload,
            live: BTreeMap::new(),
            gone_addrs: Vec::new(),
            users: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            fixtures: Vec::new(),
            report: Report::default(),
        }
    }

    fn client(&self) -> Client {
        self.backend.client()
    }

    /// The mixed workload's long-lived resources: a Redis cluster to snapshot,
    /// a 1+1 group to fail over, a Memcached cluster to modify.
    pub async fn setup(&mut self) {
        if self.workload != Workload::Mixed {
            return;
        }
        let c = self.client();
        let (r, g, m) = (
            format!("{}-fx-redis", self.prefix),
            format!("{}-fx-group", self.prefix),
            format!("{}-fx-mc", self.prefix),
        );
        for (id, kind) in [(&r, Kind::Redis), (&g, Kind::Group), (&m, Kind::Memcached)] {
            assert_eq!(
                create(&c, id, kind, None).await,
                Outcome::Acked,
                "fixture {id}"
            );
        }
        for (id, kind) in [(&r, Kind::Redis), (&g, Kind::Group), (&m, Kind::Memcached)] {
            wait_settled(&c, id, kind).await;
            self.live.insert(
                id.clone(),
                Res {
                    id: id.clone(),
                    kind,
                    created: Outcome::Acked,
                    deleted: None,
                    modified: None,
                },
            );
        }
        self.fixtures = vec![r, g, m];
    }

    /// One round: the workload, a SIGKILL at a random moment, a restart, the
    /// invariants. Whether the round survived.
    pub async fn round(&mut self, n: usize) -> bool {
        let c = self.client();
        let kinds: &[Kind] = match self.workload {
            Workload::Churn => &[Kind::Redis, Kind::Memcached, Kind::Group],
            Workload::Mixed => &[
                Kind::Redis,
                Kind::Memcached,
                Kind::Group,
                Kind::Sharded,
                Kind::Restore,
            ],
        };
        let creates = match self.workload {
            Workload::Churn => 16,
            Workload::Mixed => 10,
        };
        // Deletes of every resource of earlier rounds (not the fixtures).
        let doomed: Vec<Res> = self
            .live
            .values()
            .filter(|r| !self.fixtures.contains(&r.id) && r.deleted != Some(Outcome::Acked))
            .cloned()
            .collect();
        for r in &doomed {
            self.remember_addrs(&c, r).await;
        }
        let snapshot = self
            .snapshots
            .iter()
            .find(|(_, o)| **o == Outcome::Acked)
            .map(|(s, _)| s.clone());
        let mut plan: Vec<(String, Kind)> = Vec::new();
        for i in 0..creates {
            let kind = kinds[i % kinds.len()];
            if kind == Kind::Restore && snapshot.is_none() {
                continue;
            }
            plan.push((format!("{}-r{n}-{i}", self.prefix), kind));
        }
        let results: Arc<Mutex<Vec<Answer>>> = Arc::default();
        let mut tasks = Vec::new();
        for (id, kind) in plan.clone() {
            let (c, results, snap) = (c.clone(), results.clone(), snapshot.clone());
            tasks.push(tokio::spawn(async move {
                let o = create(&c, &id, kind, snap.as_deref()).await;
                results.lock().unwrap().push((id, kind, o, "create"));
            }));
        }
        for r in doomed {
            let (c, results) = (c.clone(), results.clone());
            tasks.push(tokio::spawn(async move {
                let o = delete(&c, &r.id, r.kind).await;
                results
                    .lock()
                    .unwrap()
                    .push((r.id, r.kind, outcome(&o), "delete"));
            }));
        }
        let mut others: Vec<tokio::task::JoinHandle<Other>> = Vec::new();
        if self.workload == Workload::Mixed {
            others = self.mixed_ops(&c, n);
        }
        // The kill, 20–500 ms in.
        let delay = self.rng.range(20, 500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        self.backend.kill();
        self.report.kills += 1;
        for t in tasks {
            let _ = t.await;
        }
        let mut other_results = Vec::new();
        for t in others {
            if let Ok(r) = t.await {
                other_results.push(r);
            }
        }
        // Book what was acknowledged.
        let mut tally: BTreeMap<(&str, String), usize> = BTreeMap::new();
        for (_, _, o, what) in results.lock().unwrap().iter() {
            *tally.entry((what, format!("{o:?}"))).or_default() += 1;
        }
        eprintln!("round {n} ({}): answers {tally:?}", self.workload.name());
        for (id, kind, o, what) in results.lock().unwrap().drain(..) {
            if what == "create" {
                if o == Outcome::Acked {
                    self.report.acked_creates += 1;
                }
                if o != Outcome::Refused {
                    self.live.insert(
                        id.clone(),
                        Res {
                            id,
                            kind,
                            created: o,
                            deleted: None,
                            modified: None,
                        },
                    );
                }
            } else if let Some(r) = self.live.get_mut(&id) {
                if o == Outcome::Acked {
                    self.report.acked_deletes += 1;
                }
                r.deleted = Some(o);
            }
        }
        for (what, o, effect) in other_results {
            if o == Outcome::Acked {
                self.report.acked_other += 1;
            }
            self.book_other(&what, o, effect);
        }
        // Restart on the same data directory: the database opens.
        self.backend.start();
        let failures = self.check(n).await;
        eprintln!(
            "round {n} ({}): kill at {delay} ms; so far {} acknowledged creates, {} deletes, {} others",
            self.workload.name(),
            self.report.acked_creates,
            self.report.acked_deletes,
            self.report.acked_other
        );
        self.report.rounds += 1;
        let ok = failures.is_empty();
        if ok {
            self.report.survived += 1;
        }
        for f in failures {
            eprintln!(
                "round {n} ({}, kill at {delay} ms): {f}",
                self.workload.name()
            );
            self.report
                .failures
                .push(format!("round {n} (kill at {delay} ms): {f}"));
        }
        ok
    }

    async fn remember_addrs(&mut self, c: &Client, r: &Res) {
        for (ip, port) in node_addrs(c, &r.id, r.kind).await {
            self.gone_addrs.push((ip, port, r.id.clone()));
        }
    }

    /// The mixed workload's other requests, started at once: a modification,
    /// a snapshot, a failover, user changes.
    fn mixed_ops(&mut self, c: &Client, n: usize) -> Vec<tokio::task::JoinHandle<Other>> {
        let mut out = Vec::new();
        let (redis, group, mc) = (
            self.fixtures[0].clone(),
            self.fixtures[1].clone(),
            self.fixtures[2].clone(),
        );
        let snap = format!("{}-s{n}", self.prefix);
        let user = format!("{}-u{n}", self.prefix);
        let ug = format!("{}-ug{n}", self.prefix);
        let old_user = self.users.keys().next().cloned();
        let old_snap = self
            .snapshots
            .iter()
            .filter(|(_, o)| **o != Outcome::Refused)
            .map(|(s, _)| s.clone())
            .nth(1);
        let nodes = if n.is_multiple_of(2) { 3 } else { 2 };
        let c1 = c.clone();
        out.push(tokio::spawn(async move {
            let r = c1
                .modify_cache_cluster()
                .cache_cluster_id(&mc)
                .num_cache_nodes(nodes)
                .apply_immediately(true)
                .send()
                .await;
            (
                format!("modify {mc}"),
                outcome(&r),
                Some((mc, nodes.to_string())),
            )
        }));
        let c2 = c.clone();
        out.push(tokio::spawn(async move {
            let r = c2
                .create_snapshot()
                .cache_cluster_id(&redis)
                .snapshot_name(&snap)
                .send()
                .await;
            (format!("snapshot {snap}"), outcome(&r), None)
        }));
        let c3 = c.clone();
        out.push(tokio::spawn(async move {
            let r = c3
                .test_failover()
                .replication_group_id(&group)
                .node_group_id("0001")
                .send()
                .await;
            (format!("failover {group}"), outcome(&r), None)
        }));
        let c4 = c.clone();
        out.push(tokio::spawn(async move {
            let r = c4
                .create_user()
                .user_id(&user)
                .user_name(&user)
                .engine("redis")
                .passwords(format!("drill-password-{user}-0123456789"))
                .access_string("on ~* +@all")
                .send()
                .await;
            let o = outcome(&r);
            if o == Outcome::Acked {
                let r = c4
                    .create_user_group()
                    .user_group_id(&ug)
                    .engine("redis")
                    .user_ids("default")
                    .user_ids(&user)
                    .send()
                    .await;
                return (format!("user {user} group {ug}"), outcome(&r), None);
            }
            (format!("user {user}"), o, None)
        }));
        if let Some(u) = old_user {
            let c5 = c.clone();
            out.push(tokio::spawn(async move {
                let r = c5
                    .modify_user()
                    .user_id(&u)
                    .passwords(format!("drill-password-{u}-changed-0123"))
                    .send()
                    .await;
                (format!("modify user {u}"), outcome(&r), None)
            }));
        }
        if let Some(s) = old_snap {
            let c6 = c.clone();
            out.push(tokio::spawn(async move {
                let r = c6.delete_snapshot().snapshot_name(&s).send().await;
                (format!("delete snapshot {s}"), outcome(&r), None)
            }));
        }
        out
    }

    fn book_other(&mut self, what: &str, o: Outcome, effect: Option<(String, String)>) {
        let mut words = what.split_whitespace();
        match (words.next(), words.next()) {
            (Some("snapshot"), Some(s)) if o != Outcome::Refused => {
                self.snapshots.insert(s.to_owned(), o);
            }
            (Some("delete"), Some("snapshot")) => {
                if let Some(s) = words.next() {
                    if o == Outcome::Acked {
                        self.snapshots.remove(s);
                    } else {
                        self.snapshots.insert(s.to_owned(), Outcome::Unknown);
                    }
                }
            }
            (Some("user"), Some(u)) if o != Outcome::Refused => {
                self.users.insert(u.to_owned(), o);
            }
            (Some("modify"), Some(_)) => {
                if let (Outcome::Acked, Some((id, v))) = (o, effect) {
                    if let Some(r) = self.live.get_mut(&id) {
                        r.modified = Some(("nodes".to_owned(), v));
                    }
                } else if let Some(r) = self
                    .live
                    .get_mut(what.split_whitespace().nth(1).unwrap_or_default())
                {
                    // In doubt: either count is right.
                    r.modified = None;
                }
            }
            _ => {}
        }
    }

    /// The invariants, after the restart.
    async fn check(&mut self, n: usize) -> Vec<String> {
        let c = self.client();
        let mut failures = Vec::new();
        let ids: Vec<String> = self.live.keys().cloned().collect();
        for id in ids {
            let r = self.live[&id].clone();
            let st = settle(&c, &id, r.kind).await;
            match (r.created, r.deleted, st.as_deref()) {
                (_, Some(Outcome::Acked), None) => {
                    self.live.remove(&id);
                }
                (_, Some(Outcome::Acked), Some(s)) => {
                    failures.push(format!("{id}: acknowledged delete, still {s}"));
                }
                (Outcome::Acked, None, None) => {
                    failures.push(format!("{id}: acknowledged create, gone"));
                    self.live.remove(&id);
                }
                (_, _, None) => {
                    self.live.remove(&id);
                }
                (created, _, Some("create-failed")) => {
                    if created == Outcome::Acked {
                        failures.push(format!("{id}: acknowledged create ended create-failed"));
                    }
                    // A clean failure: it is deleted with the rest.
                    if let Some(r) = self.live.get_mut(&id) {
                        r.deleted = None;
                    }
                }
                (_, _, Some("available")) => {
                    if let Some(r) = self.live.get_mut(&id) {
                        r.deleted = None;
                        r.created = Outcome::Acked;
                    }
                }
                (_, _, Some(s)) => failures.push(format!("{id}: did not converge (still {s})")),
            }
            if let Some((what, want)) = r.modified.clone() {
                if what == "nodes" {
                    let got = node_count(&c, &id).await.to_string();
                    if got != want {
                        failures.push(format!(
                            "{id}: acknowledged modification to {want} nodes, has {got}"
                        ));
                    }
                }
                if let Some(r) = self.live.get_mut(&id) {
                    r.modified = None;
                }
            }
        }
        // Snapshots: acknowledged ones are there and available.
        let snaps: Vec<(String, Outcome)> = self
            .snapshots
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for (s, o) in snaps {
            match settle_snapshot(&c, &s).await {
                None if o == Outcome::Acked => {
                    failures.push(format!("snapshot {s}: acknowledged, gone"));
                    self.snapshots.remove(&s);
                }
                None => {
                    self.snapshots.remove(&s);
                }
                Some(st) if st == "available" => {
                    self.snapshots.insert(s, Outcome::Acked);
                }
                Some(st) if st == "failed" && o != Outcome::Acked => {
                    self.snapshots.remove(&s);
                }
                Some(st) => failures.push(format!("snapshot {s}: did not converge (still {st})")),
            }
        }
        // Users: acknowledged ones are there and active.
        let users: Vec<(String, Outcome)> =
            self.users.iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (u, o) in users {
            match settle_user(&c, &u).await {
                None if o == Outcome::Acked => {
                    failures.push(format!("user {u}: acknowledged, gone"));
                    self.users.remove(&u);
                }
                None => {
                    self.users.remove(&u);
                }
                Some(st) if st == "active" => {
                    self.users.insert(u, Outcome::Acked);
                }
                Some(st) => failures.push(format!("user {u}: did not converge (still {st})")),
            }
        }
        failures.extend(self.leftovers(&c).await);
        let _ = n;
        failures
    }

    /// Engines, node directories, pid files and addresses that nothing owns.
    async fn leftovers(&self, c: &Client) -> Vec<String> {
        let mut failures = Vec::new();
        let expected = described_node_keys(c).await;
        // Engines start (and stop) asynchronously: look until it holds, for a while.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut now = Vec::new();
            let engines = harness::engines_under(&self.backend.data_dir);
            let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
            for e in &engines {
                *per_key.entry(e.key.clone()).or_default() += 1;
            }
            for (k, count) in &per_key {
                if !expected.iter().any(|x| k.ends_with(x.as_str())) {
                    now.push(format!("orphan engine {k} ({count} process(es))"));
                } else if *count > 1 {
                    now.push(format!("{count} engines for node {k}"));
                }
            }
            let (dirs, pids) = harness::node_dirs(&self.backend.data_dir);
            for d in &dirs {
                if !expected.iter().any(|x| d.ends_with(x.as_str())) {
                    now.push(format!("node directory {d} left"));
                }
            }
            for p in &pids {
                if !expected.iter().any(|x| p.ends_with(x.as_str())) {
                    now.push(format!("pid file of {p} left"));
                }
            }
            if self.backend.runtime == "docker" {
                for (name, key) in harness::containers_with(&self.prefix) {
                    if !expected.iter().any(|x| key.ends_with(x.as_str())) {
                        now.push(format!("orphan container {name}"));
                    }
                }
            }
            let live_ids: BTreeSet<&String> = self.live.keys().collect();
            for (ip, port, id) in &self.gone_addrs {
                if !live_ids.contains(id) && harness::port_open(ip, *port) {
                    now.push(format!("{ip}:{port} of deleted {id} still answers"));
                }
            }
            if now.is_empty() || Instant::now() > deadline {
                failures.extend(now);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        failures
    }

    /// Delete everything, check nothing is left, restart once more on the
    /// data directory and check it describes nothing.
    pub async fn finish(&mut self) -> Vec<String> {
        let c = self.client();
        let mut failures = Vec::new();
        let all: Vec<Res> = self.live.values().cloned().collect();
        for r in &all {
            self.remember_addrs(&c, r).await;
        }
        for r in &all {
            // Members of groups are deleted with their group.
            let _ = delete(&c, &r.id, r.kind).await;
        }
        for s in self.snapshots.keys() {
            let _ = c.delete_snapshot().snapshot_name(s).send().await;
        }
        for r in &all {
            if settle(&c, &r.id, r.kind).await.is_some() {
                failures.push(format!("{}: not deleted", r.id));
            }
        }
        self.live.clear();
        // Members of deleted groups go after their group: wait for them too.
        let deadline = Instant::now() + CONVERGE;
        loop {
            let left = described_node_keys(&c).await;
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                failures.push(format!("still described after every delete: {left:?}"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        failures.extend(self.leftovers(&c).await);
        self.backend.kill();
        self.backend.start();
        let c = self.client();
        let left = described_node_keys(&c).await;
        if !left.is_empty() {
            failures.push(format!("after a restart the backend describes {left:?}"));
        }
        failures
    }
}

/// Create one resource of `kind`; the answer's outcome.
async fn create(c: &Client, id: &str, kind: Kind, snapshot: Option<&str>) -> Outcome {
    match kind {
        Kind::Redis | Kind::Memcached | Kind::Restore => {
            let mut b = c
                .create_cache_cluster()
                .cache_cluster_id(id)
                .cache_node_type("cache.t3.micro");
            b = match kind {
                Kind::Memcached => b.engine("memcached").num_cache_nodes(2),
                Kind::Restore => b
                    .engine("redis")
                    .snapshot_name(snapshot.unwrap_or_default()),
                _ => b.engine("redis"),
            };
            outcome(&b.send().await)
        }
        Kind::Group => c
            .create_replication_group()
            .replication_group_id(id)
            .replication_group_description("drill")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .num_cache_clusters(2)
            .automatic_failover_enabled(true)
            .send()
            .await
            .map(|_| ())
            .map_or_else(|e| outcome::<(), _>(&Err(e)), |()| Outcome::Acked),
        Kind::Sharded => c
            .create_replication_group()
            .replication_group_id(id)
            .replication_group_description("drill")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .cluster_mode(aws_sdk_elasticache::types::ClusterMode::Enabled)
            .num_node_groups(2)
            .replicas_per_node_group(0)
            .automatic_failover_enabled(true)
            .send()
            .await
            .map(|_| ())
            .map_or_else(|e| outcome::<(), _>(&Err(e)), |()| Outcome::Acked),
    }
}

async fn delete(
    c: &Client,
    id: &str,
    kind: Kind,
) -> Result<(), aws_sdk_elasticache::error::SdkError<String>> {
    let r = if kind.is_group() {
        c.delete_replication_group()
            .replication_group_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.map_service_error(|s| format!("{s:?}")))
    } else {
        c.delete_cache_cluster()
            .cache_cluster_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.map_service_error(|s| format!("{s:?}")))
    };
    r
}

/// The status of a resource (`None` when it is not found).
async fn status(c: &Client, id: &str, kind: Kind) -> Result<Option<String>, ()> {
    if kind.is_group() {
        match c
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
        {
            Ok(r) => Ok(r.replication_groups()[0].status().map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_replication_group_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(_) => Err(()),
        }
    } else {
        match c
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
        {
            Ok(r) => Ok(r.cache_clusters()[0]
                .cache_cluster_status()
                .map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_cache_cluster_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(_) => Err(()),
        }
    }
}

/// Wait until a resource is settled: gone, `available` or `create-failed`;
/// its last status otherwise.
async fn settle(c: &Client, id: &str, kind: Kind) -> Option<String> {
    let deadline = Instant::now() + CONVERGE;
    let mut last = None;
    loop {
        match status(c, id, kind).await {
            Ok(None) => return None,
            Ok(Some(s)) => {
                if s == "available" || s == "create-failed" {
                    return Some(s);
                }
                last = Some(s);
            }
            Err(()) => {}
        }
        if Instant::now() > deadline {
            return last.or(Some("unanswered".to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_settled(c: &Client, id: &str, kind: Kind) {
    let s = settle(c, id, kind).await;
    assert_eq!(s.as_deref(), Some("available"), "{id}");
}

async fn settle_snapshot(c: &Client, name: &str) -> Option<String> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        match c.describe_snapshots().snapshot_name(name).send().await {
            Ok(r) => match r.snapshots().first() {
                None => return None,
                Some(s) => {
                    let st = s.snapshot_status().unwrap_or_default().to_owned();
                    if st == "available" || st == "failed" || Instant::now() > deadline {
                        return Some(st);
                    }
                }
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_snapshot_not_found_fault()) =>
            {
                return None
            }
            Err(_) if Instant::now() > deadline => return Some("unanswered".to_owned()),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn settle_user(c: &Client, id: &str) -> Option<String> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        match c.describe_users().user_id(id).send().await {
            Ok(r) => match r.users().first() {
                None => return None,
                Some(u) => {
                    let st = u.status().unwrap_or_default().to_owned();
                    if st == "active" || Instant::now() > deadline {
                        return Some(st);
                    }
                }
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_user_not_found_fault()) =>
            {
                return None
            }
            Err(_) if Instant::now() > deadline => return Some("unanswered".to_owned()),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The node addresses (and, for a group, its endpoints) of a resource.
async fn node_addrs(c: &Client, id: &str, kind: Kind) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    if kind.is_group() {
        if let Ok(r) = c
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
        {
            for g in r.replication_groups() {
                for ng in g.node_groups() {
                    for e in [ng.primary_endpoint(), ng.reader_endpoint()]
                        .into_iter()
                        .flatten()
                    {
                        out.push((
                            e.address().unwrap_or_default().to_owned(),
                            e.port().unwrap_or_default() as u16,
                        ));
                    }
                    for m in ng.node_group_members() {
                        if let Some(e) = m.read_endpoint() {
                            out.push((
                                e.address().unwrap_or_default().to_owned(),
                                e.port().unwrap_or_default() as u16,
                            ));
                        }
                    }
                }
                if let Some(e) = g.configuration_endpoint() {
                    out.push((
                        e.address().unwrap_or_default().to_owned(),
                        e.port().unwrap_or_default() as u16,
                    ));
                }
            }
        }
        return out;
    }
    if let Ok(r) = c
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .show_cache_node_info(true)
        .send()
        .await
    {
        for cl in r.cache_clusters() {
            for n in cl.cache_nodes() {
                if let Some(e) = n.endpoint() {
                    out.push((
                        e.address().unwrap_or_default().to_owned(),
                        e.port().unwrap_or_default() as u16,
                    ));
                }
            }
            if let Some(e) = cl.configuration_endpoint() {
                out.push((
                    e.address().unwrap_or_default().to_owned(),
                    e.port().unwrap_or_default() as u16,
                ));
            }
        }
    }
    out
}

/// How many nodes a cache cluster has.
async fn node_count(c: &Client, id: &str) -> usize {
    c.describe_cache_clusters()
        .cache_cluster_id(id)
        .show_cache_node_info(true)
        .send()
        .await
        .map_or(0, |r| r.cache_clusters()[0].cache_nodes().len())
}

/// `-<cluster>-<node>` of every node the backend describes (the end of its key).
async fn described_node_keys(c: &Client) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut marker = None;
    loop {
        let Ok(r) = c
            .describe_cache_clusters()
            .show_cache_node_info(true)
            .set_marker(marker.clone())
            .send()
            .await
        else {
            break;
        };
        for cl in r.cache_clusters() {
            for n in cl.cache_nodes() {
                out.insert(format!(
                    "-{}-{}",
                    cl.cache_cluster_id().unwrap_or_default(),
                    n.cache_node_id().unwrap_or_default()
                ));
            }
        }
        marker = r.marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    out
}

/// The figures of one run, as a Markdown table row and notes.
pub fn summary(runtime: &str, w: Workload, r: &Report, finish: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| {} | {runtime} | {}/{} | {} | {} | {} | {} | {} |",
        w.name(),
        r.survived,
        r.rounds,
        r.kills,
        r.acked_creates,
        r.acked_deletes,
        r.acked_other,
        if finish.is_empty() {
            "nothing"
        } else {
            "see below"
        }
    );
    s
}

/// A first start SIGKILLed while it makes its database, `tries` times (each
/// on a new data directory, the kill 0–3 ms after redb began the file):
/// the next start opens it and keeps what it is given. Before the fix a kill
/// there left a file no later start would open.
pub async fn first_start_killed(tries: u64, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut failures = Vec::new();
    for i in 0..tries {
        let tmp = tempfile::Builder::new()
            .prefix("ec-drill-first-")
            .tempdir()
            .unwrap();
        let data = tmp.path().join("data");
        let mut b = Backend::new("process", &data, &[]);
        b.spawn();
        let made = Instant::now() + Duration::from_secs(30);
        // redb has begun: the file is sized (then written, its magic number last).
        let begun = |f: &str| std::fs::metadata(data.join(f)).is_ok_and(|m| m.len() > 0);
        while !begun("state.redb") && !begun("state.redb.new") && Instant::now() < made {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.range(0, 3000)));
        b.kill();
        // `start` panics, with the log, when the backend exits instead.
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.start())).is_ok();
        if !started {
            failures.push(format!(
                "first start killed (try {i}): the next start refused"
            ));
            eprintln!("kept {}", tmp.keep().display());
            continue;
        }
        let c = b.client();
        let made = c
            .create_cache_parameter_group()
            .cache_parameter_group_name("after-kill")
            .cache_parameter_group_family("redis7")
            .description("drill")
            .send()
            .await
            .is_ok();
        b.kill();
        b.start();
        let kept = b
            .client()
            .describe_cache_parameter_groups()
            .cache_parameter_group_name("after-kill")
            .send()
            .await
            .is_ok();
        if !(made && kept) {
            failures.push(format!(
                "first start killed (try {i}): a record made after it was not kept (made {made}, kept {kept})"
            ));
        }
    }
    failures
}
