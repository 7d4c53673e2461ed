//! The traits a provider implements.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::codec::{self, JsonOptions};
use crate::path::{AttributePath, Diagnostic, Diagnostics};
use crate::schema::{Block, Nesting, Schema};
use crate::types::Type;
use crate::value::Value;

/// A provider: its configuration schema, configuration, and the resource
/// and data source types it offers.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Schema of the `provider "..." {}` block.
    fn schema(&self) -> Schema;

    /// Schema of `provider_meta` in modules, if the provider has one.
    fn meta_schema(&self) -> Option<Schema> {
        None
    }

    /// Managed resource types (each knows its own type name).
    fn resources(&self) -> Vec<Arc<dyn Resource>>;

    /// Data source types.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }

    /// Check provider configuration (may contain unknowns).
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Configure the provider before any resource operation.
    async fn configure(&self, _req: ConfigureRequest) -> Diagnostics {
        Diagnostics::new()
    }

    /// Terraform asks the provider to stop ongoing work (e.g. Ctrl-C).
    async fn stop(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Arguments of [`Provider::configure`].
#[derive(Clone, Debug)]
pub struct ConfigureRequest {
    pub terraform_version: String,
    pub config: Value,
}

/// A managed resource type.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// Full type name, e.g. `aws_elasticache_cluster`.
    fn type_name(&self) -> String;

    /// Schema, including its version (bump it to get `upgrade_state` calls
    /// for older states).
    fn schema(&self) -> Schema;

    /// Check configuration (may contain unknowns).
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Plan a change. The default is [`default_plan`]: proposed state with
    /// unset computed attributes unknown on create. The server adds
    /// `RequiresReplace` for attributes marked `force_new`.
    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        default_plan(&self.schema(), req)
    }

    /// Create (prior null), update, or delete (planned null).
    async fn apply(&self, req: ApplyRequest) -> ApplyResponse;

    /// Refresh; return `Value::Null` as new state when the object is gone.
    async fn read(&self, req: ReadRequest) -> ReadResponse;

    /// `terraform import`: turn an ID into one or more states (which
    /// Terraform then reads).
    async fn import(&self, _id: &str) -> Result<Vec<Imported>, Diagnostics> {
        Err(Diagnostic::error(
            "Import not supported",
            format!("{} does not support import", self.type_name()),
        )
        .into())
    }

    /// Upgrade a stored state to the current schema. The default handles
    /// only the current version (JSON, ignoring attributes the schema no
    /// longer has).
    async fn upgrade_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        let schema = self.schema();
        if req.version != schema.version {
            return Err(Diagnostic::error(
                "Unable to upgrade resource state",
                format!(
                    "{} has no upgrade from schema version {} to {}",
                    self.type_name(),
                    req.version,
                    schema.version
                ),
            )
            .into());
        }
        req.raw.decode(&schema.value_type())
    }

    /// `moved {}` from another resource type; `None` means unsupported.
    async fn move_state(&self, _req: MoveRequest) -> Option<Result<Moved, Diagnostics>> {
        None
    }
}

/// A data source type.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    fn type_name(&self) -> String;
    fn schema(&self) -> Schema;
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Read; the returned state must be wholly known.
    async fn read(&self, config: Value) -> Result<Value, Diagnostics>;
}

#[derive(Clone, Debug)]
pub struct PlanRequest {
    /// Null on create.
    pub prior_state: Value,
    /// Null on destroy (only seen with the `plan_destroy` capability).
    pub proposed_new_state: Value,
    pub config: Value,
    pub prior_private: Vec<u8>,
    pub provider_meta: Value,
}

#[derive(Clone, Debug, Default)]
pub struct PlanResponse {
    pub planned_state: Value,
    pub requires_replace: Vec<AttributePath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

#[derive(Clone, Debug)]
pub struct ApplyRequest {
    /// Null on create.
    pub prior_state: Value,
    /// Null on delete.
    pub planned_state: Value,
    pub config: Value,
    pub planned_private: Vec<u8>,
    pub provider_meta: Value,
}

impl ApplyRequest {
    pub fn is_create(&self) -> bool {
        self.prior_state.is_null() && !self.planned_state.is_null()
    }
    pub fn is_delete(&self) -> bool {
        self.planned_state.is_null()
    }
}

#[derive(Clone, Debug, Default)]
pub struct ApplyResponse {
    /// Must be wholly known (null after delete).
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

impl ApplyResponse {
    pub fn ok(new_state: Value) -> Self {
        ApplyResponse {
            new_state,
            ..Default::default()
        }
    }
    /// The apply failed: the prior state stays, with the diagnostics.
    pub fn error(prior: Value, d: impl Into<Diagnostics>) -> Self {
        ApplyResponse {
            new_state: prior,
            private: Vec::new(),
            diagnostics: d.into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub current_state: Value,
    pub private: Vec<u8>,
    pub provider_meta: Value,
}

#[derive(Clone, Debug, Default)]
pub struct ReadResponse {
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

impl ReadResponse {
    /// The read could not happen (e.g. no client): the state and private data
    /// stay as they were, with the diagnostics.
    pub fn unchanged(state: Value, private: Vec<u8>, d: impl Into<Diagnostics>) -> Self {
        ReadResponse {
            new_state: state,
            private,
            diagnostics: d.into(),
        }
    }
}

/// One resource produced by import.
#[derive(Clone, Debug)]
pub struct Imported {
    /// Defaults to the importing resource's own type.
    pub type_name: Option<String>,
    pub state: Value,
    pub private: Vec<u8>,
}

impl Imported {
    pub fn new(state: Value) -> Self {
        Imported {
            type_name: None,
            state,
            private: Vec::new(),
        }
    }
}

/// A stored state in its raw forms.
#[derive(Clone, Debug, Default)]
pub struct RawState {
    pub json: Option<Vec<u8>>,
    /// Legacy (Terraform 0.11 and earlier) flat map form.
    pub flatmap: BTreeMap<String, String>,
}

impl RawState {
    /// Decode the JSON form against `ty`, ignoring attributes `ty` lacks.
    pub fn decode(&self, ty: &Type) -> Result<Value, Diagnostics> {
        self.decode_with(
            ty,
            JsonOptions {
                ignore_undefined_attributes: true,
            },
        )
    }

    pub fn decode_with(&self, ty: &Type, opts: JsonOptions) -> Result<Value, Diagnostics> {
        match &self.json {
            Some(j) => codec::from_json(j, ty, opts).map_err(|e| {
                Diagnostic::error("Unable to decode stored state", e.to_string()).into()
            }),
            None if self.flatmap.is_empty() => Ok(Value::Null),
            None => Err(Diagnostic::error(
                "Legacy state format",
                "flatmap states are not supported; upgrade with an older provider first",
            )
            .into()),
        }
    }

    /// The JSON form as a generic JSON document (for hand-written upgrades).
    pub fn json_value(&self) -> Option<serde_json::Value> {
        self.json
            .as_ref()
            .and_then(|j| serde_json::from_slice(j).ok())
    }
}

#[derive(Clone, Debug)]
pub struct UpgradeRequest {
    /// Schema version the stored state was written with.
    pub version: i64,
    pub raw: RawState,
}

#[derive(Clone, Debug)]
pub struct MoveRequest {
    pub source_provider_address: String,
    pub source_type_name: String,
    pub source_schema_version: i64,
    pub source_state: RawState,
    pub source_private: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Moved {
    pub state: Value,
    pub private: Vec<u8>,
}

/// Planning as the SDKs do by default: take Terraform's proposed new state;
/// on create, computed attributes the configuration leaves unset become
/// unknown (also inside nested blocks).
pub fn default_plan(schema: &Schema, req: PlanRequest) -> PlanResponse {
    let mut planned = req.proposed_new_state.clone();
    if req.prior_state.is_null() && !planned.is_null() {
        mark_computed_unknown(&schema.block, &mut planned, &req.config);
    }
    PlanResponse {
        planned_state: planned,
        requires_replace: Vec::new(),
        planned_private: req.prior_private,
        diagnostics: Diagnostics::new(),
    }
}

/// Set computed attributes that are null in `config` to unknown in `v`.
pub fn mark_computed_unknown(block: &Block, v: &mut Value, config: &Value) {
    let Value::Object(m) = v else { return };
    for a in &block.attributes {
        if !a.computed {
            continue;
        }
        let unset = config.get(&a.name).is_none_or(Value::is_null);
        if unset && m.get(&a.name).is_none_or(Value::is_null) {
            m.insert(a.name.clone(), Value::unknown());
        }
    }
    for nb in &block.blocks {
        let Some(child) = m.get_mut(&nb.type_name) else {
            continue;
        };
        let cfg = config.get(&nb.type_name).cloned().unwrap_or(Value::Null);
        match (nb.nesting, child) {
            (Nesting::Single | Nesting::Group, c) => mark_computed_unknown(&nb.block, c, &cfg),
            (Nesting::List, Value::List(items)) => {
                let cfgs = cfg.elements().map(<[Value]>::to_vec).unwrap_or_default();
                for (i, it) in items.iter_mut().enumerate() {
                    let c = cfgs.get(i).cloned().unwrap_or(Value::Null);
                    mark_computed_unknown(&nb.block, it, &c);
                }
            }
            (Nesting::Set, Value::Set(items)) => {
                // Set elements have no stable identity; each element is its
                // own configuration.
                for it in items.iter_mut() {
                    let c = it.clone();
                    mark_computed_unknown(&nb.block, it, &c);
                }
            }
            (Nesting::Map, Value::Map(items)) => {
                for (k, it) in items.iter_mut() {
                    let c = cfg
                        .as_map()
                        .and_then(|m| m.get(k))
                        .cloned()
                        .unwrap_or(Value::Null);
                    mark_computed_unknown(&nb.block, it, &c);
                }
            }
            _ => {}
        }
    }
}
