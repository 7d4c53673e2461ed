//! Users and user groups.

use super::{not_blank, page, tags_in, Ctx};
use crate::dto::{
    Authentication, AuthenticationType, CreateUserGroupInput, CreateUserGroupOutput,
    CreateUserInput, CreateUserOutput, DeleteUserGroupInput, DeleteUserGroupOutput,
    DeleteUserInput, DeleteUserOutput, DescribeUserGroupsInput, DescribeUserGroupsOutput,
    DescribeUsersInput, DescribeUsersOutput, ModifyUserGroupInput, ModifyUserGroupOutput,
    ModifyUserInput, ModifyUserOutput, UserGroupPendingChanges,
};
use crate::model::user::{AuthInput, AuthKind, NewUser, User, UserGroup};
use crate::model::Error;

/// The oldest engine version that has users (ACLs came with Redis 6.0).
const MINIMUM_ENGINE_VERSION: &str = "6.0";

fn flatten_user(ctx: &Ctx<'_>, u: &User) -> crate::dto::User {
    let kind = match u.auth {
        AuthKind::Password => AuthenticationType::PASSWORD,
        AuthKind::NoPassword => AuthenticationType::NO_PASSWORD,
        AuthKind::Iam => AuthenticationType::IAM,
    };
    crate::dto::User {
        user_id: Some(u.id.clone()),
        user_name: Some(u.name.clone()),
        status: Some(u.status.clone()),
        engine: Some(u.engine.clone()),
        minimum_engine_version: Some(MINIMUM_ENGINE_VERSION.to_owned()),
        access_string: Some(u.access_string.clone()),
        user_group_ids: Some(ctx.cp.groups_of_user(&ctx.scope, &u.id)),
        authentication: Some(Authentication {
            r#type: Some(kind),
            password_count: Some(i64::try_from(u.password_hashes.len()).unwrap_or(0)),
        }),
        arn: Some(u.arn(&ctx.scope)),
    }
}

fn flatten_group(ctx: &Ctx<'_>, g: &UserGroup) -> crate::dto::UserGroup {
    let pending = (!g.pending_add.is_empty() || !g.pending_remove.is_empty()).then(|| {
        UserGroupPendingChanges {
            user_ids_to_remove: (!g.pending_remove.is_empty()).then(|| g.pending_remove.clone()),
            user_ids_to_add: (!g.pending_add.is_empty()).then(|| g.pending_add.clone()),
        }
    });
    let groups = ctx.cp.replication_groups_with_user_group(&ctx.scope, &g.id);
    crate::dto::UserGroup {
        user_group_id: Some(g.id.clone()),
        status: Some(g.status.clone()),
        engine: Some(g.engine.clone()),
        user_ids: Some(g.user_ids.clone()),
        minimum_engine_version: Some(MINIMUM_ENGINE_VERSION.to_owned()),
        pending_changes: pending,
        replication_groups: Some(
            groups
                .iter()
                .filter(|id| super::shown(id))
                .cloned()
                .collect(),
        ),
        serverless_caches: Some(
            groups
                .iter()
                .filter_map(|id| crate::model::serverless::cache_of(id))
                .map(str::to_owned)
                .collect(),
        ),
        arn: Some(g.arn(&ctx.scope)),
    }
}

fn auth_input(
    passwords: Option<Vec<String>>,
    no_password_required: Option<bool>,
    mode: Option<crate::dto::AuthenticationMode>,
) -> AuthInput {
    AuthInput {
        passwords,
        no_password_required,
        mode: mode.map(|m| (m.r#type.map(String::from), m.passwords)),
    }
}

pub(super) fn create_user(
    ctx: &Ctx<'_>,
    input: CreateUserInput,
) -> Result<CreateUserOutput, Error> {
    let CreateUserInput {
        user_id,
        user_name,
        engine,
        passwords,
        access_string,
        no_password_required,
        tags,
        authentication_mode,
    } = input;
    let (id, name, engine) = (
        not_blank(user_id, "UserId")?,
        not_blank(user_name, "UserName")?,
        not_blank(engine, "Engine")?,
    );
    let req = NewUser {
        id: &id,
        name: &name,
        engine: &engine,
        access_string: &access_string,
        tags: tags_in(tags),
    };
    let u = ctx.cp.create_user(
        &ctx.scope,
        req,
        &auth_input(passwords, no_password_required, authentication_mode),
    )?;
    Ok(flatten_user(ctx, &u))
}

pub(super) fn modify_user(
    ctx: &Ctx<'_>,
    input: ModifyUserInput,
) -> Result<ModifyUserOutput, Error> {
    let ModifyUserInput {
        user_id,
        access_string,
        append_access_string,
        passwords,
        no_password_required,
        authentication_mode,
        engine,
    } = input;
    let u = ctx.cp.modify_user(
        &ctx.scope,
        &not_blank(user_id, "UserId")?,
        access_string.as_deref(),
        append_access_string.as_deref(),
        &auth_input(passwords, no_password_required, authentication_mode),
        engine.as_deref(),
    )?;
    Ok(flatten_user(ctx, &u))
}

pub(super) fn delete_user(
    ctx: &Ctx<'_>,
    input: DeleteUserInput,
) -> Result<DeleteUserOutput, Error> {
    let DeleteUserInput { user_id } = input;
    let u = ctx
        .cp
        .delete_user(&ctx.scope, &not_blank(user_id, "UserId")?)?;
    Ok(flatten_user(ctx, &u))
}

pub(super) fn describe_users(
    ctx: &Ctx<'_>,
    input: DescribeUsersInput,
) -> Result<DescribeUsersOutput, Error> {
    let DescribeUsersInput {
        engine,
        user_id,
        filters,
        max_records,
        marker,
    } = input;
    let mut users = match user_id.filter(|u| !u.is_empty()) {
        Some(id) => vec![ctx.cp.find_user(&ctx.scope, &id)?],
        None => ctx.cp.list_users(&ctx.scope),
    };
    if let Some(e) = engine {
        let e = e.to_ascii_lowercase();
        users.retain(|u| u.engine == e);
    }
    for f in filters.unwrap_or_default() {
        let field: fn(&User) -> &str = match f.name.as_str() {
            "user-id" => |u| &u.id,
            "user-name" => |u| &u.name,
            "engine" => |u| &u.engine,
            other => {
                return Err(Error::invalid(format!(
                    "Invalid filter name: {other}. Valid names are user-id, user-name and engine."
                )))
            }
        };
        users.retain(|u| f.values.iter().any(|v| v == field(u)));
    }
    let items = users.iter().map(|u| flatten_user(ctx, u)).collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeUsersOutput {
        users: Some(items),
        marker,
    })
}

pub(super) fn create_user_group(
    ctx: &Ctx<'_>,
    input: CreateUserGroupInput,
) -> Result<CreateUserGroupOutput, Error> {
    let CreateUserGroupInput {
        user_group_id,
        engine,
        user_ids,
        tags,
    } = input;
    let g = ctx.cp.create_user_group(
        &ctx.scope,
        &not_blank(user_group_id, "UserGroupId")?,
        &not_blank(engine, "Engine")?,
        user_ids.unwrap_or_default(),
        tags_in(tags),
    )?;
    Ok(flatten_group(ctx, &g))
}

pub(super) fn modify_user_group(
    ctx: &Ctx<'_>,
    input: ModifyUserGroupInput,
) -> Result<ModifyUserGroupOutput, Error> {
    let ModifyUserGroupInput {
        user_group_id,
        user_ids_to_add,
        user_ids_to_remove,
        engine,
    } = input;
    let g = ctx.cp.modify_user_group(
        &ctx.scope,
        &not_blank(user_group_id, "UserGroupId")?,
        user_ids_to_add.unwrap_or_default(),
        user_ids_to_remove.unwrap_or_default(),
        engine.as_deref(),
    )?;
    Ok(flatten_group(ctx, &g))
}

pub(super) fn delete_user_group(
    ctx: &Ctx<'_>,
    input: DeleteUserGroupInput,
) -> Result<DeleteUserGroupOutput, Error> {
    let DeleteUserGroupInput { user_group_id } = input;
    let g = ctx
        .cp
        .delete_user_group(&ctx.scope, &not_blank(user_group_id, "UserGroupId")?)?;
    Ok(flatten_group(ctx, &g))
}

pub(super) fn describe_user_groups(
    ctx: &Ctx<'_>,
    input: DescribeUserGroupsInput,
) -> Result<DescribeUserGroupsOutput, Error> {
    let DescribeUserGroupsInput {
        user_group_id,
        max_records,
        marker,
    } = input;
    let groups = match user_group_id.filter(|g| !g.is_empty()) {
        Some(id) => vec![ctx.cp.find_user_group(&ctx.scope, &id)?],
        None => ctx.cp.list_user_groups(&ctx.scope),
    };
    let items = groups.iter().map(|g| flatten_group(ctx, g)).collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeUserGroupsOutput {
        user_groups: Some(items),
        marker,
    })
}
