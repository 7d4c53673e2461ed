//! HashiCorp's Terraform AWS provider (5.100.0) with users, a user group, a
//! user group association and a TLS replication group that attaches the
//! group: apply, a clean plan, a password change applied in place, destroy.
//! The engines enforce what the state says (`redis-cli --tls` with the
//! backend's CA). Users are control-plane records pushed to the engines the
//! same way on both runtimes, so this runs on the process runtime; the
//! engines' side on Docker is `rbac::user_groups_are_enforced_by_the_engines_on_every_runtime`.

use std::process::Command;

use super::{plugin_mirror, terraform_available, Tf};
use crate::common::{name, Backend};

const TEMPLATE: &str = include_str!("rbac.tf");
const PLAN: &[&str] = &["plan", "-detailed-exitcode", "-no-color", "-input=false"];
const PW1: &str = "first-app-password-1";
const PW2: &str = "second-app-password-2";

/// `AUTH <user> <password>` then `GET app:x` over TLS; the two replies.
fn auth_get(be: &Backend, host: &str, user: &str, pw: &str) -> String {
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(be.data_dir.join("tls/ca.pem"))
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
fn terraform_aws_users_and_user_groups() {
    if !terraform_available() {
        println!("SKIP terraform_aws_users_and_user_groups: terraform not found on PATH");
        return;
    }
    let Some(mirror) = plugin_mirror() else {
        println!("SKIP terraform_aws_users_and_user_groups: no plugin mirror with hashicorp/aws");
        return;
    };
    let be = Backend::start("process");
    let suffix = name("u");
    let render = |pw: &str| {
        TEMPLATE
            .replace("@ENDPOINT@", &be.endpoint())
            .replace("@SUFFIX@", &suffix)
            .replace("@APP_PASSWORD@", pw)
    };
    let tf = Tf::new(&mirror, &render(PW1));
    tf.expect(&["init", "-no-color"], 0, &be);
    tf.expect(&["apply", "-auto-approve", "-no-color"], 0, &be);
    tf.expect(PLAN, 0, &be);
    let o = tf.output(&be);
    let host = o["primary"]["value"].as_str().unwrap().to_owned();
    let app = o["app_user"]["value"].as_str().unwrap().to_owned();
    let r = auth_get(&be, &host, &app, PW1);
    assert!(
        !r.contains("WRONGPASS") && !r.contains("NOPERM"),
        "the app user reads: {r}"
    );
    let r = auth_get(&be, &host, &app, PW2);
    assert!(r.contains("WRONGPASS"), "not yet its password: {r}");

    // A new password: one in-place change, enforced by the engine.
    tf.write_main(&render(PW2));
    let r = tf.expect(&["apply", "-auto-approve", "-no-color"], 0, &be);
    assert!(
        r.out.contains("0 to add, 1 to change, 0 to destroy"),
        "a password change is one in-place change:\n{}",
        r.out
    );
    tf.expect(PLAN, 0, &be);
    let r = auth_get(&be, &host, &app, PW2);
    assert!(!r.contains("WRONGPASS"), "the new password: {r}");
    let r = auth_get(&be, &host, &app, PW1);
    assert!(r.contains("WRONGPASS"), "the old password: {r}");

    tf.expect(&["destroy", "-auto-approve", "-no-color"], 0, &be);
}
