//! HTTP: one route that takes Query requests (POST form or GET query string),
//! which also serves the dashboard to a browser; the dashboard's and the
//! introspection API's routes under `/_elasticache/` ([`crate::dashboard`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tracing::Instrument;

use crate::model::{ControlPlane, Scope};
use crate::ops;
use crate::query::{self, WireError, MODEL};

#[derive(Clone)]
pub struct AppState {
    pub cp: Arc<ControlPlane>,
    pub default_region: String,
    /// The CA that node certificates chain to, served for clients to trust.
    pub ca: Arc<crate::tls::Authority>,
    /// Whether signatures are verified, and the keys they may be made with.
    pub auth: crate::auth::AuthMode,
    pub credentials: Arc<crate::auth::Credentials>,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", any(handle))
        .route("/_health", get(|| async { "ok" }))
        .route("/_elasticache/ca.pem", get(ca_pem))
        .merge(crate::dashboard::routes(state.cp.clone()))
        .with_state(state)
}

/// The certificate authority's certificate, for `redis-cli --tls --cacert` and
/// every other client that verifies node certificates.
async fn ca_pem(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.ca.ca_pem().to_owned(),
    )
        .into_response()
}

fn xml(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    answer(state, method, uri.path(), q, headers, body).await
}

/// A request to the Query route (`/`) as received, answered: the dashboard's page, an
/// authentication error, or the operation's answer or error. No engine is needed
/// to answer (the reconciler acts later), which is what the fuzzed decoders drive.
pub async fn answer(
    state: AppState,
    method: Method,
    path: &str,
    q: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::GET && crate::dashboard::wants_page(&headers, q.as_deref()) {
        return crate::dashboard::page_response(&state.cp).await;
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("request", id = %request_id, action = tracing::field::Empty);
    let verified = if state.auth == crate::auth::AuthMode::Strict {
        let req = crate::auth::Request {
            method: method.as_str(),
            path,
            query: q.as_deref(),
            headers: &headers,
            body: &body,
        };
        match crate::auth::verify(&state.credentials, &req, std::time::SystemTime::now()) {
            Ok(c) => Some(c),
            Err(e) => {
                let _g = span.enter();
                tracing::info!(code = %e.code, "request refused: not authenticated");
                return xml(e.status(), e.to_xml(&request_id));
            }
        }
    } else {
        None
    };
    handle_inner(state, &headers, q, &body, request_id, verified)
        .instrument(span)
        .await
}

async fn handle_inner(
    state: AppState,
    headers: &HeaderMap,
    q: Option<String>,
    body: &Bytes,
    request_id: String,
    verified: Option<query::Caller>,
) -> Response {
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    params.extend(form_urlencoded::parse(body).into_owned());
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            params
                .iter()
                .find(|(k, _)| k == "X-Amz-Credential")
                .map(|(_, v)| v.clone())
        });
    let caller =
        verified.unwrap_or_else(|| query::caller_from(auth.as_deref(), &state.default_region));
    let Some(action) = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
    else {
        let e = WireError::missing_parameter("Action");
        return xml(e.status(), e.to_xml(&request_id));
    };
    if let Some((_, v)) = params.iter().find(|(k, _)| k == "Version") {
        if v != &MODEL.api_version {
            let e = WireError::invalid_parameter_value(format!(
                "Unsupported API version {v}; this service speaks {}.",
                MODEL.api_version
            ));
            return xml(e.status(), e.to_xml(&request_id));
        }
    }
    tracing::Span::current().record("action", action.as_str());
    tracing::debug!(%action, account = %caller.account, region = %caller.region, "request");
    let params = query::Node::parse(&params);
    let cp = state.cp.clone();
    let scope = Scope::new(caller.account, caller.region);
    let act = action.clone();
    let rid = request_id.clone();
    let result =
        tokio::task::spawn_blocking(move || ops::dispatch(&cp, scope, &act, &params, &rid))
            .await
            .unwrap_or_else(|e| Err(WireError::internal(format!("handler panicked: {e}"))));
    match result {
        Ok(body) => {
            tracing::debug!("ok");
            xml(200, body)
        }
        Err(e) => {
            tracing::info!(code = %e.code, message = %e.message, "error");
            xml(e.status(), e.to_xml(&request_id))
        }
    }
}
