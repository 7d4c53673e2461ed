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
            "cluster" => {
                let c = {
                    let mut st = self.lock();
                    let c =
                        st.region(scope).clusters.get_mut(&a.name).ok_or_else(|| {
                            not_found(Fault::CacheClusterNotFound, "Cache cluster")
                        })?;
                    f(&mut c.tags)?;
                    c.clone()
                };
                self.persist("cluster", scope, &a.name, Some(&c))?;
                Ok(c.tags)
            }
            "parametergroup" => {
                let g = self.find_parameter_group(scope, &a.name)?;
                if g.is_default() {
                    return self.with_default_tags(scope, arn_str, f);
                }
                let g = {
                    let mut st = self.lock();
                    let g = st
                        .region(scope)
                        .parameter_groups
                        .get_mut(&a.name)
                        .ok_or_else(|| {
                            not_found(Fault::CacheParameterGroupNotFound, "CacheParameterGroup")
                        })?;
                    f(&mut g.tags)?;
                    g.clone()
                };
                self.persist("parametergroup", scope, &a.name, Some(&g))?;
                Ok(g.tags)
            }
            "subnetgroup" => {
                if a.name == subnet_group::DEFAULT {
                    return self.with_default_tags(scope, arn_str, f);
                }
                let g = {
                    let mut st = self.lock();
                    let g = st
                        .region(scope)
                        .subnet_groups
                        .get_mut(&a.name)
                        .ok_or_else(|| {
                            not_found(Fault::CacheSubnetGroupNotFoundFault, "Cache subnet group")
                        })?;
                    f(&mut g.tags)?;
                    g.clone()
                };
                self.persist("subnetgroup", scope, &a.name, Some(&g))?;
                Ok(g.tags)
            }
            "replicationgroup" => {
                let g = {
                    let mut st = self.lock();
                    let g = st
                        .region(scope)
                        .replication_groups
                        .get_mut(&a.name)
                        .ok_or_else(|| {
                            not_found(Fault::ReplicationGroupNotFoundFault, "Replication group")
                        })?;
                    f(&mut g.tags)?;
                    g.clone()
                };
                self.persist("replicationgroup", scope, &a.name, Some(&g))?;
                Ok(g.tags)
            }
            "snapshot" => {
                let name = self.find_snapshot(scope, &a.name)?.name;
                let s = {
                    let mut st = self.lock();
                    let s = st
                        .region(scope)
                        .snapshots
                        .get_mut(&name)
                        .ok_or_else(|| not_found(Fault::SnapshotNotFoundFault, "Snapshot"))?;
                    f(&mut s.tags)?;
                    s.clone()
                };
                self.persist("snapshot", scope, &name, Some(&s))?;
                Ok(s.tags)
            }
            "user" => {
                let u = {
                    let mut st = self.lock();
                    let u = st
                        .region(scope)
                        .users
                        .get_mut(&a.name)
                        .ok_or_else(|| not_found(Fault::UserNotFound, "User"))?;
                    f(&mut u.tags)?;
                    u.clone()
                };
                self.persist("user", scope, &a.name, Some(&u))?;
                Ok(u.tags)
            }
            "usergroup" => {
                let g = {
                    let mut st = self.lock();
                    let g = st
                        .region(scope)
                        .user_groups
                        .get_mut(&a.name)
                        .ok_or_else(|| not_found(Fault::UserGroupNotFound, "User group"))?;
                    f(&mut g.tags)?;
                    g.clone()
                };
                self.persist("usergroup", scope, &a.name, Some(&g))?;
                Ok(g.tags)
            }
            "reserved-instance" => self.with_reserved_node_tags(scope, &a.name, f),
            "serverlesscache" => {
                let c = {
                    let mut st = self.lock();
                    let c = st
                        .region(scope)
                        .serverless_caches
                        .get_mut(&a.name)
                        .ok_or_else(|| {
                            not_found(Fault::ServerlessCacheNotFoundFault, "Serverless cache")
                        })?;
                    f(&mut c.tags)?;
                    c.clone()
                };
                self.persist("serverlesscache", scope, &a.name, Some(&c))?;
                Ok(c.tags)
            }
            "serverlesscachesnapshot" => {
                let name = self.find_serverless_snapshot(scope, &a.name)?.name;
                let s = {
                    let mut st = self.lock();
                    let s = st.region(scope).snapshots.get_mut(&name).ok_or_else(|| {
                        not_found(
                            Fault::ServerlessCacheSnapshotNotFoundFault,
                            "Serverless cache snapshot",
                        )
                    })?;
                    f(&mut s.tags)?;
                    s.clone()
                };
                self.persist("snapshot", scope, &name, Some(&s))?;
                Ok(s.tags)
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
        let tags = {
            let mut st = self.lock();
            let tags = st
                .region(scope)
                .default_tags
                .entry(arn_str.to_owned())
                .or_default();
            f(tags)?;
            tags.clone()
        };
        self.persist("defaulttags", scope, arn_str, Some(&tags))?;
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
