//! DescribeEvents.

use serde_json::{json, Value};

use super::{page, Ctx, Input};
use crate::model::events::EventQuery;
use crate::model::{iso, Error};

pub(super) fn describe(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let q = EventQuery {
        source_id: i.str("SourceIdentifier"),
        source_type: i.str("SourceType"),
        start: i.time("StartTime"),
        end: i.time("EndTime"),
        duration_minutes: i.int("Duration"),
    };
    let (events, marker) = page(&i, ctx.cp.describe_events(&ctx.scope, &q)?, 20, 100)?;
    let items: Vec<Value> = events
        .iter()
        .map(|e| json!({"SourceIdentifier": e.source_id, "SourceType": e.source_type, "Message": e.message, "Date": iso(&e.date)}))
        .collect();
    Ok(json!({ "Marker": marker, "Events": items }))
}
