//! `data "aws_elasticache_reserved_cache_node_offering"`, as HashiCorp's
//! provider 6.x: the one offering matching `cache_node_type`, `duration`
//! (`P1Y` or `P3Y`), `offering_type` and `product_description`; gives
//! `offering_id` and `fixed_price`; `region` (6.x).

use std::sync::Arc;

use tfplugin::{
    async_trait, Attribute, AttributePath, Block, Diagnostic, Diagnostics, Schema, Type, Value,
};

use crate::client::SharedConn;
use crate::resources::reserved_cache_node::float;
use crate::state::str_of;

const OFFERING_TYPES: &[&str] = &[
    "Light Utilization",
    "Medium Utilization",
    "Heavy Utilization",
    "Partial Upfront",
    "All Upfront",
    "No Upfront",
];

pub struct ReservedCacheNodeOfferingData {
    conn: SharedConn,
}

impl ReservedCacheNodeOfferingData {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn one_of(cfg: &Value, attr: &str, allowed: &[&str], d: &mut Diagnostics) {
    if let Some(v) = str_of(cfg, attr) {
        if !allowed.contains(&v.as_str()) {
            d.push(
                Diagnostic::error(
                    "Invalid Attribute Value Match",
                    format!(
                        "Attribute {attr} value must be one of: [{}], got: {v:?}",
                        allowed
                            .iter()
                            .map(|a| format!("{a:?}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                )
                .at(AttributePath::attr(attr)),
            );
        }
    }
}

#[async_trait]
impl tfplugin::DataSource for ReservedCacheNodeOfferingData {
    fn type_name(&self) -> String {
        "aws_elasticache_reserved_cache_node_offering".into()
    }

    fn schema(&self) -> Schema {
        let s = |n: &str| Attribute::new(n, Type::String);
        Schema::new(
            Block::new()
                .attribute(s("cache_node_type").required())
                .attribute(s("duration").required())
                .attribute(Attribute::new("fixed_price", Type::Number).computed())
                .attribute(s("offering_id").computed())
                .attribute(s("offering_type").required())
                .attribute(s("product_description").required())
                .attribute(crate::region::attribute()),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        one_of(config, "duration", &["P1Y", "P3Y"], &mut d);
        one_of(config, "offering_type", OFFERING_TYPES, &mut d);
        d
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let meta = &crate::region::meta_for(self.conn.get()?, &config);
        // Sent as configured (`P1Y`, `P3Y`), as HashiCorp's provider does.
        let duration = str_of(&config, "duration").unwrap_or_default();
        let err = |detail: String| -> Diagnostics {
            Diagnostic::error("reading ElastiCache Reserved Cache Node Offering", detail).into()
        };
        let out = meta
            .client
            .describe_reserved_cache_nodes_offerings()
            .cache_node_type(str_of(&config, "cache_node_type").unwrap_or_default())
            .duration(duration)
            .offering_type(str_of(&config, "offering_type").unwrap_or_default())
            .product_description(str_of(&config, "product_description").unwrap_or_default())
            .send()
            .await
            .map_err(|e| {
                err(
                    crate::diag::api_error("reading", "Reserved Cache Node Offering", "", &e)
                        .summary,
                )
            })?;
        let offerings = out.reserved_cache_nodes_offerings();
        let o = match offerings {
            [o] => o,
            [] => return Err(err("empty result".to_owned())),
            many => {
                return Err(err(format!(
                    "too many results: wanted 1, got {}",
                    many.len()
                )))
            }
        };
        let mut st = config.clone();
        st.set_attr("fixed_price", float(o.fixed_price));
        st.set_attr(
            "offering_id",
            Value::string(o.reserved_cache_nodes_offering_id().unwrap_or_default()),
        );
        st.set_attr("region", Value::from(meta.region.as_str()));
        Ok(st)
    }
}
