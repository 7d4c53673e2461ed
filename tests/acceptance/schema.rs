//! Schema parity with HashiCorp's AWS provider: our
//! `terraform providers schema -json` against the 6.69.1 reference slice and
//! the 5.100.0 one, through `<root>/../shared/terraform/schema_diff.py` when
//! it exists.

use std::path::{Path, PathBuf};
use std::process::Command;

use acceptance::{require_terraform, Tf};

/// The types this branch provides.
const TYPES: &str = "provider,aws_elasticache_cluster,aws_elasticache_parameter_group,aws_elasticache_replication_group,aws_elasticache_subnet_group,data.aws_elasticache_cluster,data.aws_elasticache_replication_group,data.aws_elasticache_subnet_group,aws_elasticache_user,aws_elasticache_user_group,aws_elasticache_user_group_association,data.aws_elasticache_user,aws_elasticache_reserved_cache_node,data.aws_elasticache_reserved_cache_node_offering,data.aws_elasticache_service_updates,data.aws_elasticache_service_update_actions,aws_elasticache_serverless_cache,data.aws_elasticache_serverless_cache,aws_elasticache_global_replication_group";

/// Against 6.69.1 the only difference allowed: the `endpoints` keys 6.x
/// removed, which we still accept (extra, deprecated).
const REMOVED_ENDPOINTS: &[&str] = &[
    "iotanalytics",
    "iotevents",
    "lookoutmetrics",
    "opsworks",
    "sdb",
    "simpledb",
    "worklink",
];

/// Against 5.100.0 the only lines that may differ: flags 6.x changed.
const FLAGS_6X_CHANGED: &[&str] = &[
    "aws_elasticache_global_replication_group.engine: optional,computed, reference computed",
    "aws_elasticache_replication_group.engine: optional,computed, reference optional",
    "aws_elasticache_serverless_cache.cache_usage_limits.data_storage.maximum: optional,computed, reference optional",
    "aws_elasticache_serverless_cache.cache_usage_limits.data_storage.minimum: optional,computed, reference optional",
    "aws_elasticache_serverless_cache.cache_usage_limits.ecpu_per_second.maximum: optional,computed, reference optional",
    "aws_elasticache_serverless_cache.cache_usage_limits.ecpu_per_second.minimum: optional,computed, reference optional",
];

/// The module companions (HashiCorp 5.100.0's schema plus 6.x's `region`).
const COMPANIONS: &str = "aws_cloudwatch_log_group,aws_cloudwatch_metric_alarm,aws_kms_key,aws_route53_record,aws_security_group,aws_security_group_rule,aws_vpc_security_group_egress_rule,aws_vpc_security_group_ingress_rule";

fn diff(script: &Path, ours: &Path, reference: Option<&Path>) -> (Vec<String>, String) {
    diff_types(script, ours, reference, TYPES)
}

fn diff_types(
    script: &Path,
    ours: &Path,
    reference: Option<&Path>,
    types: &str,
) -> (Vec<String>, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(ours)
        .args(["--provider", acceptance::SOURCE, "--types", types]);
    if let Some(r) = reference {
        cmd.arg("--reference").arg(r);
    }
    let out = cmd.output().expect("run schema_diff.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let figure = lines.pop().unwrap_or_default();
    (lines, figure)
}

/// "schema parity: M/T …" → (M, T).
fn counts(figure: &str) -> (u32, u32) {
    let mt = figure
        .strip_prefix("schema parity: ")
        .and_then(|r| r.split_whitespace().next())
        .expect("figure");
    let (m, t) = mt.split_once('/').expect("M/T");
    (m.parse().unwrap(), t.parse().unwrap())
}

#[test]
fn schema_parity() {
    require_terraform!();
    let tf = Tf::new();
    tf.config(
        r#"terraform {
  required_providers {
    aws = { source = "elasticache-local/aws" }
  }
}
provider "aws" {
  region = "us-east-1"
}
"#,
    );
    let o = tf.run(&["providers", "schema", "-json"]);
    assert_eq!(o.code, 0, "terraform providers schema failed:\n{}", o.text);
    // Terraform may print a dev_overrides warning before the JSON.
    let start = o.text.find("{\"format_version\"").expect("schema JSON");
    let json = &o.text[start..];
    let end = json.rfind('}').expect("end of JSON");
    let ours = tf.work.path().join("ours.json");
    std::fs::write(&ours, &json[..=end]).unwrap();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let shared: PathBuf = root.join("../shared/terraform");
    let script = shared.join("schema_diff.py");
    if !script.exists() {
        eprintln!("SKIP: {} not found", script.display());
        return;
    }

    // 6.69.1: every line matches; the removed endpoint keys are extra.
    let (problems, figure) = diff(
        &script,
        &ours,
        Some(&shared.join("hashicorp-aws-6-elasticache.json")),
    );
    println!("6.69.1: {figure}");
    let (m, t) = counts(&figure);
    let unexpected: Vec<&String> = problems
        .iter()
        .filter(|p| {
            !REMOVED_ENDPOINTS.iter().any(|k| {
                **p == format!("provider.endpoints.{k}: extra attribute (not in the reference)")
            })
        })
        .collect();
    assert!(
        m == t && unexpected.is_empty(),
        "schema differs from HashiCorp's 6.69.1:\n{}",
        problems.join("\n")
    );

    // 5.100.0: every line matches but the flags 6.x changed; 6.x's
    // additions are extra.
    let (problems, figure) = diff(&script, &ours, None);
    println!("5.100.0: {figure}");
    let (m, t) = counts(&figure);
    let missing: Vec<&String> = problems
        .iter()
        .filter(|p| !p.contains(": extra ") && !FLAGS_6X_CHANGED.contains(&p.as_str()))
        .collect();
    assert!(
        missing.is_empty() && t - m == FLAGS_6X_CHANGED.len() as u32,
        "schema differs from HashiCorp's 5.100.0:\n{}",
        problems.join("\n")
    );

    // The module companions: HashiCorp 5.100.0's schema exactly, 6.x's
    // `region` the only extra.
    let (problems, figure) = diff_types(
        &script,
        &ours,
        Some(&shared.join("hashicorp-aws-5.100.0-module-companions.json")),
        COMPANIONS,
    );
    println!("companions (5.100.0): {figure}");
    let (m, t) = counts(&figure);
    let unexpected: Vec<&String> = problems
        .iter()
        .filter(|p| !p.ends_with(".region: extra attribute (not in the reference)"))
        .collect();
    assert!(
        m == t && unexpected.is_empty() && problems.len() == 8,
        "companions differ from HashiCorp's 5.100.0:\n{}",
        problems.join("\n")
    );
}
