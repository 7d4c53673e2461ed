//! Users and user groups (role-based access control for Redis and Valkey).
//!
//! A user is a name, an access string and up to two passwords; a user group
//! is a set of users that replication groups attach. The engines enforce them
//! (`ACL SETUSER`, pushed by the reconciler); this family keeps the records
//! and AWS's rules. Passwords are never kept: only their SHA-256, which is
//! what the engines take (`#<hash>`), so nothing here can leak one.
//!
//! Every scope has the built-in user `default` (no password, `on ~* +@all`),
//! which cannot be modified or deleted; a user group must contain a user
//! named `default` (the built-in one or one of the caller's, which then takes
//! the built-in's place on the engines).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{arn, validate, ControlPlane, Error, Fault, Result, Scope, Tag};

/// The ID and name of the built-in user.
pub const DEFAULT_USER: &str = "default";
/// The built-in user's access string.
pub const DEFAULT_ACCESS: &str = "on ~* +@all";
pub const MAX_USERS: usize = 1000;
pub const MAX_USER_GROUPS: usize = 100;
pub const MAX_USERS_PER_GROUP: usize = 100;
const MAX_PASSWORDS: usize = 2;

pub const ACTIVE: &str = "active";
pub const MODIFYING: &str = "modifying";
pub const CREATING: &str = "creating";
pub const DELETING: &str = "deleting";

/// How a user authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    Password,
    NoPassword,
    Iam,
}

impl AuthKind {
    /// As `Authentication.Type` answers it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::NoPassword => "no-password",
            Self::Iam => "iam",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub engine: String,
    pub status: String,
    pub access_string: String,
    pub auth: AuthKind,
    /// SHA-256 (hex) of each password, oldest first.
    pub password_hashes: Vec<String>,
    pub tags: Vec<Tag>,
    pub created: DateTime<Utc>,
    /// Bumped by each change the engines must see.
    #[serde(default)]
    pub generation: u64,
}

impl User {
    /// Changes wait for the user to be `active` (`InvalidUserState`).
    pub fn check_active(&self) -> Result<()> {
        if self.status == ACTIVE {
            Ok(())
        } else {
            Err(Error::new(
                Fault::InvalidUserState,
                format!(
                    "User {} is not in active state (it is {}).",
                    self.id, self.status
                ),
            ))
        }
    }

    /// The built-in user of every scope.
    #[must_use]
    pub fn builtin_default() -> Self {
        Self {
            id: DEFAULT_USER.to_owned(),
            name: DEFAULT_USER.to_owned(),
            engine: "redis".to_owned(),
            status: ACTIVE.to_owned(),
            access_string: DEFAULT_ACCESS.to_owned(),
            auth: AuthKind::NoPassword,
            password_hashes: Vec::new(),
            tags: Vec::new(),
            created: DateTime::<Utc>::UNIX_EPOCH,
            generation: 0,
        }
    }

    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "user", &self.id)
    }

    /// The rules an engine takes for this user after `ACL SETUSER <name>
    /// reset`: its passwords (as hashes) and its access string.
    #[must_use]
    pub fn acl_rules(&self) -> Vec<String> {
        let mut rules = Vec::new();
        match self.auth {
            AuthKind::NoPassword => rules.push("nopass".to_owned()),
            // An IAM user never reaches an engine (refused when it is added).
            AuthKind::Password | AuthKind::Iam => {
                rules.extend(self.password_hashes.iter().map(|h| format!("#{h}")));
            }
        }
        rules.extend(self.access_string.split_whitespace().map(str::to_owned));
        rules
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserGroup {
    pub id: String,
    pub engine: String,
    pub status: String,
    pub user_ids: Vec<String>,
    /// Changes not yet on the engines (`PendingChanges`).
    pub pending_add: Vec<String>,
    pub pending_remove: Vec<String>,
    pub tags: Vec<Tag>,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub generation: u64,
}

impl UserGroup {
    /// Changes wait for the group to be `active` (`InvalidUserGroupState`).
    pub fn check_active(&self) -> Result<()> {
        if self.status == ACTIVE {
            Ok(())
        } else {
            Err(Error::new(
                Fault::InvalidUserGroupState,
                format!(
                    "User group {} is not in active state (it is {}).",
                    self.id, self.status
                ),
            ))
        }
    }

    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "usergroup", &self.id)
    }

    /// The members once pending changes are applied.
    #[must_use]
    pub fn target_members(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .user_ids
            .iter()
            .filter(|u| !self.pending_remove.contains(u))
            .cloned()
            .collect();
        for u in &self.pending_add {
            if !out.contains(u) {
                out.push(u.clone());
            }
        }
        out
    }
}

/// SHA-256 of a password, as `ACL SETUSER … #<hash>` takes it.
#[must_use]
pub fn password_hash(pw: &str) -> String {
    let d = Sha256::digest(pw.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn engine_of(engine: &str) -> Result<String> {
    let e = engine.to_ascii_lowercase();
    if e == "redis" || e == "valkey" {
        Ok(e)
    } else {
        Err(Error::invalid(format!(
            "Invalid value for Engine: {engine}. Valid values are redis and valkey."
        )))
    }
}

fn check_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} must begin with a letter, contain only ASCII letters, digits and hyphens, be at most 40 characters long, and must not end with a hyphen or contain two consecutive hyphens."
        )))
    }
}

/// AWS's password rules: 16–128 printable ASCII characters, none of
/// `,` `"` `/` `@` nor a space; at most two.
pub fn check_passwords(pws: &[String]) -> Result<()> {
    if pws.len() > MAX_PASSWORDS {
        return Err(Error::invalid(format!(
            "A user can have at most {MAX_PASSWORDS} passwords."
        )));
    }
    for pw in pws {
        let n = pw.chars().count();
        if !(16..=128).contains(&n) {
            return Err(Error::invalid(
                "Passwords must be between 16 and 128 characters long.",
            ));
        }
        if pw
            .chars()
            .any(|c| !c.is_ascii_graphic() || matches!(c, ',' | '"' | '/' | '@'))
        {
            return Err(Error::invalid(
                "Passwords can contain only printable ASCII characters other than space, ',', '\"', '/' and '@'.",
            ));
        }
    }
    Ok(())
}

/// Check an access string and give it back in AWS's form (one space between
/// rules). Passwords and `reset` have no place in it: they are set through
/// `Passwords` / `NoPasswordRequired`, and the engine's user is reset by the
/// service.
pub fn normalise_access_string(s: &str) -> Result<String> {
    let rules: Vec<&str> = s.split_whitespace().collect();
    if rules.is_empty() {
        return Err(Error::invalid("Access string must not be empty."));
    }
    for r in &rules {
        let lower = r.to_ascii_lowercase();
        let bad = matches!(
            lower.as_str(),
            "reset" | "nopass" | "resetpass" | "clearselectors"
        ) || r.starts_with(['>', '<', '#', '!', '('])
            || !(matches!(
                lower.as_str(),
                "on" | "off"
                    | "allkeys"
                    | "resetkeys"
                    | "allchannels"
                    | "resetchannels"
                    | "allcommands"
                    | "nocommands"
            ) || r.starts_with(['~', '%', '&', '+', '-']));
        if bad {
            return Err(Error::invalid(format!(
                "Access string contains an invalid rule: {r}. Passwords and reset are not allowed in access strings."
            )));
        }
    }
    Ok(rules.join(" "))
}

fn user_not_found(id: &str) -> Error {
    Error::new(Fault::UserNotFound, format!("User {id} not found."))
}

fn group_not_found(id: &str) -> Error {
    Error::new(
        Fault::UserGroupNotFound,
        format!("User group {id} not found."),
    )
}

/// A `CreateUser` request, authentication aside.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub engine: &'a str,
    pub access_string: &'a str,
    pub tags: Vec<Tag>,
}

/// What a create or modify says about authentication.
#[derive(Debug, Default, Clone)]
pub struct AuthInput {
    pub passwords: Option<Vec<String>>,
    pub no_password_required: Option<bool>,
    /// `AuthenticationMode.Type` and `.Passwords`.
    pub mode: Option<(Option<String>, Option<Vec<String>>)>,
}

impl AuthInput {
    /// The authentication it asks for (`None`: unchanged), with the password hashes.
    fn resolve(&self, creating: bool) -> Result<Option<(AuthKind, Vec<String>)>> {
        let mut passwords = self.passwords.clone();
        let mut kind = None;
        if let Some((t, pws)) = &self.mode {
            if passwords.is_some() && pws.is_some() {
                return Err(Error::combination(
                    "Passwords and AuthenticationMode.Passwords cannot both be given.",
                ));
            }
            if pws.is_some() {
                passwords.clone_from(pws);
            }
            kind = match t.as_deref() {
                Some("password") => Some(AuthKind::Password),
                Some("no-password-required") => Some(AuthKind::NoPassword),
                Some("iam") => Some(AuthKind::Iam),
                None => None,
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "Invalid value for AuthenticationMode.Type: {other}. Valid values are password, no-password-required and iam."
                    )))
                }
            };
        }
        if self.no_password_required == Some(true) {
            if kind.is_some_and(|k| k != AuthKind::NoPassword) {
                return Err(Error::combination(
                    "NoPasswordRequired cannot be combined with another authentication type.",
                ));
            }
            kind = Some(AuthKind::NoPassword);
        }
        let pws = passwords.unwrap_or_default();
        check_passwords(&pws)?;
        let kind = match kind {
            Some(AuthKind::NoPassword) if !pws.is_empty() => {
                return Err(Error::combination(
                    "Passwords cannot be given for a user that requires no password.",
                ))
            }
            Some(AuthKind::Iam) if !pws.is_empty() => {
                return Err(Error::combination(
                    "Passwords cannot be given for a user that authenticates with IAM.",
                ))
            }
            Some(AuthKind::Password) if pws.is_empty() => {
                return Err(Error::combination(
                    "At least one password is required when the authentication type is password.",
                ))
            }
            Some(k) => k,
            None if !pws.is_empty() => AuthKind::Password,
            None if creating && self.no_password_required == Some(false) => {
                return Err(Error::combination(
                    "No password was given: give Passwords, or NoPasswordRequired=true.",
                ))
            }
            None if creating => {
                return Err(Error::combination(
                    "No password was given: give Passwords, NoPasswordRequired=true or an AuthenticationMode.",
                ))
            }
            None => return Ok(None),
        };
        if kind == AuthKind::Iam {
            // A client would need a SigV4-presigned token checked in front of
            // the engine; until that exists, say so rather than pretend.
            return Err(Error::invalid(
                "AuthenticationMode iam is not available yet in elasticache-local: use password authentication.",
            ));
        }
        Ok(Some((kind, pws.iter().map(|p| password_hash(p)).collect())))
    }
}

impl ControlPlane {
    /// A user of the scope (the built-in `default` included).
    pub fn find_user(&self, scope: &Scope, id: &str) -> Result<User> {
        if id == DEFAULT_USER {
            return Ok(User::builtin_default());
        }
        let st = self.lock();
        st.regions
            .get(scope)
            .and_then(|r| r.users.get(id))
            .cloned()
            .ok_or_else(|| user_not_found(id))
    }

    /// Every user, the built-in `default` first.
    pub fn list_users(&self, scope: &Scope) -> Vec<User> {
        let mut out = vec![User::builtin_default()];
        let st = self.lock();
        if let Some(r) = st.regions.get(scope) {
            out.extend(r.users.values().cloned());
        }
        out
    }

    pub fn find_user_group(&self, scope: &Scope, id: &str) -> Result<UserGroup> {
        let st = self.lock();
        st.regions
            .get(scope)
            .and_then(|r| r.user_groups.get(id))
            .cloned()
            .ok_or_else(|| group_not_found(id))
    }

    pub fn list_user_groups(&self, scope: &Scope) -> Vec<UserGroup> {
        let st = self.lock();
        st.regions
            .get(scope)
            .map(|r| r.user_groups.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The IDs of the groups a user belongs to.
    pub fn groups_of_user(&self, scope: &Scope, user_id: &str) -> Vec<String> {
        self.list_user_groups(scope)
            .into_iter()
            .filter(|g| g.user_ids.iter().any(|u| u == user_id))
            .map(|g| g.id)
            .collect()
    }

    pub fn create_user(&self, scope: &Scope, req: NewUser<'_>, auth: &AuthInput) -> Result<User> {
        let NewUser {
            id,
            name,
            engine,
            access_string,
            tags,
        } = req;
        check_id("UserId", id)?;
        if name.is_empty() || name.chars().any(|c| c.is_whitespace()) || name.len() > 120 {
            return Err(Error::invalid(
                "UserName must be 1 to 120 characters without spaces.",
            ));
        }
        let engine = engine_of(engine)?;
        let access_string = normalise_access_string(access_string)?;
        validate::check_tags(&tags)?;
        let (kind, hashes) = auth
            .resolve(true)?
            .unwrap_or((AuthKind::NoPassword, Vec::new()));
        if engine == "valkey" && kind == AuthKind::NoPassword {
            return Err(Error::combination(
                "Valkey users must authenticate with a password or IAM: NoPasswordRequired is not supported for the valkey engine.",
            ));
        }
        if kind == AuthKind::Iam && name != id {
            return Err(Error::combination(
                "A user that authenticates with IAM must have the same UserId and UserName.",
            ));
        }
        let u = {
            let mut st = self.lock();
            let r = st.region(scope);
            if id == DEFAULT_USER || r.users.contains_key(id) {
                return Err(Error::new(
                    Fault::UserAlreadyExists,
                    format!("User {id} already exists."),
                ));
            }
            if r.users.len() + 1 >= MAX_USERS {
                return Err(Error::new(
                    Fault::UserQuotaExceeded,
                    format!("The request cannot be processed: the quota of {MAX_USERS} users has been reached."),
                ));
            }
            let u = User {
                id: id.to_owned(),
                name: name.to_owned(),
                engine,
                status: ACTIVE.to_owned(),
                access_string,
                auth: kind,
                password_hashes: hashes,
                tags,
                created: Self::now(),
                generation: 1,
            };
            // Stored before it is visible: a failed write changes nothing.
            self.persist("user", scope, id, Some(&u))?;
            r.users.insert(id.to_owned(), u.clone());
            u
        };
        self.event(scope, "user", id, format!("User {id} created"));
        Ok(u)
    }

    pub fn modify_user(
        &self,
        scope: &Scope,
        id: &str,
        access_string: Option<&str>,
        append_access_string: Option<&str>,
        auth: &AuthInput,
        engine: Option<&str>,
    ) -> Result<User> {
        if id == DEFAULT_USER {
            return Err(Error::invalid("The default user cannot be modified."));
        }
        if access_string.is_some() && append_access_string.is_some() {
            return Err(Error::combination(
                "AccessString and AppendAccessString cannot both be given.",
            ));
        }
        let access = access_string.map(normalise_access_string).transpose()?;
        let append = append_access_string
            .map(normalise_access_string)
            .transpose()?;
        let new_auth = auth.resolve(false)?;
        let engine = engine.map(engine_of).transpose()?;
        let u = {
            let mut st = self.lock();
            let r = st.region(scope);
            let slot = r.users.get_mut(id).ok_or_else(|| user_not_found(id))?;
            slot.check_active()?;
            let mut u = slot.clone();
            if access.is_none() && append.is_none() && new_auth.is_none() && engine.is_none() {
                return Err(Error::combination(
                    "No modifications were requested: give AccessString, AppendAccessString, Passwords, NoPasswordRequired, AuthenticationMode or Engine.",
                ));
            }
            let engine_after = engine.clone().unwrap_or_else(|| u.engine.clone());
            let kind_after = new_auth.as_ref().map_or(u.auth, |(k, _)| *k);
            if engine_after == "valkey" && kind_after == AuthKind::NoPassword {
                return Err(Error::combination(
                    "Valkey users must authenticate with a password or IAM: NoPasswordRequired is not supported for the valkey engine.",
                ));
            }
            if let Some(a) = access {
                u.access_string = a;
            }
            if let Some(a) = append {
                u.access_string = format!("{} {a}", u.access_string);
            }
            if let Some((k, h)) = new_auth {
                u.auth = k;
                u.password_hashes = h;
            }
            if let Some(e) = engine {
                u.engine = e;
            }
            u.status = MODIFYING.to_owned();
            u.generation += 1;
            // Stored before it is visible: a refused write changes nothing.
            self.persist("user", scope, id, Some(&u))?;
            *slot = u.clone();
            u
        };
        self.event(scope, "user", id, format!("User {id} modification started"));
        self.wake();
        Ok(u)
    }

    pub fn delete_user(&self, scope: &Scope, id: &str) -> Result<User> {
        if id == DEFAULT_USER {
            return Err(Error::new(
                Fault::DefaultUserAssociatedToUserGroup,
                "The default user cannot be deleted.",
            ));
        }
        let u = {
            let mut st = self.lock();
            let r = st.region(scope);
            let u = r.users.get(id).ok_or_else(|| user_not_found(id))?.clone();
            u.check_active()?;
            if u.name == DEFAULT_USER {
                if let Some(g) = r.user_groups.values().find(|g| g.user_ids.contains(&u.id)) {
                    return Err(Error::new(
                        Fault::DefaultUserAssociatedToUserGroup,
                        format!(
                            "User {id} is the default user of user group {} and cannot be deleted.",
                            g.id
                        ),
                    ));
                }
            }
            // A deleted user leaves its groups.
            let mut changed = Vec::new();
            for g in r.user_groups.values() {
                if g.user_ids.contains(&u.id) && !g.pending_remove.contains(&u.id) {
                    if g.status != ACTIVE {
                        return Err(Error::new(
                            Fault::InvalidUserState,
                            format!(
                                "User {id} belongs to user group {}, which is {}; try again when it is active.",
                                g.id, g.status
                            ),
                        ));
                    }
                    let mut g = g.clone();
                    g.pending_remove.push(u.id.clone());
                    g.status = MODIFYING.to_owned();
                    g.generation += 1;
                    changed.push(g);
                }
            }
            let mut u = u;
            u.status = DELETING.to_owned();
            // The user and its groups in one transaction, before they are
            // visible: a refused write changes nothing.
            let mut items = vec![("user", id, Some(Self::encode(&u)?))];
            for g in &changed {
                items.push(("usergroup", g.id.as_str(), Some(Self::encode(g)?)));
            }
            self.persist_all(scope, &items)?;
            for g in &changed {
                r.user_groups.insert(g.id.clone(), g.clone());
            }
            r.users.insert(id.to_owned(), u.clone());
            u
        };
        self.wake();
        Ok(u)
    }

    /// Users of a group as asked: known, of a fitting engine, unique names, a `default`.
    fn check_members(&self, scope: &Scope, engine: &str, ids: &[String]) -> Result<()> {
        let mut names = BTreeSet::new();
        for id in ids {
            let u = self.find_user(scope, id)?;
            if u.status == DELETING {
                return Err(user_not_found(id));
            }
            if engine == "valkey" && u.auth == AuthKind::NoPassword && u.id != DEFAULT_USER {
                return Err(Error::invalid(format!(
                    "User {id} requires no password: valkey user groups take only users with passwords or IAM authentication."
                )));
            }
            if engine == "redis" && u.engine == "valkey" {
                return Err(Error::invalid(format!(
                    "User {id} is a valkey user and cannot join a redis user group."
                )));
            }
            if !names.insert(u.name.clone()) {
                return Err(Error::new(
                    Fault::DuplicateUserName,
                    format!("A user named {} is already in the user group.", u.name),
                ));
            }
        }
        if !names.contains(DEFAULT_USER) {
            return Err(Error::new(
                Fault::DefaultUserRequired,
                "A user group must contain a user named default.",
            ));
        }
        if ids.len() > MAX_USERS_PER_GROUP {
            return Err(Error::invalid(format!(
                "A user group can contain at most {MAX_USERS_PER_GROUP} users."
            )));
        }
        Ok(())
    }

    /// User groups a replication group may attach: at most one, existing,
    /// active, and only with transit encryption (as on AWS).
    pub fn check_user_groups(&self, scope: &Scope, ids: &[String], tls: bool) -> Result<()> {
        if ids.len() > 1 {
            return Err(Error::invalid(
                "A replication group can be associated with at most one user group.",
            ));
        }
        for id in ids {
            let g = self.find_user_group(scope, id)?;
            g.check_active()?;
        }
        if !ids.is_empty() && !tls {
            return Err(Error::combination(
                "User groups require in-transit encryption: set TransitEncryptionEnabled to true.",
            ));
        }
        Ok(())
    }

    pub fn create_user_group(
        &self,
        scope: &Scope,
        id: &str,
        engine: &str,
        user_ids: Vec<String>,
        tags: Vec<Tag>,
    ) -> Result<UserGroup> {
        check_id("UserGroupId", id)?;
        let engine = engine_of(engine)?;
        validate::check_tags(&tags)?;
        let mut ids = Vec::new();
        for u in user_ids {
            if !ids.contains(&u) {
                ids.push(u);
            }
        }
        self.check_members(scope, &engine, &ids)?;
        let g = {
            let mut st = self.lock();
            let r = st.region(scope);
            if r.user_groups.contains_key(id) {
                return Err(Error::new(
                    Fault::UserGroupAlreadyExists,
                    format!("User group {id} already exists."),
                ));
            }
            if r.user_groups.len() >= MAX_USER_GROUPS {
                return Err(Error::new(
                    Fault::UserGroupQuotaExceeded,
                    format!("The request cannot be processed: the quota of {MAX_USER_GROUPS} user groups has been reached."),
                ));
            }
            let g = UserGroup {
                id: id.to_owned(),
                engine,
                status: CREATING.to_owned(),
                user_ids: ids,
                pending_add: Vec::new(),
                pending_remove: Vec::new(),
                tags,
                created: Self::now(),
                generation: 1,
            };
            // Stored before it is visible: a failed write changes nothing.
            self.persist("usergroup", scope, id, Some(&g))?;
            r.user_groups.insert(id.to_owned(), g.clone());
            g
        };
        self.event(scope, "user-group", id, format!("User group {id} created"));
        self.wake();
        Ok(g)
    }

    pub fn modify_user_group(
        &self,
        scope: &Scope,
        id: &str,
        add: Vec<String>,
        remove: Vec<String>,
        engine: Option<&str>,
    ) -> Result<UserGroup> {
        let engine = engine.map(engine_of).transpose()?;
        if add.is_empty() && remove.is_empty() && engine.is_none() {
            return Err(Error::combination(
                "No modifications were requested: give UserIdsToAdd, UserIdsToRemove or Engine.",
            ));
        }
        if let Some(u) = add.iter().find(|u| remove.contains(u)) {
            return Err(Error::combination(format!(
                "User {u} cannot be both added and removed."
            )));
        }
        let g = self.find_user_group(scope, id)?;
        g.check_active()?;
        for u in &remove {
            if !g.user_ids.contains(u) {
                // Removing a user that is not there: AWS names it.
                self.find_user(scope, u)?;
                return Err(Error::invalid(format!(
                    "User {u} is not a member of user group {id}."
                )));
            }
        }
        let mut after: Vec<String> = g
            .user_ids
            .iter()
            .filter(|u| !remove.contains(u))
            .cloned()
            .collect();
        for u in &add {
            if !after.contains(u) {
                after.push(u.clone());
            }
        }
        let engine_after = engine.clone().unwrap_or_else(|| g.engine.clone());
        self.check_members(scope, &engine_after, &after)?;
        let g = {
            let mut st = self.lock();
            let r = st.region(scope);
            let slot = r
                .user_groups
                .get_mut(id)
                .ok_or_else(|| group_not_found(id))?;
            let mut g = slot.clone();
            g.pending_add = add
                .into_iter()
                .filter(|u| !g.user_ids.contains(u))
                .collect();
            g.pending_remove = remove;
            if let Some(e) = engine {
                g.engine = e;
            }
            g.status = MODIFYING.to_owned();
            g.generation += 1;
            // Stored before it is visible: a refused write changes nothing.
            self.persist("usergroup", scope, id, Some(&g))?;
            *slot = g.clone();
            g
        };
        self.event(
            scope,
            "user-group",
            id,
            format!("User group {id} modification started"),
        );
        self.wake();
        Ok(g)
    }

    /// Mark a user group for deletion; `in_use` names a replication group
    /// that still has it attached (this family does not know replication
    /// groups: [`ControlPlane::delete_user_group`] finds it).
    pub(super) fn mark_user_group_deleted(
        &self,
        scope: &Scope,
        id: &str,
        in_use: Option<&str>,
    ) -> Result<UserGroup> {
        let g = {
            let mut st = self.lock();
            let r = st.region(scope);
            let slot = r
                .user_groups
                .get_mut(id)
                .ok_or_else(|| group_not_found(id))?;
            slot.check_active()?;
            let mut g = slot.clone();
            if let Some(rg) = in_use {
                return Err(Error::new(
                    Fault::InvalidUserGroupState,
                    format!("User group {id} is associated with replication group {rg}; remove it from the replication group first."),
                ));
            }
            g.status = DELETING.to_owned();
            self.persist("usergroup", scope, id, Some(&g))?;
            *slot = g.clone();
            g
        };
        self.wake();
        Ok(g)
    }

    /// Settle a user (the engines have its current generation): `active`,
    /// or gone when it was being deleted.
    pub fn settle_user(&self, scope: &Scope, id: &str, generation: u64) -> Result<()> {
        let gone = {
            let mut st = self.lock();
            let r = st.region(scope);
            let Some(u) = r.users.get_mut(id) else {
                return Ok(());
            };
            if u.generation != generation {
                return Ok(());
            }
            if u.status == DELETING {
                self.persist::<User>("user", scope, id, None)?;
                r.users.remove(id);
                true
            } else {
                let mut next = u.clone();
                next.status = ACTIVE.to_owned();
                self.persist("user", scope, id, Some(&next))?;
                *u = next;
                false
            }
        };
        if gone {
            self.event(scope, "user", id, format!("User {id} deleted"));
        } else {
            self.event(
                scope,
                "user",
                id,
                format!("User {id} modification completed"),
            );
        }
        Ok(())
    }

    /// Settle a user group: pending changes become its members and it is
    /// `active` (or gone when it was being deleted).
    pub fn settle_user_group(&self, scope: &Scope, id: &str, generation: u64) -> Result<()> {
        let gone = {
            let mut st = self.lock();
            let r = st.region(scope);
            let Some(g) = r.user_groups.get_mut(id) else {
                return Ok(());
            };
            if g.generation != generation {
                return Ok(());
            }
            if g.status == DELETING {
                self.persist::<UserGroup>("usergroup", scope, id, None)?;
                r.user_groups.remove(id);
                true
            } else {
                let mut next = g.clone();
                next.user_ids = next.target_members();
                next.pending_add.clear();
                next.pending_remove.clear();
                next.status = ACTIVE.to_owned();
                self.persist("usergroup", scope, id, Some(&next))?;
                *g = next;
                false
            }
        };
        if gone {
            self.event(scope, "user-group", id, format!("User group {id} deleted"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_strings() {
        assert_eq!(
            normalise_access_string("  on ~app:*   +@read ").unwrap(),
            "on ~app:* +@read"
        );
        for bad in [
            "",
            "on >secret ~* +@all",
            "reset on ~* +@all",
            "on nopass ~*",
            "on #abc ~*",
            "on bogus",
        ] {
            assert!(normalise_access_string(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(check_passwords(&["a-good-password-1".into()]).is_ok());
        assert!(check_passwords(&["short".into()]).is_err());
        assert!(check_passwords(&["has,comma-in-it-123".into()]).is_err());
        assert!(check_passwords(&["has space in it 1234".into()]).is_err());
        assert!(check_passwords(&["a".repeat(16), "b".repeat(16), "c".repeat(16)]).is_err());
    }

    #[test]
    fn hashes_as_redis_takes_them() {
        // `ACL SETUSER u #<sha256>`: the hex digest of the password.
        assert_eq!(
            password_hash("password"),
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        );
    }
}
