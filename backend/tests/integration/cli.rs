//! The AWS CLI as a user runs it, against the backend.

use std::process::Command;

use crate::common::{self, Backend};

fn aws_available() -> bool {
    Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run `aws elasticache <args>` against `b`; returns stdout, panics on failure.
fn aws(b: &Backend, args: &[&str]) -> String {
    let out = Command::new("aws")
        .arg("--endpoint-url")
        .arg(b.endpoint())
        .arg("--output")
        .arg("json")
        .arg("elasticache")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .output()
        .expect("run aws");
    assert!(
        out.status.success(),
        "aws elasticache {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn aws_cli_create_wait_describe_delete() {
    if !aws_available() {
        eprintln!("NOTICE: `aws` is not on PATH; skipping the AWS CLI test");
        return;
    }
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let id = common::name("cli");
        let out = aws(
            &b,
            &[
                "create-cache-cluster",
                "--cache-cluster-id",
                &id,
                "--engine",
                "redis",
                "--cache-node-type",
                "cache.t3.micro",
                "--num-cache-nodes",
                "1",
                "--tags",
                "Key=made-by,Value=cli",
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["CacheCluster"]["CacheClusterStatus"], "creating", "{v}");
        aws(
            &b,
            &["wait", "cache-cluster-available", "--cache-cluster-id", &id],
        );
        let out = aws(
            &b,
            &[
                "describe-cache-clusters",
                "--cache-cluster-id",
                &id,
                "--show-cache-node-info",
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let cl = &v["CacheClusters"][0];
        assert_eq!(cl["CacheClusterStatus"], "available", "{v}");
        let ep = &cl["CacheNodes"][0]["Endpoint"];
        let address = ep["Address"].as_str().unwrap();
        assert!(address.starts_with("127."), "a loopback address: {v}");
        let port = common::ep(
            address,
            i32::try_from(ep["Port"].as_i64().unwrap()).unwrap(),
        );
        assert!(common::port_open(port));
        // The CLI's own paginator over the table output.
        let out = aws(
            &b,
            &[
                "describe-cache-engine-versions",
                "--engine",
                "redis",
                "--query",
                "length(CacheEngineVersions)",
            ],
        );
        assert!(out.trim().parse::<u32>().unwrap() > 1, "{out}");
        let out = aws(
            &b,
            &[
                "list-tags-for-resource",
                "--resource-name",
                cl["ARN"].as_str().unwrap(),
            ],
        );
        assert!(out.contains("made-by"), "{out}");
        let out = aws(&b, &["delete-cache-cluster", "--cache-cluster-id", &id]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["CacheCluster"]["CacheClusterStatus"], "deleting", "{v}");
        aws(
            &b,
            &["wait", "cache-cluster-deleted", "--cache-cluster-id", &id],
        );
        assert!(!common::port_open(port));
        // An error as the CLI shows it.
        let out = Command::new("aws")
            .args(["--endpoint-url", &b.endpoint(), "elasticache"])
            .args(["describe-cache-clusters", "--cache-cluster-id", &id])
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("CacheClusterNotFound"), "{err}");
    }
}
