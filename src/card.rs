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

/// Parse the front matter as the card data (a JSON object), or say why it is invalid.
pub fn card_data(readme: &str) -> Result<Option<Value>, String> {
    let Some(yaml) = front_matter(readme) else {
        return Ok(None);
    };
    if yaml.trim().is_empty() {
        return Ok(Some(Value::Object(Default::default())));
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

/// Check card metadata the way the Hub does for `POST /api/validate-yaml`.
pub fn validate(readme: &str) -> Validation {
    let mut v = Validation::default();
    match card_data(readme) {
        Err(e) => v.errors.push(e),
        Ok(Some(Value::Object(map))) => {
            if let Some(tags) = map.get("tags") {
                if !tags.is_array() && !tags.is_string() {
                    v.errors.push("\"tags\" must be a list of strings".into());
                }
            }
            if let Some(lic) = map.get("license") {
                if !lic.is_string() && !lic.is_array() {
                    v.errors.push("\"license\" must be a string".into());
                }
            }
        }
        Ok(_) => {}
    }
    v
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
}
