//! Cache parameter groups: the `default.<family>` groups from the catalog, and
//! user groups that override some of their values.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{arn, lifecycle, validate, ControlPlane, Error, Fault, Result, Scope, Tag};
use crate::catalog;

const MAX_GROUPS: usize = 150;
const MAX_PARAMS_PER_CALL: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterGroup {
    pub name: String,
    pub family: String,
    pub description: String,
    /// Values that differ from the family's defaults (`Source` = `user`).
    pub values: BTreeMap<String, String>,
    pub tags: Vec<Tag>,
    pub created: DateTime<Utc>,
}

impl ParameterGroup {
    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "parametergroup", &self.name)
    }

    #[must_use]
    pub fn is_default(&self) -> bool {
        self.name.starts_with("default.")
    }

    /// The group's effective value of every parameter: (catalog entry, value, source).
    #[must_use]
    pub fn effective(&self) -> Vec<(&'static catalog::Parameter, Option<String>, &'static str)> {
        catalog::parameters(&self.family)
            .unwrap_or_default()
            .iter()
            .map(|p| match self.values.get(&p.parameter_name) {
                Some(v) => (p, Some(v.clone()), "user"),
                None => (p, p.parameter_value.clone(), "system"),
            })
            .collect()
    }
}

/// The default groups of a family (`default.redis7`, `default.redis7.cluster.on`).
fn default_group(name: &str) -> Option<ParameterGroup> {
    let family = catalog::families().iter().find(|f| {
        catalog::default_parameter_group_names(f)
            .iter()
            .any(|n| n == name)
    })?;
    let mut values = BTreeMap::new();
    if name.ends_with(".cluster.on") {
        values.insert("cluster-enabled".to_owned(), "yes".to_owned());
    }
    Some(ParameterGroup {
        name: name.to_owned(),
        family: (*family).to_owned(),
        description: format!("Default parameter group for {family}"),
        values,
        tags: Vec::new(),
        created: DateTime::<Utc>::UNIX_EPOCH,
    })
}

/// Check a value against the catalog's data type and allowed values.
fn check_value(p: &catalog::Parameter, value: &str) -> Result<()> {
    let bad = || {
        Error::invalid(format!(
            "Value '{value}' is not valid for parameter {}{}",
            p.parameter_name,
            p.allowed_values
                .as_deref()
                .map(|a| format!(" (allowed values: {a})."))
                .unwrap_or_else(|| ".".into())
        ))
    };
    let dt = p.data_type.as_deref().unwrap_or("string");
    if dt == "integer" && value.parse::<i64>().is_err() {
        return Err(bad());
    }
    let Some(allowed) = p
        .allowed_values
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    else {
        return Ok(());
    };
    if dt == "integer" {
        let n: i64 = value.parse().map_err(|_| bad())?;
        // "0-", "1-100000", "-1-" style ranges, or a comma list of numbers.
        let in_range = allowed.split(',').any(|part| {
            let part = part.trim();
            let (lo, hi) = match part.strip_prefix('-') {
                Some(rest) => match rest.split_once('-') {
                    Some((a, b)) => (format!("-{a}"), b.to_owned()),
                    None => (part.to_owned(), part.to_owned()),
                },
                None => match part.split_once('-') {
                    Some((a, b)) => (a.to_owned(), b.to_owned()),
                    None => (part.to_owned(), part.to_owned()),
                },
            };
            let lo_ok = lo.is_empty() || lo.parse::<i64>().is_ok_and(|l| n >= l);
            let hi_ok = hi.is_empty() || hi.parse::<i64>().is_ok_and(|h| n <= h);
            (lo.parse::<i64>().is_ok() || lo.is_empty()) && lo_ok && hi_ok
        });
        return if in_range { Ok(()) } else { Err(bad()) };
    }
    let list: Vec<&str> = allowed.split(',').map(str::trim).collect();
    let looks_enumerated = list
        .iter()
        .all(|x| !x.is_empty() && !x.contains(' ') && !x.contains('*'));
    if looks_enumerated && (list.len() > 1 || dt == "boolean") && !list.contains(&value) {
        return Err(bad());
    }
    Ok(())
}

/// The engine-default parameters of a family, or the fault for an unknown family.
pub fn family_parameters(family: &str) -> Result<&'static [catalog::Parameter]> {
    catalog::parameters(family).ok_or_else(|| {
        Error::invalid(format!(
            "The parameter CacheParameterGroupFamily {family} is not a valid family. Valid families: {}.",
            catalog::families().join(", ")
        ))
    })
}

/// What a parameter change does to the clusters that use the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impact {
    Immediate,
    RequiresReboot,
}

impl ControlPlane {
    pub fn find_parameter_group(&self, scope: &Scope, name: &str) -> Result<ParameterGroup> {
        let mut st = self.lock();
        let r = st.region(scope);
        if let Some(g) = r.parameter_groups.get(name) {
            return Ok(g.clone());
        }
        if let Some(mut g) = default_group(name) {
            g.tags = r
                .default_tags
                .get(&g.arn(scope))
                .cloned()
                .unwrap_or_default();
            return Ok(g);
        }
        Err(Error::new(
            Fault::CacheParameterGroupNotFound,
            format!("CacheParameterGroup {name} not found."),
        ))
    }

    pub fn list_parameter_groups(&self, scope: &Scope) -> Vec<ParameterGroup> {
        let mut names: Vec<String> = catalog::families()
            .iter()
            .flat_map(|f| catalog::default_parameter_group_names(f))
            .collect();
        {
            let st = self.lock();
            if let Some(r) = st.regions.get(scope) {
                names.extend(r.parameter_groups.keys().cloned());
            }
        }
        names.sort();
        names.dedup();
        names
            .iter()
            .filter_map(|n| self.find_parameter_group(scope, n).ok())
            .collect()
    }

    pub fn create_parameter_group(
        &self,
        scope: &Scope,
        name: &str,
        family: &str,
        description: &str,
        tags: Vec<Tag>,
    ) -> Result<ParameterGroup> {
        let name = validate::group_name("CacheParameterGroupName", name, true)?;
        family_parameters(family)?;
        if name.starts_with("default.") || name == "default" {
            return Err(Error::invalid(format!(
                "Cache parameter group names beginning with 'default' are reserved: {name}."
            )));
        }
        super::validate::check_tags(&tags)?;
        let g = {
            let mut st = self.lock();
            let r = st.region(scope);
            if r.parameter_groups.contains_key(&name) {
                return Err(Error::new(
                    Fault::CacheParameterGroupAlreadyExists,
                    format!("Parameter group {name} already exists."),
                ));
            }
            if r.parameter_groups.len() >= MAX_GROUPS {
                return Err(Error::new(
                    Fault::CacheParameterGroupQuotaExceeded,
                    format!("The request cannot be processed: the quota of {MAX_GROUPS} cache parameter groups has been reached."),
                ));
            }
            let g = ParameterGroup {
                name: name.clone(),
                family: family.to_owned(),
                description: description.to_owned(),
                values: BTreeMap::new(),
                tags,
                created: Self::now(),
            };
            // Stored before it is visible: a failed write changes nothing.
            self.persist("parametergroup", scope, &name, Some(&g))?;
            r.parameter_groups.insert(name.clone(), g.clone());
            g
        };
        self.event(
            scope,
            "cache-parameter-group",
            &name,
            format!("Cache parameter group {name} created"),
        );
        Ok(g)
    }

    /// Set (`Some`) or reset (`None`) parameters; returns the group and the
    /// strongest impact on running engines.
    pub fn modify_parameter_group(
        &self,
        scope: &Scope,
        name: &str,
        changes: Vec<(String, Option<String>)>,
        reset_all: bool,
    ) -> Result<ParameterGroup> {
        let current = self.find_parameter_group(scope, name)?;
        if current.is_default() {
            return Err(Error::new(
                Fault::InvalidCacheParameterGroupState,
                format!("The default parameter group {name} cannot be modified."),
            ));
        }
        if changes.len() > MAX_PARAMS_PER_CALL {
            return Err(Error::invalid(format!(
                "At most {MAX_PARAMS_PER_CALL} parameters can be modified in a single request."
            )));
        }
        let catalog = catalog::parameters(&current.family).unwrap_or_default();
        let mut impact = None;
        let mut bump = |p: &catalog::Parameter| {
            let i = if p.change_type.as_deref() == Some("requires-reboot") {
                Impact::RequiresReboot
            } else {
                Impact::Immediate
            };
            impact = Some(match (impact, i) {
                (Some(Impact::RequiresReboot), _) | (_, Impact::RequiresReboot) => {
                    Impact::RequiresReboot
                }
                _ => Impact::Immediate,
            });
        };
        let mut values = current.values.clone();
        if reset_all {
            for n in values.keys() {
                if let Some(p) = catalog.iter().find(|p| &p.parameter_name == n) {
                    bump(p);
                }
            }
            values.clear();
        }
        for (pname, value) in &changes {
            let p = catalog
                .iter()
                .find(|p| &p.parameter_name == pname)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "Parameter {pname} does not exist in cache parameter group family {}.",
                        current.family
                    ))
                })?;
            if p.is_modifiable != Some(true) {
                return Err(Error::invalid(format!(
                    "Parameter {pname} is not modifiable."
                )));
            }
            match value {
                Some(v) => {
                    check_value(p, v)?;
                    values.insert(pname.clone(), v.clone());
                }
                None => {
                    values.remove(pname);
                }
            }
            bump(p);
        }
        let g = {
            let mut st = self.lock();
            let r = st.region(scope);
            let mut g = r.parameter_groups.get(name).cloned().ok_or_else(|| {
                Error::new(
                    Fault::CacheParameterGroupNotFound,
                    format!("CacheParameterGroup {name} not found."),
                )
            })?;
            g.values = values;
            // Clusters using the group take the change: the reconciler applies it.
            let mut touched = Vec::new();
            if let Some(impact) = impact {
                for c in r.clusters.values().filter(|c| c.parameter_group == g.name) {
                    let mut c = c.clone();
                    c.params_dirty = true;
                    if impact == Impact::RequiresReboot {
                        c.params_need_reboot = true;
                    }
                    c.parameter_group_status = lifecycle::PG_APPLYING.to_owned();
                    c.generation += 1;
                    touched.push(c);
                }
            }
            // Under the lock, in one transaction, before it is visible: a
            // refused write changes nothing.
            let mut items = vec![("parametergroup", name, Some(Self::encode(&g)?))];
            for c in &touched {
                items.push(("cluster", c.id.as_str(), Some(Self::encode(c)?)));
            }
            self.persist_all(scope, &items)?;
            r.parameter_groups.insert(name.to_owned(), g.clone());
            for c in touched {
                r.clusters.insert(c.id.clone(), c);
            }
            g
        };
        self.event(
            scope,
            "cache-parameter-group",
            name,
            format!("Cache parameter group {name} modified"),
        );
        self.wake();
        Ok(g)
    }

    /// The parameter group AWS gives a member group of a global datastore when
    /// it joins: `global-datastore-<group id><four letters>`, in the member's
    /// region, a copy of `source` (found in `from`). It is an ordinary group
    /// afterwards: deleted once no cluster uses it (HashiCorp's provider
    /// deletes a secondary's after the group).
    pub fn create_global_datastore_parameter_group(
        &self,
        scope: &Scope,
        group: &str,
        from: &Scope,
        source: &str,
    ) -> Result<String> {
        let src = self.find_parameter_group(from, source)?;
        let letters: String = uuid::Uuid::new_v4()
            .as_bytes()
            .iter()
            .take(4)
            .map(|b| char::from(b'a' + b % 26))
            .collect();
        let name = format!("global-datastore-{group}{letters}");
        let g = ParameterGroup {
            name: name.clone(),
            family: src.family.clone(),
            description: format!("Global datastore parameter group of {group}, from {source}"),
            values: src.values,
            tags: Vec::new(),
            created: Self::now(),
        };
        {
            let mut st = self.lock();
            self.persist("parametergroup", scope, &name, Some(&g))?;
            st.region(scope)
                .parameter_groups
                .insert(name.clone(), g.clone());
        }
        self.event(
            scope,
            "cache-parameter-group",
            &name,
            format!("Cache parameter group {name} created for replication group {group} of a global datastore"),
        );
        Ok(name)
    }

    pub fn delete_parameter_group(&self, scope: &Scope, name: &str) -> Result<()> {
        {
            let mut st = self.lock();
            let r = st.region(scope);
            if default_group(name).is_some() {
                return Err(Error::new(
                    Fault::InvalidCacheParameterGroupState,
                    format!("The default parameter group {name} cannot be deleted."),
                ));
            }
            if !r.parameter_groups.contains_key(name) {
                return Err(Error::new(
                    Fault::CacheParameterGroupNotFound,
                    format!("CacheParameterGroup {name} not found."),
                ));
            }
            if let Some(c) = r.clusters.values().find(|c| c.parameter_group == name) {
                return Err(Error::new(
                    Fault::InvalidCacheParameterGroupState,
                    format!(
                        "Cache parameter group {name} is still in use by cache cluster {}.",
                        c.id
                    ),
                ));
            }
            self.persist::<ParameterGroup>("parametergroup", scope, name, None)?;
            r.parameter_groups.remove(name);
        }
        self.event(
            scope,
            "cache-parameter-group",
            name,
            format!("Cache parameter group {name} deleted"),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(dt: &str, allowed: &str) -> catalog::Parameter {
        serde_json::from_value(serde_json::json!({
            "ParameterName": "p", "DataType": dt, "AllowedValues": allowed, "IsModifiable": true, "ChangeType": "immediate"
        }))
        .unwrap()
    }

    #[test]
    fn values_checked_against_catalog() {
        assert!(check_value(&param("integer", "0-"), "5").is_ok());
        assert!(check_value(&param("integer", "0-"), "-1").is_err());
        assert!(check_value(&param("integer", "1-10"), "11").is_err());
        assert!(check_value(&param("integer", "-1-"), "-1").is_ok());
        assert!(check_value(&param("string", "yes,no"), "maybe").is_err());
        assert!(check_value(&param("string", "volatile-lru,allkeys-lru"), "allkeys-lru").is_ok());
        assert!(check_value(&param("string", ""), "anything").is_ok());
    }
}
