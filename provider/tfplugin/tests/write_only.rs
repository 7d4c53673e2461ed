//! Write-only attributes over gRPC: declared in the schema, accepted only from
//! a client that allows them, seen by the resource in `config`, and never in
//! a planned, applied, read, imported or upgraded value.

use std::sync::{Arc, Mutex};

use tfplugin::codec::{from_msgpack, to_msgpack};
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::write_only;
use tfplugin::*;

struct P(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl Provider for P {
    fn schema(&self) -> Schema {
        Schema::default()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(R(self.0.clone()))]
    }
}

/// Records the tokens its apply saw in `config`; returns them in every
/// value it answers (the server must drop them).
struct R(Arc<Mutex<Vec<String>>>);

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::new("id", Type::String).computed())
            .attribute(
                Attribute::new("token", Type::String)
                    .optional()
                    .sensitive()
                    .write_only(),
            )
            .attribute(Attribute::new("token_version", Type::Number).optional())
            .block(
                "auth",
                Nesting::List,
                Block::new()
                    .attribute(Attribute::new("kind", Type::String).optional())
                    .attribute(
                        Attribute::new("secret", Type::String)
                            .optional()
                            .write_only(),
                    ),
            ),
    )
}

fn with_token(mut v: Value) -> Value {
    if !v.is_null() {
        v.set_attr("token", "leaked".into());
    }
    v
}

#[async_trait]
impl Resource for R {
    fn type_name(&self) -> String {
        "t_wo".into()
    }
    fn schema(&self) -> Schema {
        schema()
    }
    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        let mut p = default_plan(&schema(), req);
        p.planned_state = with_token(p.planned_state);
        p
    }
    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        if let Some(t) = req.config.get("token").and_then(Value::as_str) {
            self.0.lock().unwrap().push(t.to_owned());
        }
        let mut s = req.planned_state;
        s.set_attr("id", "x".into());
        ApplyResponse::ok(with_token(s))
    }
    async fn read(&self, req: ReadRequest) -> ReadResponse {
        ReadResponse {
            new_state: with_token(req.current_state),
            ..Default::default()
        }
    }
    async fn import(&self, id: &str) -> Result<Vec<Imported>, Diagnostics> {
        let mut st = Value::null_object(&schema().value_type());
        st.set_attr("id", id.into());
        Ok(vec![Imported::new(with_token(st))])
    }
}

fn dv(v: &Value) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: to_msgpack(v, &schema().value_type()).unwrap(),
        json: Vec::new(),
    })
}

fn val(d: Option<pb::DynamicValue>) -> Value {
    from_msgpack(&d.unwrap().msgpack, &schema().value_type()).unwrap()
}

fn config(token: Value, secret: Value) -> Value {
    Value::object([
        ("id", Value::Null),
        ("token", token),
        ("token_version", Value::number(1)),
        (
            "auth",
            Value::List(vec![Value::object([
                ("kind", "password".into()),
                ("secret", secret),
            ])]),
        ),
    ])
}

fn caps(allowed: bool) -> Option<pb::ClientCapabilities> {
    Some(pb::ClientCapabilities {
        write_only_attributes_allowed: allowed,
        ..Default::default()
    })
}

#[test]
fn schema_marks_and_checks() {
    let s = schema();
    let p = s.to_proto();
    let block = p.block.unwrap();
    let token = block.attributes.iter().find(|a| a.name == "token").unwrap();
    assert!(token.write_only && token.sensitive);
    assert!(write_only::has_write_only(&s.block));
    assert!(write_only::check_schema(&s.block).is_empty());
    // Computed, or inside a set: not allowed.
    let bad = Block::new()
        .attribute(
            Attribute::new("a", Type::String)
                .optional()
                .computed()
                .write_only(),
        )
        .block(
            "s",
            Nesting::Set,
            Block::new().attribute(Attribute::new("b", Type::String).optional().write_only()),
        );
    let problems = write_only::check_schema(&bad);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[1].starts_with("s.b:"), "{problems:?}");
}

#[test]
fn nullify_and_configured() {
    let s = schema();
    let mut v = config("t".into(), "s".into());
    let paths = write_only::configured(&s.block, &v);
    assert_eq!(
        paths,
        vec![
            AttributePath::attr("token"),
            AttributePath::attr("auth")
                .then_index(0)
                .then_attr("secret"),
        ]
    );
    // Unknown counts as configured; null does not.
    let u = config(Value::unknown(), Value::Null);
    assert_eq!(write_only::configured(&s.block, &u).len(), 1);
    write_only::nullify(&s.block, &mut v);
    assert!(v.get("token").unwrap().is_null());
    let auth = &v.get("auth").unwrap().elements().unwrap()[0];
    assert!(auth.get("secret").unwrap().is_null());
    assert_eq!(auth.get("kind"), Some(&Value::from("password")));
    assert_eq!(v.get("token_version"), Some(&Value::number(1)));
}

#[tokio::test]
async fn write_only_over_grpc() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(plugin::serve_on(listener, None, P(seen.clone()), None));
    let mut c = pb::provider_client::ProviderClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    let s = c
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    let attrs = &s.resource_schemas["t_wo"]
        .block
        .as_ref()
        .unwrap()
        .attributes;
    assert!(attrs.iter().any(|a| a.name == "token" && a.write_only));

    let cfg = config("s3cret-token-value".into(), "pw".into());
    // Terraform before 1.11 (no capability): an error per configured value.
    for allowed in [false, true] {
        let v = c
            .validate_resource_config(pb::validate_resource_config::Request {
                type_name: "t_wo".into(),
                config: dv(&cfg),
                client_capabilities: caps(allowed),
            })
            .await
            .unwrap()
            .into_inner();
        if allowed {
            assert!(v.diagnostics.is_empty(), "{:?}", v.diagnostics);
        } else {
            assert_eq!(v.diagnostics.len(), 2, "{:?}", v.diagnostics);
            assert_eq!(v.diagnostics[0].summary, "Write-only Attribute Not Allowed");
            assert!(v.diagnostics[0].attribute.is_some());
        }
    }
    // A null write-only value is fine without the capability.
    let v = c
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "t_wo".into(),
            config: dv(&config(Value::Null, Value::Null)),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(v.diagnostics.is_empty(), "{:?}", v.diagnostics);

    // Plan: null in the planned state, whatever the resource answered.
    let p = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "t_wo".into(),
            prior_state: dv(&Value::Null),
            proposed_new_state: dv(&cfg),
            config: dv(&cfg),
            client_capabilities: caps(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let planned = val(p.planned_state);
    assert!(planned.get("token").unwrap().is_null());
    let auth = &planned.get("auth").unwrap().elements().unwrap()[0];
    assert!(auth.get("secret").unwrap().is_null());

    // Apply: the resource sees the value in config; the state has null.
    let a = c
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: "t_wo".into(),
            prior_state: dv(&Value::Null),
            planned_state: dv(&planned),
            config: dv(&cfg),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(a.diagnostics.is_empty(), "{:?}", a.diagnostics);
    assert_eq!(*seen.lock().unwrap(), vec!["s3cret-token-value".to_owned()]);
    let state = val(a.new_state);
    assert_eq!(state.get("id"), Some(&Value::from("x")));
    assert!(state.get("token").unwrap().is_null());
    assert_eq!(state.get("token_version"), Some(&Value::number(1)));

    // Read and import: null too.
    let r = c
        .read_resource(pb::read_resource::Request {
            type_name: "t_wo".into(),
            current_state: dv(&state),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(val(r.new_state).get("token").unwrap().is_null());
    let i = c
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "t_wo".into(),
            id: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let st = val(i.imported_resources[0].state.clone());
    assert!(st.get("token").unwrap().is_null());

    // Upgrade: a stored state that somehow holds one loses it.
    let u = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "t_wo".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: br#"{"id":"x","token":"old","token_version":1,"auth":[]}"#.to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(u.diagnostics.is_empty(), "{:?}", u.diagnostics);
    assert!(val(u.upgraded_state).get("token").unwrap().is_null());
    server.abort();
}
