//! Installing the provider as users do: from a `filesystem_mirror` with
//! `terraform init` (the other tests use `dev_overrides`).

use acceptance::{binaries, require_terraform, Backend, Tf};

/// Terraform's name for this platform, e.g. `linux_amd64`.
fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

#[test]
fn install_from_filesystem_mirror_and_apply() {
    require_terraform!();
    let be = Backend::start("process");
    let mirror = tempfile::Builder::new()
        .prefix("ec-mirror-")
        .tempdir()
        .unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let dir = mirror
        .path()
        .join("registry.terraform.io/elasticache-local/aws")
        .join(version)
        .join(platform());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        binaries().join("terraform-provider-aws"),
        dir.join(format!("terraform-provider-aws_v{version}")),
    )
    .unwrap();
    let tf = Tf::with_cli_config(&format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/elasticache-local/aws\"]\n  }}\n}}\n",
        mirror.path().display()
    ));
    tf.config(&format!(
        "{}\nresource \"aws_elasticache_subnet_group\" \"m\" {{\n  name       = \"tf-acc-mirror\"\n  subnet_ids = [\"subnet-0123456789abcdef0\"]\n}}\n",
        be.provider_hcl()
    ));
    let init = tf.run(&["init", "-input=false", "-no-color"]);
    assert_eq!(init.code, 0, "terraform init failed:\n{}", init.text);
    assert!(
        init.text
            .contains(&format!("Installed elasticache-local/aws v{version}")),
        "init did not install from the mirror:\n{}",
        init.text
    );
    tf.apply();
    tf.plan_is_clean();
    tf.destroy();
}
