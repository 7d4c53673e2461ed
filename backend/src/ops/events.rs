//! DescribeEvents.

use super::{page, Ctx};
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
    let (events, marker) = page(
        ctx.cp
            .describe_events(&ctx.scope, &q)?
            .into_iter()
            .filter(|e| super::shown(&e.source_id))
            .collect(),
        max_records,
        marker.as_deref(),
        20,
        100,
    )?;
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
