//! Parameter groups, subnet groups, tags, events and catalogs through the SDK.

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::{ParameterNameValue, SourceType, Tag};

use crate::common::{self, code, delete_cluster, wait_cluster, Backend};

fn param(name: &str, value: &str) -> ParameterNameValue {
    ParameterNameValue::builder()
        .parameter_name(name)
        .parameter_value(value)
        .build()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

async fn user_params(c: &aws_sdk_elasticache::Client, pg: &str) -> Vec<(String, String)> {
    let r = c
        .describe_cache_parameters()
        .cache_parameter_group_name(pg)
        .source("user")
        .max_records(100)
        .send()
        .await
        .unwrap();
    r.parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_name().unwrap().to_owned(),
                p.parameter_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_groups() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let pg = common::name("pg");
        let r = c
            .create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("redis7")
            .description("itest group")
            .send()
            .await
            .unwrap();
        let g = r.cache_parameter_group().unwrap();
        assert_eq!(g.cache_parameter_group_family(), Some("redis7"));
        assert_eq!(
            g.arn(),
            Some(
                format!("arn:aws:elasticache:us-east-1:000000000000:parametergroup:{pg}").as_str()
            )
        );
        assert_eq!(
            code(
                c.create_cache_parameter_group()
                    .cache_parameter_group_name(&pg)
                    .cache_parameter_group_family("redis7")
                    .description("again")
                    .send()
                    .await
            ),
            "CacheParameterGroupAlreadyExists"
        );
        let d = c
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
        assert_eq!(d.cache_parameter_groups().len(), 1);
        assert_eq!(
            d.cache_parameter_groups()[0].description(),
            Some("itest group")
        );
        assert!(user_params(&c, &pg).await.is_empty());

        c.modify_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(param("maxmemory-policy", "allkeys-lru"))
            .parameter_name_values(param("timeout", "120"))
            .send()
            .await
            .unwrap();
        let mut user = user_params(&c, &pg).await;
        user.sort();
        assert_eq!(
            user,
            [
                ("maxmemory-policy".to_owned(), "allkeys-lru".to_owned()),
                ("timeout".to_owned(), "120".to_owned())
            ]
        );
        // Invalid values and unknown parameters.
        assert_eq!(
            code(
                c.modify_cache_parameter_group()
                    .cache_parameter_group_name(&pg)
                    .parameter_name_values(param("maxmemory-policy", "sometimes"))
                    .send()
                    .await
            ),
            "InvalidParameterValue"
        );
        assert_eq!(
            code(
                c.modify_cache_parameter_group()
                    .cache_parameter_group_name(&pg)
                    .parameter_name_values(param("timeout", "-5"))
                    .send()
                    .await
            ),
            "InvalidParameterValue"
        );
        assert_eq!(
            code(
                c.modify_cache_parameter_group()
                    .cache_parameter_group_name(&pg)
                    .parameter_name_values(param("no-such-parameter", "1"))
                    .send()
                    .await
            ),
            "InvalidParameterValue"
        );
        // Reset one, then all.
        c.reset_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(
                ParameterNameValue::builder()
                    .parameter_name("timeout")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            user_params(&c, &pg).await,
            [("maxmemory-policy".to_owned(), "allkeys-lru".to_owned())]
        );
        c.reset_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .reset_all_parameters(true)
            .send()
            .await
            .unwrap();
        assert!(user_params(&c, &pg).await.is_empty());

        // Default groups are read-only.
        assert_eq!(
            code(
                c.modify_cache_parameter_group()
                    .cache_parameter_group_name("default.redis7")
                    .parameter_name_values(param("timeout", "10"))
                    .send()
                    .await
            ),
            "InvalidCacheParameterGroupState"
        );
        assert_eq!(
            code(
                c.delete_cache_parameter_group()
                    .cache_parameter_group_name("default.redis7")
                    .send()
                    .await
            ),
            "InvalidCacheParameterGroupState"
        );
        let defaults = c
            .describe_cache_parameters()
            .cache_parameter_group_name("default.redis7")
            .max_records(100)
            .send()
            .await
            .unwrap();
        assert!(defaults
            .parameters()
            .iter()
            .any(|p| p.parameter_name() == Some("maxmemory-policy")
                && p.parameter_value() == Some("volatile-lru")));

        // A group in use cannot be deleted.
        let id = common::name("inuse");
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.delete_cache_parameter_group()
                    .cache_parameter_group_name(&pg)
                    .send()
                    .await
            ),
            "InvalidCacheParameterGroupState"
        );
        wait_cluster(&c, &id, "available").await;
        delete_cluster(&c, &id).await;
        c.delete_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.describe_cache_parameter_groups()
                    .cache_parameter_group_name(&pg)
                    .send()
                    .await
            ),
            "CacheParameterGroupNotFound"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_groups() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let d = c
            .describe_cache_subnet_groups()
            .cache_subnet_group_name("default")
            .send()
            .await
            .unwrap();
        assert_eq!(d.cache_subnet_groups().len(), 1);
        assert!(!d.cache_subnet_groups()[0].subnets().is_empty());

        let sg = common::name("sg");
        let azs = |g: &aws_sdk_elasticache::types::CacheSubnetGroup| -> Vec<(String, String)> {
            g.subnets()
                .iter()
                .map(|s| {
                    (
                        s.subnet_identifier().unwrap().to_owned(),
                        s.subnet_availability_zone()
                            .unwrap()
                            .name()
                            .unwrap()
                            .to_owned(),
                    )
                })
                .collect()
        };
        let r = c
            .create_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .cache_subnet_group_description("two subnets")
            .subnet_ids("subnet-0aaaaaaaaaaaaaaa1")
            .subnet_ids("subnet-0bbbbbbbbbbbbbbb2")
            .send()
            .await
            .unwrap();
        let g = r.cache_subnet_group().unwrap();
        let first = azs(g);
        assert_eq!(first.len(), 2);
        for (_, az) in &first {
            assert!(az.starts_with("us-east-1"), "{az}");
        }
        assert!(g.vpc_id().is_some_and(|v| v.starts_with("vpc-")));
        // Deterministic: described again, the same zones.
        let d = c
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(&sg)
            .send()
            .await
            .unwrap();
        assert_eq!(azs(&d.cache_subnet_groups()[0]), first);
        assert_eq!(
            code(
                c.create_cache_subnet_group()
                    .cache_subnet_group_name(&sg)
                    .cache_subnet_group_description("dup")
                    .subnet_ids("subnet-0aaaaaaaaaaaaaaa1")
                    .send()
                    .await
            ),
            "CacheSubnetGroupAlreadyExists"
        );
        assert_eq!(
            code(
                c.create_cache_subnet_group()
                    .cache_subnet_group_name(common::name("bad"))
                    .cache_subnet_group_description("bad")
                    .subnet_ids("not-a-subnet")
                    .send()
                    .await
            ),
            "InvalidSubnet"
        );
        let r = c
            .modify_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .cache_subnet_group_description("three subnets")
            .subnet_ids("subnet-0aaaaaaaaaaaaaaa1")
            .subnet_ids("subnet-0bbbbbbbbbbbbbbb2")
            .subnet_ids("subnet-0ccccccccccccccc3")
            .send()
            .await
            .unwrap();
        let g = r.cache_subnet_group().unwrap();
        assert_eq!(g.cache_subnet_group_description(), Some("three subnets"));
        assert_eq!(g.subnets().len(), 3);
        assert_eq!(azs(g)[..2], first[..]);

        // In use.
        let id = common::name("sgc");
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .cache_subnet_group_name(&sg)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.delete_cache_subnet_group()
                    .cache_subnet_group_name(&sg)
                    .send()
                    .await
            ),
            "CacheSubnetGroupInUse"
        );
        let cl = wait_cluster(&c, &id, "available").await;
        let zone = cl.preferred_availability_zone().unwrap().to_owned();
        assert!(
            azs(g).iter().any(|(_, az)| *az == zone),
            "{zone} not in the group's zones"
        );
        delete_cluster(&c, &id).await;
        c.delete_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.describe_cache_subnet_groups()
                    .cache_subnet_group_name(&sg)
                    .send()
                    .await
            ),
            "CacheSubnetGroupNotFoundFault"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_on_every_resource() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let id = common::name("tagc");
        let pg = common::name("tagpg");
        let sg = common::name("tagsg");
        let cl = c
            .create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .tags(tag("a", "1"))
            .send()
            .await
            .unwrap();
        let cluster_arn = cl.cache_cluster().unwrap().arn().unwrap().to_owned();
        let pg_arn = c
            .create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("memcached1.6")
            .description("t")
            .send()
            .await
            .unwrap()
            .cache_parameter_group()
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        let sg_arn = c
            .create_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .cache_subnet_group_description("t")
            .subnet_ids("subnet-0aaaaaaaaaaaaaaa1")
            .send()
            .await
            .unwrap()
            .cache_subnet_group()
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        assert_eq!(
            sg_arn,
            format!("arn:aws:elasticache:us-east-1:000000000000:subnetgroup:{sg}")
        );
        for arn in [&cluster_arn, &pg_arn, &sg_arn] {
            let r = c
                .add_tags_to_resource()
                .resource_name(arn)
                .tags(tag("env", "test"))
                .tags(tag("owner", "itest"))
                .send()
                .await
                .unwrap();
            assert!(r.tag_list().iter().any(|t| t.key() == Some("env")));
            // Overwrite a value.
            c.add_tags_to_resource()
                .resource_name(arn)
                .tags(tag("env", "prod"))
                .send()
                .await
                .unwrap();
            let l = c
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .unwrap();
            assert!(l
                .tag_list()
                .iter()
                .any(|t| t.key() == Some("env") && t.value() == Some("prod")));
            assert!(l.tag_list().iter().any(|t| t.key() == Some("owner")));
            let r = c
                .remove_tags_from_resource()
                .resource_name(arn)
                .tag_keys("owner")
                .send()
                .await
                .unwrap();
            assert!(!r.tag_list().iter().any(|t| t.key() == Some("owner")));
            // Removing a key that is not there: AWS answers TagNotFound.
            let e = c
                .remove_tags_from_resource()
                .resource_name(arn)
                .tag_keys("never-set")
                .send()
                .await
                .expect_err("removing an absent tag key must fail");
            assert_eq!(e.as_service_error().unwrap().code(), Some("TagNotFound"));
        }
        let l = c
            .list_tags_for_resource()
            .resource_name(&cluster_arn)
            .send()
            .await
            .unwrap();
        assert!(l.tag_list().iter().any(|t| t.key() == Some("a")));
        // 51 tags are too many.
        let mut req = c.add_tags_to_resource().resource_name(&pg_arn);
        for i in 0..51 {
            req = req.tags(tag(&format!("k{i}"), "v"));
        }
        assert_eq!(code(req.send().await), "TagQuotaPerResourceExceeded");
        // An unknown resource, a malformed ARN.
        assert_eq!(
            code(
                c.list_tags_for_resource()
                    .resource_name("arn:aws:elasticache:us-east-1:000000000000:cluster:nope-nope")
                    .send()
                    .await
            ),
            "CacheClusterNotFound"
        );
        assert_eq!(
            code(
                c.list_tags_for_resource()
                    .resource_name("not-an-arn")
                    .send()
                    .await
            ),
            "InvalidARN"
        );
        wait_cluster(&c, &id, "available").await;
        delete_cluster(&c, &id).await;
        c.delete_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
        c.delete_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_filters() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let a = common::name("eva");
        let z = common::name("evz");
        for id in [&a, &z] {
            c.create_cache_cluster()
                .cache_cluster_id(id)
                .engine("memcached")
                .cache_node_type("cache.t3.micro")
                .send()
                .await
                .unwrap();
        }
        wait_cluster(&c, &a, "available").await;
        wait_cluster(&c, &z, "available").await;
        let pg = common::name("evpg");
        c.create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("redis7")
            .description("e")
            .send()
            .await
            .unwrap();

        let r = c
            .describe_events()
            .source_type(SourceType::CacheCluster)
            .source_identifier(&a)
            .send()
            .await
            .unwrap();
        assert!(!r.events().is_empty());
        assert!(r
            .events()
            .iter()
            .all(|e| e.source_identifier() == Some(a.as_str())
                && e.source_type() == Some(&SourceType::CacheCluster)));
        assert!(r
            .events()
            .iter()
            .any(|e| e.message().unwrap_or_default().contains("created")));

        let all = c.describe_events().duration(60).send().await.unwrap();
        assert!(all
            .events()
            .iter()
            .any(|e| e.source_identifier() == Some(z.as_str())));
        let only_clusters = c
            .describe_events()
            .source_type(SourceType::CacheCluster)
            .send()
            .await
            .unwrap();
        assert!(only_clusters
            .events()
            .iter()
            .all(|e| e.source_type() == Some(&SourceType::CacheCluster)));
        // A start time in the future: nothing.
        let future = aws_sdk_elasticache::primitives::DateTime::from_secs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                + 3600,
        );
        let none = c.describe_events().start_time(future).send().await.unwrap();
        assert!(none.events().is_empty(), "{:?}", none.events());
        // A start time in the past: the events.
        let past = aws_sdk_elasticache::primitives::DateTime::from_secs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                - 600,
        );
        let some = c.describe_events().start_time(past).send().await.unwrap();
        assert!(some
            .events()
            .iter()
            .any(|e| e.source_identifier() == Some(a.as_str())));
        assert_eq!(
            code(c.describe_events().source_identifier(&a).send().await),
            "InvalidParameterCombination"
        );
        delete_cluster(&c, &a).await;
        delete_cluster(&c, &z).await;
        let r = c
            .describe_events()
            .source_type(SourceType::CacheCluster)
            .source_identifier(&a)
            .send()
            .await
            .unwrap();
        assert!(r
            .events()
            .iter()
            .any(|e| e.message().unwrap_or_default().contains("deleted")));
        c.delete_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogs() {
    let b = Backend::start(&common::runtimes()[0]);
    let c = b.client();
    let r = c
        .describe_cache_engine_versions()
        .engine("redis")
        .default_only(true)
        .send()
        .await
        .unwrap();
    assert_eq!(r.cache_engine_versions().len(), 1);
    assert_eq!(r.cache_engine_versions()[0].engine_version(), Some("7.1"));
    assert_eq!(
        r.cache_engine_versions()[0].cache_parameter_group_family(),
        Some("redis7")
    );
    let r = c
        .describe_cache_engine_versions()
        .engine("memcached")
        .send()
        .await
        .unwrap();
    assert!(r
        .cache_engine_versions()
        .iter()
        .all(|v| v.engine() == Some("memcached")));
    for fam in [
        "memcached1.4",
        "memcached1.5",
        "memcached1.6",
        "redis2.6",
        "redis2.8",
        "redis3.2",
        "redis4.0",
        "redis5.0",
        "redis6.x",
        "redis7",
        "valkey7",
        "valkey8",
    ] {
        let r = c
            .describe_engine_default_parameters()
            .cache_parameter_group_family(fam)
            .max_records(100)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{fam}: {e:?}"));
        let d = r.engine_defaults().unwrap();
        assert_eq!(d.cache_parameter_group_family(), Some(fam));
        assert!(!d.parameters().is_empty(), "{fam} has no parameters");
    }
    assert_eq!(
        code(
            c.describe_engine_default_parameters()
                .cache_parameter_group_family("redis99")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );

    let id = common::name("nt");
    c.create_cache_cluster()
        .cache_cluster_id(&id)
        .engine("redis")
        .cache_node_type("cache.t3.small")
        .send()
        .await
        .unwrap();
    let m = c
        .list_allowed_node_type_modifications()
        .cache_cluster_id(&id)
        .send()
        .await
        .unwrap();
    assert!(m
        .scale_up_modifications()
        .iter()
        .any(|t| t == "cache.t3.medium"));
    assert!(m
        .scale_down_modifications()
        .iter()
        .any(|t| t == "cache.t3.micro"));
    assert!(!m
        .scale_up_modifications()
        .iter()
        .any(|t| t == "cache.t3.small"));
    assert_eq!(
        code(
            c.list_allowed_node_type_modifications()
                .cache_cluster_id("nope-nope")
                .send()
                .await
        ),
        "CacheClusterNotFound"
    );
    wait_cluster(&c, &id, "available").await;
    delete_cluster(&c, &id).await;
}

/// `--auth strict`: requests are verified with SigV4 against known keys, each
/// key's account sees only its own resources, and unsigned, badly signed or
/// unknown-key requests answer AWS's errors with AWS's statuses. The AWS CLI
/// (botocore's signer) and the Rust SDK both sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_strict_mode() {
    let b = Backend::start_with(
        "process",
        &[
            ("ELASTICACHE_AUTH", "strict"),
            (
                "ELASTICACHE_CREDENTIALS",
                "AKIDALICE:alice-secret:111111111111,AKIDBOB:bob-secret:222222222222",
            ),
        ],
    );
    let with = |key: &str, secret: &str| {
        let conf = aws_sdk_elasticache::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                key, secret, None, None, "test",
            ))
            .endpoint_url(b.endpoint())
            .build();
        aws_sdk_elasticache::Client::from_conf(conf)
    };
    let (alice, bob) = (
        with("AKIDALICE", "alice-secret"),
        with("AKIDBOB", "bob-secret"),
    );
    let pg = common::name("pg");
    let g = alice
        .create_cache_parameter_group()
        .cache_parameter_group_name(&pg)
        .cache_parameter_group_family("redis7")
        .description("alice's")
        .send()
        .await
        .unwrap();
    assert_eq!(
        g.cache_parameter_group().and_then(|g| g.arn()),
        Some(format!("arn:aws:elasticache:eu-west-1:111111111111:parametergroup:{pg}").as_str())
    );
    assert_eq!(
        code(
            bob.describe_cache_parameter_groups()
                .cache_parameter_group_name(&pg)
                .send()
                .await
        ),
        "CacheParameterGroupNotFound"
    );
    assert_eq!(
        code(
            with("AKIDALICE", "not-alices-secret")
                .describe_cache_clusters()
                .send()
                .await
        ),
        "SignatureDoesNotMatch"
    );
    assert_eq!(
        code(
            with("AKIDNOBODY", "x")
                .describe_cache_clusters()
                .send()
                .await
        ),
        "InvalidClientTokenId"
    );
    let (status, body) = b
        .raw("Action=DescribeCacheClusters&Version=2015-02-02")
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<Code>MissingAuthenticationToken</Code>"),
        "{body}"
    );

    // The AWS CLI signs with botocore's signer.
    let cli = |secret: &str| {
        std::process::Command::new("aws")
            .args([
                "elasticache",
                "describe-cache-parameter-groups",
                "--cache-parameter-group-name",
                &pg,
            ])
            .args([
                "--endpoint-url",
                &b.endpoint(),
                "--region",
                "eu-west-1",
                "--output",
                "json",
            ])
            .env("AWS_ACCESS_KEY_ID", "AKIDALICE")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("aws cli runs")
    };
    let ok = cli("alice-secret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&pg));
    let bad = cli("wrong");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SignatureDoesNotMatch"));
}
