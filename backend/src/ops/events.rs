//! DescribeEvents.

use super::{page_bounds, Ctx};
use crate::dto::{DescribeEventsInput, DescribeEventsOutput, Event};
use crate::model::events::EventQuery;
use crate::model::Error;

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeEventsInput,
) -> Result<DescribeEventsOutput, Error> {
    let DescribeEventsInput {
        source_identifier,
        source_type,
        start_time,
        end_time,
        duration,
        max_records,
        marker,
    } = input;
    let q = EventQuery {
        source_id: source_identifier,
        source_type: source_type.map(String::from),
        start: start_time,
        end: end_time,
        duration_minutes: duration,
    };
    let (skip, size) = page_bounds(max_records, marker.as_deref(), 20, 100)?;
    let (events, total) = ctx.cp.events_page(&ctx.scope, &q, skip, size)?;
    if skip > total {
        return Err(Error::invalid(format!(
            "Invalid marker: {}",
            marker.unwrap_or_default()
        )));
    }
    let end = skip + events.len();
    let marker = (end < total).then(|| format!("page-{end}"));
    let items = events
        .iter()
        .map(|e| Event {
            source_identifier: Some(e.source_id.clone()),
            source_type: Some(e.source_type.clone().into()),
            message: Some(e.message.clone()),
            date: Some(e.date),
        })
        .collect();
    Ok(DescribeEventsOutput {
        marker,
        events: Some(items),
    })
}
