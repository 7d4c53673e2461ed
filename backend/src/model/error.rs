//! Domain errors: what went wrong, in the API's own vocabulary, without HTTP.
//! The wire layer maps each [`Fault`] to its code and status in one place.

use std::fmt;

macro_rules! faults {
    ($($name:ident),* $(,)?) => {
        /// The fault names the ElastiCache API documents. `Internal` never reaches
        /// a client as such: it is logged and answered as `InternalFailure`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Fault { $($name,)* Internal }

        impl Fault {
            /// The AWS error code of this fault.
            #[must_use]
            pub fn code(self) -> &'static str {
                match self { $(Self::$name => stringify!($name),)* Self::Internal => "InternalFailure" }
            }
        }
    };
}

faults! {
    InvalidParameterValue,
    InvalidParameterCombination,
    InvalidAction,
    CacheClusterNotFound,
    CacheClusterAlreadyExists,
    InvalidCacheClusterState,
    ClusterQuotaForCustomerExceeded,
    NodeQuotaForClusterExceeded,
    NodeQuotaForCustomerExceeded,
    CacheNodeNotFound,
    CacheParameterGroupNotFound,
    CacheParameterGroupAlreadyExists,
    CacheParameterGroupQuotaExceeded,
    InvalidCacheParameterGroupState,
    CacheSubnetGroupNotFoundFault,
    CacheSubnetGroupAlreadyExists,
    CacheSubnetGroupInUse,
    CacheSubnetGroupQuotaExceeded,
    CacheSubnetQuotaExceededFault,
    SubnetInUse,
    InvalidSubnet,
    CacheSecurityGroupNotFound,
    ReplicationGroupNotFoundFault,
    ReplicationGroupAlreadyExists,
    InvalidReplicationGroupState,
    NodeGroupNotFoundFault,
    NodeGroupsPerReplicationGroupQuotaExceeded,
    TestFailoverNotAvailableFault,
    NoOperationFault,
    SnapshotNotFoundFault,
    SnapshotAlreadyExistsFault,
    SnapshotQuotaExceededFault,
    SnapshotFeatureNotSupportedFault,
    InvalidSnapshotState,
    TagQuotaPerResourceExceeded,
    TagNotFound,
    InvalidARN,
    ReservedCacheNodeNotFound,
    ReservedCacheNodesOfferingNotFound,
    ReservedCacheNodeAlreadyExists,
    ReservedCacheNodeQuotaExceeded,
    ServiceUpdateNotFoundFault,
    UserNotFound,
    UserGroupNotFound,
    UserAlreadyExists,
    UserQuotaExceeded,
    DuplicateUserName,
    InvalidUserState,
    DefaultUserRequired,
    DefaultUserAssociatedToUserGroup,
    UserGroupAlreadyExists,
    UserGroupQuotaExceeded,
    InvalidUserGroupState,
    ServerlessCacheNotFoundFault,
    ServerlessCacheSnapshotNotFoundFault,
    ServerlessCacheAlreadyExistsFault,
    ServerlessCacheQuotaForCustomerExceededFault,
    InvalidServerlessCacheStateFault,
    ServerlessCacheSnapshotAlreadyExistsFault,
    ServerlessCacheSnapshotQuotaExceededFault,
    InvalidServerlessCacheSnapshotStateFault,
    ServerlessCacheAlreadyUnderMigrationFault,
    ServerlessCacheNotUnderMigrationFault,
    MigrationHealthFault,
    GlobalReplicationGroupNotFoundFault,
    GlobalReplicationGroupAlreadyExistsFault,
    InvalidGlobalReplicationGroupState,
    ReplicationGroupAlreadyUnderMigrationFault,
    ReplicationGroupNotUnderMigrationFault,
    // The Query API's common 503: the backend cannot do it now (its data
    // directory is full or read-only); the request changed nothing.
    ServiceUnavailable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub fault: Fault,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    #[must_use]
    pub fn new(fault: Fault, message: impl Into<String>) -> Self {
        Self {
            fault,
            message: message.into(),
        }
    }

    #[must_use]
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Fault::InvalidParameterValue, message)
    }

    #[must_use]
    pub fn combination(message: impl Into<String>) -> Self {
        Self::new(Fault::InvalidParameterCombination, message)
    }

    /// An internal failure; the detail is logged here and never sent to a client.
    #[track_caller]
    pub fn internal(detail: impl fmt::Display) -> Self {
        let loc = std::panic::Location::caller();
        tracing::error!(%detail, at = %loc, "internal error");
        Self::new(Fault::Internal, "An internal error has occurred.")
    }
}

impl Error {
    /// The data directory refused a write (full, read-only): the change was
    /// not made. The message names the cause (a path and the OS error: no
    /// secret), so that a user can fix it; the request may be sent again.
    #[track_caller]
    pub fn storage(detail: impl fmt::Display) -> Self {
        let loc = std::panic::Location::caller();
        tracing::error!(%detail, at = %loc, "the database refused a write");
        Self::new(
            Fault::ServiceUnavailable,
            format!(
                "The change was not made: {detail}. Free space on the data directory or make \
                 it writable, then send the request again."
            ),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.fault.code(), self.message)
    }
}

impl std::error::Error for Error {}
