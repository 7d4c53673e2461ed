//! `terraform-provider-demo`: a tiny provider for exercising the protocol
//! layer with a real Terraform. One resource, `demo_thing`, whose objects
//! live as JSON files in a directory (provider argument `state_dir`, or
//! `$DEMO_STATE_DIR`, or the system temp dir).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tfplugin::codec::{self, JsonOptions};
use tfplugin::*;

#[derive(Default)]
struct Shared {
    dir: Mutex<Option<PathBuf>>,
}

impl Shared {
    fn dir(&self) -> PathBuf {
        self.dir
            .lock()
            .expect("lock")
            .clone()
            .or_else(|| std::env::var_os("DEMO_STATE_DIR").map(PathBuf::from))
            .unwrap_or_else(std::env::temp_dir)
    }
}

struct Demo {
    shared: Arc<Shared>,
}

#[async_trait]
impl Provider for Demo {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new().attribute(
                Attribute::new("state_dir", Type::String)
                    .optional()
                    .description("Directory holding the objects"),
            ),
        )
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing {
            shared: self.shared.clone(),
        })]
    }

    async fn configure(&self, req: ConfigureRequest) -> Diagnostics {
        if let Some(d) = req.config.get("state_dir").and_then(Value::as_str) {
            *self.shared.dir.lock().expect("lock") = Some(PathBuf::from(d));
        }
        Diagnostics::new()
    }
}

struct Thing {
    shared: Arc<Shared>,
}

impl Thing {
    fn file(&self, id: &str) -> PathBuf {
        self.shared.dir().join(format!("{id}.json"))
    }

    fn load(&self, id: &str) -> Result<Option<Value>, Diagnostics> {
        let ty = self.schema().value_type();
        match std::fs::read(self.file(id)) {
            Ok(b) => codec::from_json(&b, &ty, JsonOptions::default())
                .map(Some)
                .map_err(|e| Diagnostic::error("Corrupt object file", e.to_string()).into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Diagnostic::error("Cannot read object", e.to_string()).into()),
        }
    }

    fn store(&self, v: &Value) -> Result<(), Diagnostic> {
        let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
        let json = codec::to_json(v, &self.schema().value_type())
            .map_err(|e| Diagnostic::error("Cannot encode object", e.to_string()))?;
        std::fs::create_dir_all(self.shared.dir())
            .and_then(|_| std::fs::write(self.file(id), json))
            .map_err(|e| Diagnostic::error("Cannot write object", e.to_string()))
    }
}

#[async_trait]
impl Resource for Thing {
    fn type_name(&self) -> String {
        "demo_thing".into()
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::new("id", Type::String).computed())
                .attribute(Attribute::new("name", Type::String).required().force_new())
                .attribute(Attribute::new("tags", Type::map(Type::String)).optional())
                .attribute(Attribute::new("items", Type::set(Type::String)).optional())
                .block(
                    "rule",
                    Nesting::Set,
                    Block::new().attribute(Attribute::new("port", Type::Number).required()),
                ),
        )
        // DEMO_SCHEMA_VERSION lets tests store an older version first.
        .version(
            std::env::var("DEMO_SCHEMA_VERSION")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if config.get("name").and_then(Value::as_str) == Some("") {
            d.push(
                Diagnostic::error("Invalid name", "name must not be empty")
                    .at(AttributePath::attr("name")),
            );
        }
        d
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        if req.is_delete() {
            let id = req
                .prior_state
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let _ = std::fs::remove_file(self.file(id));
            return ApplyResponse::ok(Value::Null);
        }
        let mut state = req.planned_state;
        if req.prior_state.is_null() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            state.set_attr("id", Value::string(format!("thing-{nanos:x}")));
        }
        if let Err(d) = self.store(&state) {
            return ApplyResponse::error(req.prior_state, d);
        }
        ApplyResponse::ok(state)
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let id = req
            .current_state
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match self.load(id) {
            Ok(v) => ReadResponse {
                new_state: v.unwrap_or(Value::Null),
                private: req.private,
                diagnostics: Diagnostics::new(),
            },
            Err(d) => ReadResponse {
                new_state: req.current_state,
                private: req.private,
                diagnostics: d,
            },
        }
    }

    async fn import(&self, id: &str) -> Result<Vec<Imported>, Diagnostics> {
        match self.load(id)? {
            Some(v) => Ok(vec![Imported::new(v)]),
            None => Err(Diagnostic::error(
                "Cannot import non-existent remote object",
                format!("no demo_thing with id {id:?}"),
            )
            .into()),
        }
    }

    async fn upgrade_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        // Version 0 had no `items`; decoding against the current type
        // fills it with null.
        let ty = self.schema().value_type();
        match req.version {
            0 | 1 => req.raw.decode(&ty),
            v => Err(Diagnostic::error("Unknown schema version", v.to_string()).into()),
        }
    }
}

#[tokio::main]
async fn main() {
    tfplugin::serve(
        "example.com/test/demo",
        Demo {
            shared: Arc::new(Shared::default()),
        },
    )
    .await;
}
