//! The provider: HashiCorp's AWS provider block, and the registries.

use std::sync::Arc;

use tfplugin::{async_trait, ConfigureRequest, Diagnostics, Schema};

use crate::client::{Conn, SharedConn};

#[derive(Default)]
pub struct Aws {
    conn: SharedConn,
}

#[async_trait]
impl tfplugin::Provider for Aws {
    fn schema(&self) -> Schema {
        // TODO(provider block): HashiCorp's provider block, attribute for attribute.
        Schema::default()
    }

    fn resources(&self) -> Vec<Arc<dyn tfplugin::Resource>> {
        crate::resources::all(&self.conn)
    }

    fn data_sources(&self) -> Vec<Arc<dyn tfplugin::DataSource>> {
        crate::data_sources::all(&self.conn)
    }

    async fn configure(&self, req: ConfigureRequest) -> Diagnostics {
        let _ = (&req, Conn::default());
        Diagnostics::default()
    }
}
