//! Status strings exactly as AWS spells them.

pub const AVAILABLE: &str = "available";
pub const CREATING: &str = "creating";
pub const MODIFYING: &str = "modifying";
pub const DELETING: &str = "deleting";
pub const REBOOTING: &str = "rebooting cache cluster nodes";
pub const CREATE_FAILED: &str = "create-failed";
/// A cluster or replication group while a snapshot of it is taken.
pub const SNAPSHOTTING: &str = "snapshotting";

/// Cache node statuses.
pub const NODE_AVAILABLE: &str = "available";
pub const NODE_CREATING: &str = "creating";
pub const NODE_REBOOTING: &str = "rebooting";
pub const NODE_DELETING: &str = "deleting";
pub const NODE_MODIFYING: &str = "modifying";

/// Parameter group application statuses.
pub const PG_IN_SYNC: &str = "in-sync";
pub const PG_APPLYING: &str = "applying";
pub const PG_PENDING_REBOOT: &str = "pending-reboot";
