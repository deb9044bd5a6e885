//! The module layers of `src/lib.rs`, checked from the sources: every `crate::…` reference in a
//! top-level module's files must point at a module of the same layer or one below, and the
//! references between modules must not form a circle. A new top-level module must be given a
//! layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first (the order `src/lib.rs` documents).
const LAYERS: &[&[&str]] = &[
    &["config", "next_path", "schema", "logging", "metrics"],
    &["oidc", "db", "tokens"],
    &["providers", "revocation"],
    &["error", "cookies", "templates"],
    &["services", "state"],
    &["auth", "http", "login_cookie"],
    &["routes"],
    &["startup"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
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

/// The top-level module a file belongs to: `src/db/users.rs` and `src/db/mod.rs` → `db`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next()?.as_os_str().to_str()?.trim_end_matches(".rs").to_owned();
    (!matches!(first.as_str(), "lib" | "main")).then_some(first)
}

/// The first path segment of every `crate::…` reference, `use crate::{a, b::c}` included.
fn referenced_modules(source: &str) -> BTreeSet<String> {
    let code: String = source.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else { continue };
        let source = std::fs::read_to_string(&file).unwrap();
        let targets = graph.entry(module.clone()).or_default();
        targets.extend(referenced_modules(&source).into_iter().filter(|m| *m != module));
    }
    graph
}

#[test]
fn every_module_imports_only_its_layer_or_below() {
    let graph = module_graph();
    let mut wrong = Vec::new();
    for (module, targets) in &graph {
        let Some(own) = layer_of(module) else {
            wrong.push(format!("{module} has no layer in tests/layers.rs"));
            continue;
        };
        for target in targets {
            match layer_of(target) {
                None => wrong.push(format!("{module} → {target}: {target} has no layer")),
                Some(theirs) if theirs > own => {
                    wrong.push(format!("{module} (layer {own}) → {target} (layer {theirs})"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = module_graph();
    // Depth-first search for a back edge; the path to it is the circle.
    fn visit<'g>(
        node: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut circle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", circle.join(" → "));
        }
    }
}

#[test]
fn references_are_read_from_grouped_and_inline_paths() {
    let found = referenced_modules(
        "use crate::{db::{self, PgPool}, error::AppError};\nlet x = crate::tokens::now(); // crate::routes\n",
    );
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["db", "error", "tokens"]);
}

#[test]
fn every_source_file_has_its_line_in_the_readme_layout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let missing: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(root).unwrap().display().to_string())
        .filter(|f| !readme.lines().any(|line| line.starts_with(&format!("{f} "))))
        .collect();
    assert!(missing.is_empty(), "README.md, Layout, has no line for: {missing:?}");
}
