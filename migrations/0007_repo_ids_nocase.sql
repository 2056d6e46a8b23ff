-- Repository ids are case-insensitive (as on huggingface.co): lookups compare lower-cased
-- namespace and name, which these indexes serve (repos' normalised names already keep two
-- spellings of one id from existing).
CREATE INDEX repos_id_nocase ON repos (repo_type, lower(namespace), lower(name));
CREATE INDEX repo_redirects_id_nocase ON repo_redirects (repo_type, lower(namespace), lower(name));
