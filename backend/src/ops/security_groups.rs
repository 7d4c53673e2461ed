//! Cache security groups belong to EC2-Classic. Like AWS for every account
//! created since, this backend lives in a VPC: it lists none and refuses the rest
//! with AWS's own answer (whatever the input says, hence `_input`).

use super::{page, Ctx};
use crate::dto::{
    AuthorizeCacheSecurityGroupIngressInput, AuthorizeCacheSecurityGroupIngressOutput,
    CreateCacheSecurityGroupInput, CreateCacheSecurityGroupOutput, DeleteCacheSecurityGroupInput,
    DeleteCacheSecurityGroupOutput, DescribeCacheSecurityGroupsInput,
    DescribeCacheSecurityGroupsOutput, RevokeCacheSecurityGroupIngressInput,
    RevokeCacheSecurityGroupIngressOutput,
};
use crate::model::{Error, Fault};

const NOT_PERMITTED: &str =
    "Use of cache security groups is not permitted in this API version for your account.";

pub(super) fn create(
    _ctx: &Ctx<'_>,
    _input: CreateCacheSecurityGroupInput,
) -> Result<CreateCacheSecurityGroupOutput, Error> {
    Err(Error::invalid(NOT_PERMITTED))
}

pub(super) fn authorize_ingress(
    _ctx: &Ctx<'_>,
    _input: AuthorizeCacheSecurityGroupIngressInput,
) -> Result<AuthorizeCacheSecurityGroupIngressOutput, Error> {
    Err(Error::invalid(NOT_PERMITTED))
}

pub(super) fn revoke_ingress(
    _ctx: &Ctx<'_>,
    _input: RevokeCacheSecurityGroupIngressInput,
) -> Result<RevokeCacheSecurityGroupIngressOutput, Error> {
    Err(Error::invalid(NOT_PERMITTED))
}

pub(super) fn delete(
    _ctx: &Ctx<'_>,
    _input: DeleteCacheSecurityGroupInput,
) -> Result<DeleteCacheSecurityGroupOutput, Error> {
    Err(Error::invalid(NOT_PERMITTED))
}

pub(super) fn describe(
    _ctx: &Ctx<'_>,
    input: DescribeCacheSecurityGroupsInput,
) -> Result<DescribeCacheSecurityGroupsOutput, Error> {
    let DescribeCacheSecurityGroupsInput {
        cache_security_group_name,
        max_records,
        marker,
    } = input;
    if let Some(n) = cache_security_group_name {
        return Err(Error::new(
            Fault::CacheSecurityGroupNotFound,
            format!("CacheSecurityGroup {n} not found."),
        ));
    }
    let (items, marker) = page(Vec::new(), max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeCacheSecurityGroupsOutput {
        marker,
        cache_security_groups: Some(items),
    })
}
