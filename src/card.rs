//! Repository cards: the YAML front matter of `README.md`.

use serde_json::Value;

/// Split `---\n yaml \n---` front matter from a README; `None` when there is none.
pub fn front_matter(readme: &str) -> Option<&str> {
    let rest = readme.strip_prefix("\u{feff}").unwrap_or(readme);
    let rest = rest
        .strip_prefix("---\n")
        .or_else(|| rest.strip_prefix("---\r\n"))?;
    let end = rest
        .find("\n---")
        .map(|i| i + 1)
        .or_else(|| rest.starts_with("---").then_some(0))?;
    Some(&rest[..end])
}

/// Problems found in a README's metadata.
#[derive(Debug, Default)]
pub struct Validation {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Largest front matter parsed (model-index tables of big cards stay far below).
pub const MAX_FRONT_MATTER: usize = 1 << 20;

/// Most errors one validation reports.
const MAX_ERRORS: usize = 50;

/// Does the YAML use an alias (`*name` where a node starts)? Card metadata never needs one, and
/// aliases of aliases let a few kilobytes expand into billions of values while parsing. Quoted
/// strings, comments and block scalars (`key: |`) are text; a `*` anywhere a YAML parser could
/// read it as an alias counts (when unsure, it counts: the card is refused, not parsed).
pub fn uses_aliases(yaml: &str) -> bool {
    let mut block: Option<usize> = None;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some(b) = block {
            if trimmed.is_empty() || indent > b {
                continue;
            }
            block = None;
        }
        let (alias, code_end) = scan_line(line);
        if alias {
            return true;
        }
        // A block scalar starts (`key: |`, `- >-`, `|2`): its more indented lines are text.
        let code = line[..code_end].trim_end();
        let last = code.rsplit([' ', '\t']).next().unwrap_or("");
        let is_indicator = !last.is_empty()
            && (last.starts_with('|') || last.starts_with('>'))
            && last[1..]
                .chars()
                .all(|c| c == '-' || c == '+' || c.is_ascii_digit());
        if is_indicator && (code == last || code.len() > last.len()) {
            block = Some(indent);
        }
    }
    false
}

/// One line: whether an alias starts a node on it, and where its comment (if any) begins.
fn scan_line(line: &str) -> (bool, usize) {
    let b = line.as_bytes();
    let mut i = 0;
    let mut node_start = true;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' => {}
            b'#' if i == 0 || matches!(b[i - 1], b' ' | b'\t') => return (false, i),
            b'*' if node_start => return (true, i),
            b'"' | b'\'' if node_start => {
                // A quoted scalar: skip to its end on this line.
                i += 1;
                while i < b.len() {
                    if c == b'"' && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == c {
                        if c == b'\'' && b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                node_start = false;
            }
            b'-' | b'?' | b':' if b.get(i + 1).is_none_or(|n| matches!(n, b' ' | b'\t')) => {
                node_start = true;
            }
            b'[' | b'{' | b',' => node_start = true,
            b'!' | b'&' if node_start => {
                // A tag or an anchor: the node itself comes after it.
                while i < b.len() && !matches!(b[i], b' ' | b'\t') {
                    i += 1;
                }
                continue;
            }
            _ => node_start = false,
        }
        i += 1;
    }
    (false, b.len())
}

/// Parse the front matter as the card data (a JSON object), or say why it is invalid.
pub fn card_data(readme: &str) -> Result<Option<Value>, String> {
    let Some(yaml) = front_matter(readme) else {
        return Ok(None);
    };
    if yaml.trim().is_empty() {
        return Ok(Some(Value::Object(Default::default())));
    }
    if yaml.len() > MAX_FRONT_MATTER {
        return Err(format!(
            "README front matter is larger than {MAX_FRONT_MATTER} bytes"
        ));
    }
    if uses_aliases(yaml) {
        return Err(
            "README front matter uses YAML aliases (*name), which cards do not need".into(),
        );
    }
    let v: serde_yaml::Value = serde_yaml::from_str(yaml)
        .map_err(|e| format!("Invalid YAML in README front matter: {e}"))?;
    let json = serde_json::to_value(&v)
        .map_err(|e| format!("Unsupported YAML in README front matter: {e}"))?;
    match json {
        Value::Object(_) => Ok(Some(json)),
        Value::Null => Ok(Some(Value::Object(Default::default()))),
        _ => Err("README front matter must be a YAML mapping".into()),
    }
}

/// License identifiers huggingface.co accepts in card metadata
/// (https://huggingface.co/docs/hub/repositories-licenses).
#[rustfmt::skip]
pub const LICENSES: &[&str] = &[
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0",
    "bsd", "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0",
    "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0",
    "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0",
    "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0",
    "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl",
    "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "h-research",
    "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl", "apple-amlr", "mpl-2.0", "odc-by",
    "odbl", "openmdw-1.0", "openmdw-1.1", "openrail++", "osl-3.0", "postgresql", "ofl-1.1",
    "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license",
    "fair-noncommercial-research-license", "llama2", "llama3", "llama3.1", "llama3.2",
    "llama3.3", "llama4", "grok2-community", "gemma", "unknown", "other",
];

/// Space SDKs (`sdk:`), as huggingface_hub's `SPACES_SDK_TYPES`.
pub const SPACE_SDKS: &[&str] = &["gradio", "streamlit", "docker", "static"];

/// Colours a Space's `colorFrom` / `colorTo` may take.
#[rustfmt::skip]
const SPACE_COLORS: &[&str] = &[
    "red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray",
];

/// Keys whose value is a string.
#[rustfmt::skip]
const STRING_KEYS: &[&str] = &[
    "license_name", "license_link", "library_name", "pipeline_tag", "pretty_name", "thumbnail",
    "new_version", "title", "emoji", "sdk_version", "python_version", "app_file",
    "short_description",
];

/// Keys whose value is a string or a list of strings.
#[rustfmt::skip]
const STRING_LIST_KEYS: &[&str] = &[
    "language", "tags", "datasets", "metrics", "base_model", "models", "task_categories",
    "task_ids", "size_categories", "annotations_creators", "language_creators",
    "multilinguality", "source_datasets", "paperswithcode_id",
];

/// Keys whose value is a boolean.
const BOOL_KEYS: &[&str] = &["pinned", "disable_embedding", "fullWidth"];

/// The warning huggingface.co gives for a card without metadata.
pub const NO_METADATA: &str = "Empty or missing yaml metadata in repo card \
     (https://huggingface.co/docs/hub/model-cards#model-card-metadata)";

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn is_string_list(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(a) => a.iter().all(Value::is_string),
        _ => false,
    }
}

/// Check card metadata the way huggingface.co does for `POST /api/validate-yaml`: YAML that
/// parses to a mapping, known licenses, the types of the known keys, the `model-index`
/// structure. A card without metadata is only warned about.
pub fn validate(readme: &str) -> Validation {
    let mut v = Validation::default();
    let map = match card_data(readme) {
        Err(e) => {
            v.errors.push(e);
            return v;
        }
        Ok(Some(Value::Object(map))) if !map.is_empty() => map,
        Ok(_) => {
            v.warnings.push(NO_METADATA.into());
            return v;
        }
    };
    for (key, value) in &map {
        if value.is_null() {
            continue;
        }
        let k = key.as_str();
        if STRING_KEYS.contains(&k) && !value.is_string() {
            v.errors.push(format!(
                "\"{k}\" must be a string, not {}",
                type_name(value)
            ));
        } else if STRING_LIST_KEYS.contains(&k) && !is_string_list(value) {
            v.errors.push(format!(
                "\"{k}\" must be a string or a list of strings, not {}",
                type_name(value)
            ));
        } else if BOOL_KEYS.contains(&k) && !value.is_boolean() {
            v.errors.push(format!(
                "\"{k}\" must be a boolean, not {}",
                type_name(value)
            ));
        }
    }
    if let Some(lic) = map.get("license").filter(|l| !l.is_null()) {
        check_license(lic, &mut v.errors);
        if lic.as_str() == Some("other") && map.get("license_name").is_none() {
            v.warnings.push(
                "\"license: other\" should come with a \"license_name\" (and a LICENSE file or \"license_link\")"
                    .into(),
            );
        }
    }
    if let Some(sdk) = map.get("sdk").filter(|s| !s.is_null()) {
        if !sdk.as_str().is_some_and(|s| SPACE_SDKS.contains(&s)) {
            v.errors
                .push(format!("\"sdk\" must be one of {}", SPACE_SDKS.join(", ")));
        }
    }
    for key in ["colorFrom", "colorTo"] {
        if let Some(c) = map.get(key).filter(|c| !c.is_null()) {
            if !c.as_str().is_some_and(|c| SPACE_COLORS.contains(&c)) {
                v.errors.push(format!(
                    "\"{key}\" must be one of {}",
                    SPACE_COLORS.join(", ")
                ));
            }
        }
    }
    if let Some(p) = map.get("app_port").filter(|p| !p.is_null()) {
        if !p.as_u64().is_some_and(|p| (1..=65535).contains(&p)) {
            v.errors
                .push("\"app_port\" must be a port number (1 to 65535)".into());
        }
    }
    if let Some(mi) = map.get("model-index").filter(|m| !m.is_null()) {
        check_model_index(mi, &mut v.errors);
    }
    // Bounded whatever the card holds: a few errors of readable length.
    let more = v.errors.len().saturating_sub(MAX_ERRORS);
    v.errors.truncate(MAX_ERRORS);
    for e in &mut v.errors {
        if e.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|i| e.is_char_boundary(*i))
                .unwrap_or(0);
            e.truncate(cut);
            e.push('…');
        }
    }
    if more > 0 {
        v.errors.push(format!("… and {more} more errors"));
    }
    v
}

fn check_license(lic: &Value, errors: &mut Vec<String>) {
    let known = |s: &str| LICENSES.contains(&s);
    let bad: Vec<String> = match lic {
        Value::String(s) if known(s) => vec![],
        Value::String(s) => vec![s.clone()],
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .filter(|l| !l.as_str().is_some_and(known))
            .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_string))
            .collect(),
        other => {
            errors.push(format!(
                "\"license\" must be a license identifier (or a list of them), not {}",
                type_name(other)
            ));
            return;
        }
    };
    for l in bad {
        errors.push(format!(
            "\"license\" must be one of the identifiers listed at \
             https://huggingface.co/docs/hub/repositories-licenses (got \"{l}\"); \
             use \"other\" with \"license_name\" for any other license"
        ));
    }
}

/// `model-index`: a list of `{name, results: [{task: {type}, dataset: {type, name},
/// metrics: [{type, value}]}]}`, as the Hub's evaluation results widget reads it.
fn check_model_index(mi: &Value, errors: &mut Vec<String>) {
    let Value::Array(models) = mi else {
        errors.push(format!(
            "\"model-index\" must be a list of models, not {}",
            type_name(mi)
        ));
        return;
    };
    let need_str =
        |obj: &serde_json::Map<String, Value>, key: &str, at: &str, errors: &mut Vec<String>| {
            match obj.get(key) {
                Some(Value::String(_)) => {}
                None | Some(Value::Null) => errors.push(format!("\"{at}.{key}\" is required")),
                Some(other) => errors.push(format!(
                    "\"{at}.{key}\" must be a string, not {}",
                    type_name(other)
                )),
            }
        };
    for (i, m) in models.iter().enumerate() {
        let at = format!("model-index[{i}]");
        let Value::Object(m) = m else {
            errors.push(format!("\"{at}\" must be a mapping, not {}", type_name(m)));
            continue;
        };
        need_str(m, "name", &at, errors);
        let Some(Value::Array(results)) = m.get("results") else {
            errors.push(format!("\"{at}.results\" must be a list of results"));
            continue;
        };
        for (j, r) in results.iter().enumerate() {
            let at = format!("{at}.results[{j}]");
            let Value::Object(r) = r else {
                errors.push(format!("\"{at}\" must be a mapping, not {}", type_name(r)));
                continue;
            };
            match r.get("task") {
                Some(Value::Object(t)) => need_str(t, "type", &format!("{at}.task"), errors),
                _ => errors.push(format!("\"{at}.task\" must be a mapping with a \"type\"")),
            }
            match r.get("dataset") {
                Some(Value::Object(d)) => {
                    need_str(d, "type", &format!("{at}.dataset"), errors);
                    need_str(d, "name", &format!("{at}.dataset"), errors);
                }
                _ => errors.push(format!(
                    "\"{at}.dataset\" must be a mapping with a \"type\" and a \"name\""
                )),
            }
            match r.get("metrics") {
                Some(Value::Array(ms)) if !ms.is_empty() => {
                    for (k, metric) in ms.iter().enumerate() {
                        let at = format!("{at}.metrics[{k}]");
                        let Value::Object(metric) = metric else {
                            errors.push(format!(
                                "\"{at}\" must be a mapping, not {}",
                                type_name(metric)
                            ));
                            continue;
                        };
                        need_str(metric, "type", &at, errors);
                        if metric.get("value").is_none_or(Value::is_null) {
                            errors.push(format!("\"{at}.value\" is required"));
                        }
                    }
                }
                _ => errors.push(format!("\"{at}.metrics\" must be a non-empty list")),
            }
        }
    }
}

/// Tags the repo info shows: the card's `tags`, plus `license:X` and the library name.
pub fn tags(card: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(Value::Object(m)) = card else {
        return out;
    };
    if let Some(lib) = m.get("library_name").and_then(Value::as_str) {
        out.push(lib.to_string());
    }
    match m.get("tags") {
        Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_string)),
        Some(Value::String(s)) => out.push(s.clone()),
        _ => {}
    }
    if let Some(l) = m.get("license").and_then(Value::as_str) {
        out.push(format!("license:{l}"));
    }
    out
}

#[cfg(test)]
mod alias_tests {
    use super::uses_aliases;

    #[test]
    fn aliases_are_found_where_yaml_reads_them() {
        for bomb in [
            "a: &a [x, y]\nb: [*a, *a]\n",
            "a: &a x\nb: *a\n",
            "- *a\n",
            "a:\n  - !!str *a\n",
            "a: {k: *a}\n",
            "a: [1, *a]\n",
            "*a : 1\n",
        ] {
            assert!(uses_aliases(bomb), "{bomb}");
        }
        for fine in [
            "license: mit\ntags:\n- text\n",
            "description: see *this* here\n",
            "title: \"*quoted*\"\n",
            "title: '*quoted* and it''s fine'\n",
            "x: 1 # a *comment*\n",
            "description: |\n  * a markdown list\n  * in a block scalar\nlicense: mit\n",
            "description: >-\n  * folded\n",
            "widget:\n- text: \"Paris is the *capital*\"\n",
            "a: b*c\n",
            "anchor: &only x\n",
        ] {
            assert!(!uses_aliases(fine), "{fine}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_front_matter() {
        let r = "---\nlicense: mit\ntags:\n- a\n---\n# Title\n";
        let c = card_data(r).unwrap().unwrap();
        assert_eq!(c["license"], "mit");
        assert_eq!(tags(Some(&c)), vec!["a", "license:mit"]);
        assert!(card_data("# no card").unwrap().is_none());
        assert!(!validate("---\nfoo: [unclosed\n---\n").errors.is_empty());
        assert!(!validate("---\ntags: 3\n---\n").errors.is_empty());
        assert!(validate("---\ntags: [x]\n---\n").errors.is_empty());
    }

    #[test]
    fn validates_like_the_hub() {
        let ok = |y: &str| {
            let v = validate(&format!("---\n{y}\n---\n# card\n"));
            assert!(v.errors.is_empty(), "{y}: {:?}", v.errors);
            v
        };
        let bad = |y: &str| {
            let v = validate(&format!("---\n{y}\n---\n"));
            assert!(!v.errors.is_empty(), "{y} passed");
            v.errors.join("; ")
        };
        ok("license: apache-2.0\nlanguage: [en, fr]\nlibrary_name: transformers");
        ok("license: [mit, cc-by-4.0]\ndatasets: squad");
        assert!(!ok("license: other").warnings.is_empty());
        ok("license: other\nlicense_name: mine\nlicense_link: LICENSE");
        ok("sdk: gradio\ncolorFrom: blue\ncolorTo: pink\npinned: false\napp_port: 7860");
        ok("model-index:\n- name: m\n  results:\n  - task: {type: text-classification}\n    dataset: {type: glue, name: GLUE}\n    metrics:\n    - {type: accuracy, value: 0.9}");
        assert!(bad("license: asdf").contains("asdf"));
        assert!(bad("license: [mit, nope]").contains("nope"));
        assert!(bad("license: 3").contains("license"));
        assert!(bad("model-index: foo").contains("model-index"));
        assert!(bad("model-index:\n- results: []").contains("model-index[0].name"));
        assert!(bad("model-index:\n- name: m\n  results:\n  - task: {}\n    dataset: {type: x}\n    metrics: []")
            .contains("results[0].task.type"));
        assert!(bad("language: {en: 1}").contains("language"));
        assert!(bad("library_name: [a]").contains("library_name"));
        assert!(bad("pinned: maybe").contains("pinned"));
        assert!(bad("sdk: php").contains("sdk"));
        assert!(bad("colorFrom: mauve").contains("colorFrom"));
        for empty in ["# no card\n", "---\n---\n# x\n", ""] {
            let v = validate(empty);
            assert!(v.errors.is_empty() && v.warnings == vec![NO_METADATA.to_string()]);
        }
    }
}
