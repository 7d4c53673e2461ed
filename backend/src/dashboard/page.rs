//! The dashboard's HTML, rendered on the server from the same views as the JSON
//! API; the script refreshes the topology (`/_elasticache/dashboard/topology`,
//! this same renderer) and appends events from the live stream.

use std::fmt::Write as _;

use super::view::{ClusterView, Endpoint, GroupView, NodeView, RegionView, ServerlessView};

pub const SCRIPT: &str = include_str!("dashboard.js");
pub const STYLE: &str = include_str!("dashboard.css");

/// Escape text for HTML (element content and quoted attributes).
#[must_use]
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page: the topology of every account and region, then the events.
#[must_use]
pub fn page(regions: &[RegionView], last_seq: u64) -> String {
    let mut events = String::new();
    let mut all: Vec<_> = regions.iter().flat_map(|r| r.events.iter()).collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.seq));
    for e in all.iter().take(100) {
        let _ = write!(
            events,
            r#"<li data-seq="{}"><time>{}</time> <span class="src">{} {}</span> {}</li>"#,
            e.seq,
            esc(&e.date),
            esc(&e.source_type),
            esc(&e.source_id),
            esc(&e.message)
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>elasticache-local</title>
<link rel="stylesheet" href="/_elasticache/dashboard.css">
</head><body>
<header><h1>elasticache-local</h1>
<span class="muted">live · refreshed <span id="updated">now</span> · <a href="/_elasticache/regions">JSON</a> · <a href="/_elasticache/ca.pem">ca.pem</a></span>
<span id="action-result" role="status"></span></header>
<main>
<section id="topology">{}</section>
<aside><h2>Events <span id="stream-state" class="muted">connecting…</span></h2><ol id="events" data-last-seq="{last_seq}">{events}</ol></aside>
</main>
<script src="/_elasticache/dashboard.js"></script>
</body></html>
"#,
        topology(regions)
    )
}

/// The topology part, refreshed on its own.
#[must_use]
pub fn topology(regions: &[RegionView]) -> String {
    let mut out = String::new();
    if regions.is_empty() {
        out.push_str(
            r#"<p class="empty">Nothing yet. Create a cluster, e.g. <code>aws --endpoint-url http://127.0.0.1:4566 elasticache create-cache-cluster --cache-cluster-id demo --engine redis --cache-node-type cache.t3.micro --num-cache-nodes 1</code></p>"#,
        );
    }
    for r in regions {
        let _ = write!(
            out,
            r#"<div class="region" data-account="{a}" data-region="{g}"><h2>{a} · {g}</h2>"#,
            a = esc(&r.account),
            g = esc(&r.region)
        );
        for g in &r.replication_groups {
            group(&mut out, r, g);
        }
        for c in &r.cache_clusters {
            cluster(&mut out, r, c);
        }
        for s in &r.serverless_caches {
            serverless(&mut out, s);
        }
        for g in &r.global_datastores {
            let _ = write!(
                out,
                r#"<div class="card global" data-global="{id}"><h3>global datastore <b>{id}</b> {st}</h3><p class="muted">{d}</p><ul>"#,
                id = esc(&g.id),
                st = badge(&g.status),
                d = esc(&g.description)
            );
            for m in &g.members {
                let _ = write!(
                    out,
                    "<li>{} <b>{}</b> in {} {}</li>",
                    esc(&m.role.to_ascii_lowercase()),
                    esc(&m.replication_group_id),
                    esc(&m.region),
                    badge(&m.status)
                );
            }
            out.push_str("</ul></div>");
        }
        if !r.user_groups.is_empty() || !r.users.is_empty() {
            out.push_str(r#"<div class="card"><h3>Users and user groups</h3><ul>"#);
            for u in &r.users {
                let _ = write!(
                    out,
                    r#"<li>user <b>{}</b> ({}) {} <span class="muted">{} · {}</span></li>"#,
                    esc(&u.id),
                    esc(&u.name),
                    badge(&u.status),
                    esc(&u.authentication),
                    esc(&u.access_string)
                );
            }
            for u in &r.user_groups {
                let _ = write!(
                    out,
                    r#"<li>user group <b>{}</b> {} users: {} · attached to: {}</li>"#,
                    esc(&u.id),
                    badge(&u.status),
                    esc(&u.user_ids.join(", ")),
                    esc(&u.replication_groups.join(", "))
                );
            }
            out.push_str("</ul></div>");
        }
        if !r.snapshots.is_empty() {
            out.push_str(r#"<div class="card"><h3>Snapshots</h3><table><tr><th>name</th><th>status</th><th>source</th><th>of</th><th>shards</th><th>size</th><th>created</th></tr>"#);
            for s in &r.snapshots {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&s.name),
                    badge(&s.status),
                    esc(&s.source),
                    esc(s.replication_group_id.as_deref().or(s.cache_cluster_id.as_deref()).unwrap_or("")),
                    s.shards,
                    esc(s.size.as_deref().unwrap_or("")),
                    esc(&s.created)
                );
            }
            out.push_str("</table></div>");
        }
        out.push_str("</div>");
    }
    out
}

fn badge(status: &str) -> String {
    let class = match status {
        "available" | "active" | "up" | "associated" => "ok",
        "create-failed" | "incompatible-network" | "failed" | "down" => "bad",
        _ => "busy",
    };
    format!(r#"<span class="badge {class}">{}</span>"#, esc(status))
}

fn endpoint(label: &str, e: &Endpoint) -> String {
    let text = format!("{}:{}", e.address, e.port);
    format!(
        r#"<span class="ep">{} <code>{t}</code><button class="copy" data-copy="{t}" title="copy to the clipboard">copy</button></span>"#,
        esc(label),
        t = esc(&text)
    )
}

fn bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    if n >= 1 << 30 {
        format!("{:.1} GiB", f / f64::from(1u32 << 30))
    } else if n >= 1 << 20 {
        format!("{:.1} MiB", f / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{:.0} KiB", f / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn node_rows(out: &mut String, r: &RegionView, nodes: &[NodeView], failover: Option<(&str, &str)>) {
    out.push_str(r#"<table class="nodes"><tr><th>node</th><th>role</th><th>status</th><th>endpoint</th><th>ops/s</th><th>memory</th><th>clients</th><th>keys</th><th>replication</th><th></th></tr>"#);
    for n in nodes {
        let f = &n.figures;
        let role = n.role.as_deref().unwrap_or("node");
        let memory = match (f.used_memory_bytes, f.maxmemory_bytes) {
            (Some(u), Some(m)) if m > 0 => {
                #[allow(clippy::cast_precision_loss)]
                let pct = (u as f64 / m as f64 * 100.0).min(100.0);
                format!(
                    r#"<meter min="0" max="100" value="{pct:.1}"></meter> {} / {}"#,
                    bytes(u),
                    bytes(m)
                )
            }
            (Some(u), _) => format!("{} (no limit)", bytes(u)),
            _ => String::new(),
        };
        let repl = if role == "replica" {
            let link = f.link_status.as_deref().unwrap_or("?");
            let mut s = format!("link {}", badge(link));
            if let Some(l) = n.lag_bytes {
                let _ = write!(s, " lag {l} B");
            }
            if let Some(io) = f.link_last_io_seconds {
                let _ = write!(s, " · {io}s ago");
            }
            s
        } else {
            String::new()
        };
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut actions = format!(
            r#"<button data-action="RebootCacheCluster" data-account="{a}" data-region="{g}" data-cluster="{c}" data-node="{n}">reboot</button>"#,
            a = esc(&r.account),
            g = esc(&r.region),
            c = esc(&n.cache_cluster_id),
            n = esc(&n.cache_node_id)
        );
        if let (Some((group, shard)), "primary") = (failover, role) {
            let _ = write!(
                actions,
                r#" <button data-action="TestFailover" data-account="{a}" data-region="{g}" data-group="{grp}" data-shard="{sh}">test failover</button>"#,
                a = esc(&r.account),
                g = esc(&r.region),
                grp = esc(group),
                sh = esc(shard)
            );
        }
        let _ = write!(
            out,
            r#"<tr class="node" data-node="{c}/{id}" data-role="{role}"><td><b>{c}</b>/{id}</td><td class="role {role}">{role}</td><td>{st}{dead}</td><td>{ep}</td><td>{ops}</td><td>{memory}</td><td>{clients}</td><td>{keys}</td><td class="repl">{repl}</td><td class="actions">{actions}</td></tr>"#,
            c = esc(&n.cache_cluster_id),
            id = esc(&n.cache_node_id),
            role = esc(role),
            st = badge(&n.status),
            dead = if f.answering || n.status != "available" {
                ""
            } else {
                r#" <span class="badge bad">not answering</span>"#
            },
            ep = endpoint("", &n.endpoint),
            ops = f.ops_per_sec.map(|v| v.to_string()).unwrap_or_default(),
            clients = opt(f.clients),
            keys = opt(f.keys),
        );
    }
    out.push_str("</table>");
}

fn group(out: &mut String, r: &RegionView, g: &GroupView) {
    let _ = write!(
        out,
        r#"<div class="card group" data-group="{id}"><h3>replication group <b>{id}</b> {st}</h3><p class="muted">{engine} {ver} · {nt} · cluster mode {cm} · automatic failover {af}{tls}{auth}</p><p>"#,
        id = esc(&g.id),
        st = badge(&g.status),
        engine = esc(&g.engine),
        ver = esc(g.engine_version.as_deref().unwrap_or("")),
        nt = esc(g.node_type.as_deref().unwrap_or("")),
        cm = if g.cluster_mode {
            "enabled"
        } else {
            "disabled"
        },
        af = if g.automatic_failover { "on" } else { "off" },
        tls = if g.transit_encryption { " · TLS" } else { "" },
        auth = if g.auth_token_enabled { " · AUTH" } else { "" },
    );
    for (label, e) in [
        ("primary", &g.primary_endpoint),
        ("reader", &g.reader_endpoint),
        ("configuration", &g.configuration_endpoint),
    ] {
        if let Some(e) = e {
            out.push_str(&endpoint(label, e));
        }
    }
    out.push_str("</p>");
    for s in &g.shards {
        let _ = write!(
            out,
            r#"<div class="shard" data-shard="{id}"><h4>shard {id}{slots}</h4>"#,
            id = esc(&s.id),
            slots = s
                .slots
                .as_deref()
                .map(|sl| format!(r#" <span class="muted">slots {}</span>"#, esc(sl)))
                .unwrap_or_default()
        );
        let shard = if g.cluster_mode { s.id.as_str() } else { "" };
        node_rows(out, r, &s.members, Some((&g.id, shard)));
        out.push_str("</div>");
    }
    out.push_str("</div>");
}

fn cluster(out: &mut String, r: &RegionView, c: &ClusterView) {
    let _ = write!(
        out,
        r#"<div class="card cluster" data-cluster="{id}"><h3>cache cluster <b>{id}</b> {st}</h3><p class="muted">{engine} {ver} · {nt}{tls}</p>"#,
        id = esc(&c.id),
        st = badge(&c.status),
        engine = esc(&c.engine),
        ver = esc(&c.engine_version),
        nt = esc(&c.node_type),
        tls = if c.transit_encryption { " · TLS" } else { "" },
    );
    if let Some(e) = &c.configuration_endpoint {
        let _ = write!(out, "<p>{}</p>", endpoint("configuration", e));
    }
    node_rows(out, r, &c.nodes, None);
    out.push_str("</div>");
}

fn serverless(out: &mut String, s: &ServerlessView) {
    let _ = write!(
        out,
        r#"<div class="card serverless" data-serverless="{n}"><h3>serverless cache <b>{n}</b> {st}</h3><p class="muted">{e} {v}{lim}</p><p>"#,
        n = esc(&s.name),
        st = badge(&s.status),
        e = esc(&s.engine),
        v = esc(&s.version),
        lim = s
            .data_storage_max_gb
            .map(|g| format!(" · at most {g} GB"))
            .unwrap_or_default()
    );
    if let Some(e) = &s.endpoint {
        out.push_str(&endpoint("endpoint", e));
    }
    if let Some(e) = &s.reader_endpoint {
        out.push_str(&endpoint("reader", e));
    }
    let _ = write!(
        out,
        r#"</p><p class="muted">{} engines behind it</p></div>"#,
        s.nodes.len()
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(
            super::esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn empty_page_says_what_to_do() {
        let p = super::page(&[], 0);
        assert!(p.contains("Nothing yet"));
        assert!(p.contains("/_elasticache/dashboard.js"));
    }
}
