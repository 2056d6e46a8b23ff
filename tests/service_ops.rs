//! Service tests (SQLite and PostgreSQL): permissions, likes, quotas, download statistics,
//! GC.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{file, lfs_file};
use kohaku::accounts::{Caller, TokenRole};
use kohaku::orgs::Role;
use kohaku::perms::{self, Access};
use kohaku::repos::Repo;
use kohaku::{likes, quota, stats, Error};

fn access(t: &common::TestHub, repo: &Repo, caller: Option<&Caller>) -> Access {
    let (r, c) = (repo.clone(), caller.cloned());
    t.db(move |conn| perms::repo_access(conn, &r, c.as_ref()))
        .unwrap()
}

db_test!(
    async fn access_levels(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let carol = t.user("carol");
        let dave = t.user("dave");
        let eve = t.user("eve");
        let root = t.admin("boss");
        t.org(&alice, "acme");
        for (u, r) in [("bob", Role::Admin), ("carol", Role::Member), ("dave", Role::Visitor)] {
            let a = alice.clone();
            t.db(move |c| kohaku::orgs::set_member(c, &a, "acme", u, r)).unwrap();
        }
        let public = t.repo(&alice, "acme/pub").await;
        let private = t.private_repo(&alice, "acme/priv").await;
        let (_, alice_ro) = t.token_caller(&alice.user, TokenRole::Read);
        for (who, caller, on_public, on_private) in [
            ("super-admin", Some(&alice), Access::Admin, Access::Admin),
            ("admin", Some(&bob), Access::Admin, Access::Admin),
            ("member", Some(&carol), Access::Write, Access::Write),
            ("visitor", Some(&dave), Access::Read, Access::Read),
            ("stranger", Some(&eve), Access::Read, Access::None),
            ("hub admin", Some(&root), Access::Admin, Access::Admin),
            ("read token", Some(&alice_ro), Access::Read, Access::Read),
            ("anonymous", None, Access::Read, Access::None),
        ] {
            assert_eq!(access(&t, &public, caller), on_public, "{who} on public");
            assert_eq!(access(&t, &private, caller), on_private, "{who} on private");
        }
        // A user's own namespace.
        let own = t.private_repo(&eve, "eve/own").await;
        assert_eq!(access(&t, &own, Some(&eve)), Access::Admin);
        assert_eq!(access(&t, &own, Some(&alice)), Access::None);
    }
);

db_test!(
    async fn denied_reads_look_like_missing_repos(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        t.org(&alice, "acme");
        let a = alice.clone();
        t.db(move |c| kohaku::orgs::set_member(c, &a, "acme", "bob", Role::Member))
            .unwrap();
        let private = t.private_repo(&alice, "alice/priv").await;
        let public = t.repo(&alice, "alice/pub").await;
        let org_repo = t.repo(&alice, "acme/r").await;
        let check = |f: fn(&kohaku::db::Conn, &Repo, Option<&Caller>) -> kohaku::Result<()>,
                     repo: &Repo,
                     caller: Option<&Caller>| {
            let (r, c) = (repo.clone(), caller.cloned());
            t.db(move |conn| f(conn, &r, c.as_ref()))
        };
        let read = |c: &kohaku::db::Conn, r: &Repo, who: Option<&Caller>| {
            perms::require_read(c, r, who).map(|_| ())
        };
        // Private, not readable: 404 whatever is asked.
        for f in [read, perms::require_write, perms::require_admin] {
            for who in [Some(&bob), None] {
                let err = check(f, &private, who).unwrap_err();
                assert!(matches!(err, kohaku::Error::RepoNotFound(_)), "{err:?}");
            }
        }
        // Public: readable, so refusals say why.
        check(read, &public, None).unwrap();
        let err = check(perms::require_write, &public, None).unwrap_err();
        assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
        let err = check(perms::require_write, &public, Some(&bob)).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        // An org member writes but does not administer.
        check(perms::require_write, &org_repo, Some(&bob)).unwrap();
        let err = check(perms::require_admin, &org_repo, Some(&bob)).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let (_, ro) = t.token_caller(&alice.user, TokenRole::Read);
        let err = check(perms::require_write, &private, Some(&ro)).unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        check(read, &private, Some(&ro)).unwrap();
    }
);

db_test!(
    async fn likes_count_once_per_user(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let repo = t.repo(&alice, "alice/m").await;
        let private = t.private_repo(&alice, "alice/p").await;
        let like = |r: &Repo, u: &Caller, on: bool| {
            let (r, u) = (r.id, u.user.id);
            t.db(move |c| likes::set_like(c, r, u, on)).unwrap()
        };
        assert_eq!(like(&repo, &bob, true), 1);
        assert_eq!(like(&repo, &bob, true), 1, "liking twice counts once");
        assert_eq!(like(&repo, &alice, true), 2);
        assert_eq!(t.reload(&repo).likes, 2);
        let (r, b) = (repo.id, bob.user.id);
        assert!(t.db(move |c| likes::has_liked(c, r, b)).unwrap());
        let names: Vec<String> = t
            .db(move |c| likes::likers(c, r, 0, 10))
            .unwrap()
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"bob".to_string()) && names.contains(&"alice".to_string()));
        assert_eq!(like(&repo, &bob, false), 1);
        assert_eq!(like(&repo, &bob, false), 1, "unliking twice counts once");
        assert!(!t.db(move |c| likes::has_liked(c, r, b)).unwrap());
        // What alice liked, as others may see it: not her private repo.
        like(&private, &alice, true);
        let seen = |who: Option<&Caller>| {
            let w = who.cloned();
            t.db(move |c| likes::liked_by(c, "alice", w.as_ref(), 0, 10))
                .unwrap()
                .into_iter()
                .map(|(r, _)| r.full_id())
                .collect::<Vec<_>>()
        };
        assert_eq!(seen(Some(&bob)), ["alice/m"]);
        assert_eq!(seen(None), ["alice/m"]);
        let mut mine = seen(Some(&alice));
        mine.sort();
        assert_eq!(mine, ["alice/m", "alice/p"]);
        let err = t
            .db(|c| likes::liked_by(c, "ghost", None, 0, 10))
            .unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
    }
);

db_test!(
    async fn quota_get_set_and_usage(t) {
        let alice = t.user("alice");
        let q = t.db(|c| quota::namespace_quota(c, "alice")).unwrap();
        assert_eq!(
            (q.private_quota_bytes, q.public_quota_bytes, q.public_used_bytes),
            (None, None, 0)
        );
        assert!(!q.is_organization);
        let q = t
            .db(|c| quota::set_namespace_quota(c, "alice", Some(Some(1000)), None))
            .unwrap();
        assert_eq!((q.private_quota_bytes, q.public_quota_bytes), (Some(1000), None));
        let q = t
            .db(|c| quota::set_namespace_quota(c, "alice", None, Some(Some(5000))))
            .unwrap();
        assert_eq!((q.private_quota_bytes, q.public_quota_bytes), (Some(1000), Some(5000)));
        let q = t
            .db(|c| quota::set_namespace_quota(c, "alice", Some(None), None))
            .unwrap();
        assert_eq!(q.private_quota_bytes, None);
        let err = t.db(|c| quota::namespace_quota(c, "ghost")).unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)));
        // Usage follows commits, per visibility.
        let repo = t.repo(&alice, "alice/m").await;
        t.commit(&alice, &repo, "add", &[file("a.bin", &[1u8; 400])])
            .await;
        let id = repo.id;
        let (rq, used) = t.db(move |c| quota::repo_quota(c, id)).unwrap();
        assert_eq!(rq, None);
        let attrs = t.read(&repo, "main", ".gitattributes").await.unwrap().len() as u64;
        assert_eq!(used, 400 + attrs);
        assert_eq!(quota::recalc_repo(&t.hub, id).await.unwrap(), used);
        let q = t.db(|c| quota::namespace_quota(c, "alice")).unwrap();
        assert_eq!((q.public_used_bytes, q.private_used_bytes), (used, 0));
        assert_eq!(quota::parse_size("2KiB").unwrap(), Some(2048));
    }
);

db_test!(
    async fn quota_refuses_what_does_not_fit(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let attrs = t.read(&repo, "main", ".gitattributes").await.unwrap().len() as u64;
        let limit = attrs + 100;
        t.db(move |c| quota::set_namespace_quota(c, "alice", None, Some(Some(limit))))
            .unwrap();
        t.commit(&alice, &repo, "fits", &[file("a", &[0u8; 60])]).await;
        let head = kohaku::repos::refs::resolve(&t.hub, &repo, "main")
            .await
            .unwrap()
            .commit;
        let err = t
            .try_commit(&alice, &repo, "main", "too big", &[file("b", &[0u8; 60])])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge(_)), "{err:?}");
        assert!(err.to_string().contains("Quota exceeded"), "{err}");
        assert_eq!(
            kohaku::repos::refs::resolve(&t.hub, &repo, "main").await.unwrap().commit,
            head
        );
        // A repo quota applies on its own.
        t.db(|c| quota::set_namespace_quota(c, "alice", None, Some(None)))
            .unwrap();
        let id = repo.id;
        t.db(move |c| quota::set_repo_quota(c, id, Some(limit + 10)))
            .unwrap();
        let err = t
            .try_commit(&alice, &repo, "main", "too big", &[file("b", &[0u8; 60])])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge(_)), "{err:?}");
        t.commit(&alice, &repo, "small", &[file("b", &[0u8; 5])]).await;
        // Making it private moves its usage into a bucket that cannot take it.
        t.db(|c| quota::set_namespace_quota(c, "alice", Some(Some(10)), None))
            .unwrap();
        let upd = kohaku::repos::SettingsUpdate {
            private: Some(true),
            gated: None,
        };
        let err = kohaku::repos::update_settings(&t.hub, Some(&alice), &repo, upd)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge(_)), "{err:?}");
        assert!(!t.reload(&repo).private);
    }
);

db_test!(
    async fn lfs_objects_count_once_per_repo(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let oid = t.upload_lfs(alice.user.id, &[9u8; 2000]).await;
        t.commit(&alice, &repo, "one", &[lfs_file("a.bin", &oid, 2000)])
            .await;
        let id = repo.id;
        let o = oid.clone();
        // Already in the history: nothing new to count.
        let extra = t
            .db(move |c| quota::new_lfs_bytes(c, id, &[(o, 2000)]))
            .unwrap();
        assert_eq!(extra, 0);
        let fresh = "b".repeat(64);
        let extra = t
            .db(move |c| quota::new_lfs_bytes(c, id, &[(fresh.clone(), 10), (fresh, 10)]))
            .unwrap();
        assert_eq!(extra, 10);
        t.commit(&alice, &repo, "two", &[lfs_file("b.bin", &oid, 2000)])
            .await;
        assert_eq!(t.db(move |c| quota::repo_lfs_bytes(c, id)).unwrap(), 2000);
        // Deleting the files keeps the history (old revisions still serve them).
        t.commit(
            &alice,
            &repo,
            "rm",
            &[common::deleted_file("a.bin"), common::deleted_file("b.bin")],
        )
        .await;
        assert_eq!(t.db(move |c| quota::repo_lfs_bytes(c, id)).unwrap(), 2000);
        let o = oid.clone();
        assert!(t.db(move |c| kohaku::lfs::repo_has_object(c, id, &o)).unwrap());
    }
);

db_test!(
    async fn downloads_count_per_session_and_roll_up(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let id = repo.id;
        let rec = |session: &'static str, authed: bool, f: &'static str| {
            t.db(move |c| stats::record_download(c, id, session, authed, f))
                .unwrap()
        };
        assert!(rec("s1", true, "a"));
        assert!(!rec("s1", true, "b"), "same session, same bucket: one download");
        assert!(rec("s2", false, "a"));
        assert_eq!(t.reload(&repo).downloads, 2);
        let today = t.db(move |c| stats::recent(c, id, 1)).unwrap();
        assert_eq!(today.len(), 1);
        assert_eq!(
            (today[0].downloads, today[0].authenticated, today[0].anonymous, today[0].files),
            (2, 1, 1, 3)
        );
        let report = t.db(|c| stats::rollup(c, None, 30)).unwrap();
        assert_eq!((report.days_written, report.sessions_pruned), (1, 0));
        // Idempotent: the same day is recomputed, not added again.
        t.db(|c| stats::rollup(c, None, 30)).unwrap();
        let rows: Vec<(i64, i64, i64)> = t
            .db(move |c| {
                Ok(c.query_all(
                    "SELECT download_sessions, authenticated_downloads, total_files \
                     FROM daily_repo_stats WHERE repo_id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?)
            })
            .unwrap();
        assert_eq!(rows, [(2, 1, 3)]);
        let again = t.db(move |c| stats::recent(c, id, 7)).unwrap();
        assert_eq!(again.len(), 7);
        assert_eq!(again.iter().map(|d| d.downloads).sum::<i64>(), 2);
        let totals = t.db(|c| stats::recent_totals(c, 7)).unwrap();
        assert_eq!(totals.get(&id), Some(&2));
    }
);

db_test!(
    async fn gc_dry_run(t) {
        let noop: kohaku::gc::Progress<'_> = &|_, _, _| {};
        let opts = kohaku::gc::Options {
            dry_run: true,
            repo: None,
            grace: std::time::Duration::ZERO,
        };
        let empty = kohaku::gc::run(&t.hub, &opts, noop).await.unwrap();
        assert!(empty.dry_run);
        let all = [
            &empty.lfs_old_versions,
            &empty.lfs_unreferenced,
            &empty.git_unreachable,
            &empty.abandoned_uploads,
            &empty.deleted_repos,
            &empty.xet_xorbs,
        ];
        assert!(all.iter().all(|f| f.objects == 0 && f.bytes == 0), "{empty:?}");
        // A deleted repo's objects would go; a dry run leaves them.
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        t.commit(&alice, &repo, "add", &[file("a", b"data")]).await;
        kohaku::repos::delete_repo(&t.hub, Some(&alice), repo.repo_type, "alice", "m")
            .await
            .unwrap();
        let report = kohaku::gc::run(&t.hub, &opts, noop).await.unwrap();
        assert!(report.deleted_repos.objects > 0, "{report:?}");
        let keys = t
            .hub
            .storage
            .list(&kohaku::storage::repo_prefix(repo.id))
            .await
            .unwrap();
        assert_eq!(keys.len() as u64, report.deleted_repos.objects);
    }
);
