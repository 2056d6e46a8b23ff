//! Service tests (SQLite and PostgreSQL): users, passwords, login, tokens, registration.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::PASSWORD;
use kohaku::accounts::{self, LoginError, TokenRole};
use kohaku::config::Registration;
use kohaku::Error;

db_test!(
    async fn create_user_and_look_up(t) {
        let alice = t.user("alice");
        assert!(!alice.user.is_admin && !alice.user.is_org);
        assert_eq!(alice.user.email.as_deref(), Some("alice@example.com"));
        let found = t
            .db(|c| accounts::user_by_name(c, "alice"))
            .unwrap()
            .unwrap();
        assert_eq!(found.id, alice.user.id);
        let by_id = t
            .db(move |c| accounts::user_by_id(c, found.id))
            .unwrap()
            .unwrap();
        assert_eq!(by_id.username, "alice");
        assert!(t.db(|c| accounts::user_by_name(c, "bob")).unwrap().is_none());
        let err = t.db(|c| accounts::require_user(c, "bob")).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)), "{err:?}");
        t.admin("boss");
        let names: Vec<String> = t
            .db(|c| accounts::list_users(c))
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["alice", "boss"]);
    }
);

db_test!(
    async fn user_names_and_emails_are_unique(t) {
        t.user("alice");
        // Another spelling of the same normalised name is taken.
        for (name, email) in [
            ("Alice", "other@example.com"),
            ("alice", "x@example.com"),
            ("carol", "alice@example.com"),
        ] {
            let err = t
                .db(|c| accounts::create_user(c, name, email, PASSWORD, false))
                .unwrap_err();
            assert!(matches!(err, Error::Conflict { .. }), "{name}: {err:?}");
        }
        let err = t
            .db(|c| accounts::create_user(c, "dave", "not-an-email", PASSWORD, false))
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        assert_eq!(t.db(|c| accounts::list_users(c)).unwrap().len(), 1);
    }
);

db_test!(
    async fn password_rules_are_enforced(t) {
        for (pw, why) in [
            ("short1", "too short"),
            ("aaaaaaaaaaaa", "one character repeated"),
            ("Eve-Longname", "the user name"),
            ("password", "common"),
            ("12345678", "common"),
        ] {
            let err = accounts::check_password_strength(pw, "eve-longname").unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, Error::BadRequest(_)), "{pw}");
            assert!(msg.contains(accounts::PASSWORD_RULE), "{pw} ({why}): {msg}");
        }
        assert!(accounts::check_password_strength(&"x1".repeat(513), "eve").is_err());
        accounts::check_password_strength(PASSWORD, "eve").unwrap();
        // The rule applies where users are created: nothing is stored on refusal.
        let err = t
            .db(|c| accounts::create_user(c, "eve", "eve@example.com", "password", false))
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)));
        assert!(t.db(|c| accounts::user_by_name(c, "eve")).unwrap().is_none());
    }
);

db_test!(
    async fn login_checks_the_password(t) {
        let alice = t.user("alice");
        let ok = t
            .db(|c| accounts::login(c, "alice", PASSWORD))
            .unwrap()
            .unwrap();
        assert_eq!(ok.id, alice.user.id);
        // By email too.
        let ok = t
            .db(|c| accounts::login(c, "alice@example.com", PASSWORD))
            .unwrap()
            .unwrap();
        assert_eq!(ok.id, alice.user.id);
        let wrong = t.db(|c| accounts::login(c, "alice", "wrong-password-x")).unwrap();
        assert_eq!(wrong.unwrap_err(), LoginError::BadCredentials);
        // Unknown users look the same as wrong passwords.
        let unknown = t.db(|c| accounts::login(c, "nobody", PASSWORD)).unwrap();
        assert_eq!(unknown.unwrap_err(), LoginError::BadCredentials);
    }
);

db_test!(
    async fn set_password_replaces_the_old_one(t) {
        let alice = t.user("alice");
        let id = alice.user.id;
        let err = t
            .db(move |c| accounts::set_password(c, id, "alice", "alice"))
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)));
        t.db(move |c| accounts::set_password(c, id, "alice", "a-new-long-passphrase"))
            .unwrap();
        assert!(t.db(|c| accounts::login(c, "alice", PASSWORD)).unwrap().is_err());
        assert!(t
            .db(|c| accounts::login(c, "alice", "a-new-long-passphrase"))
            .unwrap()
            .is_ok());
    }
);

db_test!(
    async fn tokens_create_list_revoke(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let (id_a, id_b) = (alice.user.id, bob.user.id);
        let w = t
            .db(move |c| accounts::create_token(c, id_a, "ci", TokenRole::Write))
            .unwrap();
        let r = t
            .db(move |c| accounts::create_token(c, id_a, " laptop ", TokenRole::Read))
            .unwrap();
        assert!(w.starts_with("hf_") && w.len() == 40, "{w}");
        assert_ne!(w, r);
        let err = t
            .db(move |c| accounts::create_token(c, id_a, "  ", TokenRole::Read))
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)));
        let list = t.db(move |c| accounts::list_tokens(c, id_a)).unwrap();
        let summary: Vec<(&str, TokenRole)> =
            list.iter().map(|t| (t.name.as_str(), t.role)).collect();
        assert_eq!(
            summary,
            [("ci", TokenRole::Write), ("laptop", TokenRole::Read)]
        );
        assert!(t.db(move |c| accounts::list_tokens(c, id_b)).unwrap().is_empty());
        // Someone else cannot revoke it; the owner can, and it stops working at once.
        let tid = list[0].id;
        let err = t
            .db(move |c| accounts::revoke_token(c, id_b, tid))
            .unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
        t.db(move |c| accounts::revoke_token(c, id_a, tid)).unwrap();
        let w2 = w.clone();
        assert!(t.db(move |c| accounts::token_caller(c, &w2)).unwrap().is_none());
        let r2 = r.clone();
        assert!(t.db(move |c| accounts::token_caller(c, &r2)).unwrap().is_some());
        assert_eq!(t.db(move |c| accounts::list_tokens(c, id_a)).unwrap().len(), 1);
    }
);

db_test!(
    async fn tokens_are_found_by_digest_only(t) {
        let alice = t.user("alice");
        let (token, caller) = t.token_caller(&alice.user, TokenRole::Read);
        assert_eq!(caller.user.id, alice.user.id);
        let info = caller.token.clone().unwrap();
        assert_eq!(info.role, TokenRole::Read);
        assert!(!caller.can_write());
        // The lookup stamps the last use.
        let id = alice.user.id;
        let list = t.db(move |c| accounts::list_tokens(c, id)).unwrap();
        assert!(list[0].last_used_at.is_some());
        // Only the sha256 digest is stored.
        let stored: Vec<String> = t
            .db(|c| {
                Ok(c.query_all(
                    "SELECT token_hash FROM tokens",
                    kohaku::params![],
                    |r| r.get::<_, String>(0),
                )?)
            })
            .unwrap();
        use sha2::Digest;
        assert_eq!(stored, [hex::encode(sha2::Sha256::digest(token.as_bytes()))]);
        let last = if token.ends_with('a') { 'b' } else { 'a' };
        let bogus = format!("{}{last}", &token[..token.len() - 1]);
        assert!(t.db(move |c| accounts::token_caller(c, &bogus)).unwrap().is_none());
    }
);

db_test!(
    async fn deactivated_users_cannot_act(t) {
        let alice = t.user("alice");
        let (token, _) = t.token_caller(&alice.user, TokenRole::Write);
        let id = alice.user.id;
        let (sid, _) = t
            .db(move |c| accounts::sessions::create_session(c, id, 1))
            .unwrap();
        let s2 = sid.clone();
        assert!(t
            .db(move |c| accounts::sessions::session_caller(c, &s2))
            .unwrap()
            .is_some());
        t.db(move |c| {
            c.execute("UPDATE users SET is_active = 0 WHERE id = ?1", [id])?;
            Ok(())
        })
        .unwrap();
        assert!(t.db(move |c| accounts::token_caller(c, &token)).unwrap().is_none());
        assert!(t
            .db(move |c| accounts::sessions::session_caller(c, &sid))
            .unwrap()
            .is_none());
        let login = t.db(|c| accounts::login(c, "alice", PASSWORD)).unwrap();
        assert_eq!(login.unwrap_err(), LoginError::BadCredentials);
    }
);

db_test!(
    async fn registration_follows_the_policy(t) {
        let reg = |policy, name: &'static str, verified| {
            t.db(move |c| {
                accounts::register(
                    c,
                    policy,
                    name,
                    &format!("{name}@example.com"),
                    PASSWORD,
                    None,
                    verified,
                )
            })
        };
        let err = reg(Registration::Closed, "carol", true).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
        let err = reg(Registration::InvitationOnly, "carol", true).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
        assert!(t.db(|c| accounts::user_by_name(c, "carol")).unwrap().is_none());
        reg(Registration::Open, "carol", true).unwrap();
        assert!(t.db(|c| accounts::login(c, "carol", PASSWORD)).unwrap().is_ok());
        // Unverified: the password is right but the email must be confirmed first.
        reg(Registration::Open, "dave", false).unwrap();
        let login = t.db(|c| accounts::login(c, "dave", PASSWORD)).unwrap();
        assert_eq!(login.unwrap_err(), LoginError::EmailNotVerified);
    }
);

db_test!(
    async fn delete_user_refused_while_owning_repos(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let err = t.db(|c| accounts::delete_user(c, "alice")).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        kohaku::repos::delete_repo(
            &t.hub,
            Some(&alice),
            repo.repo_type,
            "alice",
            "m",
        )
        .await
        .unwrap();
        t.db(|c| accounts::delete_user(c, "alice")).unwrap();
        assert!(t.db(|c| accounts::user_by_name(c, "alice")).unwrap().is_none());
        let err = t.db(|c| accounts::delete_user(c, "alice")).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
    }
);
