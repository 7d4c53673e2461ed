//! Smoke test with a real Terraform: the demo provider (example
//! `terraform-provider-demo`) through apply, no-op plan, replacement plan,
//! unknown set elements, import and destroy.
//!
//! Skips (passes with a SKIP message) when `terraform` is not on PATH.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(180);

fn terraform_available() -> bool {
    Command::new("terraform")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The demo provider binary, (re)built with the profile of this test so it
/// is never stale (cargo allows the nested build while tests run).
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .to_path_buf();
    // The selection the suite builds (`--workspace`: features unify alike), and
    // without the variables cargo sets for this test (ring's build script
    // watches `CARGO_MANIFEST_DIR`): nothing rebuilds.
    let mut cmd = Command::new(env!("CARGO"));
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_EXE_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || matches!(
                k,
                "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            )
        {
            cmd.env_remove(k);
        }
    }
    cmd.args([
        "build",
        "--workspace",
        "--example",
        "terraform-provider-demo",
    ]);
    if profile_dir.ends_with("release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "building the demo provider failed");
    let bin = profile_dir.join("examples").join("terraform-provider-demo");
    assert!(bin.exists(), "demo provider not found at {}", bin.display());
    bin
}

struct Tf {
    work: PathBuf,
    cli_config: PathBuf,
    /// Resource schema version the demo provider announces.
    schema_version: std::cell::Cell<u32>,
}

struct Out {
    code: i32,
    text: String,
}

impl Tf {
    /// Run terraform in its own process group; kill the group on timeout.
    fn run(&self, args: &[&str]) -> Out {
        let log = self.work.join(".tf-output.txt");
        let file = std::fs::File::create(&log).expect("output file");
        let mut child = Command::new("terraform")
            .args(args)
            .current_dir(&self.work)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("DEMO_SCHEMA_VERSION", self.schema_version.get().to_string())
            .env_remove("TF_LOG")
            .env_remove("TF_REATTACH_PROVIDERS")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("spawn terraform");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > TIMEOUT {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                panic!(
                    "terraform {args:?} timed out; output:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        Out {
            code: status.code().unwrap_or(-1),
            text: std::fs::read_to_string(&log).unwrap_or_default(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.code, 0, "terraform {args:?} failed:\n{}", o.text);
        o.text
    }

    fn write_config(&self, objs: &Path, name: &str) {
        let cfg = format!(
            r#"
terraform {{
  required_providers {{
    demo = {{ source = "example.com/test/demo" }}
  }}
}}

provider "demo" {{
  state_dir = "{objs}"
}}

# Their ids are unknown until they are created: two distinct unknown
# elements of demo_thing.x.items at plan time.
resource "terraform_data" "a" {{ input = "a" }}
resource "terraform_data" "b" {{ input = "b" }}

resource "demo_thing" "x" {{
  name  = "{name}"
  tags  = {{ team = "cache", env = "test" }}
  items = [terraform_data.a.id, terraform_data.b.id, "fixed"]
  rule {{ port = 6379 }}
  rule {{ port = 11211 }}
}}

output "id" {{ value = demo_thing.x.id }}
output "items" {{ value = demo_thing.x.items }}
"#,
            objs = objs.display()
        );
        std::fs::write(self.work.join("main.tf"), cfg).expect("write main.tf");
    }
}

fn objects(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `schema_version` of demo_thing.x in the local state file.
fn stored_schema_version(work: &Path) -> Option<u64> {
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("terraform.tfstate")).ok()?).ok()?;
    st["resources"]
        .as_array()?
        .iter()
        .find(|r| r["type"] == "demo_thing")?["instances"][0]["schema_version"]
        .as_u64()
}

#[test]
fn terraform_smoke() {
    if !terraform_available() {
        eprintln!("SKIP: terraform not found on PATH");
        return;
    }
    let bin = demo_binary();
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin_dir = tmp.path().join("bin");
    let work = tmp.path().join("work");
    let objs = tmp.path().join("objects");
    for d in [&plugin_dir, &work, &objs] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::copy(&bin, plugin_dir.join("terraform-provider-demo")).expect("copy provider");
    let cli_config = tmp.path().join("cli.tfrc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"example.com/test/demo\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugin_dir.display()
        ),
    )
    .expect("write cli config");
    let tf = Tf {
        work,
        cli_config,
        schema_version: std::cell::Cell::new(0),
    };

    // Create: items has two elements unknown at plan time.
    tf.write_config(&objs, "one");
    let plan = tf.run(&["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        plan.code, 2,
        "first plan should have changes:\n{}",
        plan.text
    );
    tf.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(objects(&objs).len(), 1, "one object stored");
    let id = tf.ok(&["output", "-raw", "id"]);
    assert!(id.starts_with("thing-"), "id output: {id}");
    let items = tf.ok(&["output", "-json", "items"]);
    let items: serde_json::Value = serde_json::from_str(items.trim()).expect("items JSON");
    assert_eq!(items.as_array().map(Vec::len), Some(3), "items: {items}");

    assert_eq!(stored_schema_version(&tf.work), Some(0));

    // Nothing to do afterwards, also once the schema version is bumped
    // (Terraform upgrades the stored state through UpgradeResourceState).
    let again = tf.run(&["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        again.code, 0,
        "second plan should be empty:\n{}",
        again.text
    );
    tf.schema_version.set(1);
    let again = tf.run(&["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(again.code, 0, "plan after version bump:\n{}", again.text);
    tf.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert_eq!(stored_schema_version(&tf.work), Some(1));

    // Changing name forces replacement.
    tf.write_config(&objs, "two");
    let repl = tf.run(&["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(repl.code, 2, "rename should plan a change:\n{}", repl.text);
    assert!(
        repl.text.contains("must be replaced") && repl.text.contains("forces replacement"),
        "rename should plan a replacement:\n{}",
        repl.text
    );
    tf.ok(&["apply", "-auto-approve", "-no-color"]);
    let id2 = tf.ok(&["output", "-raw", "id"]);
    assert_ne!(id, id2, "replacement gets a new id");
    assert_eq!(objects(&objs), vec![format!("{id2}.json")]);

    // Import: forget it, import by id, and the plan is empty again.
    tf.ok(&["state", "rm", "-no-color", "demo_thing.x"]);
    let bad = tf.run(&["import", "-no-color", "demo_thing.x", "thing-nope"]);
    assert_ne!(bad.code, 0, "importing a missing object must fail");
    assert!(
        bad.text
            .contains("Cannot import non-existent remote object"),
        "import error should come from the provider:\n{}",
        bad.text
    );
    tf.ok(&["import", "-no-color", "demo_thing.x", &id2]);
    let after_import = tf.run(&["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        after_import.code, 0,
        "plan after import should be empty:\n{}",
        after_import.text
    );

    // Destroy removes the object.
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(
        objects(&objs).is_empty(),
        "objects left: {:?}",
        objects(&objs)
    );
}
