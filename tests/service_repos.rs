//! Service tests (SQLite and PostgreSQL): creating, finding, moving, deleting and listing
//! repositories.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use kohaku::accounts::{Caller, TokenRole};
use kohaku::names::RepoType;
use kohaku::orgs::Role;
use kohaku::repos::{self, refs, ListQuery, Lookup, SettingsUpdate, SortKey};
use kohaku::Error;

fn find(t: &common::TestHub, ns: &'static str, name: &'static str) -> Lookup {
    t.db(move |c| repos::find_repo(c, RepoType::Model, ns, name))
        .unwrap()
}

db_test!(
    async fn create_repo_writes_an_initial_commit(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        assert_eq!((repo.namespace.as_str(), repo.name.as_str()), ("alice", "m"));
        assert_eq!(repo.owner_id, alice.user.id);
        assert!(!repo.private);
        let id = repo.id;
        let main = t
            .db(move |c| refs::get_ref(c, id, refs::MAIN))
            .unwrap()
            .unwrap();
        let commit = t.hub.objects.commit(repo.id, &main).await.unwrap();
        assert!(commit.parents.is_empty());
        assert!(commit.message.starts_with("initial commit"));
        assert_eq!(t.files(&repo, "main").await, [".gitattributes"]);
        let attrs = String::from_utf8(t.read(&repo, "main", ".gitattributes").await.unwrap())
            .unwrap();
        assert!(attrs.contains("*.safetensors filter=lfs diff=lfs merge=lfs -text"), "{attrs}");
        // A Space starts with its card; an unknown SDK is refused before anything is created.
        let space = t
            .try_repo(&alice, "alice/s", RepoType::Space, false)
            .await
            .unwrap();
        assert_eq!(t.files(&space, "main").await, [".gitattributes", "README.md"]);
        let err = repos::create_repo(
            &t.hub,
            Some(&alice),
            repos::CreateRepo {
                repo_type: RepoType::Space,
                namespace: "alice".into(),
                name: "bad".into(),
                private: false,
                sdk: Some("cobol".into()),
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
    }
);

db_test!(
    async fn create_conflicts_name_the_existing_repo(t) {
        let alice = t.user("alice");
        t.repo(&alice, "alice/My_Model").await;
        for id in ["alice/My_Model", "ALICE/my_model", "alice/my-model"] {
            let err = t
                .try_repo(&alice, id, RepoType::Model, false)
                .await
                .unwrap_err();
            match err {
                Error::Conflict { url: Some(url), .. } => {
                    assert!(url.ends_with("/alice/My_Model"), "{id}: {url}")
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        // Same name, other type: no conflict.
        t.try_repo(&alice, "alice/My_Model", RepoType::Dataset, false)
            .await
            .unwrap();
        // The namespace takes its stored spelling.
        let r = t.repo(&alice, "ALICE/other").await;
        assert_eq!(r.namespace, "alice");
    }
);

db_test!(
    async fn who_may_create_where(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let carol = t.user("carol");
        let root = t.admin("boss");
        t.org(&alice, "acme");
        let a = alice.clone();
        t.db(move |c| kohaku::orgs::set_member(c, &a, "acme", "bob", Role::Member))
            .unwrap();
        let a = alice.clone();
        t.db(move |c| kohaku::orgs::set_member(c, &a, "acme", "carol", Role::Visitor))
            .unwrap();
        t.repo(&bob, "acme/by-member").await;
        t.repo(&root, "alice/by-admin").await;
        let err = t
            .try_repo(&carol, "acme/by-visitor", RepoType::Model, false)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let err = t
            .try_repo(&bob, "alice/not-mine", RepoType::Model, false)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let (_, ro) = t.token_caller(&alice.user, TokenRole::Read);
        let err = t
            .try_repo(&ro, "alice/read-only", RepoType::Model, false)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let err = t
            .try_repo(&root, "nobody/x", RepoType::Model, false)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        let err = repos::create_repo(
            &t.hub,
            None,
            repos::CreateRepo {
                repo_type: RepoType::Model,
                namespace: "alice".into(),
                name: "anon".into(),
                private: false,
                sdk: None,
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
        for bad in ["alice/..", "alice/a b", "alice/-x"] {
            assert!(
                t.try_repo(&alice, bad, RepoType::Model, false).await.is_err(),
                "{bad}"
            );
        }
    }
);

db_test!(
    async fn lookup_ignores_case(t) {
        let alice = t.user("Alice");
        let repo = t.repo(&alice, "Alice/Model").await;
        for (ns, name) in [("Alice", "Model"), ("alice", "model"), ("ALICE", "MODEL")] {
            match t
                .db(move |c| repos::find_repo(c, RepoType::Model, ns, name))
                .unwrap()
            {
                Lookup::Found(r) => {
                    assert_eq!(r.id, repo.id);
                    assert_eq!(r.full_id(), "Alice/Model");
                }
                other => panic!("{ns}/{name}: {other:?}"),
            }
        }
        assert!(matches!(find(&t, "alice", "other"), Lookup::Missing));
        assert!(matches!(
            t.db(|c| repos::find_repo(c, RepoType::Dataset, "alice", "model"))
                .unwrap(),
            Lookup::Missing
        ));
        let err = t
            .db(|c| repos::get_repo(c, RepoType::Model, "bob", "model"))
            .unwrap_err();
        assert!(matches!(err, kohaku::Error::RepoNotFound(_)));
    }
);

db_test!(
    async fn move_leaves_a_redirect(t) {
        let alice = t.user("alice");
        t.org(&alice, "acme");
        let repo = t.repo(&alice, "alice/old").await;
        let moved = repos::move_repo(&t.hub, Some(&alice), RepoType::Model, "alice/old", "acme/new")
            .await
            .unwrap();
        assert_eq!((moved.id, moved.full_id().as_str()), (repo.id, "acme/new"));
        assert!(matches!(find(&t, "acme", "new"), Lookup::Found(r) if r.id == repo.id));
        assert!(matches!(find(&t, "alice", "old"), Lookup::Moved(r) if r.id == repo.id));
        assert!(matches!(find(&t, "ALICE", "OLD"), Lookup::Moved(r) if r.id == repo.id));
        // get_repo follows the redirect silently.
        let r = t
            .db(|c| repos::get_repo(c, RepoType::Model, "alice", "old"))
            .unwrap();
        assert_eq!(r.full_id(), "acme/new");
        // A new repo at the old id takes its place (and the redirect goes).
        let fresh = t.repo(&alice, "alice/old").await;
        assert!(matches!(find(&t, "alice", "old"), Lookup::Found(r) if r.id == fresh.id));
        // Moving onto an existing repo is a conflict.
        let err = repos::move_repo(&t.hub, Some(&alice), RepoType::Model, "acme/new", "alice/old")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    }
);

db_test!(
    async fn move_and_delete_need_admin_rights(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        t.repo(&alice, "alice/m").await;
        let err = repos::move_repo(&t.hub, Some(&bob), RepoType::Model, "alice/m", "bob/m")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let err = repos::delete_repo(&t.hub, Some(&bob), RepoType::Model, "alice", "m")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        // Into a namespace alice may not create in.
        let err = repos::move_repo(&t.hub, Some(&alice), RepoType::Model, "alice/m", "bob/m")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        assert!(matches!(find(&t, "alice", "m"), Lookup::Found(_)));
        let err = repos::move_repo(&t.hub, Some(&alice), RepoType::Model, "alice/zz", "alice/y")
            .await
            .unwrap_err();
        assert!(matches!(err, kohaku::Error::RepoNotFound(_)));
    }
);

db_test!(
    async fn delete_removes_rows_and_leaves_storage_to_gc(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        t.commit(&alice, &repo, "add", &[common::file("a.txt", b"hi")])
            .await;
        repos::delete_repo(&t.hub, Some(&alice), RepoType::Model, "alice", "m")
            .await
            .unwrap();
        assert!(matches!(find(&t, "alice", "m"), Lookup::Missing));
        let id = repo.id;
        assert!(!t.db(move |c| repos::exists(c, id)).unwrap());
        assert!(t.db(move |c| refs::list_refs(c, id)).unwrap().is_empty());
        let pending: i64 = t
            .db(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM deleted_repos WHERE repo_id = ?1",
                    [id],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(pending, 1);
        // Objects stay until GC.
        let keys = t
            .hub
            .storage
            .list(&kohaku::storage::repo_prefix(id))
            .await
            .unwrap();
        assert!(!keys.is_empty());
        let err = repos::delete_repo(&t.hub, Some(&alice), RepoType::Model, "alice", "m")
            .await
            .unwrap_err();
        assert!(matches!(err, kohaku::Error::RepoNotFound(_)));
        // The id can be used again, with a new row (and a new storage prefix).
        let again = t.repo(&alice, "alice/m").await;
        assert!(again.id > repo.id);
    }
);

fn query(author: Option<&str>, sort: SortKey, desc: bool, offset: u64, limit: u64) -> ListQuery {
    ListQuery {
        repo_type: Some(RepoType::Model),
        author: author.map(str::to_string),
        search: vec![],
        sort,
        descending: desc,
        offset,
        limit,
    }
}

fn ids(rs: Vec<repos::Repo>) -> Vec<String> {
    rs.into_iter().map(|r| r.full_id()).collect()
}

db_test!(
    async fn list_filters_by_author_search_type_and_privacy(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        t.repo(&alice, "alice/bert-base").await;
        t.private_repo(&alice, "alice/secret-bert").await;
        t.repo(&bob, "bob/gpt").await;
        t.try_repo(&bob, "bob/bert-data", RepoType::Dataset, false)
            .await
            .unwrap();
        let list = |caller: Option<&Caller>, q: ListQuery| {
            let c = caller.cloned();
            ids(t.db(move |conn| repos::list_repos(conn, c.as_ref(), &q)).unwrap())
        };
        let all = query(None, SortKey::Id, false, 0, 100);
        assert_eq!(list(None, all.clone()), ["alice/bert-base", "bob/gpt"]);
        assert_eq!(
            list(Some(&alice), all.clone()),
            ["alice/bert-base", "alice/secret-bert", "bob/gpt"]
        );
        assert_eq!(list(Some(&bob), all.clone()), ["alice/bert-base", "bob/gpt"]);
        let by_author = query(Some("ALICE"), SortKey::Id, false, 0, 100);
        assert_eq!(list(None, by_author), ["alice/bert-base"]);
        let mut search = all.clone();
        search.search = vec!["BERT".into()];
        assert_eq!(
            list(Some(&alice), search.clone()),
            ["alice/bert-base", "alice/secret-bert"]
        );
        search.repo_type = Some(RepoType::Dataset);
        assert_eq!(list(Some(&alice), search), ["bob/bert-data"]);
        // LIKE wildcards in a search are literal.
        let mut wild = all;
        wild.search = vec!["%".into()];
        assert!(list(Some(&alice), wild).is_empty());
    }
);

db_test!(
    async fn list_sorts_and_pages(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let a = t.repo(&alice, "alice/a").await;
        let b = t.repo(&alice, "alice/b").await;
        t.repo(&alice, "alice/c").await;
        for (repo, user) in [(&b, &alice), (&b, &bob), (&a, &bob)] {
            let (r, u) = (repo.id, user.user.id);
            t.db(move |c| kohaku::likes::set_like(c, r, u, true)).unwrap();
        }
        let list = |q: ListQuery| ids(t.db(move |c| repos::list_repos(c, None, &q)).unwrap());
        assert_eq!(
            list(query(None, SortKey::Likes, true, 0, 10)),
            ["alice/b", "alice/a", "alice/c"]
        );
        assert_eq!(
            list(query(None, SortKey::Id, true, 0, 10)),
            ["alice/c", "alice/b", "alice/a"]
        );
        assert_eq!(list(query(None, SortKey::Id, false, 1, 1)), ["alice/b"]);
        assert_eq!(list(query(None, SortKey::Id, false, 2, 5)), ["alice/c"]);
        assert!(list(query(None, SortKey::Id, false, 3, 5)).is_empty());
        assert_eq!(
            list(query(None, SortKey::CreatedAt, false, 0, 10)),
            ["alice/a", "alice/b", "alice/c"]
        );
        assert!(SortKey::parse("bogus").is_err());
        assert_eq!(SortKey::parse("lastModified").unwrap(), SortKey::LastModified);
    }
);

db_test!(
    async fn settings_change_visibility_and_gating(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let repo = t.repo(&alice, "alice/m").await;
        let upd = SettingsUpdate {
            private: Some(true),
            gated: Some(Some("auto".into())),
        };
        repos::update_settings(&t.hub, Some(&alice), &repo, upd)
            .await
            .unwrap();
        let now = t.reload(&repo);
        assert!(now.private);
        assert_eq!(now.gated.as_deref(), Some("auto"));
        let bad = SettingsUpdate {
            private: None,
            gated: Some(Some("sometimes".into())),
        };
        let err = repos::update_settings(&t.hub, Some(&alice), &now, bad)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)));
        // Bob cannot see it any more, so it is "not found" for him.
        let err = repos::update_settings(&t.hub, Some(&bob), &now, SettingsUpdate::default())
            .await
            .unwrap_err();
        assert!(matches!(err, kohaku::Error::RepoNotFound(_)));
        let clear = SettingsUpdate {
            private: Some(false),
            gated: Some(None),
        };
        repos::update_settings(&t.hub, Some(&alice), &now, clear)
            .await
            .unwrap();
        let now = t.reload(&repo);
        assert!(!now.private && now.gated.is_none());
    }
);
