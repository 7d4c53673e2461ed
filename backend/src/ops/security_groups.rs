//! Cache security groups belong to EC2-Classic. Like AWS for every account
//! created since, this backend lives in a VPC: it lists none and refuses the rest
//! with AWS's own answer.

use serde_json::{json, Value};

use super::{page, Ctx, Input};
use crate::model::{Error, Fault};

const NOT_PERMITTED: &str =
    "Use of cache security groups is not permitted in this API version for your account.";

pub(super) fn not_permitted(_ctx: &Ctx<'_>, _i: Input) -> Result<Value, Error> {
    Err(Error::invalid(NOT_PERMITTED))
}

pub(super) fn describe(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    if let Some(n) = i.str("CacheSecurityGroupName") {
        return Err(Error::new(
            Fault::CacheSecurityGroupNotFound,
            format!("CacheSecurityGroup {n} not found."),
        ));
    }
    let (items, marker) = page(&i, Vec::<Value>::new(), 20, 100)?;
    Ok(json!({ "Marker": marker, "CacheSecurityGroups": items }))
}
