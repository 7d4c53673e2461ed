//! The gRPC `tfplugin6.Provider` service on top of the [`Provider`] traits.
#![allow(clippy::needless_update)]

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::codec;
use crate::path::{AttributePath, Diagnostic, Diagnostics};
use crate::proto::tfplugin6 as pb;
use crate::provider::{
    ApplyRequest, ConfigureRequest, DataSource, MoveRequest, PlanRequest, Provider, RawState,
    ReadRequest, Resource, UpgradeRequest,
};
use crate::schema::Schema;
use crate::types::Type;
use crate::value::Value;
use crate::write_only;

struct Res {
    imp: Arc<dyn Resource>,
    schema: Schema,
    ty: Type,
    /// The schema declares write-only attributes.
    write_only: bool,
}

impl Res {
    /// Write-only attributes are never in a value Terraform keeps.
    fn strip(&self, v: &mut Value) {
        if self.write_only {
            write_only::nullify(&self.schema.block, v);
        }
    }
}

struct Data {
    imp: Arc<dyn DataSource>,
    schema: Schema,
    ty: Type,
}

/// Serves one [`Provider`] over tfplugin6.
pub struct ProviderServer<P: Provider> {
    provider: Arc<P>,
    schema: Schema,
    schema_ty: Type,
    meta: Option<(Schema, Type)>,
    resources: BTreeMap<String, Res>,
    data_sources: BTreeMap<String, Data>,
}

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn diags(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.to_proto()
}

fn err_diag(summary: &str, detail: impl Into<String>) -> Vec<pb::Diagnostic> {
    vec![Diagnostic::error(summary, detail).to_proto()]
}

fn unsupported(what: &str) -> Vec<pb::Diagnostic> {
    err_diag(
        "Unsupported operation",
        format!("This provider does not support {what}."),
    )
}

/// Decode a DynamicValue (msgpack preferred, JSON accepted; empty = null).
pub(crate) fn decode(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    let Some(dv) = dv else { return Ok(Value::Null) };
    let r = if !dv.msgpack.is_empty() {
        codec::from_msgpack(&dv.msgpack, ty)
    } else if !dv.json.is_empty() {
        codec::from_json(&dv.json, ty, Default::default())
    } else {
        return Ok(Value::Null);
    };
    r.map_err(|e| Diagnostic::error("Invalid value from Terraform", e.to_string()).into())
}

fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostics> {
    codec::to_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                "Provider produced a value that does not fit its schema",
                e.to_string(),
            )
            .into()
        })
}

fn raw_state(r: Option<pb::RawState>) -> RawState {
    match r {
        None => RawState::default(),
        Some(r) => RawState {
            json: (!r.json.is_empty()).then_some(r.json),
            flatmap: r.flatmap.into_iter().collect(),
        },
    }
}

/// `RequiresReplace` for `force_new` top-level attributes that changed.
fn force_new_paths(schema: &Schema, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    if prior.is_null() || planned.is_null() {
        return Vec::new();
    }
    schema
        .block
        .attributes
        .iter()
        .filter(|a| a.force_new)
        .filter(|a| {
            let p = prior.get(&a.name).unwrap_or(&Value::Null);
            let n = planned.get(&a.name).unwrap_or(&Value::Null);
            !p.same_as(n)
        })
        .map(|a| AttributePath::attr(a.name.clone()))
        .collect()
}

impl<P: Provider> ProviderServer<P> {
    pub fn new(provider: P) -> Self {
        let provider = Arc::new(provider);
        let schema = provider.schema();
        let schema_ty = schema.value_type();
        let meta = provider.meta_schema().map(|s| {
            let t = s.value_type();
            (s, t)
        });
        let resources = provider
            .resources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.value_type();
                let write_only = write_only::has_write_only(&schema.block);
                (
                    imp.type_name(),
                    Res {
                        imp,
                        schema,
                        ty,
                        write_only,
                    },
                )
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.value_type();
                (imp.type_name(), Data { imp, schema, ty })
            })
            .collect();
        ProviderServer {
            provider,
            schema,
            schema_ty,
            meta,
            resources,
            data_sources,
        }
    }

    pub fn provider(&self) -> &Arc<P> {
        &self.provider
    }

    fn capabilities() -> pb::ServerCapabilities {
        pb::ServerCapabilities {
            plan_destroy: false,
            get_provider_schema_optional: true,
            move_resource_state: true,
            generate_resource_config: false,
        }
    }

    fn resource(&self, name: &str) -> Result<&Res, Vec<pb::Diagnostic>> {
        self.resources.get(name).ok_or_else(|| {
            err_diag(
                "Unknown resource type",
                format!("No resource type {name:?} in this provider."),
            )
        })
    }

    fn data_source(&self, name: &str) -> Result<&Data, Vec<pb::Diagnostic>> {
        self.data_sources.get(name).ok_or_else(|| {
            err_diag(
                "Unknown data source",
                format!("No data source {name:?} in this provider."),
            )
        })
    }

    fn provider_meta(&self, dv: Option<&pb::DynamicValue>) -> Value {
        match &self.meta {
            Some((_, t)) => decode(dv, t).unwrap_or(Value::Null),
            None => Value::Null,
        }
    }

    /// The schema response, also usable without gRPC (e.g. to dump JSON).
    pub fn schema_response(&self) -> pb::get_provider_schema::Response {
        pb::get_provider_schema::Response {
            provider: Some(self.schema.to_proto()),
            resource_schemas: self
                .resources
                .iter()
                .map(|(k, r)| (k.clone(), r.schema.to_proto()))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(k, d)| (k.clone(), d.schema.to_proto()))
                .collect(),
            provider_meta: self.meta.as_ref().map(|(s, _)| s.to_proto()),
            server_capabilities: Some(Self::capabilities()),
            ..Default::default()
        }
    }
}

macro_rules! tri {
    ($e:expr, $resp:ident { $($f:ident : $v:expr),* }) => {
        match $e {
            Ok(v) => v,
            Err(d) => {
                return Ok(Response::new($resp {
                    diagnostics: d,
                    $($f: $v,)*
                    ..Default::default()
                }))
            }
        }
    };
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderServer<P> {
    async fn get_metadata(
        &self,
        _req: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        use pb::get_metadata as m;
        Ok(Response::new(m::Response {
            server_capabilities: Some(Self::capabilities()),
            resources: self
                .resources
                .keys()
                .map(|k| m::ResourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|k| m::DataSourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.schema_response()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        use pb::validate_provider_config::Response as R;
        let req = req.into_inner();
        let config = tri!(
            decode(req.config.as_ref(), &self.schema_ty).map_err(|d| diags(&d)),
            R {}
        );
        let d = self.provider.validate(&config).await;
        Ok(Response::new(R {
            diagnostics: diags(&d),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        use pb::validate_resource_config::Response as R;
        let req = req.into_inner();
        let r = tri!(self.resource(&req.type_name), R {});
        let config = tri!(
            decode(req.config.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let wo_allowed = req
            .client_capabilities
            .is_some_and(|c| c.write_only_attributes_allowed);
        let mut d = Diagnostics::new();
        if r.write_only && !wo_allowed {
            d.extend(write_only::not_allowed(&r.schema.block, &config));
        }
        d.extend(r.imp.validate(&config).await);
        Ok(Response::new(R {
            diagnostics: diags(&d),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        use pb::validate_data_resource_config::Response as R;
        let req = req.into_inner();
        let ds = tri!(self.data_source(&req.type_name), R {});
        let config = tri!(
            decode(req.config.as_ref(), &ds.ty).map_err(|d| diags(&d)),
            R {}
        );
        let d = ds.imp.validate(&config).await;
        Ok(Response::new(R {
            diagnostics: diags(&d),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        use pb::upgrade_resource_state::Response as R;
        let req = req.into_inner();
        let r = tri!(self.resource(&req.type_name), R {});
        let up = UpgradeRequest {
            version: req.version,
            raw: raw_state(req.raw_state),
        };
        let mut v = tri!(r.imp.upgrade_state(up).await.map_err(|d| diags(&d)), R {});
        r.strip(&mut v);
        let dv = tri!(encode(&v, &r.ty).map_err(|d| diags(&d)), R {});
        Ok(Response::new(R {
            upgraded_state: Some(dv),
            diagnostics: Vec::new(),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn upgrade_resource_identity(
        &self,
        _req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: unsupported("resource identity"),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        use pb::configure_provider::Response as R;
        let req = req.into_inner();
        let config = tri!(
            decode(req.config.as_ref(), &self.schema_ty).map_err(|d| diags(&d)),
            R {}
        );
        let d = self
            .provider
            .configure(ConfigureRequest {
                terraform_version: req.terraform_version,
                config,
            })
            .await;
        Ok(Response::new(R {
            diagnostics: diags(&d),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        use pb::read_resource::Response as R;
        let req = req.into_inner();
        let r = tri!(self.resource(&req.type_name), R {});
        let current = tri!(
            decode(req.current_state.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let out = r
            .imp
            .read(ReadRequest {
                current_state: current.clone(),
                private: req.private.clone(),
                provider_meta: self.provider_meta(req.provider_meta.as_ref()),
            })
            .await;
        let mut d = out.diagnostics;
        // On failure keep what Terraform had, so state is not lost.
        let (mut state, private) = if d.has_errors() && out.new_state.is_null() {
            (current, req.private)
        } else {
            (out.new_state, out.private)
        };
        r.strip(&mut state);
        let new_state = match encode(&state, &r.ty) {
            Ok(v) => Some(v),
            Err(e) => {
                d.extend(e);
                req.current_state
            }
        };
        Ok(Response::new(R {
            new_state,
            diagnostics: diags(&d),
            private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        use pb::plan_resource_change::Response as R;
        let req = req.into_inner();
        let r = tri!(self.resource(&req.type_name), R {});
        let prior = tri!(
            decode(req.prior_state.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let proposed = tri!(
            decode(req.proposed_new_state.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let config = tri!(
            decode(req.config.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let out = r
            .imp
            .plan(PlanRequest {
                prior_state: prior.clone(),
                proposed_new_state: proposed,
                config,
                prior_private: req.prior_private,
                provider_meta: self.provider_meta(req.provider_meta.as_ref()),
            })
            .await;
        if out.diagnostics.has_errors() {
            return Ok(Response::new(R {
                diagnostics: diags(&out.diagnostics),
                ..Default::default()
            }));
        }
        let mut out = out;
        r.strip(&mut out.planned_state);
        let mut rr = out.requires_replace;
        for p in force_new_paths(&r.schema, &prior, &out.planned_state) {
            if !rr.contains(&p) {
                rr.push(p);
            }
        }
        let planned = tri!(
            encode(&out.planned_state, &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        Ok(Response::new(R {
            planned_state: Some(planned),
            requires_replace: rr.iter().map(AttributePath::to_proto).collect(),
            planned_private: out.planned_private,
            diagnostics: diags(&out.diagnostics),
            legacy_type_system: false,
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        use pb::apply_resource_change::Response as R;
        let req = req.into_inner();
        let r = tri!(self.resource(&req.type_name), R {});
        let prior = tri!(
            decode(req.prior_state.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let planned = tri!(
            decode(req.planned_state.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let config = tri!(
            decode(req.config.as_ref(), &r.ty).map_err(|d| diags(&d)),
            R {}
        );
        let out = r
            .imp
            .apply(ApplyRequest {
                prior_state: prior,
                planned_state: planned,
                config,
                planned_private: req.planned_private,
                provider_meta: self.provider_meta(req.provider_meta.as_ref()),
            })
            .await;
        let mut d = out.diagnostics;
        let mut state = out.new_state;
        r.strip(&mut state);
        if !state.is_wholly_known() {
            d.error(
                "Provider returned unknown values after apply",
                format!(
                    "{}: every attribute must be known once applied",
                    req.type_name
                ),
            );
            state = Value::Null;
        }
        let new_state = match encode(&state, &r.ty) {
            Ok(v) => Some(v),
            Err(e) => {
                d.extend(e);
                None
            }
        };
        Ok(Response::new(R {
            new_state,
            private: out.private,
            diagnostics: diags(&d),
            legacy_type_system: false,
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        use pb::import_resource_state::{ImportedResource, Response as R};
        let req = req.into_inner();
        let r = tri!(self.resource(&req.type_name), R {});
        let imported = tri!(r.imp.import(&req.id).await.map_err(|d| diags(&d)), R {});
        let mut out = Vec::new();
        for i in imported {
            let type_name = i.type_name.unwrap_or_else(|| req.type_name.clone());
            let (ty, st) = match self.resources.get(&type_name) {
                Some(t) => {
                    let mut st = i.state;
                    t.strip(&mut st);
                    (&t.ty, st)
                }
                None => {
                    return Ok(Response::new(R {
                        diagnostics: err_diag(
                            "Import produced an unknown resource type",
                            type_name,
                        ),
                        ..Default::default()
                    }))
                }
            };
            let state = tri!(encode(&st, ty).map_err(|d| diags(&d)), R {});
            out.push(ImportedResource {
                type_name,
                state: Some(state),
                private: i.private,
                identity: None,
            });
        }
        Ok(Response::new(R {
            imported_resources: out,
            ..Default::default()
        }))
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        use pb::move_resource_state::Response as R;
        let req = req.into_inner();
        let r = tri!(self.resource(&req.target_type_name), R {});
        let mv = MoveRequest {
            source_provider_address: req.source_provider_address,
            source_type_name: req.source_type_name.clone(),
            source_schema_version: req.source_schema_version,
            source_state: raw_state(req.source_state),
            source_private: req.source_private,
        };
        let moved = match r.imp.move_state(mv).await {
            None => {
                return Ok(Response::new(R {
                    diagnostics: err_diag(
                        "Unsupported resource move",
                        format!(
                            "{} cannot be moved from {}",
                            req.target_type_name, req.source_type_name
                        ),
                    ),
                    ..Default::default()
                }))
            }
            Some(m) => tri!(m.map_err(|d| diags(&d)), R {}),
        };
        let st = tri!(encode(&moved.state, &r.ty).map_err(|d| diags(&d)), R {});
        Ok(Response::new(R {
            target_state: Some(st),
            target_private: moved.private,
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        use pb::read_data_source::Response as R;
        let req = req.into_inner();
        let ds = tri!(self.data_source(&req.type_name), R {});
        let config = tri!(
            decode(req.config.as_ref(), &ds.ty).map_err(|d| diags(&d)),
            R {}
        );
        let v = tri!(ds.imp.read(config).await.map_err(|d| diags(&d)), R {});
        let st = tri!(encode(&v, &ds.ty).map_err(|d| diags(&d)), R {});
        Ok(Response::new(R {
            state: Some(st),
            ..Default::default()
        }))
    }

    async fn generate_resource_config(
        &self,
        _req: Request<pb::generate_resource_config::Request>,
    ) -> Result<Response<pb::generate_resource_config::Response>, Status> {
        Ok(Response::new(pb::generate_resource_config::Response {
            config: None,
            diagnostics: unsupported("resource configuration generation"),
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: unsupported("ephemeral resources"),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        _req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: unsupported("ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        _req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: unsupported("ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        _req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: unsupported("ephemeral resources"),
        }))
    }

    type ListResourceStream = Stream_<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        _req: Request<pb::list_resource::Request>,
    ) -> Result<Response<Self::ListResourceStream>, Status> {
        let ev = pb::list_resource::Event {
            diagnostic: unsupported("list resources"),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(futures_util::stream::iter([Ok(
            ev,
        )]))))
    }

    async fn validate_list_resource_config(
        &self,
        _req: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        Ok(Response::new(pb::validate_list_resource_config::Response {
            diagnostics: unsupported("list resources"),
        }))
    }

    async fn get_functions(
        &self,
        _req: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        Ok(Response::new(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: format!("this provider has no function {:?}", req.into_inner().name),
                function_argument: None,
            }),
        }))
    }

    async fn validate_state_store_config(
        &self,
        _req: Request<pb::validate_state_store::Request>,
    ) -> Result<Response<pb::validate_state_store::Response>, Status> {
        Ok(Response::new(pb::validate_state_store::Response {
            diagnostics: unsupported("state stores"),
        }))
    }

    async fn configure_state_store(
        &self,
        _req: Request<pb::configure_state_store::Request>,
    ) -> Result<Response<pb::configure_state_store::Response>, Status> {
        Ok(Response::new(pb::configure_state_store::Response {
            diagnostics: unsupported("state stores"),
            capabilities: None,
        }))
    }

    type ReadStateBytesStream = Stream_<pb::read_state_bytes::Response>;

    async fn read_state_bytes(
        &self,
        _req: Request<pb::read_state_bytes::Request>,
    ) -> Result<Response<Self::ReadStateBytesStream>, Status> {
        let r = pb::read_state_bytes::Response {
            diagnostics: unsupported("state stores"),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(futures_util::stream::iter([Ok(r)]))))
    }

    async fn write_state_bytes(
        &self,
        _req: Request<Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Result<Response<pb::write_state_bytes::Response>, Status> {
        Ok(Response::new(pb::write_state_bytes::Response {
            diagnostics: unsupported("state stores"),
        }))
    }

    async fn lock_state(
        &self,
        _req: Request<pb::lock_state::Request>,
    ) -> Result<Response<pb::lock_state::Response>, Status> {
        Ok(Response::new(pb::lock_state::Response {
            lock_id: String::new(),
            diagnostics: unsupported("state stores"),
        }))
    }

    async fn unlock_state(
        &self,
        _req: Request<pb::unlock_state::Request>,
    ) -> Result<Response<pb::unlock_state::Response>, Status> {
        Ok(Response::new(pb::unlock_state::Response {
            diagnostics: unsupported("state stores"),
        }))
    }

    async fn get_states(
        &self,
        _req: Request<pb::get_states::Request>,
    ) -> Result<Response<pb::get_states::Response>, Status> {
        Ok(Response::new(pb::get_states::Response {
            state_id: Vec::new(),
            diagnostics: unsupported("state stores"),
        }))
    }

    async fn delete_state(
        &self,
        _req: Request<pb::delete_state::Request>,
    ) -> Result<Response<pb::delete_state::Response>, Status> {
        Ok(Response::new(pb::delete_state::Response {
            diagnostics: unsupported("state stores"),
        }))
    }

    async fn plan_action(
        &self,
        _req: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        Ok(Response::new(pb::plan_action::Response {
            diagnostics: unsupported("actions"),
            deferred: None,
        }))
    }

    type InvokeActionStream = Stream_<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        _req: Request<pb::invoke_action::Request>,
    ) -> Result<Response<Self::InvokeActionStream>, Status> {
        use pb::invoke_action::event::{Completed, Type as T};
        let ev = pb::invoke_action::Event {
            r#type: Some(T::Completed(Completed {
                diagnostics: unsupported("actions"),
            })),
        };
        Ok(Response::new(Box::pin(futures_util::stream::iter([Ok(
            ev,
        )]))))
    }

    async fn validate_action_config(
        &self,
        _req: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        Ok(Response::new(pb::validate_action_config::Response {
            diagnostics: unsupported("actions"),
        }))
    }

    async fn stop_provider(
        &self,
        _req: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        let error = match self.provider.stop().await {
            Ok(()) => String::new(),
            Err(e) => e,
        };
        Ok(Response::new(pb::stop_provider::Response { error }))
    }
}
