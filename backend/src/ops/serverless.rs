//! CreateServerlessCache, DescribeServerlessCaches, ModifyServerlessCache,
//! DeleteServerlessCache, and their snapshots: Create/Copy/Delete/Describe/
//! ExportServerlessCacheSnapshot.

use super::{endpoint, page, required, tags_in, Ctx};
use crate::dto::{
    self, CacheUsageLimits, CopyServerlessCacheSnapshotInput, CopyServerlessCacheSnapshotOutput,
    CreateServerlessCacheInput, CreateServerlessCacheOutput, CreateServerlessCacheSnapshotInput,
    CreateServerlessCacheSnapshotOutput, DataStorage, DeleteServerlessCacheInput,
    DeleteServerlessCacheOutput, DeleteServerlessCacheSnapshotInput,
    DeleteServerlessCacheSnapshotOutput, DescribeServerlessCacheSnapshotsInput,
    DescribeServerlessCacheSnapshotsOutput, DescribeServerlessCachesInput,
    DescribeServerlessCachesOutput, ECPUPerSecond, ExportServerlessCacheSnapshotInput,
    ExportServerlessCacheSnapshotOutput, ModifyServerlessCacheInput, ModifyServerlessCacheOutput,
    PrepareMigrationInput, PrepareMigrationOutput, ServerlessCacheConfiguration,
    StopMigrationInput, StopMigrationOutput,
};
use crate::model::migration::Source;
use crate::model::serverless::{
    self, shown_snapshot, CreateServerless, ModifyServerless, ServerlessCache, UsageLimits,
};
use crate::model::snapshot::{cache_size, Snapshot};
use crate::model::Error;

/// `CacheUsageLimits` as the model keeps them.
fn limits_in(l: Option<CacheUsageLimits>) -> Result<UsageLimits, Error> {
    let l = l.unwrap_or_default();
    if let Some(d) = &l.data_storage {
        if d.unit.as_str() != "GB" {
            return Err(Error::invalid(format!(
                "Invalid CacheUsageLimits.DataStorage.Unit {}: the unit is GB.",
                d.unit.as_str()
            )));
        }
    }
    Ok(UsageLimits {
        data_max: l.data_storage.as_ref().and_then(|d| d.maximum),
        data_min: l.data_storage.as_ref().and_then(|d| d.minimum),
        ecpu_max: l.ecpu_per_second.as_ref().and_then(|e| e.maximum),
        ecpu_min: l.ecpu_per_second.as_ref().and_then(|e| e.minimum),
    })
}

fn limits_out(l: &UsageLimits) -> Option<CacheUsageLimits> {
    let data = (l.data_max.is_some() || l.data_min.is_some()).then_some(DataStorage {
        maximum: l.data_max,
        minimum: l.data_min,
        unit: dto::DataStorageUnit::GB,
    });
    let ecpu = (l.ecpu_max.is_some() || l.ecpu_min.is_some()).then_some(ECPUPerSecond {
        maximum: l.ecpu_max,
        minimum: l.ecpu_min,
    });
    (data.is_some() || ecpu.is_some()).then_some(CacheUsageLimits {
        data_storage: data,
        ecpu_per_second: ecpu,
    })
}

/// A serverless cache as the API shows it.
pub(super) fn flatten(ctx: &Ctx<'_>, c: &ServerlessCache) -> dto::ServerlessCache {
    let (ep, reader) = ctx.cp.serverless_endpoints(&ctx.scope, c);
    dto::ServerlessCache {
        serverless_cache_name: Some(c.name.clone()),
        description: Some(c.description.clone()),
        create_time: Some(c.created),
        status: Some(c.status.clone()),
        engine: Some(c.engine.as_str().to_owned()),
        major_engine_version: Some(c.major_version.clone()),
        full_engine_version: Some(c.full_version.clone()),
        cache_usage_limits: limits_out(&c.limits),
        kms_key_id: c.kms_key_id.clone(),
        storage_encryption_type: Some(if c.kms_key_id.is_some() {
            dto::StorageEncryptionType::SSE_KMS
        } else {
            dto::StorageEncryptionType::SSE_ELASTICACHE
        }),
        security_group_ids: (!c.security_group_ids.is_empty())
            .then(|| c.security_group_ids.clone()),
        endpoint: ep.map(|(h, p)| endpoint(&h, p)),
        reader_endpoint: reader.map(|(h, p)| endpoint(&h, p)),
        arn: Some(c.arn(&ctx.scope)),
        user_group_id: c.user_group_id.clone(),
        subnet_ids: (!c.subnet_ids.is_empty()).then(|| c.subnet_ids.clone()),
        snapshot_retention_limit: Some(c.snapshot_retention_limit),
        daily_snapshot_time: Some(c.daily_snapshot_time.clone()),
        network_type: Some(c.network_type.clone().into()),
        connection_type: Some(c.connection_type.clone().into()),
        migration: ctx
            .cp
            .serverless_migration_status(&ctx.scope, c)
            .map(|(status, mode)| dto::MigrationSummary {
                status: Some(status),
                migration_endpoint: c
                    .migration
                    .as_ref()
                    .map(|m| endpoint(&m.source.address, m.source.port)),
                cutover_mode: Some(mode.to_owned()),
            }),
        integrations: None,
    }
}

/// A serverless snapshot as the API shows it.
fn flatten_snapshot(ctx: &Ctx<'_>, s: &Snapshot) -> dto::ServerlessCacheSnapshot {
    let name = shown_snapshot(&s.name);
    let cache = serverless::snapshot_cache(s).map(str::to_owned);
    // `MajorEngineVersion` as caches show it: `7`, `8`; Memcached `1.6`.
    let parts = if s.engine == crate::engine::EngineKind::Memcached {
        2
    } else {
        1
    };
    let major = s
        .engine_version
        .split('.')
        .take(parts)
        .collect::<Vec<_>>()
        .join(".");
    dto::ServerlessCacheSnapshot {
        arn: Some(crate::model::arn::arn(
            &ctx.scope,
            "serverlesscachesnapshot",
            &name,
        )),
        serverless_cache_snapshot_name: Some(name),
        kms_key_id: None,
        snapshot_type: Some(if s.source == "automated" {
            "automated".to_owned()
        } else {
            "manual".to_owned()
        }),
        status: Some(s.status.clone()),
        create_time: Some(s.created),
        expiry_time: None,
        bytes_used_for_cache: s
            .node_snapshots
            .iter()
            .filter_map(|n| n.size_bytes)
            .reduce(|a, b| a + b)
            .map(cache_size),
        serverless_cache_configuration: Some(ServerlessCacheConfiguration {
            serverless_cache_name: cache,
            engine: Some(s.engine.as_str().to_owned()),
            major_engine_version: Some(major),
        }),
    }
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    input: CreateServerlessCacheInput,
) -> Result<CreateServerlessCacheOutput, Error> {
    let CreateServerlessCacheInput {
        serverless_cache_name,
        description,
        engine,
        major_engine_version,
        cache_usage_limits,
        kms_key_id,
        security_group_ids,
        snapshot_arns_to_restore,
        tags,
        user_group_id,
        subnet_ids,
        snapshot_retention_limit,
        daily_snapshot_time,
        network_type,
        connection_type,
        integrations: _,
    } = input;
    let req = CreateServerless {
        name: super::not_blank(serverless_cache_name, "ServerlessCacheName")?,
        description,
        engine: super::not_blank(engine, "Engine")?,
        major_version: major_engine_version,
        limits: limits_in(cache_usage_limits)?,
        kms_key_id,
        security_group_ids: security_group_ids.unwrap_or_default(),
        snapshot_arns: snapshot_arns_to_restore.unwrap_or_default(),
        tags: tags_in(tags),
        user_group_id,
        subnet_ids: subnet_ids.unwrap_or_default(),
        snapshot_retention_limit,
        daily_snapshot_time,
        network_type: network_type.map(String::from),
        connection_type: connection_type.map(String::from),
    };
    let c = ctx.cp.create_serverless_cache(&ctx.scope, req)?;
    Ok(CreateServerlessCacheOutput {
        serverless_cache: Some(flatten(ctx, &c)),
    })
}

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeServerlessCachesInput,
) -> Result<DescribeServerlessCachesOutput, Error> {
    let DescribeServerlessCachesInput {
        serverless_cache_name,
        max_results,
        next_token,
    } = input;
    let caches = match serverless_cache_name.filter(|n| !n.is_empty()) {
        Some(n) => vec![ctx.cp.find_serverless_cache(&ctx.scope, &n)?],
        None => ctx.cp.list_serverless_caches(&ctx.scope),
    };
    let (caches, next_token) = page(caches, max_results, next_token.as_deref(), 1, 100)?;
    Ok(DescribeServerlessCachesOutput {
        next_token,
        serverless_caches: Some(caches.iter().map(|c| flatten(ctx, c)).collect()),
    })
}

pub(super) fn modify(
    ctx: &Ctx<'_>,
    input: ModifyServerlessCacheInput,
) -> Result<ModifyServerlessCacheOutput, Error> {
    let ModifyServerlessCacheInput {
        serverless_cache_name,
        description,
        cache_usage_limits,
        remove_user_group,
        user_group_id,
        security_group_ids,
        snapshot_retention_limit,
        daily_snapshot_time,
        engine,
        major_engine_version,
    } = input;
    let req = ModifyServerless {
        name: super::not_blank(serverless_cache_name, "ServerlessCacheName")?,
        description,
        limits: cache_usage_limits.map(|l| limits_in(Some(l))).transpose()?,
        remove_user_group: remove_user_group.unwrap_or(false),
        user_group_id,
        security_group_ids,
        snapshot_retention_limit,
        daily_snapshot_time,
        engine,
        major_version: major_engine_version,
    };
    let c = ctx.cp.modify_serverless_cache(&ctx.scope, req)?;
    Ok(ModifyServerlessCacheOutput {
        serverless_cache: Some(flatten(ctx, &c)),
    })
}

pub(super) fn delete(
    ctx: &Ctx<'_>,
    input: DeleteServerlessCacheInput,
) -> Result<DeleteServerlessCacheOutput, Error> {
    let DeleteServerlessCacheInput {
        serverless_cache_name,
        final_snapshot_name,
    } = input;
    let c = ctx.cp.delete_serverless_cache(
        &ctx.scope,
        &super::not_blank(serverless_cache_name, "ServerlessCacheName")?,
        final_snapshot_name.filter(|s| !s.is_empty()).as_deref(),
    )?;
    Ok(DeleteServerlessCacheOutput {
        serverless_cache: Some(flatten(ctx, &c)),
    })
}

pub(super) fn create_snapshot(
    ctx: &Ctx<'_>,
    input: CreateServerlessCacheSnapshotInput,
) -> Result<CreateServerlessCacheSnapshotOutput, Error> {
    let CreateServerlessCacheSnapshotInput {
        serverless_cache_snapshot_name,
        serverless_cache_name,
        kms_key_id: _,
        tags,
    } = input;
    let s = ctx.cp.create_serverless_snapshot(
        &ctx.scope,
        &super::not_blank(
            serverless_cache_snapshot_name,
            "ServerlessCacheSnapshotName",
        )?,
        &super::not_blank(serverless_cache_name, "ServerlessCacheName")?,
        tags_in(tags),
    )?;
    Ok(CreateServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(flatten_snapshot(ctx, &s)),
    })
}

pub(super) fn copy_snapshot(
    ctx: &Ctx<'_>,
    input: CopyServerlessCacheSnapshotInput,
) -> Result<CopyServerlessCacheSnapshotOutput, Error> {
    let CopyServerlessCacheSnapshotInput {
        source_serverless_cache_snapshot_name,
        target_serverless_cache_snapshot_name,
        kms_key_id: _,
        tags,
    } = input;
    let s = ctx.cp.copy_serverless_snapshot(
        &ctx.scope,
        &super::not_blank(
            source_serverless_cache_snapshot_name,
            "SourceServerlessCacheSnapshotName",
        )?,
        &super::not_blank(
            target_serverless_cache_snapshot_name,
            "TargetServerlessCacheSnapshotName",
        )?,
        tags_in(tags),
    )?;
    Ok(CopyServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(flatten_snapshot(ctx, &s)),
    })
}

pub(super) fn delete_snapshot(
    ctx: &Ctx<'_>,
    input: DeleteServerlessCacheSnapshotInput,
) -> Result<DeleteServerlessCacheSnapshotOutput, Error> {
    let DeleteServerlessCacheSnapshotInput {
        serverless_cache_snapshot_name,
    } = input;
    let s = ctx.cp.delete_serverless_snapshot(
        &ctx.scope,
        &super::not_blank(
            serverless_cache_snapshot_name,
            "ServerlessCacheSnapshotName",
        )?,
    )?;
    Ok(DeleteServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(flatten_snapshot(ctx, &s)),
    })
}

pub(super) fn describe_snapshots(
    ctx: &Ctx<'_>,
    input: DescribeServerlessCacheSnapshotsInput,
) -> Result<DescribeServerlessCacheSnapshotsOutput, Error> {
    let DescribeServerlessCacheSnapshotsInput {
        serverless_cache_name,
        serverless_cache_snapshot_name,
        snapshot_type,
        next_token,
        max_results,
    } = input;
    let cache = serverless_cache_name.filter(|n| !n.is_empty());
    if let Some(c) = &cache {
        ctx.cp.find_serverless_cache(&ctx.scope, c)?;
    }
    let kind = snapshot_type.filter(|t| !t.is_empty());
    if let Some(k) = &kind {
        if !matches!(k.as_str(), "manual" | "automated") {
            return Err(Error::invalid(format!(
                "Invalid SnapshotType {k}: valid values are manual and automated."
            )));
        }
    }
    let mut snaps = match serverless_cache_snapshot_name.filter(|n| !n.is_empty()) {
        Some(n) => vec![ctx.cp.find_serverless_snapshot(&ctx.scope, &n)?],
        None => ctx.cp.list_serverless_snapshots(&ctx.scope),
    };
    snaps.retain(|s| {
        let of = serverless::snapshot_cache(s);
        cache.as_deref().is_none_or(|c| of == Some(c))
            && kind
                .as_deref()
                .is_none_or(|k| (k == "automated") == (s.source == "automated"))
    });
    snaps.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    let (snaps, next_token) = page(snaps, max_results, next_token.as_deref(), 1, 50)?;
    Ok(DescribeServerlessCacheSnapshotsOutput {
        next_token,
        serverless_cache_snapshots: Some(snaps.iter().map(|s| flatten_snapshot(ctx, s)).collect()),
    })
}

pub(super) fn export_snapshot(
    ctx: &Ctx<'_>,
    input: ExportServerlessCacheSnapshotInput,
) -> Result<ExportServerlessCacheSnapshotOutput, Error> {
    let ExportServerlessCacheSnapshotInput {
        serverless_cache_snapshot_name,
        s3_bucket_name,
    } = input;
    let s = ctx.cp.export_serverless_snapshot(
        &ctx.scope,
        &super::not_blank(
            serverless_cache_snapshot_name,
            "ServerlessCacheSnapshotName",
        )?,
        &required(Some(s3_bucket_name), "S3BucketName")?,
    )?;
    Ok(ExportServerlessCacheSnapshotOutput {
        serverless_cache_snapshot: Some(flatten_snapshot(ctx, &s)),
    })
}

pub(super) fn prepare_migration(
    ctx: &Ctx<'_>,
    input: PrepareMigrationInput,
) -> Result<PrepareMigrationOutput, Error> {
    let PrepareMigrationInput {
        serverless_cache_name,
        customer_node_endpoint_list,
        source_authentication_configuration,
        source_tls_configuration,
    } = input;
    if source_authentication_configuration.is_some() {
        return Err(Error::invalid(
            "SourceAuthenticationConfiguration is not available in elasticache-local: it names a Secrets Manager secret (SecretManagerConfig.SecretArn) holding the source's user name and password, and elasticache-local has no Secrets Manager. Migrate from a source that does not require AUTH.",
        ));
    }
    let tls = match source_tls_configuration {
        None => None,
        Some(t) => crate::model::migration::source_tls(
            t.source_tls_mode.as_ref().map(dto::TlsMode::as_str),
            t.source_tls_certificate.as_deref(),
        )?,
    };
    let src = super::migration::source(Some(customer_node_endpoint_list))?;
    let c = ctx.cp.prepare_serverless_migration(
        &ctx.scope,
        &super::not_blank(serverless_cache_name, "ServerlessCacheName")?,
        src,
        tls,
    )?;
    Ok(PrepareMigrationOutput {
        serverless_cache: Some(flatten(ctx, &c)),
    })
}

pub(super) fn stop_migration(
    ctx: &Ctx<'_>,
    input: StopMigrationInput,
) -> Result<StopMigrationOutput, Error> {
    let StopMigrationInput {
        serverless_cache_name,
    } = input;
    let c = ctx.cp.end_serverless_migration(
        &ctx.scope,
        &super::not_blank(serverless_cache_name, "ServerlessCacheName")?,
        true,
    )?;
    Ok(StopMigrationOutput {
        serverless_cache: Some(flatten(ctx, &c)),
    })
}

/// `StartMigration` with `ServerlessCacheName` (from `ops::migration`).
pub(super) fn start_migration(
    ctx: &Ctx<'_>,
    name: &str,
    src: Source,
    auto_cutover: bool,
) -> Result<dto::ServerlessCache, Error> {
    let c = ctx
        .cp
        .start_serverless_migration(&ctx.scope, name, src, auto_cutover)?;
    Ok(flatten(ctx, &c))
}

/// `CompleteMigration` with `ServerlessCacheName` (from `ops::migration`).
pub(super) fn complete_migration(
    ctx: &Ctx<'_>,
    name: &str,
    force: bool,
) -> Result<dto::ServerlessCache, Error> {
    let c = ctx.cp.end_serverless_migration(&ctx.scope, name, force)?;
    Ok(flatten(ctx, &c))
}
