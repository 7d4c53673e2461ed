//! Schema parity with HashiCorp's AWS provider 5.100.0: our
//! `terraform providers schema -json` against the reference slice, through
//! `<root>/../shared/terraform/schema_diff.py` when it exists.

use std::path::Path;
use std::process::Command;

use acceptance::{require_terraform, Tf};

/// The types this branch provides (the cluster types are added with them).
const TYPES: &str = "provider,aws_elasticache_cluster,aws_elasticache_parameter_group,aws_elasticache_subnet_group,data.aws_elasticache_cluster,data.aws_elasticache_subnet_group";

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
    let script = root.join("../shared/terraform/schema_diff.py");
    if !script.exists() {
        eprintln!("SKIP: {} not found", script.display());
        return;
    }
    let out = Command::new("python3")
        .arg(&script)
        .arg(&ours)
        .args(["--provider", acceptance::SOURCE, "--types", TYPES])
        .output()
        .expect("run schema_diff.py");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{}", text.lines().last().unwrap_or(""));
    assert!(
        out.status.success(),
        "schema differs from HashiCorp's:\n{text}"
    );
}
