//! `aws_elasticache_subnet_group`, as HashiCorp's provider 6.x (5.100.0 configurations unchanged).
//!
//! * `region` (6.x: per resource, ForceNew, import `name@region`),
//!   `name` (ForceNew; AWS lower-cases it, so a change of case alone is no
//!   change), `description` (default "Managed by Terraform", updatable),
//!   `subnet_ids` (set, required), `vpc_id` (computed), `arn`, tags.
//! * create: CreateCacheSubnetGroup (with tags); update:
//!   ModifyCacheSubnetGroup for description/subnets, tags by
//!   `tags::update_tags`; read: DescribeCacheSubnetGroups + tags, gone when
//!   `CacheSubnetGroupNotFoundFault`; delete retries `DependencyViolation`
//!   for 5 minutes; import by name.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::CacheSubnetGroup;
use tfplugin::{
    async_trait, ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic, Imported, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Schema, Type, Value,
};

use crate::client::{Meta, SharedConn};
use crate::state::{self, str_of};
use crate::tags;
use crate::{diag, region};

const WHAT: &str = "Subnet Group";
pub(crate) const NOT_FOUND: &str = "CacheSubnetGroupNotFoundFault";
const DELETE_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------- schema

pub struct SubnetGroup {
    conn: SharedConn,
}

impl SubnetGroup {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::new("arn", Type::String).computed())
            .attribute(Attribute::new("description", Type::String).optional())
            .attribute(Attribute::new("id", Type::String).optional().computed())
            // Replacement for a new `name` is decided in `plan` (case-insensitive).
            .attribute(Attribute::new("name", Type::String).required())
            .attribute(region::attribute())
            .attribute(Attribute::new("subnet_ids", Type::set(Type::String)).required())
            .attribute(tags::tags_attribute())
            .attribute(tags::tags_all_attribute())
            .attribute(Attribute::new("vpc_id", Type::String).computed()),
    )
}

// ---------------------------------------------------------------- Resource

#[async_trait]
impl tfplugin::Resource for SubnetGroup {
    fn type_name(&self) -> String {
        "aws_elasticache_subnet_group".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        let (mut resp, prior) = state::plan_named(&self.conn, &schema(), req);
        let Some(prior) = prior else {
            return resp;
        };
        if !resp.requires_replace.is_empty() {
            for a in ["arn", "id", "vpc_id"] {
                resp.planned_state.set_attr(a, Value::unknown());
            }
        } else {
            let ps = prior.get("subnet_ids").cloned().unwrap_or_default();
            let ns = resp
                .planned_state
                .get("subnet_ids")
                .cloned()
                .unwrap_or_default();
            if !ps.same_as(&ns) {
                resp.planned_state.set_attr("vpc_id", Value::unknown());
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
        let subnets = state::strings(planned.get("subnet_ids"));
        if req.is_create() {
            let out = meta
                .client
                .create_cache_subnet_group()
                .cache_subnet_group_name(&name)
                .cache_subnet_group_description(state::description_or_default(planned))
                .set_subnet_ids(Some(subnets))
                .set_tags(tags::to_sdk(
                    planned.get("tags_all").unwrap_or(&Value::Null),
                ))
                .send()
                .await;
            if let Err(e) = out {
                return ApplyResponse::error(
                    Value::Null,
                    diag::api_error("creating", WHAT, &name, &e),
                );
            }
            tracing::info!(%name, region = %meta.region, "created ElastiCache Subnet Group");
        } else {
            let prior = &req.prior_state;
            let desc_changed = !state::same_description(
                prior.get("description").unwrap_or(&Value::Null),
                planned.get("description").unwrap_or(&Value::Null),
            );
            let subnets_changed = !prior
                .get("subnet_ids")
                .unwrap_or(&Value::Null)
                .same_as(planned.get("subnet_ids").unwrap_or(&Value::Null));
            if desc_changed || subnets_changed {
                let r = meta
                    .client
                    .modify_cache_subnet_group()
                    .cache_subnet_group_name(&id)
                    .cache_subnet_group_description(state::description_or_default(planned))
                    .set_subnet_ids(Some(subnets))
                    .send()
                    .await;
                if let Err(e) = r {
                    return ApplyResponse::error(
                        prior.clone(),
                        diag::api_error("updating", WHAT, &id, &e),
                    );
                }
            }
            let arn = str_of(prior, "arn").unwrap_or_default();
            if let Err(e) = tags::update_tags(
                &meta.client,
                &arn,
                prior.get("tags_all").unwrap_or(&Value::Null),
                planned.get("tags_all").unwrap_or(&Value::Null),
            )
            .await
            {
                return ApplyResponse::error(
                    prior.clone(),
                    Diagnostic::error(
                        format!("updating ElastiCache {WHAT} ({id}) tags: {e}"),
                        String::new(),
                    ),
                );
            }
        }
        match read(meta, &id, planned).await {
            Ok(Some(st)) => ApplyResponse::ok(state::fill_unknowns(planned, &st)),
            Ok(None) => ApplyResponse::error(
                Value::Null,
                diag::error("reading", WHAT, &id, "not found after create or update"),
            ),
            Err(d) => {
                let mut st = planned.clone();
                st.set_attr("id", Value::string(&id));
                for a in ["arn", "vpc_id"] {
                    if !st.get(a).is_some_and(Value::is_wholly_known) {
                        st.set_attr(a, Value::Null);
                    }
                }
                ApplyResponse::error(st, d)
            }
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

/// The subnet group named `name`, or `None` when it does not exist.
pub(crate) async fn find(meta: &Meta, name: &str) -> Result<Option<CacheSubnetGroup>, Diagnostic> {
    match meta
        .client
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.cache_subnet_groups.and_then(|mut v| v.pop())),
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(diag::api_error("reading", WHAT, name, &e)),
    }
}

/// The subnet IDs of a group.
pub(crate) fn flatten_subnet_ids(g: &CacheSubnetGroup) -> Value {
    state::string_set(
        g.subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_owned)),
    )
}

async fn read(meta: &Meta, id: &str, prior: &Value) -> Result<Option<Value>, Diagnostic> {
    let Some(g) = find(meta, id).await? else {
        tracing::warn!(
            id,
            "ElastiCache Subnet Group not found, removing from state"
        );
        return Ok(None);
    };
    let arn = g.arn.clone().unwrap_or_default();
    let remote_tags = tags::list_tags(&meta.client, &arn)
        .await
        .map_err(|e| diag::error("listing tags for", WHAT, id, e))?;
    let (t, t_all) = tags::flatten_tags(
        meta,
        &remote_tags,
        prior.get("tags").unwrap_or(&Value::Null),
    );
    let remote_name = g.cache_subnet_group_name.clone().unwrap_or_default();
    let name = match str_of(prior, "name") {
        Some(n) if n.eq_ignore_ascii_case(&remote_name) => n,
        _ => remote_name.clone(),
    };
    // Keep the configured order of equal sets (sets have none, but keep
    // the prior value when it is the same set).
    let mut subnet_ids = flatten_subnet_ids(&g);
    if let Some(p) = prior.get("subnet_ids") {
        if p.same_as(&subnet_ids) {
            subnet_ids = p.clone();
        }
    }
    Ok(Some(Value::object([
        ("arn", Value::string(arn)),
        (
            "description",
            state::flatten_description(g.cache_subnet_group_description.as_deref(), prior),
        ),
        ("id", Value::string(remote_name)),
        ("name", Value::string(name)),
        ("region", Value::from(meta.region.as_str())),
        ("subnet_ids", subnet_ids),
        ("tags", t),
        ("tags_all", t_all),
        ("vpc_id", g.vpc_id.map(Value::String).unwrap_or(Value::Null)),
    ])))
}

// ---------------------------------------------------------------- delete

async fn delete(meta: &Meta, id: &str) -> Result<(), Diagnostic> {
    let deadline = Instant::now() + DELETE_TIMEOUT;
    loop {
        let r = meta
            .client
            .delete_cache_subnet_group()
            .cache_subnet_group_name(id)
            .send()
            .await;
        match r {
            Ok(_) => {
                tracing::info!(id, "deleted ElastiCache Subnet Group");
                return Ok(());
            }
            Err(e) if diag::is_not_found(&e, NOT_FOUND) => return Ok(()),
            Err(e) if e.code() == Some("DependencyViolation") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => return Err(diag::api_error("deleting", WHAT, id, &e)),
        }
    }
}
