//! The layering of src/ as ARCHITECTURE.md draws it: every `crate::<m>`
//! path a subsystem's code names (test modules aside) must be an arrow of
//! the "Allowed arrows" table, and every subsystem must have a row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// subsystem -> the subsystems it may call, from ARCHITECTURE.md.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("## Allowed arrows")
        .nth(1)
        .expect("ARCHITECTURE.md has an \"Allowed arrows\" section");
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split(',')
            .map(|c| c.trim().trim_matches('`').to_string())
            .filter(|c| !c.is_empty())
            .collect()
    };
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').collect();
            (cells[1].trim().trim_matches('`').to_string(), names(cells[2]))
        })
        .collect()
}

/// The text of a file without `#[cfg(test)]` items and comments.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            // Skip the next item: up to its matching closing brace, or a
            // one-line item ending in `;`.
            let mut depth = 0i32;
            for item in lines.by_ref() {
                depth += item.matches('{').count() as i32 - item.matches('}').count() as i32;
                if depth <= 0 && (item.contains('}') || item.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        let code = line.split("//").next().unwrap_or("");
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each `crate::<name>` named in `code`, and the `use crate::{a, b}` lists.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            for item in list.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.insert(name);
            }
        } else {
            found.insert(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

#[test]
fn every_import_is_an_allowed_arrow() {
    let allowed = allowed();
    assert!(allowed.len() > 10, "the table was not read: {allowed:?}");
    let mut broken = Vec::new();
    for entry in std::fs::read_dir(root().join("src")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let module = dir.file_name().unwrap().to_string_lossy().to_string();
        let Some(may) = allowed.get(&module) else {
            broken.push(format!(
                "src/{module}/ has no row in ARCHITECTURE.md's allowed arrows"
            ));
            continue;
        };
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        for file in files {
            let code = production_code(&std::fs::read_to_string(&file).unwrap());
            for target in named_modules(&code) {
                if target != module && !may.contains(&target) {
                    let at = file.strip_prefix(root()).unwrap().display().to_string();
                    broken.push(format!("{at} names crate::{target}, not an arrow of {module}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_scanner_sees_imports_and_skips_tests_and_comments() {
    let code = production_code(
        "use crate::map::{LatLng};\nuse crate::{engine, store::Log};\n// crate::api in a comment\n\
         #[cfg(test)]\nmod tests {\n    use crate::api::x;\n    fn f() { let _ = 1; }\n}\nfn g() { crate::wire::auth::Role::Operator; }\n",
    );
    let found: Vec<String> = named_modules(&code).into_iter().collect();
    assert_eq!(found, ["engine", "map", "store", "wire"]);
}
