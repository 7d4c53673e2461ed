//! Role-based access control enforced by the engines: a user group attached
//! to a TLS replication group, checked with `redis-cli --tls` on the primary
//! and reader endpoints, through password changes and membership changes,
//! then the migrations RBAC → AUTH token → RBAC as AWS documents them.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_elasticache::types::{AuthTokenUpdateStrategyType, ReplicationGroup};
use aws_sdk_elasticache::Client;

use crate::common::{self, code, describe_group, eventually, Backend};

const PW1: &str = "first-app-password-1";
const PW2: &str = "second-app-password-2";
const ADMIN_PW: &str = "the-default-users-password";
const TOKEN: &str = "an-auth-token-of-the-group";

/// Each line of `input` sent to `redis-cli --tls` (one connection); its replies.
fn cli(ca: &Path, addr: (&str, i32), input: &[&str]) -> Vec<String> {
    let mut child = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(ca)
        .args(["-h", addr.0, "-p", &addr.1.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    let mut stdin = child.stdin.take().unwrap();
    for l in input {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    // Replies one per line (redis-cli follows an error with a blank line).
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn endpoints(g: &ReplicationGroup) -> [(String, i32); 2] {
    let ng = &g.node_groups()[0];
    let p = ng.primary_endpoint().unwrap();
    let r = ng.reader_endpoint().unwrap();
    [
        (p.address().unwrap().to_owned(), p.port().unwrap()),
        (r.address().unwrap().to_owned(), r.port().unwrap()),
    ]
}

async fn wait_available(c: &Client, id: &str) -> ReplicationGroup {
    eventually(
        &format!("{id} available"),
        Duration::from_secs(120),
        || async {
            describe_group(c, id)
                .await
                .filter(|g| g.status() == Some("available"))
        },
    )
    .await
}

async fn wait_active(c: &Client, ug: &str) {
    eventually(&format!("{ug} active"), Duration::from_secs(60), || async {
        let r = c
            .describe_user_groups()
            .user_group_id(ug)
            .send()
            .await
            .ok()?;
        (r.user_groups()[0].status() == Some("active")).then_some(())
    })
    .await;
}

async fn scenario(rt: &str) {
    let b = Backend::start(rt);
    let c = b.client();
    let ca = b.data_dir.join("tls/ca.pem");
    let (app, dflt, ug, rg) = (
        common::name("app"),
        common::name("dflt"),
        common::name("ug"),
        common::name("rbac"),
    );
    c.create_user()
        .user_id(&app)
        .user_name(&app)
        .engine("redis")
        .access_string("on ~app:* +@read")
        .passwords(PW1)
        .send()
        .await
        .unwrap();
    c.create_user()
        .user_id(&dflt)
        .user_name("default")
        .engine("redis")
        .access_string("on ~* +@all")
        .passwords(ADMIN_PW)
        .send()
        .await
        .unwrap();
    c.create_user_group()
        .user_group_id(&ug)
        .engine("redis")
        .user_ids(&dflt)
        .user_ids(&app)
        .send()
        .await
        .unwrap();
    wait_active(&c, &ug).await;

    // A user group needs TLS, as on AWS.
    assert_eq!(
        code(
            c.create_replication_group()
                .replication_group_id(common::name("plain"))
                .replication_group_description("no tls")
                .engine("redis")
                .cache_node_type("cache.t3.micro")
                .num_cache_clusters(1)
                .user_group_ids(&ug)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    c.create_replication_group()
        .replication_group_id(&rg)
        .replication_group_description("rbac")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(2)
        .transit_encryption_enabled(true)
        .user_group_ids(&ug)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &rg).await;
    assert_eq!(g.user_group_ids(), std::slice::from_ref(&ug));
    let groups = c
        .describe_user_groups()
        .user_group_id(&ug)
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.user_groups()[0].replication_groups(),
        std::slice::from_ref(&rg)
    );
    assert_eq!(
        code(c.delete_user_group().user_group_id(&ug).send().await),
        "InvalidUserGroupState"
    );

    for (host, port) in &endpoints(&g) {
        let addr = (host.as_str(), *port);
        if *host
            == g.node_groups()[0]
                .primary_endpoint()
                .unwrap()
                .address()
                .unwrap()
        {
            let r = cli(&ca, addr, &[&format!("AUTH {ADMIN_PW}"), "SET app:x 1"]);
            assert_eq!(
                r,
                ["OK", "OK"],
                "{rt}: the default-named user writes: {r:?}"
            );
        } else {
            // The replica has it (replication is asynchronous).
            eventually("the write replicated", Duration::from_secs(10), || async {
                let r = cli(&ca, addr, &[&format!("AUTH {ADMIN_PW}"), "GET app:x"]);
                (r == ["OK", "1"]).then_some(())
            })
            .await;
        }
        let r = cli(
            &ca,
            addr,
            &[
                "PING",
                &format!("AUTH {app} {PW1}"),
                "GET app:x",
                "SET app:x 1",
                "GET other",
            ],
        );
        assert!(r[0].contains("NOAUTH"), "{rt}: unauthenticated PING: {r:?}");
        assert_eq!(r[1], "OK", "{rt}: the user's password: {r:?}");
        assert!(
            !r[2].contains("ERR") && !r[2].contains("NOPERM"),
            "{rt}: GET app:x: {r:?}"
        );
        assert!(
            r[3].contains("NOPERM"),
            "{rt}: SET by a read-only user: {r:?}"
        );
        assert!(
            r[4].contains("NOPERM"),
            "{rt}: a key outside the user's pattern: {r:?}"
        );
        let r = cli(&ca, addr, &[&format!("AUTH {app} not-the-password-at-all")]);
        assert!(r[0].contains("WRONGPASS"), "{rt}: a wrong password: {r:?}");
        // The group's default-named user replaces the built-in one; clients
        // cannot change users or the configuration.
        let r = cli(
            &ca,
            addr,
            &[
                &format!("AUTH {ADMIN_PW}"),
                "PING",
                "CONFIG SET maxmemory 1",
                "ACL SETUSER intruder on nopass +@all",
            ],
        );
        assert_eq!(
            r[0..2],
            ["OK", "PONG"],
            "{rt}: the default-named user: {r:?}"
        );
        assert!(
            r[2].contains("NOPERM") && r[3].contains("NOPERM"),
            "{rt}: {r:?}"
        );
    }
    let [primary, reader] = endpoints(&g);

    // A password change reaches every node.
    c.modify_user()
        .user_id(&app)
        .passwords(PW2)
        .send()
        .await
        .unwrap();
    eventually(
        "the new password works everywhere",
        Duration::from_secs(60),
        || async {
            let ok = [&primary, &reader].iter().all(|(h, p)| {
                let r = cli(
                    &ca,
                    (h, *p),
                    &[&format!("AUTH {app} {PW2}"), &format!("AUTH {app} {PW1}")],
                );
                r.len() == 2 && r[0] == "OK" && r[1].contains("WRONGPASS")
            });
            ok.then_some(())
        },
    )
    .await;

    // A user removed from the group can no longer authenticate.
    c.modify_user_group()
        .user_group_id(&ug)
        .user_ids_to_remove(&app)
        .send()
        .await
        .unwrap();
    wait_active(&c, &ug).await;
    for (h, p) in [&primary, &reader] {
        let r = cli(&ca, (h, *p), &[&format!("AUTH {app} {PW2}")]);
        assert!(r[0].contains("WRONGPASS"), "{rt}: a removed user: {r:?}");
    }

    // RBAC → AUTH as AWS documents it: the user group leaves and a token
    // comes with ROTATE (clients without it still get in until a SET).
    c.modify_replication_group()
        .replication_group_id(&rg)
        .user_group_ids_to_remove(&ug)
        .auth_token(TOKEN)
        .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &rg).await;
    assert!(g.user_group_ids().is_empty());
    assert_eq!(g.auth_token_enabled(), Some(true));
    let r = cli(&ca, (&primary.0, primary.1), &["PING"]);
    assert_eq!(r, ["PONG"], "{rt}: after ROTATE onto a token-less group");
    c.modify_replication_group()
        .replication_group_id(&rg)
        .auth_token(TOKEN)
        .auth_token_update_strategy(AuthTokenUpdateStrategyType::Set)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    wait_available(&c, &rg).await;
    eventually(
        "only the token is accepted",
        Duration::from_secs(30),
        || async {
            let r = cli(
                &ca,
                (&primary.0, primary.1),
                &["PING", &format!("AUTH {TOKEN}"), "PING"],
            );
            (r.len() == 3 && r[0].contains("NOAUTH") && r[1] == "OK" && r[2] == "PONG")
                .then_some(())
        },
    )
    .await;

    // AUTH → RBAC: a user group joins only with DELETE of the token.
    assert_eq!(
        code(
            c.modify_replication_group()
                .replication_group_id(&rg)
                .user_group_ids_to_add(&ug)
                .apply_immediately(true)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    c.modify_replication_group()
        .replication_group_id(&rg)
        .user_group_ids_to_add(&ug)
        .auth_token_update_strategy(AuthTokenUpdateStrategyType::Delete)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &rg).await;
    assert_eq!(g.user_group_ids(), std::slice::from_ref(&ug));
    assert_eq!(g.auth_token_enabled(), Some(false));
    eventually(
        "the group's users are back",
        // A ceiling: 6 s alone; a CI run sharing two cores with other suites
        // went past 30 s.
        Duration::from_secs(120),
        || async {
            let r = cli(
                &ca,
                (&primary.0, primary.1),
                &[&format!("AUTH {TOKEN}"), &format!("AUTH {ADMIN_PW}")],
            );
            (r.len() == 2 && r[0].contains("WRONGPASS") && r[1] == "OK").then_some(())
        },
    )
    .await;
    c.delete_replication_group()
        .replication_group_id(&rg)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_groups_are_enforced_by_the_engines() {
    let runs: Vec<_> = common::one_runtime()
        .into_iter()
        .map(|rt| tokio::spawn(async move { scenario(&rt).await }))
        .collect();
    for r in runs {
        r.await.unwrap();
    }
}
