//! The dashboard and the introspection API under it, served beside the Query API:
//!
//! - `GET /` (a browser: no `Action`, `Accept: text/html`) — the live dashboard,
//!   server-rendered ([`page`]) with one small script and style sheet
//!   (`dashboard.js`, `dashboard.css`, embedded in the binary);
//! - `GET /_elasticache/regions` — every account and region that holds anything;
//! - `GET /_elasticache/regions/{account}/{region}` — its clusters, replication
//!   groups (shards, members and roles, replication links and lag, slots),
//!   serverless caches, users, user groups, snapshots, events, and each node's
//!   live figures ([`view`]);
//! - `GET /_elasticache/events?after=SEQ` — events of every account and region;
//!   `GET /_elasticache/events/stream` — the same as server-sent events, live.
//!
//! Read-only: the dashboard's actions (reboot a node, test a failover) are Query
//! API requests from the browser, the same the SDKs send.

pub mod page;
pub mod view;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream, StreamExt};

use crate::model::{ControlPlane, Scope};

/// How many events one answer or the stream's first burst carries at most.
const EVENTS_LIMIT: usize = 200;

/// The routes under `/_elasticache/` (the dashboard page itself is `/`,
/// served by [`page_response`] from the Query API's route).
pub fn routes<S: Clone + Send + Sync + 'static>(cp: Arc<ControlPlane>) -> Router<S> {
    Router::new()
        .route("/_elasticache/regions", get(regions))
        .route("/_elasticache/regions/{account}/{region}", get(region))
        .route("/_elasticache/events", get(events))
        .route("/_elasticache/events/stream", get(event_stream))
        .route("/_elasticache/dashboard", get(dashboard))
        .route("/_elasticache/dashboard/topology", get(topology))
        .route(
            "/_elasticache/dashboard.js",
            get(|| async { asset("text/javascript", page::SCRIPT) }),
        )
        .route(
            "/_elasticache/dashboard.css",
            get(|| async { asset("text/css", page::STYLE) }),
        )
        .with_state(cp)
}

/// Whether a request to `/` is a person's browser rather than an API call:
/// a `GET` without `Action` that accepts HTML (or asks nothing at all).
#[must_use]
pub fn wants_page(headers: &HeaderMap, query: Option<&str>) -> bool {
    let has_action =
        form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, _)| k == "Action");
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    !has_action && (accept.contains("text/html") || query.is_none_or(str::is_empty))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn all_regions(cp: &ControlPlane) -> Vec<view::RegionView> {
    let mut out = Vec::new();
    for scope in cp.scopes() {
        if let Some(r) = view::region(cp, &scope).await {
            out.push(r);
        }
    }
    out
}

/// The dashboard page, for `GET /` from a browser.
pub async fn page_response(cp: &ControlPlane) -> Response {
    let regions = all_regions(cp).await;
    let seq = cp.events_after(0, 1).last().map_or(0, |(_, e)| e.seq);
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page::page(&regions, seq),
    )
        .into_response()
}

async fn dashboard(State(cp): State<Arc<ControlPlane>>) -> Response {
    page_response(&cp).await
}

async fn topology(State(cp): State<Arc<ControlPlane>>) -> Response {
    let regions = all_regions(&cp).await;
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page::topology(&regions),
    )
        .into_response()
}

async fn regions(State(cp): State<Arc<ControlPlane>>) -> Json<view::Overview> {
    Json(view::overview(&cp))
}

async fn region(
    State(cp): State<Arc<ControlPlane>>,
    Path((account, region)): Path<(String, String)>,
) -> Response {
    match view::region(&cp, &Scope::new(account.clone(), region.clone())).await {
        Some(v) => Json(v).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "error": format!("account {account} has nothing in region {region}")
            })),
        )
            .into_response(),
    }
}

#[derive(serde::Deserialize)]
struct After {
    after: Option<u64>,
}

async fn events(
    State(cp): State<Arc<ControlPlane>>,
    Query(q): Query<After>,
) -> Json<Vec<view::EventView>> {
    Json(view::events_after(&cp, q.after.unwrap_or(0), EVENTS_LIMIT))
}

/// Events as they happen (`text/event-stream`): each one `data:` its JSON, with
/// its sequence number as the id, so that a reconnecting browser
/// (`Last-Event-ID`) misses none. `?after=SEQ` starts after that event.
async fn event_stream(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(q.after)
        .unwrap_or(0);
    let s = stream::unfold((cp, last, true), |(cp, mut last, first)| async move {
        loop {
            if !first {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let evs = view::events_after(&cp, last, EVENTS_LIMIT);
            if let Some(e) = evs.last() {
                last = e.seq;
            } else if first {
                // Nothing yet: say so at once, so that the page knows the stream is open.
                let hello = Event::default().event("ready").data(last.to_string());
                return Some((vec![Ok(hello)], (cp, last, false)));
            } else {
                continue;
            }
            let out = evs
                .into_iter()
                .map(|e| {
                    Ok(Event::default()
                        .id(e.seq.to_string())
                        .json_data(&e)
                        .unwrap_or_default())
                })
                .collect::<Vec<_>>();
            return Some((out, (cp, last, false)));
        }
    })
    .flat_map(stream::iter);
    Sse::new(s).keep_alive(KeepAlive::default())
}
