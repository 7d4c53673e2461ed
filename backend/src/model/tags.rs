//! Tags on every resource ARN: above the families (it finds a resource of any
//! family by its ARN). The rules of a tag list are `validate::check_tags`.

use super::validate::check_tags;
use super::{arn, subnet_group, ControlPlane, Error, Fault, Result, Scope, Tag};

fn merge(existing: &mut Vec<Tag>, add: Vec<Tag>) {
    for t in add {
        match existing.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value,
            None => existing.push(t),
        }
    }
}

impl ControlPlane {
    /// Apply `f` to the tags of the resource named by `arn_str`, returning the new list.
    fn with_tags(
        &self,
        caller: &Scope,
        arn_str: &str,
        f: impl FnOnce(&mut Vec<Tag>) -> Result<()>,
    ) -> Result<Vec<Tag>> {
        if let Some((account, id)) = super::global_datastore::parse_arn(arn_str) {
            if account != caller.account {
                return Err(Error::new(
                    Fault::InvalidARN,
                    format!("The ARN {arn_str} does not belong to this account."),
                ));
            }
            return self.with_global_tags(caller, &id, f);
        }
        let a = arn::parse(arn_str)?;
        if a.scope != *caller {
            return Err(Error::new(
                Fault::InvalidARN,
                format!("The ARN {arn_str} does not belong to this account and region."),
            ));
        }
        let scope = &a.scope;
        let not_found =
            |fault: Fault, what: &str| Error::new(fault, format!("{what} {} not found.", a.name));
        match a.kind.as_str() {
            // Each change is stored under the lock before it is visible
            // (`change_tags`): a refused write changes nothing, and the
            // reconciler, which writes clusters and groups too, never
            // stores an older record over it.
            "cluster" => self.change_tags(
                scope,
                "cluster",
                &a.name,
                |r| r.clusters.get_mut(&a.name),
                |c: &mut super::cluster::CacheCluster| &mut c.tags,
                || not_found(Fault::CacheClusterNotFound, "Cache cluster"),
                f,
            ),
            "parametergroup" => {
                let g = self.find_parameter_group(scope, &a.name)?;
                if g.is_default() {
                    return self.with_default_tags(scope, arn_str, f);
                }
                self.change_tags(
                    scope,
                    "parametergroup",
                    &a.name,
                    |r| r.parameter_groups.get_mut(&a.name),
                    |g: &mut super::parameter_group::ParameterGroup| &mut g.tags,
                    || not_found(Fault::CacheParameterGroupNotFound, "CacheParameterGroup"),
                    f,
                )
            }
            "subnetgroup" => {
                if a.name == subnet_group::DEFAULT {
                    return self.with_default_tags(scope, arn_str, f);
                }
                self.change_tags(
                    scope,
                    "subnetgroup",
                    &a.name,
                    |r| r.subnet_groups.get_mut(&a.name),
                    |g: &mut subnet_group::SubnetGroup| &mut g.tags,
                    || not_found(Fault::CacheSubnetGroupNotFoundFault, "Cache subnet group"),
                    f,
                )
            }
            "replicationgroup" => self.change_tags(
                scope,
                "replicationgroup",
                &a.name,
                |r| r.replication_groups.get_mut(&a.name),
                |g: &mut super::replication_group::ReplicationGroup| &mut g.tags,
                || not_found(Fault::ReplicationGroupNotFoundFault, "Replication group"),
                f,
            ),
            "snapshot" => {
                let name = self.find_snapshot(scope, &a.name)?.name;
                self.change_tags(
                    scope,
                    "snapshot",
                    &name,
                    |r| r.snapshots.get_mut(&name),
                    |s: &mut super::snapshot::Snapshot| &mut s.tags,
                    || not_found(Fault::SnapshotNotFoundFault, "Snapshot"),
                    f,
                )
            }
            "user" => self.change_tags(
                scope,
                "user",
                &a.name,
                |r| r.users.get_mut(&a.name),
                |u: &mut super::user::User| &mut u.tags,
                || not_found(Fault::UserNotFound, "User"),
                f,
            ),
            "usergroup" => self.change_tags(
                scope,
                "usergroup",
                &a.name,
                |r| r.user_groups.get_mut(&a.name),
                |g: &mut super::user::UserGroup| &mut g.tags,
                || not_found(Fault::UserGroupNotFound, "User group"),
                f,
            ),
            "reserved-instance" => self.with_reserved_node_tags(scope, &a.name, f),
            "serverlesscache" => self.change_tags(
                scope,
                "serverlesscache",
                &a.name,
                |r| r.serverless_caches.get_mut(&a.name),
                |c: &mut super::serverless::ServerlessCache| &mut c.tags,
                || not_found(Fault::ServerlessCacheNotFoundFault, "Serverless cache"),
                f,
            ),
            "serverlesscachesnapshot" => {
                let name = self.find_serverless_snapshot(scope, &a.name)?.name;
                self.change_tags(
                    scope,
                    "snapshot",
                    &name,
                    |r| r.snapshots.get_mut(&name),
                    |s: &mut super::snapshot::Snapshot| &mut s.tags,
                    || {
                        not_found(
                            Fault::ServerlessCacheSnapshotNotFoundFault,
                            "Serverless cache snapshot",
                        )
                    },
                    f,
                )
            }
            _ => Err(Error::new(
                Fault::InvalidARN,
                format!("The ARN {arn_str} does not name an ElastiCache resource."),
            )),
        }
    }

    fn with_default_tags(
        &self,
        scope: &Scope,
        arn_str: &str,
        f: impl FnOnce(&mut Vec<Tag>) -> Result<()>,
    ) -> Result<Vec<Tag>> {
        let mut st = self.lock();
        let r = st.region(scope);
        let before = r.default_tags.get(arn_str).cloned().unwrap_or_default();
        let mut tags = before.clone();
        f(&mut tags)?;
        if tags != before {
            // Stored before it is visible: a refused write changes nothing.
            self.persist("defaulttags", scope, arn_str, Some(&tags))?;
            r.default_tags.insert(arn_str.to_owned(), tags.clone());
        }
        Ok(tags)
    }

    pub fn list_tags(&self, caller: &Scope, arn_str: &str) -> Result<Vec<Tag>> {
        self.with_tags(caller, arn_str, |_| Ok(()))
    }

    pub fn add_tags(&self, caller: &Scope, arn_str: &str, add: Vec<Tag>) -> Result<Vec<Tag>> {
        check_tags(&add)?;
        self.with_tags(caller, arn_str, |tags| {
            let mut next = tags.clone();
            merge(&mut next, add);
            check_tags(&next)?;
            *tags = next;
            Ok(())
        })
    }

    pub fn remove_tags(&self, caller: &Scope, arn_str: &str, keys: &[String]) -> Result<Vec<Tag>> {
        self.with_tags(caller, arn_str, |tags| {
            if let Some(k) = keys.iter().find(|k| !tags.iter().any(|t| &t.key == *k)) {
                return Err(Error::new(
                    Fault::TagNotFound,
                    format!("The tag {k} was not found on this resource."),
                ));
            }
            tags.retain(|t| !keys.contains(&t.key));
            Ok(())
        })
    }
}
