//! Cache subnet groups. There is no VPC here: every scope has one VPC, and each
//! subnet is mapped to an availability zone of the region deterministically.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{arn, validate, ControlPlane, Error, Fault, Result, Scope, Tag};

pub const DEFAULT: &str = "default";
const MAX_GROUPS: usize = 150;
const MAX_SUBNETS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetGroup {
    pub name: String,
    pub description: String,
    pub subnet_ids: Vec<String>,
    pub tags: Vec<Tag>,
    pub created: DateTime<Utc>,
}

/// A subnet as described: its id and availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub az: String,
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The VPC every subnet of a scope belongs to.
#[must_use]
pub fn vpc_id(scope: &Scope) -> String {
    format!(
        "vpc-0{:016x}",
        fnv(&format!("{}/{}", scope.account, scope.region))
    )
}

/// The availability zone of a subnet: one of `<region>a`…`<region>c`, by hash.
#[must_use]
pub fn subnet_az(scope: &Scope, subnet_id: &str) -> String {
    let letter = [b'a', b'b', b'c'][usize::try_from(fnv(subnet_id) % 3).unwrap_or(0)] as char;
    format!("{}{letter}", scope.region)
}

impl SubnetGroup {
    #[must_use]
    pub fn subnets(&self, scope: &Scope) -> Vec<Subnet> {
        self.subnet_ids
            .iter()
            .map(|id| Subnet {
                id: id.clone(),
                az: subnet_az(scope, id),
            })
            .collect()
    }

    /// The implicit `default` group: one subnet per zone of the default VPC.
    #[must_use]
    pub fn default_group(scope: &Scope) -> Self {
        let ids = (0..3u64)
            .map(|i| {
                format!(
                    "subnet-0{:016x}",
                    fnv(&format!("{}/{}/{i}", scope.account, scope.region))
                )
            })
            .collect();
        Self {
            name: DEFAULT.to_owned(),
            description: DEFAULT.to_owned(),
            subnet_ids: ids,
            tags: Vec::new(),
            created: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "subnetgroup", &self.name)
    }
}

fn check_subnets(ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Err(Error::invalid(
            "The request must contain at least one subnet ID.",
        ));
    }
    if ids.len() > MAX_SUBNETS {
        return Err(Error::new(
            Fault::CacheSubnetQuotaExceededFault,
            format!("The request cannot be processed: the maximum number of subnets in a cache subnet group is {MAX_SUBNETS}."),
        ));
    }
    for id in ids {
        let ok = id.strip_prefix("subnet-").is_some_and(|h| {
            (8..=17).contains(&h.len())
                && h.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        });
        if !ok {
            return Err(Error::new(
                Fault::InvalidSubnet,
                format!("The subnet ID '{id}' is not valid."),
            ));
        }
    }
    Ok(())
}

impl ControlPlane {
    pub fn find_subnet_group(&self, scope: &Scope, name: &str) -> Result<SubnetGroup> {
        let name = name.to_ascii_lowercase();
        let mut st = self.lock();
        let r = st.region(scope);
        if let Some(g) = r.subnet_groups.get(&name) {
            return Ok(g.clone());
        }
        if name == DEFAULT {
            let mut g = SubnetGroup::default_group(scope);
            g.tags = r
                .default_tags
                .get(&g.arn(scope))
                .cloned()
                .unwrap_or_default();
            return Ok(g);
        }
        Err(Error::new(
            Fault::CacheSubnetGroupNotFoundFault,
            format!("Cache subnet group {name} not found."),
        ))
    }

    pub fn list_subnet_groups(&self, scope: &Scope) -> Vec<SubnetGroup> {
        let mut out = vec![self
            .find_subnet_group(scope, DEFAULT)
            .expect("default subnet group exists")];
        let st = self.lock();
        if let Some(r) = st.regions.get(scope) {
            out.extend(r.subnet_groups.values().cloned());
        }
        out
    }

    pub fn create_subnet_group(
        &self,
        scope: &Scope,
        name: &str,
        description: &str,
        subnet_ids: Vec<String>,
        tags: Vec<Tag>,
    ) -> Result<SubnetGroup> {
        let name = validate::group_name("CacheSubnetGroupName", name, false)?;
        check_subnets(&subnet_ids)?;
        super::validate::check_tags(&tags)?;
        let g = {
            let mut st = self.lock();
            let r = st.region(scope);
            if name == DEFAULT || r.subnet_groups.contains_key(&name) {
                return Err(Error::new(
                    Fault::CacheSubnetGroupAlreadyExists,
                    format!("Cache subnet group {name} already exists."),
                ));
            }
            if r.subnet_groups.len() >= MAX_GROUPS {
                return Err(Error::new(
                    Fault::CacheSubnetGroupQuotaExceeded,
                    format!("The request cannot be processed: the quota of {MAX_GROUPS} cache subnet groups has been reached."),
                ));
            }
            let mut ids = subnet_ids;
            ids.dedup();
            let g = SubnetGroup {
                name: name.clone(),
                description: description.to_owned(),
                subnet_ids: ids,
                tags,
                created: Self::now(),
            };
            // Stored before it is visible: a failed write changes nothing.
            self.persist("subnetgroup", scope, &name, Some(&g))?;
            r.subnet_groups.insert(name.clone(), g.clone());
            g
        };
        self.event(
            scope,
            "cache-subnet-group",
            &name,
            format!("Cache subnet group {name} created"),
        );
        Ok(g)
    }

    pub fn modify_subnet_group(
        &self,
        scope: &Scope,
        name: &str,
        description: Option<String>,
        subnet_ids: Option<Vec<String>>,
    ) -> Result<SubnetGroup> {
        let name = name.to_ascii_lowercase();
        if let Some(ids) = &subnet_ids {
            check_subnets(ids)?;
        }
        let g = {
            let mut st = self.lock();
            let r = st.region(scope);
            if name == DEFAULT {
                return Err(Error::invalid(
                    "The default cache subnet group cannot be modified.",
                ));
            }
            let in_use: Vec<String> = r
                .clusters
                .values()
                .filter(|c| c.subnet_group.as_deref() == Some(name.as_str()))
                .map(|c| c.id.clone())
                .collect();
            let slot = r.subnet_groups.get_mut(&name).ok_or_else(|| {
                Error::new(
                    Fault::CacheSubnetGroupNotFoundFault,
                    format!("Cache subnet group {name} not found."),
                )
            })?;
            let mut g = slot.clone();
            if let Some(ids) = subnet_ids {
                if !in_use.is_empty() && ids.iter().all(|i| !g.subnet_ids.contains(i)) {
                    return Err(Error::new(
                        Fault::SubnetInUse,
                        format!("The subnets of cache subnet group {name} are in use by cache cluster(s) {}.", in_use.join(", ")),
                    ));
                }
                g.subnet_ids = ids;
            }
            if let Some(d) = description {
                g.description = d;
            }
            // Stored before it is visible: a refused write changes nothing.
            self.persist("subnetgroup", scope, &name, Some(&g))?;
            *slot = g.clone();
            g
        };
        self.event(
            scope,
            "cache-subnet-group",
            &name,
            format!("Cache subnet group {name} modified"),
        );
        Ok(g)
    }

    pub fn delete_subnet_group(&self, scope: &Scope, name: &str) -> Result<()> {
        let name = name.to_ascii_lowercase();
        {
            let mut st = self.lock();
            let r = st.region(scope);
            if name == DEFAULT {
                return Err(Error::invalid("Cannot delete default cache subnet group."));
            }
            if !r.subnet_groups.contains_key(&name) {
                return Err(Error::new(
                    Fault::CacheSubnetGroupNotFoundFault,
                    format!("Cache subnet group {name} not found."),
                ));
            }
            if let Some(c) = r
                .clusters
                .values()
                .find(|c| c.subnet_group.as_deref() == Some(name.as_str()))
            {
                return Err(Error::new(
                    Fault::CacheSubnetGroupInUse,
                    format!(
                        "Cache subnet group {name} is currently in use by cache cluster {}.",
                        c.id
                    ),
                ));
            }
            self.persist::<SubnetGroup>("subnetgroup", scope, &name, None)?;
            r.subnet_groups.remove(&name);
        }
        self.event(
            scope,
            "cache-subnet-group",
            &name,
            format!("Cache subnet group {name} deleted"),
        );
        Ok(())
    }
}
