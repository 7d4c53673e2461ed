//! Service updates: the catalog, update actions computed from what runs, and
//! an update applied for real to a 1+1 replication group (replicas first,
//! data kept), on the process runtime (the restart is the reconciler's own,
//! the same on every runtime).

use std::time::Duration;

use crate::common::{self, code, describe_group, eventually, name, Backend};

const UPDATE: &str = "elasticache-20261020-001"; // redis 7.1

#[tokio::test]
async fn update_action_applied_to_a_group_keeps_its_data() {
    let b = Backend::start("process");
    let c = b.client();

    let all = c.describe_service_updates().send().await.unwrap();
    assert!(all.service_updates().len() >= 7);
    let u = c
        .describe_service_updates()
        .service_update_name(UPDATE)
        .send()
        .await
        .unwrap();
    let u = &u.service_updates()[0];
    assert_eq!(u.engine(), Some("redis"));
    assert_eq!(u.engine_version(), Some("7.1"));
    assert_eq!(
        u.service_update_type().map(|t| t.as_str()),
        Some("security-update")
    );
    let expired = c
        .describe_service_updates()
        .service_update_status(aws_sdk_elasticache::types::ServiceUpdateStatus::Expired)
        .send()
        .await
        .unwrap();
    assert!(expired
        .service_updates()
        .iter()
        .all(|u| u.service_update_status().map(|s| s.as_str()) == Some("expired")));
    assert_eq!(
        code(
            c.describe_service_updates()
                .service_update_name("elasticache-none")
                .send()
                .await
        ),
        "ServiceUpdateNotFoundFault"
    );

    let id = name("upd");
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("update action")
        .engine("redis")
        .engine_version("7.1")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(2)
        .send()
        .await
        .unwrap();
    let g = eventually("group available", Duration::from_secs(120), || async {
        let g = describe_group(&c, &id).await?;
        (g.status() == Some("available")).then_some(g)
    })
    .await;
    let ep = g.node_groups()[0].primary_endpoint().unwrap();
    let primary = common::ep(ep.address().unwrap(), ep.port().unwrap());
    let mut conn = common::redis_conn(primary).await;
    let _: () = redis::cmd("SET")
        .arg("kept")
        .arg("yes")
        .query_async(&mut conn)
        .await
        .unwrap();

    // Not applied yet; node level lists both members.
    let acts = c
        .describe_update_actions()
        .service_update_name(UPDATE)
        .replication_group_ids(&id)
        .show_node_level_update_status(true)
        .send()
        .await
        .unwrap();
    let [a] = acts.update_actions() else {
        panic!("one action expected: {acts:?}")
    };
    assert_eq!(
        a.update_action_status().map(|s| s.as_str()),
        Some("not-applied")
    );
    assert_eq!(a.nodes_updated(), Some("0/2"));
    let members = a.node_group_update_status()[0].node_group_member_update_status();
    assert_eq!(members.len(), 2);
    // A version the update does not patch, a member cluster, an unknown group.
    let other = c
        .batch_apply_update_action()
        .service_update_name("elasticache-20261103-001")
        .replication_group_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(other.unprocessed_update_actions().len(), 1);
    let bad = c
        .batch_apply_update_action()
        .service_update_name(UPDATE)
        .replication_group_ids("no-such-group")
        .cache_cluster_ids(format!("{id}-001"))
        .send()
        .await
        .unwrap();
    assert!(bad.processed_update_actions().is_empty());
    assert_eq!(bad.unprocessed_update_actions().len(), 2);
    // Stopping an action not applied is unprocessed.
    let stop = c
        .batch_stop_update_action()
        .service_update_name(UPDATE)
        .replication_group_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(stop.unprocessed_update_actions().len(), 1);

    let applied = c
        .batch_apply_update_action()
        .service_update_name(UPDATE)
        .replication_group_ids(&id)
        .send()
        .await
        .unwrap();
    let [p] = applied.processed_update_actions() else {
        panic!("processed expected: {applied:?}")
    };
    assert_eq!(
        p.update_action_status().map(|s| s.as_str()),
        Some("waiting-to-start")
    );
    let done = eventually(
        "update action complete",
        Duration::from_secs(180),
        || async {
            let acts = c
                .describe_update_actions()
                .service_update_name(UPDATE)
                .replication_group_ids(&id)
                .show_node_level_update_status(true)
                .send()
                .await
                .ok()?;
            let a = acts.update_actions().first()?.clone();
            (a.update_action_status().map(|s| s.as_str()) == Some("complete")).then_some(a)
        },
    )
    .await;
    assert_eq!(done.nodes_updated(), Some("2/2"));
    let members = done.node_group_update_status()[0].node_group_member_update_status();
    assert!(members
        .iter()
        .all(|m| m.node_update_status().map(|s| s.as_str()) == Some("complete")));
    // Replicas first: the replica's update ended before the primary's started.
    let g = describe_group(&c, &id).await.unwrap();
    let primary_id = g.node_groups()[0]
        .node_group_members()
        .iter()
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .unwrap()
        .to_owned();
    let (p_node, r_node): (Vec<_>, Vec<_>) = members
        .iter()
        .partition(|m| m.cache_cluster_id() == Some(primary_id.as_str()));
    assert!(
        r_node[0].node_update_end_date().unwrap() <= p_node[0].node_update_start_date().unwrap()
    );
    // Data kept, the group is available, events tell what ran.
    let g = eventually("group available again", Duration::from_secs(60), || async {
        let g = describe_group(&c, &id).await?;
        (g.status() == Some("available")).then_some(g)
    })
    .await;
    let ep = g.node_groups()[0].primary_endpoint().unwrap();
    let primary = common::ep(ep.address().unwrap(), ep.port().unwrap());
    let v: Option<String> = eventually("data read back", Duration::from_secs(30), || async {
        let mut conn = redis::Client::open(format!("redis://{primary}/"))
            .ok()?
            .get_multiplexed_async_connection()
            .await
            .ok()?;
        redis::cmd("GET")
            .arg("kept")
            .query_async::<Option<String>>(&mut conn)
            .await
            .ok()
    })
    .await;
    assert_eq!(v.as_deref(), Some("yes"));
    let events = c
        .describe_events()
        .source_identifier(&id)
        .source_type(aws_sdk_elasticache::types::SourceType::ReplicationGroup)
        .send()
        .await
        .unwrap();
    let msgs: Vec<&str> = events.events().iter().filter_map(|e| e.message()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("same local redis 7.1 binary")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("completed")), "{msgs:?}");
    // Applying again answers the action complete.
    let again = c
        .batch_apply_update_action()
        .service_update_name(UPDATE)
        .replication_group_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.processed_update_actions()[0]
            .update_action_status()
            .map(|s| s.as_str()),
        Some("complete")
    );
    let filtered = c
        .describe_update_actions()
        .update_action_status(aws_sdk_elasticache::types::UpdateActionStatus::NotApplied)
        .replication_group_ids(&id)
        .send()
        .await
        .unwrap();
    assert!(filtered
        .update_actions()
        .iter()
        .all(|a| a.service_update_name() != Some(UPDATE)));
}

#[tokio::test]
async fn update_action_stopped_then_resumed_on_a_cluster() {
    let b = Backend::start("process");
    let c = b.client();
    let id = name("updc");
    c.create_cache_cluster()
        .cache_cluster_id(&id)
        .engine("valkey")
        .engine_version("8.1")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .send()
        .await
        .unwrap();
    common::wait_cluster(&c, &id, "available").await;
    const VALKEY: &str = "elasticache-20261103-001"; // valkey 8.1
    let status = |s: &aws_sdk_elasticache::types::UpdateAction| {
        s.update_action_status()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default()
    };
    let applied = c
        .batch_apply_update_action()
        .service_update_name(VALKEY)
        .cache_cluster_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(applied.processed_update_actions().len(), 1);
    // Stopped before its first node: nothing was updated.
    let stopped = c
        .batch_stop_update_action()
        .service_update_name(VALKEY)
        .cache_cluster_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stopped.processed_update_actions()[0]
            .update_action_status()
            .map(|s| s.as_str()),
        Some("stopping")
    );
    let a = eventually("action stopped", Duration::from_secs(30), || async {
        let acts = c
            .describe_update_actions()
            .service_update_name(VALKEY)
            .cache_cluster_ids(&id)
            .show_node_level_update_status(true)
            .send()
            .await
            .ok()?;
        let a = acts.update_actions().first()?.clone();
        (status(&a) == "stopped").then_some(a)
    })
    .await;
    assert_eq!(a.nodes_updated(), Some("0/1"));
    assert_eq!(
        a.cache_node_update_status()[0]
            .node_update_status()
            .map(|s| s.as_str()),
        Some("stopped")
    );
    // Applied again: it resumes and completes.
    c.batch_apply_update_action()
        .service_update_name(VALKEY)
        .cache_cluster_ids(&id)
        .send()
        .await
        .unwrap();
    let a = eventually("action complete", Duration::from_secs(120), || async {
        let acts = c
            .describe_update_actions()
            .service_update_name(VALKEY)
            .cache_cluster_ids(&id)
            .send()
            .await
            .ok()?;
        let a = acts.update_actions().first()?.clone();
        (status(&a) == "complete").then_some(a)
    })
    .await;
    assert_eq!(a.nodes_updated(), Some("1/1"));
    assert_eq!(a.sla_met().map(|s| s.as_str()), Some("yes"));
    // Stopping a complete action is unprocessed.
    let again = c
        .batch_stop_update_action()
        .service_update_name(VALKEY)
        .cache_cluster_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(again.unprocessed_update_actions().len(), 1);
    common::wait_cluster(&c, &id, "available").await;
}
