//! `aws_elasticache_user`, `aws_elasticache_user_group`,
//! `aws_elasticache_user_group_association` and `data "aws_elasticache_user"`,
//! HashiCorp's acceptance pattern (`_basic`, `_update`, `_disappears`,
//! `_tags`, `_import`), each step followed by an empty plan. One working
//! directory covers several steps.

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, import_block, name, one_runtime};

const PW1: &str = "password-0123456789";
const PW2: &str = "password-abcdefghij";

fn user_hcl(id: &str, user_name: &str, access: &str, pws: &[&str], tags: &str) -> String {
    let pws: Vec<String> = pws.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        r#"
resource "aws_elasticache_user" "test" {{
  user_id       = "{id}"
  user_name     = "{user_name}"
  access_string = "{access}"
  engine        = "REDIS"
  passwords     = [{}]
  {tags}
}}

output "arn" {{ value = aws_elasticache_user.test.arn }}
"#,
        pws.join(", ")
    )
}

/// The data source, read at plan time (the user exists already).
fn user_ds_hcl(id: &str) -> String {
    format!(
        r#"
data "aws_elasticache_user" "test" {{
  user_id = "{id}"
}}

output "ds_access_string" {{ value = data.aws_elasticache_user.test.access_string }}
output "ds_password_count" {{ value = data.aws_elasticache_user.test.authentication_mode[0].password_count }}
output "ds_type" {{ value = data.aws_elasticache_user.test.authentication_mode[0].type }}
"#
    )
}

/// (access string, user name, password count, user group ids) as the API has them.
fn remote_user(be: &Backend, id: &str) -> Option<(String, String, i32, Vec<String>)> {
    let c = be.client();
    block(async {
        let u = c
            .describe_users()
            .user_id(id)
            .send()
            .await
            .ok()?
            .users
            .unwrap_or_default()
            .pop()?;
        Some((
            u.access_string().unwrap_or_default().to_owned(),
            u.user_name().unwrap_or_default().to_owned(),
            u.authentication()
                .and_then(|a| a.password_count())
                .unwrap_or(0),
            u.user_group_ids().to_vec(),
        ))
    })
}

/// How many tags the tagging API lists on `arn`.
fn remote_tag_count(be: &Backend, arn: &str) -> usize {
    block(
        be.client()
            .list_tags_for_resource()
            .resource_name(arn)
            .send(),
    )
    .expect("list tags")
    .tag_list()
    .len()
}

fn remote_members(be: &Backend, group: &str) -> Option<Vec<String>> {
    let c = be.client();
    block(async {
        let g = c
            .describe_user_groups()
            .user_group_id(group)
            .send()
            .await
            .ok()?
            .user_groups
            .unwrap_or_default()
            .pop()?;
        let mut ids = g.user_ids().to_vec();
        ids.sort();
        Some(ids)
    })
}

/// Wait (briefly) for a group modified out of band to settle.
fn wait_group_active(be: &Backend, group: &str) {
    let c = be.client();
    for _ in 0..200 {
        let st = block(async {
            c.describe_user_groups()
                .user_group_id(group)
                .send()
                .await
                .ok()
                .and_then(|o| o.user_groups.unwrap_or_default().pop())
                .and_then(|g| g.status)
        });
        if st.as_deref() == Some("active") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("user group {group} did not become active");
}

/// `_basic`, `_update` (in place and replacing), `_tags`, `_import`,
/// `_disappears` and the data source.
#[test]
fn user_basic_update_import() {
    require_terraform!();
    one_runtime(|be| {
        let id = name("usr");
        let tf = Tf::new();
        let p = be.provider_hcl();
        // basic, with tags
        tf.config(&format!(
            "{p}{}",
            user_hcl(
                &id,
                "app",
                "on ~app::* +@read",
                &[PW1],
                "tags = { team = \"a\" }"
            )
        ));
        tf.apply();
        tf.plan_is_clean();
        let (acc, uname, count, _) = remote_user(be, &id).expect("user exists");
        assert_eq!(
            (acc.as_str(), uname.as_str(), count),
            ("on ~app::* +@read", "app", 1)
        );
        let arn = tf.outputs()["arn"]["value"].clone();
        // the data source
        tf.config(&format!(
            "{p}{}{}",
            user_hcl(
                &id,
                "app",
                "on ~app::* +@read",
                &[PW1],
                "tags = { team = \"a\" }"
            ),
            user_ds_hcl(&id)
        ));
        tf.apply();
        tf.plan_is_clean();
        let out = tf.outputs();
        assert_eq!(out["ds_access_string"]["value"], "on ~app::* +@read");
        assert_eq!(out["ds_password_count"]["value"], 1);
        assert_eq!(out["ds_type"]["value"], "password");
        let state = std::fs::read_to_string(tf.work.path().join("terraform.tfstate")).unwrap();
        assert!(state.contains("\"team\": \"a\""), "{state}");

        // update in place: access string, a second password, tags
        tf.config(&format!(
            "{p}{}",
            user_hcl(
                &id,
                "app",
                "on ~* +@all",
                &[PW1, PW2],
                "tags = { team = \"b\", env = \"t\" }"
            )
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        let (acc, _, count, _) = remote_user(be, &id).unwrap();
        assert_eq!((acc.as_str(), count), ("on ~* +@all", 2));
        assert_eq!(tf.outputs()["arn"]["value"], arn);

        // engine case alone is no change
        let hcl = user_hcl(
            &id,
            "app",
            "on ~* +@all",
            &[PW1, PW2],
            "tags = { team = \"b\", env = \"t\" }",
        )
        .replace("\"REDIS\"", "\"redis\"");
        tf.config(&format!("{p}{hcl}"));
        tf.plan_is_clean();

        // _tags: every tag removed in place
        tf.config(&format!(
            "{p}{}",
            user_hcl(&id, "app", "on ~* +@all", &[PW1, PW2], "")
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(remote_tag_count(be, arn.as_str().unwrap()), 0);

        // replacing: a new user name
        tf.config(&format!(
            "{p}{}",
            user_hcl(&id, "app2", "on ~* +@all", &[PW1], "")
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("must be replaced"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(remote_user(be, &id).unwrap().1, "app2");

        // import: CLI (passwords cannot be read back: HashiCorp's
        // ImportStateVerifyIgnore), then `import {}` with generated config
        tf.state_rm("aws_elasticache_user.test");
        tf.import("aws_elasticache_user.test", &id);
        let plan = tf.plan_has_changes();
        assert!(plan.contains("passwords"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        import_block(be, "aws_elasticache_user.imported", &id);

        // disappears
        let c = be.client();
        block(async { c.delete_user().user_id(&id).send().await.unwrap() });
        for _ in 0..200 {
            if remote_user(be, &id).is_none() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let plan = tf.plan_has_changes();
        assert!(plan.contains("will be created"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        tf.destroy();
        assert!(remote_user(be, &id).is_none());
    });
}

/// `passwords_wo` + `passwords_wo_version`: sent, never stored; a new
/// version sends the new password in place.
#[test]
fn user_passwords_wo() {
    require_terraform!();
    let be = Backend::start("process");
    let id = name("uwo");
    let hcl = |pw: &str, v: u32| {
        format!(
            r#"{}
resource "aws_elasticache_user" "test" {{
  user_id              = "{id}"
  user_name            = "wo"
  access_string        = "on ~* +@all"
  engine               = "valkey"
  passwords_wo         = "{pw}"
  passwords_wo_version = {v}
}}
"#,
            be.provider_hcl()
        )
    };
    let tf = Tf::new();
    tf.config(&hcl(PW1, 1));
    let plan = tf.plan_has_changes();
    assert!(plan.contains("(write-only attribute)"), "{plan}");
    tf.apply();
    tf.plan_is_clean();
    assert_eq!(remote_user(&be, &id).unwrap().2, 1);
    // Another password under the same version: nothing to do (write-only
    // values are not compared); a new version sends it.
    tf.config(&hcl(PW2, 1));
    tf.plan_is_clean();
    tf.config(&hcl(PW2, 2));
    let plan = tf.plan_has_changes();
    assert!(plan.contains("updated in-place"), "{plan}");
    tf.apply();
    tf.plan_is_clean();
    let state = std::fs::read_to_string(tf.work.path().join("terraform.tfstate")).unwrap();
    assert!(!state.contains(PW1) && !state.contains(PW2), "{state}");
    tf.destroy();
}

fn group_hcl(be: &Backend, g: &str, u: &str, members: &str, tags: &str) -> String {
    format!(
        r#"{}
resource "aws_elasticache_user" "a" {{
  user_id       = "{u}-a"
  user_name     = "a"
  access_string = "on ~* +@all"
  engine        = "redis"
  passwords     = ["{PW1}"]
}}

resource "aws_elasticache_user" "b" {{
  user_id       = "{u}-b"
  user_name     = "b"
  access_string = "on ~* +@all"
  engine        = "redis"
  passwords     = ["{PW1}"]
}}

resource "aws_elasticache_user_group" "test" {{
  user_group_id = "{g}"
  engine        = "REDIS"
  user_ids      = [{members}]
  {tags}
}}
"#,
        be.provider_hcl()
    )
}

/// The user group: `_basic`, `_update` (members in place, id replacing),
/// `_tags`, drift of a member removed out of band, `_import`, `_disappears`.
#[test]
fn user_group_basic_update_import() {
    require_terraform!();
    one_runtime(|be| {
        let g = name("ug");
        let u = name("ugu");
        let (a, b) = (format!("{u}-a"), format!("{u}-b"));
        let tf = Tf::new();
        let members_a = "\"default\", aws_elasticache_user.a.user_id";
        let members_ab =
            "\"default\", aws_elasticache_user.a.user_id, aws_elasticache_user.b.user_id";
        tf.config(&group_hcl(be, &g, &u, members_a, "tags = { k = \"v\" }"));
        tf.apply();
        tf.plan_is_clean();
        let mut want = vec![a.clone(), "default".to_owned()];
        want.sort();
        assert_eq!(remote_members(be, &g).unwrap(), want);

        // members and tags in place
        tf.config(&group_hcl(be, &g, &u, members_ab, "tags = { k = \"w\" }"));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        let mut want = vec![a.clone(), b.clone(), "default".to_owned()];
        want.sort();
        assert_eq!(remote_members(be, &g).unwrap(), want);
        assert!(remote_user(be, &b).unwrap().3.contains(&g));

        // _tags: removed in place
        tf.config(&group_hcl(be, &g, &u, members_ab, ""));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        let garn = block(be.client().describe_user_groups().user_group_id(&g).send())
            .unwrap()
            .user_groups()[0]
            .arn()
            .unwrap()
            .to_owned();
        assert_eq!(remote_tag_count(be, &garn), 0);

        // a member removed behind Terraform's back is drift, put back
        let c = be.client();
        block(async {
            c.modify_user_group()
                .user_group_id(&g)
                .user_ids_to_remove(&b)
                .send()
                .await
                .unwrap()
        });
        wait_group_active(be, &g);
        let plan = tf.plan_has_changes();
        assert!(plan.contains(&b), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert!(remote_members(be, &g).unwrap().contains(&b));

        // import: CLI and `import {}`
        tf.state_rm("aws_elasticache_user_group.test");
        tf.import("aws_elasticache_user_group.test", &g);
        tf.plan_is_clean();
        import_block(be, "aws_elasticache_user_group.imported", &g);

        // disappears
        block(async {
            c.delete_user_group()
                .user_group_id(&g)
                .send()
                .await
                .unwrap()
        });
        for _ in 0..200 {
            if remote_members(be, &g).is_none() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let plan = tf.plan_has_changes();
        assert!(plan.contains("will be created"), "{plan}");
        tf.apply();
        tf.plan_is_clean();

        // replacing: a new id
        let g2 = format!("{g}-2");
        tf.config(&group_hcl(be, &g2, &u, members_ab, ""));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("must be replaced"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert!(remote_members(be, &g).is_none());
        tf.destroy();
        assert!(remote_members(be, &g2).is_none());
    });
}

/// Associations: two at once into one group (the second finds the group
/// `modifying`), a member removed out of band shows as drift, import by
/// `user_group_id,user_id`, destroy leaves the group.
#[test]
fn user_group_association_basic_import() {
    require_terraform!();
    one_runtime(|be| {
        let g = name("uga");
        let u = name("ugau");
        let (a, b) = (format!("{u}-a"), format!("{u}-b"));
        let tf = Tf::new();
        let hcl = group_hcl(
            be,
            &g,
            &u,
            "\"default\"",
            "lifecycle { ignore_changes = [user_ids] }",
        ) + r#"
resource "aws_elasticache_user_group_association" "a" {
  user_group_id = aws_elasticache_user_group.test.user_group_id
  user_id       = aws_elasticache_user.a.user_id
}

resource "aws_elasticache_user_group_association" "b" {
  user_group_id = aws_elasticache_user_group.test.user_group_id
  user_id       = aws_elasticache_user.b.user_id
}
"#;
        tf.config(&hcl);
        tf.apply();
        tf.plan_is_clean();
        let mut want = vec![a.clone(), b.clone(), "default".to_owned()];
        want.sort();
        assert_eq!(remote_members(be, &g).unwrap(), want);

        // removed behind Terraform's back: the association is planned again
        let c = be.client();
        block(async {
            c.modify_user_group()
                .user_group_id(&g)
                .user_ids_to_remove(&a)
                .send()
                .await
                .unwrap()
        });
        wait_group_active(be, &g);
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("aws_elasticache_user_group_association.a will be created"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert!(remote_members(be, &g).unwrap().contains(&a));

        // import by user_group_id,user_id
        tf.state_rm("aws_elasticache_user_group_association.b");
        tf.import(
            "aws_elasticache_user_group_association.b",
            &format!("{g},{b}"),
        );
        tf.plan_is_clean();

        // destroying one association removes only that member
        let without_b = hcl.replace(
            "resource \"aws_elasticache_user_group_association\" \"b\"",
            "resource \"aws_elasticache_user_group_association\" \"b_gone\"",
        );
        let without_b = without_b[..without_b
            .find("resource \"aws_elasticache_user_group_association\" \"b_gone\"")
            .unwrap()]
            .to_owned();
        tf.config(&without_b);
        tf.apply();
        tf.plan_is_clean();
        let mut want = vec![a.clone(), "default".to_owned()];
        want.sort();
        assert_eq!(remote_members(be, &g).unwrap(), want);
        tf.destroy();
        assert!(remote_members(be, &g).is_none());
    });
}
