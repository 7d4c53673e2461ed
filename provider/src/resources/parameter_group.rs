//! `aws_elasticache_parameter_group`, as HashiCorp's provider 6.x (5.100.0 configurations unchanged).
//!
//! * `region` (6.x: per resource, ForceNew, import `name@region`), `name` (ForceNew; AWS lower-cases it, so a change of case alone is no
//!   change), `family` (ForceNew), `description` (ForceNew, default
//!   "Managed by Terraform"), `parameter` set of `{name, value}`, tags.
//! * create: CreateCacheParameterGroup, then ModifyCacheParameterGroup in
//!   chunks of 20; update: ResetCacheParameterGroup for parameters removed,
//!   Modify for added/changed ones; tags by `tags::update_tags`.
//! * read: the group, its `Source=user` parameters (all pages; names lower
//!   case, as HashiCorp keeps every user parameter), its tags; gone when
//!   `CacheParameterGroupNotFound`.
//! * delete retries `InvalidCacheParameterGroupState` (in use) for 3 minutes.
//! * import by name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::{CacheParameterGroup, ParameterNameValue};
use tfplugin::{
    async_trait, ApplyRequest, ApplyResponse, Attribute, AttributePath, Block, Diagnostic,
    Imported, Nesting, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Schema, Type, Value,
};

use crate::client::{Meta, SharedConn};
use crate::state::{self, str_of};
use crate::tags;
use crate::{diag, region};

const WHAT: &str = "Parameter Group";
const NOT_FOUND: &str = "CacheParameterGroupNotFound";
const IN_USE: &str = "InvalidCacheParameterGroupState";
/// ModifyCacheParameterGroup / ResetCacheParameterGroup take at most 20.
const MAX_PARAMS: usize = 20;
const DELETE_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------- schema

pub struct ParameterGroup {
    conn: SharedConn,
}

impl ParameterGroup {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::new("arn", Type::String).computed())
            // Replacement for `name` and `description` is decided in `plan`
            // (case-insensitive name, null description = the default).
            .attribute(Attribute::new("description", Type::String).optional())
            .attribute(
                Attribute::new("family", Type::String)
                    .required()
                    .force_new(),
            )
            .attribute(Attribute::new("id", Type::String).optional().computed())
            .attribute(Attribute::new("name", Type::String).required())
            .attribute(region::attribute())
            .attribute(tags::tags_attribute())
            .attribute(tags::tags_all_attribute())
            .block(
                "parameter",
                Nesting::Set,
                Block::new()
                    .attribute(Attribute::new("name", Type::String).required())
                    .attribute(Attribute::new("value", Type::String).required()),
            ),
    )
}

// ---------------------------------------------------------------- Resource

#[async_trait]
impl tfplugin::Resource for ParameterGroup {
    fn type_name(&self) -> String {
        "aws_elasticache_parameter_group".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        let (mut resp, prior) = state::plan_named(&self.conn, &schema(), req);
        let Some(prior) = prior else {
            return resp;
        };
        let (pd, nd) = (
            prior.get("description").cloned().unwrap_or_default(),
            resp.planned_state
                .get("description")
                .cloned()
                .unwrap_or_default(),
        );
        if !state::same_description(&pd, &nd) {
            resp.requires_replace
                .push(AttributePath::attr("description"));
        }
        if !resp.requires_replace.is_empty() {
            for a in ["arn", "id"] {
                resp.planned_state.set_attr(a, Value::unknown());
            }
        }
        resp
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ApplyResponse::error(req.prior_state, d),
        };
        let meta = &region::meta_for(
            meta,
            if req.is_delete() {
                &req.prior_state
            } else {
                &req.planned_state
            },
        );
        if req.is_delete() {
            let id = str_of(&req.prior_state, "id").unwrap_or_default();
            return match delete(meta, &id).await {
                Ok(()) => ApplyResponse::ok(Value::Null),
                Err(d) => ApplyResponse::error(req.prior_state, d),
            };
        }
        let planned = &req.planned_state;
        let name = str_of(planned, "name").unwrap_or_default();
        let id = name.to_lowercase();
        let (old_params, old_tags, arn) = if req.is_create() {
            let out = meta
                .client
                .create_cache_parameter_group()
                .cache_parameter_group_name(&name)
                .cache_parameter_group_family(str_of(planned, "family").unwrap_or_default())
                .description(state::description_or_default(planned))
                .set_tags(tags::to_sdk(
                    planned.get("tags_all").unwrap_or(&Value::Null),
                ))
                .send()
                .await;
            let group = match out {
                Ok(o) => o.cache_parameter_group,
                Err(e) => {
                    return ApplyResponse::error(
                        Value::Null,
                        diag::api_error("creating", WHAT, &name, &e),
                    )
                }
            };
            tracing::info!(%name, region = %meta.region, "created ElastiCache Parameter Group");
            let arn = group.and_then(|g| g.arn).unwrap_or_default();
            let all = planned.get("tags_all").cloned().unwrap_or_default();
            (BTreeMap::new(), all, arn)
        } else {
            (
                expand_parameters(req.prior_state.get("parameter")),
                req.prior_state.get("tags_all").cloned().unwrap_or_default(),
                str_of(&req.prior_state, "arn").unwrap_or_default(),
            )
        };
        // From here on the group exists: errors keep what is known of it.
        let partial = |d: Diagnostic| {
            let mut st = if req.is_create() {
                planned.clone()
            } else {
                req.prior_state.clone()
            };
            st.set_attr("id", Value::string(&id));
            st.set_attr("arn", Value::string(&arn));
            if req.is_create() {
                st.set_attr("parameter", Value::Set(vec![]));
            }
            ApplyResponse::error(st, d)
        };
        let new_params = expand_parameters(planned.get("parameter"));
        if let Err(d) = update_parameters(meta, &id, &old_params, &new_params).await {
            return partial(d);
        }
        if !req.is_create() {
            let new_tags = planned.get("tags_all").cloned().unwrap_or_default();
            if let Err(e) = tags::update_tags(&meta.client, &arn, &old_tags, &new_tags).await {
                return partial(Diagnostic::error(
                    format!("updating ElastiCache {WHAT} ({id}) tags: {e}"),
                    String::new(),
                ));
            }
        }
        match read(meta, &id, planned).await {
            Ok(Some(st)) => ApplyResponse::ok(state::fill_unknowns(planned, &st)),
            Ok(None) => partial(diag::error(
                "reading",
                WHAT,
                &id,
                "not found after create or update",
            )),
            Err(d) => partial(d),
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ReadResponse::unchanged(req.current_state, req.private, d),
        };
        let meta = &region::meta_for(meta, &req.current_state);
        let id = str_of(&req.current_state, "id").unwrap_or_default();
        match read(meta, &id, &req.current_state).await {
            Ok(st) => ReadResponse {
                new_state: st.unwrap_or(Value::Null),
                private: req.private,
                diagnostics: Default::default(),
            },
            Err(d) => ReadResponse {
                new_state: req.current_state,
                private: req.private,
                diagnostics: d.into(),
            },
        }
    }

    async fn import(&self, id: &str) -> Result<Vec<Imported>, tfplugin::Diagnostics> {
        let (id, region) = region::split_import_id(id);
        let mut st = Value::null_object(&schema().value_type());
        st.set_attr("id", Value::string(id.to_lowercase()));
        if let Some(r) = region {
            st.set_attr("region", Value::from(r));
        }
        Ok(vec![Imported::new(st)])
    }

    async fn upgrade_state(
        &self,
        req: tfplugin::UpgradeRequest,
    ) -> Result<Value, tfplugin::Diagnostics> {
        region::upgrade(&self.conn, &schema(), req.version, &req.raw)
    }
}

// ---------------------------------------------------------------- finders

/// The group named `name`, or `None` when it does not exist.
async fn find(meta: &Meta, name: &str) -> Result<Option<CacheParameterGroup>, Diagnostic> {
    match meta
        .client
        .describe_cache_parameter_groups()
        .cache_parameter_group_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.cache_parameter_groups.and_then(|mut v| v.pop())),
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(diag::api_error("reading", WHAT, name, &e)),
    }
}

/// The user-set parameters (every page), names lower case.
async fn user_parameters(meta: &Meta, name: &str) -> Result<BTreeMap<String, String>, Diagnostic> {
    let mut out = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let page = meta
            .client
            .describe_cache_parameters()
            .cache_parameter_group_name(name)
            .source("user")
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| {
                let d = diag::api_error("reading", WHAT, name, &e);
                Diagnostic::error(
                    d.summary.replacen("): ", ") parameters: ", 1),
                    String::new(),
                )
            })?;
        for p in page.parameters() {
            if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                out.insert(n.to_lowercase(), v.to_owned());
            }
        }
        match page.marker {
            Some(m) if !m.is_empty() => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

/// The state of group `id`; `prior` keeps what the API cannot tell
/// (name case, unset description, unset tags).
async fn read(meta: &Meta, id: &str, prior: &Value) -> Result<Option<Value>, Diagnostic> {
    let Some(g) = find(meta, id).await? else {
        tracing::warn!(
            id,
            "ElastiCache Parameter Group not found, removing from state"
        );
        return Ok(None);
    };
    let params = user_parameters(meta, id).await?;
    let arn = g.arn.clone().unwrap_or_default();
    let remote_tags = tags::list_tags(&meta.client, &arn)
        .await
        .map_err(|e| diag::error("listing tags for", WHAT, id, e))?;
    let (t, t_all) = tags::flatten_tags(
        meta,
        &remote_tags,
        prior.get("tags").unwrap_or(&Value::Null),
    );
    let remote_name = g.cache_parameter_group_name.clone().unwrap_or_default();
    let name = match str_of(prior, "name") {
        Some(n) if n.eq_ignore_ascii_case(&remote_name) => n,
        _ => remote_name.clone(),
    };
    Ok(Some(Value::object([
        ("arn", Value::string(arn)),
        (
            "description",
            state::flatten_description(g.description.as_deref(), prior),
        ),
        (
            "family",
            g.cache_parameter_group_family
                .map(Value::String)
                .unwrap_or(Value::Null),
        ),
        ("id", Value::string(remote_name)),
        ("name", Value::string(name)),
        ("parameter", flatten_parameters(&params)),
        ("region", Value::from(meta.region.as_str())),
        ("tags", t),
        ("tags_all", t_all),
    ])))
}

// ---------------------------------------------------------------- update / delete

async fn update_parameters(
    meta: &Meta,
    id: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), Diagnostic> {
    let removed: Vec<ParameterNameValue> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| ParameterNameValue::builder().parameter_name(k).build())
        .collect();
    let changed: Vec<ParameterNameValue> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| {
            ParameterNameValue::builder()
                .parameter_name(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    for chunk in removed.chunks(MAX_PARAMS) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = meta
                .client
                .reset_cache_parameter_group()
                .cache_parameter_group_name(id)
                .reset_all_parameters(false)
                .set_parameter_name_values(Some(chunk.to_vec()))
                .send()
                .await;
            match r {
                Ok(_) => break,
                Err(e)
                    if e.code() == Some(IN_USE)
                        && e.message()
                            .is_some_and(|m| m.contains("has pending changes"))
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(diag::api_error("resetting", WHAT, id, &e)),
            }
        }
    }
    for chunk in changed.chunks(MAX_PARAMS) {
        meta.client
            .modify_cache_parameter_group()
            .cache_parameter_group_name(id)
            .set_parameter_name_values(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| diag::api_error("modifying", WHAT, id, &e))?;
    }
    Ok(())
}

async fn delete(meta: &Meta, id: &str) -> Result<(), Diagnostic> {
    let deadline = Instant::now() + DELETE_TIMEOUT;
    loop {
        let r = meta
            .client
            .delete_cache_parameter_group()
            .cache_parameter_group_name(id)
            .send()
            .await;
        match r {
            Ok(_) => {
                tracing::info!(id, "deleted ElastiCache Parameter Group");
                return Ok(());
            }
            Err(e) if diag::is_not_found(&e, NOT_FOUND) => return Ok(()),
            Err(e) if e.code() == Some(IN_USE) && Instant::now() < deadline => {
                tracing::debug!(id, "parameter group in use; retrying delete");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => return Err(diag::api_error("deleting", WHAT, id, &e)),
        }
    }
}

// ---------------------------------------------------------------- expand / flatten

/// `parameter` blocks as name → value (names lower case, as AWS keeps them).
fn expand_parameters(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::elements)
        .map(|es| {
            es.iter()
                .filter_map(|p| Some((str_of(p, "name")?.to_lowercase(), str_of(p, "value")?)))
                .collect()
        })
        .unwrap_or_default()
}

fn flatten_parameters(params: &BTreeMap<String, String>) -> Value {
    Value::set(
        params
            .iter()
            .map(|(n, v)| Value::object([("name", Value::string(n)), ("value", Value::string(v))]))
            .collect(),
    )
}
