//! Service tests (SQLite and PostgreSQL): commits through the core commit path (what the
//! NDJSON commit endpoint runs), history and LFS references.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::{copy_file, deleted_file, deleted_folder, file, lfs_file};
use kohaku::accounts::TokenRole;
use kohaku::repos::refs;
use kohaku::Error;
use serde_json::json;

db_test!(
    async fn add_files_and_read_them_back(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let before = refs::resolve(&t.hub, &repo, "main").await.unwrap().commit;
        let id = t
            .commit(
                &alice,
                &repo,
                "add two",
                &[file("README.md", b"# hi\n"), file("dir/sub/a b.txt", b"hello")],
            )
            .await;
        assert_eq!(refs::resolve(&t.hub, &repo, "main").await.unwrap().commit, id);
        assert_eq!(
            t.files(&repo, "main").await,
            [".gitattributes", "README.md", "dir/sub/a b.txt"]
        );
        assert_eq!(t.read(&repo, "main", "dir/sub/a b.txt").await.unwrap(), b"hello");
        let c = t.hub.objects.commit(repo.id, &id).await.unwrap();
        assert_eq!(c.parents, std::slice::from_ref(&before));
        assert_eq!(c.author.name, "alice");
        assert!(c.message.starts_with("add two"));
        // History: newest first.
        let (items, more) = kohaku::history::list_commits(&t.hub, repo.id, &id, 0, 10)
            .await
            .unwrap();
        let listed: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(listed, [id.as_str(), before.as_str()]);
        assert!(!more);
        assert_eq!(
            kohaku::history::count_commits(&t.hub, repo.id, &id).await.unwrap(),
            2
        );
        // The old revision still has the old tree.
        assert_eq!(t.files(&repo, &before).await, [".gitattributes"]);
        // Overwriting a file changes it in place.
        t.commit(&alice, &repo, "edit", &[file("README.md", b"# bye\n")])
            .await;
        assert_eq!(t.read(&repo, "main", "README.md").await.unwrap(), b"# bye\n");
        assert_eq!(t.files(&repo, "main").await.len(), 3);
    }
);

db_test!(
    async fn delete_and_copy_files(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        t.commit(
            &alice,
            &repo,
            "add",
            &[file("a.txt", b"A"), file("keep/b.txt", b"B")],
        )
        .await;
        t.commit(
            &alice,
            &repo,
            "copy and delete",
            &[copy_file("a.txt", "copies/a2.txt"), deleted_file("keep/b.txt")],
        )
        .await;
        assert_eq!(
            t.files(&repo, "main").await,
            [".gitattributes", "a.txt", "copies/a2.txt"]
        );
        assert_eq!(t.read(&repo, "main", "copies/a2.txt").await.unwrap(), b"A");
        // Deleting what is not there changes nothing and says so.
        let head = refs::resolve(&t.hub, &repo, "main").await.unwrap().commit;
        let err = t
            .try_commit(&alice, &repo, "main", "gone", &[deleted_file("nope.txt")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)), "{err:?}");
        let err = t
            .try_commit(&alice, &repo, "main", "gone", &[copy_file("nope", "x")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)), "{err:?}");
        assert_eq!(refs::resolve(&t.hub, &repo, "main").await.unwrap().commit, head);
    }
);

db_test!(
    async fn folder_deletes(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        t.commit(
            &alice,
            &repo,
            "add",
            &[
                file("data/x/1.txt", b"1"),
                file("data/x/2.txt", b"2"),
                file("data/y.txt", b"y"),
                file("other/z.txt", b"z"),
            ],
        )
        .await;
        t.commit(&alice, &repo, "rm x", &[deleted_folder("data/x")])
            .await;
        assert_eq!(
            t.files(&repo, "main").await,
            [".gitattributes", "data/y.txt", "other/z.txt"]
        );
        // A `deletedFile` naming a folder deletes the folder, as on huggingface.co.
        t.commit(&alice, &repo, "rm other", &[deleted_file("other")])
            .await;
        assert_eq!(t.files(&repo, "main").await, [".gitattributes", "data/y.txt"]);
        let err = t
            .try_commit(&alice, &repo, "main", "rm", &[deleted_folder("nope")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::EntryNotFound(_)), "{err:?}");
    }
);

db_test!(
    async fn bad_commit_requests_are_refused(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        for (header, lines) in [
            (json!({"summary": ""}), vec![file("a", b"1")]),
            (json!({"summary": "x\u{0}y"}), vec![file("a", b"1")]),
            (json!({"summary": "ok", "parentCommit": "zz"}), vec![file("a", b"1")]),
            (json!({"summary": "ok"}), vec![file("../a", b"1")]),
            (json!({"summary": "ok"}), vec![file(".git/config", b"1")]),
            (
                json!({"summary": "ok"}),
                vec![json!({"key": "file", "value": {"path": "a", "content": "!!", "encoding": "base64"}})],
            ),
            (json!({"summary": "ok"}), vec![json!({"key": "bogus", "value": {}})]),
        ] {
            let err = t
                .try_commit_with(&alice, &repo, "main", header.clone(), &lines)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::BadRequest(_) | Error::Unprocessable(_)),
                "{header} {lines:?}: {err:?}"
            );
        }
        assert_eq!(t.files(&repo, "main").await, [".gitattributes"]);
        let err = t
            .try_commit(&alice, &repo, "no-branch", "x", &[file("a", b"1")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::RevisionNotFound(_)));
    }
);

db_test!(
    async fn parent_commit_must_be_the_head(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let c1 = refs::resolve(&t.hub, &repo, "main").await.unwrap().commit;
        let c2 = t
            .try_commit_with(
                &alice,
                &repo,
                "main",
                json!({"summary": "on c1", "parentCommit": c1}),
                &[file("a", b"1")],
            )
            .await
            .unwrap();
        let err = t
            .try_commit_with(
                &alice,
                &repo,
                "main",
                json!({"summary": "stale", "parentCommit": c1}),
                &[file("b", b"2")],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PreconditionFailed(_)), "{err:?}");
        assert_eq!(refs::resolve(&t.hub, &repo, "main").await.unwrap().commit, c2);
    }
);

db_test!(
    async fn commit_permissions(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let public = t.repo(&alice, "alice/pub").await;
        let private = t.private_repo(&alice, "alice/priv").await;
        let err = t
            .try_commit(&bob, &public, "main", "x", &[file("a", b"1")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let err = t
            .try_commit(&bob, &private, "main", "x", &[file("a", b"1")])
            .await
            .unwrap_err();
        assert!(matches!(err, kohaku::Error::RepoNotFound(_)));
        let (_, ro) = t.token_caller(&alice.user, TokenRole::Read);
        let err = t
            .try_commit(&ro, &public, "main", "x", &[file("a", b"1")])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
        let (_, rw) = t.token_caller(&alice.user, TokenRole::Write);
        t.try_commit(&rw, &private, "main", "x", &[file("a", b"1")])
            .await
            .unwrap();
    }
);

db_test!(
    async fn lfs_pointer_refused_unless_uploaded_and_usable(t) {
        let alice = t.user("alice");
        let bob = t.user("bob");
        let repo = t.repo(&alice, "alice/m").await;
        let bobs = t.repo(&bob, "bob/m").await;
        let missing = "a".repeat(64);
        let err = t
            .try_commit(&alice, &repo, "main", "lfs", &[lfs_file("w.bin", &missing, 5)])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        assert!(err.to_string().contains("has not been uploaded"), "{err}");
        // Bob's upload is not Alice's to reference.
        let data = b"bob's weights".to_vec();
        let oid = t.upload_lfs(bob.user.id, &data).await;
        let err = t
            .try_commit(&alice, &repo, "main", "lfs", &[lfs_file("w.bin", &oid, data.len() as u64)])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        // A regular file whose content is a pointer to it is refused the same way.
        let pointer = format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {}\n",
            data.len()
        );
        let err = t
            .try_commit(&alice, &repo, "main", "ptr", &[file("p.bin", pointer.as_bytes())])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        assert_eq!(t.files(&repo, "main").await, [".gitattributes"]);
        // The wrong size is refused too; bob himself may commit it.
        let err = t
            .try_commit(&bob, &bobs, "main", "lfs", &[lfs_file("w.bin", &oid, 3)])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        t.commit(&bob, &bobs, "lfs", &[lfs_file("w.bin", &oid, data.len() as u64)])
            .await;
        // Once it is in a public repo's history, Alice (who can read it) may reference it.
        t.commit(&alice, &repo, "lfs", &[lfs_file("w.bin", &oid, data.len() as u64)])
            .await;
    }
);

db_test!(
    async fn lfs_commits_write_pointers_history_and_attributes(t) {
        let alice = t.user("alice");
        let repo = t.repo(&alice, "alice/m").await;
        let data = vec![7u8; 3000];
        let oid = t.upload_lfs(alice.user.id, &data).await;
        // `.weird` is not an LFS suffix: the commit adds a .gitattributes line for it.
        let c = t
            .commit(&alice, &repo, "lfs", &[lfs_file("w/model.weird", &oid, 3000)])
            .await;
        let ptr = String::from_utf8(t.read(&repo, "main", "w/model.weird").await.unwrap()).unwrap();
        assert!(ptr.contains(&format!("oid sha256:{oid}")) && ptr.contains("size 3000"), "{ptr}");
        let attrs =
            String::from_utf8(t.read(&repo, "main", ".gitattributes").await.unwrap()).unwrap();
        assert!(attrs.contains("w/model.weird filter=lfs"), "{attrs}");
        let id = repo.id;
        let o = oid.clone();
        assert!(t.db(move |c| kohaku::lfs::repo_has_object(c, id, &o)).unwrap());
        // The same object again at another path: one object in the listing, newest path.
        t.commit(&alice, &repo, "again", &[lfs_file("copy.bin", &oid, 3000)])
            .await;
        let listed = t
            .db(move |c| kohaku::lfs::repo_files::list(c, id, 0, 10))
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].oid.as_str(), listed[0].size), (oid.as_str(), 3000));
        assert_eq!(listed[0].filename, "copy.bin");
        let first: i64 = {
            let cc = c.clone();
            t.db(move |conn| {
                Ok(conn.query_row(
                    "SELECT COUNT(*) FROM lfs_history WHERE repo_id = ?1 AND commit_id = ?2",
                    kohaku::params![id, cc],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
        };
        assert_eq!(first, 1);
        // Usage: regular files on main (pointers are not) plus each LFS object once.
        let (_, used) = t.db(move |c| kohaku::quota::repo_quota(c, id)).unwrap();
        assert_eq!(used, 3000 + attrs.len() as u64, "used {used}");
    }
);
