//! Service tests (SQLite and PostgreSQL): organizations, members and roles, invitations.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use kohaku::accounts::TokenRole;
use kohaku::invitations::{self, NewInvitation};
use kohaku::orgs::{self, Role};
use kohaku::Error;

fn role_of(t: &common::TestHub, org: &'static str, user_id: i64) -> Option<Role> {
    t.db(move |c| orgs::role_in(c, org, user_id)).unwrap()
}

db_test!(
    async fn create_org_makes_creator_super_admin(t) {
        let alice = t.user("alice");
        let org = t.org(&alice, "acme");
        assert!(org.is_org);
        assert_eq!(role_of(&t, "acme", alice.user.id), Some(Role::SuperAdmin));
        let (o, n) = t.db(|c| orgs::org_with_member_count(c, "acme")).unwrap();
        assert_eq!((o.id, n), (org.id, 1));
        // One namespace for users and orgs, compared normalised.
        let a = alice.user.clone();
        for name in ["alice", "ACME", "Alice"] {
            let err = t
                .db(|c| orgs::create_org(c, &a, name, None, None))
                .unwrap_err();
            assert!(matches!(err, Error::Conflict { .. }), "{name}: {err:?}");
        }
        // Orgs are not users, users are not orgs.
        assert!(t.db(|c| orgs::get_org(c, "alice")).unwrap().is_none());
        let err = t.db(|c| kohaku::accounts::require_user(c, "acme")).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
        let listed: Vec<String> = t
            .db(|c| orgs::list_orgs(c))
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(listed, ["acme"]);
        let mine = t
            .db(move |c| orgs::user_orgs(c, alice.user.id))
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].0.username.as_str(), mine[0].1), ("acme", Role::SuperAdmin));
    }
);

db_test!(
    async fn members_and_roles_follow_the_hierarchy(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let carol = t.user("carol");
        t.user("dave");
        t.org(&alice, "acme");
        let set = |actor: &kohaku::accounts::Caller, user: &'static str, role| {
            let a = actor.clone();
            t.db(move |c| orgs::set_member(c, &a, "acme", user, role))
        };
        set(&alice, "bob", Role::Admin).unwrap();
        set(&bob, "carol", Role::Member).unwrap();
        assert_eq!(role_of(&t, "acme", carol.user.id), Some(Role::Member));
        // A member manages nobody; an admin cannot hand out admin rights.
        let err = set(&carol, "dave", Role::Visitor).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let err = set(&bob, "dave", Role::Admin).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let err = set(&bob, "alice", Role::Member).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        // Read-only tokens manage nothing, even the super-admin's.
        let (_, ro) = t.token_caller(&alice.user, TokenRole::Read);
        let err = set(&ro, "dave", Role::Member).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        // The last super-admin cannot step down.
        let err = set(&alice, "alice", Role::Admin).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        set(&alice, "carol", Role::SuperAdmin).unwrap();
        set(&alice, "alice", Role::Member).unwrap();
        assert_eq!(role_of(&t, "acme", alice.user.id), Some(Role::Member));
        let err = set(&alice, "ghost", Role::Member).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
        let org_id = t.db(|c| orgs::require_org(c, "acme")).unwrap().id;
        let members: Vec<(String, Role)> = t
            .db(move |c| orgs::list_members(c, org_id))
            .unwrap()
            .into_iter()
            .map(|(u, r)| (u.username, r))
            .collect();
        assert_eq!(
            members,
            [
                ("alice".to_string(), Role::Member),
                ("bob".to_string(), Role::Admin),
                ("carol".to_string(), Role::SuperAdmin)
            ]
        );
    }
);

db_test!(
    async fn removing_members(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let carol = t.user("carol");
        t.org(&alice, "acme");
        for (u, r) in [("bob", Role::Member), ("carol", Role::Member)] {
            let a = alice.clone();
            t.db(move |c| orgs::set_member(c, &a, "acme", u, r)).unwrap();
        }
        // A member cannot remove another member but may leave.
        let b = bob.clone();
        let err = t
            .db(move |c| orgs::remove_member(c, &b, "acme", "carol"))
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let b = bob.clone();
        t.db(move |c| orgs::remove_member(c, &b, "acme", "bob")).unwrap();
        assert_eq!(role_of(&t, "acme", bob.user.id), None);
        let a = alice.clone();
        t.db(move |c| orgs::remove_member(c, &a, "acme", "carol")).unwrap();
        assert_eq!(role_of(&t, "acme", carol.user.id), None);
        // Not a member any more: not found; the last super-admin stays.
        let a = alice.clone();
        let err = t
            .db(move |c| orgs::remove_member(c, &a, "acme", "carol"))
            .unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
        let a = alice.clone();
        let err = t
            .db(move |c| orgs::remove_member(c, &a, "acme", "alice"))
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        let err = t
            .db(|c| orgs::remove_member_unchecked(c, "acme", "alice"))
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        assert_eq!(role_of(&t, "acme", alice.user.id), Some(Role::SuperAdmin));
    }
);

fn invite(org: Option<&str>, role: Role, max_usage: Option<i64>) -> NewInvitation {
    NewInvitation {
        org: org.map(str::to_string),
        role,
        email: None,
        max_usage,
        expires_days: 7,
    }
}

db_test!(
    async fn invitations_add_members_once(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let carol = t.user("carol");
        t.org(&alice, "acme");
        let a = alice.clone();
        let (token, inv) = t
            .db(move |c| invitations::create(c, &a, &invite(Some("acme"), Role::Member, None)))
            .unwrap();
        assert_eq!(inv.org.as_deref(), Some("acme"));
        assert!(inv.is_usable());
        let tk = token.clone();
        let got = t.db(move |c| invitations::get(c, &tk)).unwrap();
        assert_eq!(got.id, inv.id);
        let (tk, bu) = (token.clone(), bob.user.clone());
        t.db(move |c| invitations::accept(c, &tk, &bu)).unwrap();
        assert_eq!(role_of(&t, "acme", bob.user.id), Some(Role::Member));
        // Single use: spent now.
        let (tk, cu) = (token.clone(), carol.user.clone());
        let err = t.db(move |c| invitations::accept(c, &tk, &cu)).unwrap_err();
        assert!(matches!(err, Error::Gone(_)), "{err:?}");
        assert_eq!(role_of(&t, "acme", carol.user.id), None);
        let tk = token.clone();
        assert!(t.db(move |c| invitations::get(c, &tk)).unwrap().is_exhausted);
        let err = t.db(|c| invitations::get(c, "no-such-token")).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
    }
);

db_test!(
    async fn invitation_rights_and_limits(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let carol = t.user("carol");
        let dave = t.user("dave");
        t.org(&alice, "acme");
        let a = alice.clone();
        t.db(move |c| orgs::set_member(c, &a, "acme", "bob", Role::Member))
            .unwrap();
        let create = |actor: &kohaku::accounts::Caller, new: NewInvitation| {
            let a = actor.clone();
            t.db(move |c| invitations::create(c, &a, &new))
        };
        // Members cannot invite; strangers do not even learn the org exists.
        let err = create(&bob, invite(Some("acme"), Role::Member, None)).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let err = create(&carol, invite(Some("acme"), Role::Member, None)).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)), "{err:?}");
        // Registration invitations are for hub admins.
        let err = create(&alice, invite(None, Role::Member, None)).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        for bad in [
            NewInvitation {
                expires_days: 0,
                ..invite(Some("acme"), Role::Member, None)
            },
            invite(Some("acme"), Role::Member, Some(0)),
        ] {
            let err = create(&alice, bad).unwrap_err();
            assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        }
        // Two uses, then spent; an existing member is a conflict and uses nothing.
        let (token, _) = create(&alice, invite(Some("acme"), Role::Visitor, Some(2))).unwrap();
        let (tk, bu) = (token.clone(), bob.user.clone());
        let err = t.db(move |c| invitations::accept(c, &tk, &bu)).unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
        for u in [&carol, &dave] {
            let (tk, uu) = (token.clone(), u.user.clone());
            t.db(move |c| invitations::accept(c, &tk, &uu)).unwrap();
            assert_eq!(role_of(&t, "acme", u.user.id), Some(Role::Visitor));
        }
        let tk = token.clone();
        let inv = t.db(move |c| invitations::get(c, &tk)).unwrap();
        assert_eq!((inv.usage_count, inv.is_exhausted), (2, true));
        // Listing is for admins; deleting makes the token unknown.
        let b = bob.clone();
        let err = t
            .db(move |c| invitations::list_for_org(c, &b, "acme"))
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
        let a = alice.clone();
        assert_eq!(
            t.db(move |c| invitations::list_for_org(c, &a, "acme"))
                .unwrap()
                .len(),
            1
        );
        let (a, tk) = (alice.clone(), token.clone());
        t.db(move |c| invitations::delete(c, &a, &tk)).unwrap();
        let err = t.db(move |c| invitations::get(c, &token)).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
    }
);
