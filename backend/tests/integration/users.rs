//! Users and user groups through the SDK: AWS's rules and errors, statuses,
//! tags, paging.

use std::time::Duration;

use aws_sdk_elasticache::types::{AuthenticationMode, InputAuthenticationType, Tag};
use aws_sdk_elasticache::Client;

use crate::common::{self, code, eventually, Backend};

const PW: &str = "a-long-password-1";
const PW2: &str = "another-password-2";

async fn user_status(c: &Client, id: &str) -> Option<String> {
    let r = c.describe_users().user_id(id).send().await.ok()?;
    r.users()
        .first()
        .and_then(|u| u.status())
        .map(str::to_owned)
}

async fn wait_user(c: &Client, id: &str, status: &str) {
    eventually(
        &format!("user {id} {status}"),
        Duration::from_secs(30),
        || async { (user_status(c, id).await.as_deref() == Some(status)).then_some(()) },
    )
    .await;
}

async fn wait_group(c: &Client, id: &str, status: &str) -> aws_sdk_elasticache::types::UserGroup {
    eventually(
        &format!("user group {id} {status}"),
        Duration::from_secs(30),
        || async {
            let r = c
                .describe_user_groups()
                .user_group_id(id)
                .send()
                .await
                .ok()?;
            let g = r.user_groups().first()?.clone();
            (g.status() == Some(status)).then_some(g)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_user_groups_follow_aws_rules() {
    // Control-plane rules only: one runtime is enough.
    let b = Backend::start("process");
    let c = b.client();

    // The built-in default user.
    let all = c.describe_users().send().await.unwrap();
    let d = all
        .users()
        .iter()
        .find(|u| u.user_id() == Some("default"))
        .expect("default user listed");
    assert_eq!(d.user_name(), Some("default"));
    assert_eq!(d.access_string(), Some("on ~* +@all"));
    assert_eq!(
        d.authentication()
            .and_then(|a| a.r#type())
            .map(|t| t.as_str()),
        Some("no-password")
    );
    assert_eq!(
        code(
            c.modify_user()
                .user_id("default")
                .access_string("off")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(c.delete_user().user_id("default").send().await),
        "DefaultUserAssociatedToUserGroup"
    );

    // A user with a password; its access string comes back in AWS's form.
    let app = common::name("app");
    let u = c
        .create_user()
        .user_id(&app)
        .user_name(&app)
        .engine("redis")
        .access_string("on  ~app:*   +@read")
        .passwords(PW)
        .tags(Tag::builder().key("team").value("core").build())
        .send()
        .await
        .unwrap();
    assert_eq!(u.status(), Some("active"));
    assert_eq!(u.access_string(), Some("on ~app:* +@read"));
    assert_eq!(u.authentication().and_then(|a| a.password_count()), Some(1));
    let arn = u.arn().unwrap().to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:elasticache:us-east-1:000000000000:user:{app}")
    );
    let tags = c
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_list().len(), 1);

    // Bad input answers AWS's errors.
    let bad = common::name("bad");
    assert_eq!(
        code(
            c.create_user()
                .user_id(&app)
                .user_name("x")
                .engine("redis")
                .access_string("on ~* +@all")
                .passwords(PW)
                .send()
                .await
        ),
        "UserAlreadyExists"
    );
    assert_eq!(
        code(
            c.create_user()
                .user_id(&bad)
                .user_name(&bad)
                .engine("redis")
                .access_string("on ~* +@all")
                .passwords("short")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            c.create_user()
                .user_id(&bad)
                .user_name(&bad)
                .engine("redis")
                .access_string("on >secret ~* +@all")
                .passwords(PW)
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            c.create_user()
                .user_id(&bad)
                .user_name(&bad)
                .engine("redis")
                .access_string("on ~* +@all")
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(
            c.create_user()
                .user_id(&bad)
                .user_name(&bad)
                .engine("valkey")
                .access_string("on ~* +@all")
                .no_password_required(true)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(c.describe_users().user_id("nobody-here").send().await),
        "UserNotFound"
    );

    // A default-named user of the caller's own, and a second user named like `app`.
    let dflt = common::name("dflt");
    c.create_user()
        .user_id(&dflt)
        .user_name("default")
        .engine("redis")
        .access_string("on ~* +@all")
        .authentication_mode(
            AuthenticationMode::builder()
                .r#type(InputAuthenticationType::Password)
                .passwords(PW)
                .passwords(PW2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let twin = common::name("twin");
    c.create_user()
        .user_id(&twin)
        .user_name(&app)
        .engine("redis")
        .access_string("on ~* +@read")
        .no_password_required(true)
        .send()
        .await
        .unwrap();

    // Groups: a default-named user is required, names are unique.
    let ug = common::name("ug");
    assert_eq!(
        code(
            c.create_user_group()
                .user_group_id(&ug)
                .engine("redis")
                .user_ids(&app)
                .send()
                .await
        ),
        "DefaultUserRequired"
    );
    assert_eq!(
        code(
            c.create_user_group()
                .user_group_id(&ug)
                .engine("redis")
                .user_ids("default")
                .user_ids(&app)
                .user_ids(&twin)
                .send()
                .await
        ),
        "DuplicateUserName"
    );
    assert_eq!(
        code(
            c.create_user_group()
                .user_group_id(&ug)
                .engine("redis")
                .user_ids("default")
                .user_ids("nobody-here")
                .send()
                .await
        ),
        "UserNotFound"
    );
    let g = c
        .create_user_group()
        .user_group_id(&ug)
        .engine("redis")
        .user_ids(&dflt)
        .user_ids(&app)
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), Some("creating"));
    let g = wait_group(&c, &ug, "active").await;
    assert_eq!(g.user_ids().len(), 2);
    assert!(g.replication_groups().is_empty());
    assert_eq!(
        code(
            c.create_user_group()
                .user_group_id(&ug)
                .engine("redis")
                .user_ids("default")
                .send()
                .await
        ),
        "UserGroupAlreadyExists"
    );
    let u = c.describe_users().user_id(&app).send().await.unwrap();
    assert_eq!(u.users()[0].user_group_ids(), std::slice::from_ref(&ug));

    // A group change shows as pending, then settles.
    let m = c
        .modify_user_group()
        .user_group_id(&ug)
        .user_ids_to_remove(&app)
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), Some("modifying"));
    assert_eq!(
        m.pending_changes().map(|p| p.user_ids_to_remove().to_vec()),
        Some(vec![app.clone()])
    );
    let g = wait_group(&c, &ug, "active").await;
    assert_eq!(g.user_ids(), std::slice::from_ref(&dflt));
    assert!(g.pending_changes().is_none());
    assert_eq!(
        code(
            c.modify_user_group()
                .user_group_id(&ug)
                .user_ids_to_remove(&dflt)
                .send()
                .await
        ),
        "DefaultUserRequired"
    );

    // A user change: modifying, then active; passwords never come back.
    let m = c
        .modify_user()
        .user_id(&app)
        .passwords(PW2)
        .passwords(PW)
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), Some("modifying"));
    wait_user(&c, &app, "active").await;
    let u = c.describe_users().user_id(&app).send().await.unwrap();
    assert_eq!(
        u.users()[0]
            .authentication()
            .and_then(|a| a.password_count()),
        Some(2)
    );
    let raw = b.raw("Action=DescribeUsers&Version=2015-02-02").await.1;
    assert!(
        !raw.contains(PW) && !raw.contains(PW2),
        "no password is ever answered"
    );

    // A default-named user cannot leave while a group holds it; users and groups go.
    assert_eq!(
        code(c.delete_user().user_id(&dflt).send().await),
        "DefaultUserAssociatedToUserGroup"
    );
    let d = c
        .delete_user_group()
        .user_group_id(&ug)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), Some("deleting"));
    eventually("user group gone", Duration::from_secs(30), || async {
        (code(c.describe_user_groups().user_group_id(&ug).send().await) == "UserGroupNotFound")
            .then_some(())
    })
    .await;
    for id in [&app, &dflt, &twin] {
        c.delete_user().user_id(id).send().await.unwrap();
    }
    eventually("users gone", Duration::from_secs(30), || async {
        let r = c.describe_users().send().await.ok()?;
        (r.users().len() == 1).then_some(())
    })
    .await;
}
