//! Reserved cache nodes: the offerings catalog and its filters, a purchase
//! that becomes active, its errors, tags on its ARN, and a reservation kept
//! across a restart (retired once the clock passes its term).

use std::time::Duration;

use aws_sdk_elasticache::types::Tag;

use crate::common::{code, eventually, Backend};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn offerings_purchase_errors_and_restart() {
    // No engine is involved: one runtime is enough.
    let tmp = tempfile::Builder::new()
        .prefix("ec-itest-rn-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = Backend::start_in("process", &dir, free_port());
    let c = b.client();

    // Filters: node type × product × duration (years or seconds) × offering type.
    let all = c
        .describe_reserved_cache_nodes_offerings()
        .cache_node_type("cache.t3.micro")
        .max_records(100)
        .send()
        .await
        .unwrap();
    let offs = all.reserved_cache_nodes_offerings();
    assert_eq!(offs.len(), 18, "3 products × 2 terms × 3 offering types");
    let one = c
        .describe_reserved_cache_nodes_offerings()
        .cache_node_type("cache.t3.micro")
        .product_description("redis")
        .duration("1")
        .offering_type("All Upfront")
        .send()
        .await
        .unwrap();
    let [o] = one.reserved_cache_nodes_offerings() else {
        panic!("one offering expected: {one:?}")
    };
    assert_eq!(o.duration(), Some(31_536_000));
    assert!(o.fixed_price().unwrap() > 0.0);
    let id = o.reserved_cache_nodes_offering_id().unwrap().to_owned();
    let by_seconds = c
        .describe_reserved_cache_nodes_offerings()
        .cache_node_type("cache.t3.micro")
        .product_description("redis")
        .duration("31536000")
        .offering_type("All Upfront")
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_seconds.reserved_cache_nodes_offerings()[0].reserved_cache_nodes_offering_id(),
        Some(id.as_str())
    );
    let by_id = c
        .describe_reserved_cache_nodes_offerings()
        .reserved_cache_nodes_offering_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.reserved_cache_nodes_offerings().len(), 1);
    // Paging: 20 per page, the marker gives the rest.
    let p1 = c
        .describe_reserved_cache_nodes_offerings()
        .product_description("valkey")
        .max_records(20)
        .send()
        .await
        .unwrap();
    assert_eq!(p1.reserved_cache_nodes_offerings().len(), 20);
    let p2 = c
        .describe_reserved_cache_nodes_offerings()
        .product_description("valkey")
        .max_records(20)
        .marker(p1.marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_ne!(
        p1.reserved_cache_nodes_offerings()[0].reserved_cache_nodes_offering_id(),
        p2.reserved_cache_nodes_offerings()[0].reserved_cache_nodes_offering_id()
    );
    assert_eq!(
        code(
            c.describe_reserved_cache_nodes_offerings()
                .duration("2")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            c.describe_reserved_cache_nodes_offerings()
                .reserved_cache_nodes_offering_id("00000000-0000-0000-0000-000000000000")
                .send()
                .await
        ),
        "ReservedCacheNodesOfferingNotFound"
    );

    // Purchase: payment-pending, then active; tags on its ARN.
    let bought = c
        .purchase_reserved_cache_nodes_offering()
        .reserved_cache_nodes_offering_id(&id)
        .reserved_cache_node_id("rn-itest")
        .cache_node_count(2)
        .tags(Tag::builder().key("team").value("cache").build())
        .send()
        .await
        .unwrap();
    let rn = bought.reserved_cache_node().unwrap();
    assert_eq!(rn.cache_node_count(), Some(2));
    assert_eq!(rn.product_description(), Some("redis"));
    let arn = rn.reservation_arn().unwrap().to_owned();
    assert!(arn.ends_with(":reserved-instance:rn-itest"), "{arn}");
    eventually("reservation active", Duration::from_secs(20), || async {
        let r = c
            .describe_reserved_cache_nodes()
            .reserved_cache_node_id("rn-itest")
            .send()
            .await
            .unwrap();
        (r.reserved_cache_nodes()[0].state() == Some("active")).then_some(())
    })
    .await;
    c.add_tags_to_resource()
        .resource_name(&arn)
        .tags(Tag::builder().key("env").value("test").build())
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_list().len(), 2);
    assert_eq!(
        code(
            c.purchase_reserved_cache_nodes_offering()
                .reserved_cache_nodes_offering_id(&id)
                .reserved_cache_node_id("rn-itest")
                .send()
                .await
        ),
        "ReservedCacheNodeAlreadyExists"
    );
    assert_eq!(
        code(
            c.purchase_reserved_cache_nodes_offering()
                .reserved_cache_nodes_offering_id("00000000-0000-0000-0000-000000000000")
                .send()
                .await
        ),
        "ReservedCacheNodesOfferingNotFound"
    );
    assert_eq!(
        code(
            c.purchase_reserved_cache_nodes_offering()
                .reserved_cache_nodes_offering_id(&id)
                .cache_node_count(1000)
                .send()
                .await
        ),
        "ReservedCacheNodeQuotaExceeded"
    );
    let filtered = c
        .describe_reserved_cache_nodes()
        .product_description("memcached")
        .send()
        .await
        .unwrap();
    assert!(filtered.reserved_cache_nodes().is_empty());
    assert_eq!(
        code(
            c.describe_reserved_cache_nodes()
                .reserved_cache_node_id("rn-none")
                .send()
                .await
        ),
        "ReservedCacheNodeNotFound"
    );

    // Restart a year and a day later: the reservation is kept, and retired.
    b.kill();
    drop(b);
    let b = Backend::start_in_with(
        "process",
        &dir,
        free_port(),
        &[("ELASTICACHE_CLOCK_OFFSET", "366d")],
    );
    let c = b.client();
    let r = c
        .describe_reserved_cache_nodes()
        .reserved_cache_node_id("rn-itest")
        .send()
        .await
        .unwrap();
    let rn = &r.reserved_cache_nodes()[0];
    assert_eq!(rn.state(), Some("retired"));
    assert_eq!(rn.cache_node_count(), Some(2));
    let tags = c
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_list().len(), 2);
}
