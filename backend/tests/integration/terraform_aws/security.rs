//! HashiCorp's Terraform AWS provider (5.100.0) with a TLS + AUTH token +
//! at-rest encryption replication group, as the most used module makes one: apply, the endpoints
//! answer over TLS (verified against the backend's CA) with the token only; a
//! second plan is clean; the token is rotated (`auth_token_update_strategy =
//! "ROTATE"`: both tokens work), the plan is clean again; destroy leaves nothing.
//! In the same configuration, users, a user group, a user group association
//! and a TLS group attaching the user group: the engines enforce what the
//! state says, and a password change is applied in place with the rotation.

use std::path::{Path, PathBuf};

use super::{on_one_runtime, Tf};
use crate::common::{name, Backend};

const TEMPLATE: &str = include_str!("security.tf");
const PLAN: &[&str] = &["plan", "-detailed-exitcode", "-no-color", "-input=false"];
const TOK1: &str = "Terraform-token-1-abcdef";
const TOK2: &str = "Terraform-token-2-abcdef";
const PW1: &str = "first-app-password-1";
const PW2: &str = "second-app-password-2";

/// `AUTH <user> <password>` then `GET app:x` over TLS: what redis-cli prints.
fn user_get(ca: &Path, host: &str, user: &str, pw: &str) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(ca)
        .args(["-h", host, "-p", "6379", "--user", user, "--pass", pw])
        .args(["--no-auth-warning", "GET", "app:x"])
        .output()
        .expect("redis-cli runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn terraform_aws_tls_and_auth_token() {
    on_one_runtime("terraform_aws_tls_and_auth_token", secure_on);
}

/// `redis-cli --tls --cacert` on `host:port` with `token`; stdout and stderr.
fn cli(ca: &Path, addr: &str, token: Option<&str>, args: &[&str]) -> String {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let mut cmd = std::process::Command::new("redis-cli");
    cmd.args(["--tls", "--cacert"])
        .arg(ca)
        .args(["-h", host, "-p", port]);
    if let Some(t) = token {
        cmd.env("REDISCLI_AUTH", t);
    }
    let out = cmd.args(args).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_owned()
}

fn secure_on(rt: &str, mirror: &Path) {
    let be = Backend::start(rt);
    let suffix = name(rt);
    let main_tf = TEMPLATE
        .replace("@ENDPOINT@", &be.endpoint())
        .replace("@SUFFIX@", &suffix);
    let tf = Tf::new(mirror, &main_tf);
    let ca: PathBuf = be.data_dir.join("tls/ca.pem");
    let var = |t: &str| format!("token={t}");
    let pw = |p: &str| format!("app_password={p}");
    tf.expect(&["init", "-no-color"], 0, &be);
    let apply = tf.expect(
        &[
            "apply",
            "-auto-approve",
            "-no-color",
            "-var",
            &var(TOK1),
            "-var",
            &pw(PW1),
        ],
        0,
        &be,
    );
    let o = tf.output(&be);
    let g = &o["secure"]["value"];
    assert_eq!(g["transit_encryption_enabled"], true, "{g}");
    assert_eq!(g["transit_encryption_mode"], "required", "{g}");
    // A string in provider 5.x.
    assert_eq!(g["at_rest_encryption_enabled"], "true", "{g}");
    let port = g["port"].as_u64().unwrap();
    let primary = format!("{}:{port}", g["primary_endpoint_address"].as_str().unwrap());
    let reader = format!("{}:{port}", g["reader_endpoint_address"].as_str().unwrap());
    assert!(cli(&ca, &primary, None, &["PING"]).contains("NOAUTH"));
    assert_eq!(cli(&ca, &primary, Some(TOK1), &["SET", "tf", rt]), "OK");
    assert_eq!(cli(&ca, &reader, Some(TOK1), &["PING"]), "PONG");
    let r = o["rbac"]["value"].clone();
    let rbac_host = r["primary_endpoint_address"].as_str().unwrap().to_owned();
    let app = r["app_user"].as_str().unwrap().to_owned();
    let got = user_get(&ca, &rbac_host, &app, PW1);
    assert!(
        !got.contains("WRONGPASS") && !got.contains("NOPERM"),
        "the app user reads on {rt}: {got}"
    );
    assert!(
        user_get(&ca, &rbac_host, &app, PW2).contains("WRONGPASS"),
        "not yet its password on {rt}"
    );
    tf.expect(
        &[PLAN, &["-var", &var(TOK1), "-var", &pw(PW1)][..]].concat(),
        0,
        &be,
    );

    // Rotate: one in-place change; both tokens are accepted afterwards.
    let r = tf.expect(
        &[
            "apply",
            "-auto-approve",
            "-no-color",
            "-var",
            &var(TOK2),
            "-var",
            &pw(PW2),
        ],
        0,
        &be,
    );
    assert!(
        r.out.contains("0 to add, 2 to change, 0 to destroy"),
        "rotation and a password change must be two in-place changes on {rt}:\n{}",
        r.out
    );
    assert!(
        !user_get(&ca, &rbac_host, &app, PW2).contains("WRONGPASS"),
        "the new password on {rt}"
    );
    assert!(
        user_get(&ca, &rbac_host, &app, PW1).contains("WRONGPASS"),
        "the old password on {rt}"
    );
    for t in [TOK1, TOK2] {
        assert_eq!(
            cli(&ca, &primary, Some(t), &["GET", "tf"]),
            rt,
            "token after ROTATE"
        );
    }
    let plan = tf.expect(
        &[PLAN, &["-var", &var(TOK2), "-var", &pw(PW2)][..]].concat(),
        0,
        &be,
    );
    let log = be.log_text();
    assert!(
        !log.contains(TOK1) && !log.contains(TOK2),
        "a token in the log"
    );

    let destroy = tf.expect(
        &[
            "destroy",
            "-auto-approve",
            "-no-color",
            "-var",
            &var(TOK2),
            "-var",
            &pw(PW2),
        ],
        0,
        &be,
    );
    let rt_tokio = tokio::runtime::Runtime::new().unwrap();
    rt_tokio.block_on(async {
        let left = be
            .client()
            .describe_replication_groups()
            .send()
            .await
            .unwrap();
        assert!(left.replication_groups().is_empty(), "groups left on {rt}");
        let users = be.client().describe_users().send().await.unwrap();
        assert_eq!(
            users.users().len(),
            1,
            "only the built-in default user is left on {rt}"
        );
    });
    println!(
        "TIMING runtime={rt} tf_tls_auth_apply_ms={} tf_tls_auth_plan_ms={} tf_tls_auth_destroy_ms={}",
        apply.ms, plan.ms, destroy.ms
    );
}
