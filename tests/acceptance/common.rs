//! Shared bits of the acceptance tests.

use acceptance::Backend;

/// Run `f` against a fresh backend on every runtime under test: for the few
/// tests that show the provider against engines in Docker as well.
pub fn each_runtime(f: impl Fn(&Backend)) {
    for rt in acceptance::runtimes() {
        eprintln!("runtime: {rt}");
        let be = Backend::start(&rt);
        f(&be);
    }
}

/// Run `f` against a fresh backend on one runtime (normally `process`): the
/// provider is a client of the API, which answers the same on every runtime;
/// the backend's own tests cover what differs on Docker.
pub fn one_runtime(f: impl Fn(&Backend)) {
    for rt in acceptance::one_runtime() {
        eprintln!("runtime: {rt}");
        let be = Backend::start(&rt);
        f(&be);
    }
}

/// The backend's provider block with `extra` added inside `provider "aws" {}`.
pub fn provider_with(be: &Backend, extra: &str) -> String {
    let hcl = be.provider_hcl();
    let at = hcl.rfind('}').expect("provider block");
    format!("{}{extra}\n}}\n", &hcl[..at])
}

/// Block on an SDK call.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A name unique to this test process (AWS names are account-wide).
pub fn name(prefix: &str) -> String {
    format!(
        "tf-acc-{prefix}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1_000_000_000
    )
}

/// `terraform plan -generate-config-out=gen.tf` for an `import {}` block
/// (config holds only the provider and the import block), then apply and
/// a clean plan: HashiCorp's import-block pattern.
pub fn import_block(be: &Backend, address: &str, id: &str) {
    let tf = acceptance::Tf::new();
    tf.config(&format!(
        "{}\nimport {{\n  to = {address}\n  id = \"{id}\"\n}}\n",
        be.provider_hcl()
    ));
    let o = tf.run(&[
        "plan",
        "-input=false",
        "-no-color",
        "-generate-config-out=gen.tf",
    ]);
    assert_eq!(o.code, 0, "plan -generate-config-out failed:\n{}", o.text);
    let gen = std::fs::read_to_string(tf.work.path().join("gen.tf")).unwrap();
    eprintln!("generated:\n{gen}");
    let o = tf.apply();
    assert!(o.text.contains("1 imported"), "{}", o.text);
    tf.plan_is_clean();
    // The object stays: forget it rather than destroy it.
    tf.state_rm(address);
}

/// The official SDK pointed at `be`, in `region` (6.x's per-resource region).
pub fn client_in(be: &Backend, region: &str) -> aws_sdk_elasticache::Client {
    let conf = be
        .client()
        .config()
        .to_builder()
        .region(aws_sdk_elasticache::config::Region::new(region.to_owned()))
        .build();
    aws_sdk_elasticache::Client::from_conf(conf)
}
