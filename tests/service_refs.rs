//! Service tests (SQLite and PostgreSQL): refs by compare-and-swap, branches, tags, revision
//! resolution.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use kohaku::commits::branches;
use kohaku::repos::refs;
use kohaku::Error;

db_test!(
    async fn cas_moves_only_from_the_expected_target(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let id = repo.id;
        let first = t.db(move |c| refs::get_ref(c, id, refs::MAIN)).unwrap().unwrap();
        let second = t
            .commit(&alice, &repo, "two", &[common::file("a", b"1")])
            .await;
        let (f, s) = (first.clone(), second.clone());
        // Stale expectation: nothing moves.
        assert!(!t
            .db(move |c| refs::cas_ref(c, id, refs::MAIN, Some(&f), Some(&s)))
            .unwrap());
        let (f, s) = (first.clone(), second.clone());
        assert!(t
            .db(move |c| refs::cas_ref(c, id, refs::MAIN, Some(&s), Some(&f)))
            .unwrap());
        assert_eq!(
            t.db(move |c| refs::get_ref(c, id, refs::MAIN)).unwrap(),
            Some(first.clone())
        );
        // Create only if absent; delete only if equal.
        let f = first.clone();
        assert!(t
            .db(move |c| refs::cas_ref(c, id, "refs/heads/x", None, Some(&f)))
            .unwrap());
        let f = first.clone();
        assert!(!t
            .db(move |c| refs::cas_ref(c, id, "refs/heads/x", None, Some(&f)))
            .unwrap());
        let s = second.clone();
        assert!(!t
            .db(move |c| refs::cas_ref(c, id, "refs/heads/x", Some(&s), None))
            .unwrap());
        let f = first.clone();
        assert!(t
            .db(move |c| refs::cas_ref(c, id, "refs/heads/x", Some(&f), None))
            .unwrap());
        assert_eq!(t.db(move |c| refs::get_ref(c, id, "refs/heads/x")).unwrap(), None);
        // A deleted repository is "not found", not a failed swap.
        kohaku::repos::delete_repo(&t.hub, Some(&alice), repo.repo_type, "alice", "m")
            .await
            .unwrap();
        let err = t
            .db(move |c| refs::cas_ref(c, id, refs::MAIN, Some(&first), Some(&second)))
            .unwrap_err();
        assert!(matches!(err, kohaku::Error::RepoNotFound(_)));
    }
);

db_test!(
    async fn refs_cannot_nest_like_files_and_directories(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        branches::create_branch(&t.hub, &repo, "a", None).await.unwrap();
        let err = branches::create_branch(&t.hub, &repo, "a/b", None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
        branches::create_branch(&t.hub, &repo, "x/y", None).await.unwrap();
        let err = branches::create_branch(&t.hub, &repo, "x", None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
        let id = repo.id;
        assert_eq!(
            t.db(move |c| refs::dir_file_conflict(c, id, "refs/heads/a/c"))
                .unwrap()
                .as_deref(),
            Some("refs/heads/a")
        );
        // `x_y` is not under `x` (no LIKE wildcard surprises).
        assert_eq!(
            t.db(move |c| refs::dir_file_conflict(c, id, "refs/heads/x_"))
                .unwrap(),
            None
        );
    }
);

db_test!(
    async fn branches_create_and_delete(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let c1 = refs::resolve(&t.hub, &repo, "main").await.unwrap().commit;
        let c2 = t.commit(&alice, &repo, "two", &[common::file("a", b"1")]).await;
        let at = branches::create_branch(&t.hub, &repo, "dev", Some(&c1))
            .await
            .unwrap();
        assert_eq!(at, c1);
        let r = refs::resolve(&t.hub, &repo, "dev").await.unwrap();
        assert_eq!(r.commit, c1);
        assert_eq!(r.branch.as_deref(), Some("refs/heads/dev"));
        let head = branches::create_branch(&t.hub, &repo, "feature", None)
            .await
            .unwrap();
        assert_eq!(head, c2);
        let err = branches::create_branch(&t.hub, &repo, "dev", None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
        for bad in ["HEAD", "a..b", "-x", "refs/heads/x", "a b"] {
            assert!(
                branches::create_branch(&t.hub, &repo, bad, None).await.is_err(),
                "{bad}"
            );
        }
        let err = branches::create_branch(&t.hub, &repo, "z", Some("nope"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::RevisionNotFound(_)));
        branches::delete_branch(&t.hub, &repo, "dev").await.unwrap();
        let err = refs::resolve(&t.hub, &repo, "dev").await.unwrap_err();
        assert!(matches!(err, Error::RevisionNotFound(_)));
        let err = branches::delete_branch(&t.hub, &repo, "dev").await.unwrap_err();
        assert!(matches!(err, Error::RevisionNotFound(_)));
        let err = branches::delete_branch(&t.hub, &repo, "main").await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
        // A commit to the branch moves only that branch.
        let c3 = t
            .try_commit(&alice, &repo, "feature", "f", &[common::file("b", b"2")])
            .await
            .unwrap();
        assert_eq!(refs::resolve(&t.hub, &repo, "feature").await.unwrap().commit, c3);
        assert_eq!(refs::resolve(&t.hub, &repo, "main").await.unwrap().commit, c2);
    }
);

db_test!(
    async fn tags_lightweight_and_annotated(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let c1 = refs::resolve(&t.hub, &repo, "main").await.unwrap().commit;
        let (name, at) = branches::create_tag(&t.hub, &alice, &repo, "main", Some("v1"), None)
            .await
            .unwrap();
        assert_eq!((name.as_str(), at.as_str()), ("v1", c1.as_str()));
        branches::create_tag(&t.hub, &alice, &repo, "main", Some("v2"), Some("release"))
            .await
            .unwrap();
        let id = repo.id;
        let v1 = t.db(move |c| refs::get_ref(c, id, "refs/tags/v1")).unwrap().unwrap();
        let v2 = t.db(move |c| refs::get_ref(c, id, "refs/tags/v2")).unwrap().unwrap();
        assert_eq!(v1, c1);
        assert_ne!(v2, c1, "an annotated tag points at a tag object");
        // Both resolve to the commit, and are not branches.
        for tag in ["v1", "v2", "refs/tags/v2"] {
            let r = refs::resolve(&t.hub, &repo, tag).await.unwrap();
            assert_eq!(r.commit, c1, "{tag}");
            assert!(r.branch.is_none());
        }
        let err = branches::create_tag(&t.hub, &alice, &repo, "main", Some("v1"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
        let err = branches::create_tag(&t.hub, &alice, &repo, "nope", Some("v3"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::RevisionNotFound(_)));
        let err = branches::create_tag(&t.hub, &alice, &repo, "main", None, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)));
        // Tags are not writable.
        let err = t
            .try_commit(&alice, &repo, "v1", "x", &[common::file("a", b"1")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::RevisionNotFound(_)), "{err:?}");
        branches::delete_tag(&t.hub, &repo, "v1").await.unwrap();
        let err = branches::delete_tag(&t.hub, &repo, "v1").await.unwrap_err();
        assert!(matches!(err, Error::RevisionNotFound(_)));
    }
);

db_test!(
    async fn revisions_resolve_by_name_full_and_short_id(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let c2 = t.commit(&alice, &repo, "two", &[common::file("a", b"1")]).await;
        for rev in ["main", "HEAD", "refs/heads/main", c2.as_str(), &c2[..7], &c2[..12]] {
            let r = refs::resolve(&t.hub, &repo, rev).await.unwrap();
            assert_eq!(r.commit, c2, "{rev}");
        }
        assert_eq!(
            refs::resolve(&t.hub, &repo, "HEAD").await.unwrap().branch.as_deref(),
            Some(refs::MAIN)
        );
        assert!(refs::resolve(&t.hub, &repo, &c2[..7])
            .await
            .unwrap()
            .branch
            .is_none());
        // Six digits are too few; an unknown id is not found.
        for rev in [&c2[..6], "0000000000", "no-such-branch"] {
            let err = refs::resolve(&t.hub, &repo, rev).await.unwrap_err();
            assert!(matches!(err, Error::RevisionNotFound(_)), "{rev}: {err:?}");
        }
        // A blob id is not a commit.
        let id = repo.id;
        let blob = t
            .hub
            .objects
            .write(id, kohaku::git::Kind::Blob, b"1")
            .await
            .unwrap();
        assert!(refs::resolve_short_id(&t.hub, id, &blob[..10])
            .await
            .unwrap()
            .is_none());
    }
);
