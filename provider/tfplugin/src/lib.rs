//! Terraform plugin protocol 6 (tfplugin6 6.11) for Rust providers.
//!
//! * [`plugin`]: go-plugin handshake, AutoMTLS, controller/stdio services,
//!   debug (reattach) mode.
//! * [`Type`], [`Value`], [`codec`]: the cty type system and its msgpack and
//!   JSON encodings (unknowns and nulls at any depth, arbitrary-precision
//!   numbers, sets that never merge unknown elements).
//! * [`schema`]: schema builder.
//! * [`write_only`]: write-only attributes (6.8+): never in plan or state.
//! * [`Provider`], [`Resource`], [`DataSource`]: what a provider implements;
//!   [`ProviderServer`] turns it into the gRPC service.
//!
//! ```no_run
//! # use tfplugin::*;
//! # struct MyProvider;
//! # #[async_trait::async_trait] impl Provider for MyProvider {
//! #   fn schema(&self) -> Schema { Schema::default() }
//! #   fn resources(&self) -> Vec<std::sync::Arc<dyn Resource>> { vec![] } }
//! #[tokio::main]
//! async fn main() {
//!     tfplugin::serve("registry.terraform.io/example/my", MyProvider).await;
//! }
//! ```

pub mod codec;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod number;
pub mod path;
pub mod plugin;
pub mod provider;
pub mod schema;
pub mod server;
pub mod types;
pub mod value;
pub mod write_only;

pub mod proto {
    //! Generated protobuf/gRPC types.
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}

pub use async_trait::async_trait;
pub use number::Number;
pub use path::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use plugin::{serve, serve_debug, serve_plugin};
pub use provider::{
    default_plan, ApplyRequest, ApplyResponse, ConfigureRequest, DataSource, Imported, MoveRequest,
    Moved, PlanRequest, PlanResponse, Provider, RawState, ReadRequest, ReadResponse, Resource,
    UpgradeRequest,
};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use server::ProviderServer;
pub use types::Type;
pub use value::Value;
