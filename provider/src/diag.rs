//! One message style for every error, as HashiCorp's provider writes them:
//! `creating ElastiCache Cluster (my-id): CacheSubnetGroupNotFoundFault: …`.

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use tfplugin::Diagnostic;

/// An API error of `verb`-ing the resource `what` (e.g. "Cluster") named `id`.
pub fn api_error<E: ProvideErrorMetadata + std::fmt::Debug>(
    verb: &str,
    what: &str,
    id: &str,
    err: &E,
) -> Diagnostic {
    let cause = match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => format!("{err:?}"),
    };
    Diagnostic::error(
        format!("{verb} ElastiCache {what} ({id}): {cause}"),
        String::new(),
    )
}

/// A non-API failure in the same style (e.g. a waiter timing out).
pub fn error(verb: &str, what: &str, id: &str, cause: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        format!("{verb} ElastiCache {what} ({id}): {cause}"),
        String::new(),
    )
}

/// Whether an SDK error is the API's "not found" for this resource.
pub fn is_not_found<E: ProvideErrorMetadata>(err: &E, code: &str) -> bool {
    err.code() == Some(code)
}
