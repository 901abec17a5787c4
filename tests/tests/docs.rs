//! The documentation stands on its own: every relative link in the repository's markdown points
//! at a file that exists, and nothing in the repository points outside it.
//!
//! * `docs_links_resolve` walks every `*.md` file under the repository root (skipping `target/`
//!   and `.git/`), extracts the inline links `[text](path)` and `[text](path#anchor)` outside
//!   code, and checks that each relative target exists next to the markdown file (a leading `/`
//!   means the repository root). Web links (`http://`, `https://`, any other scheme), `mailto:`
//!   and pure `#anchor` links are not checked. Anchors are not checked either.
//! * `no_links_outside_the_repository` reads every tracked text file (`*.md`, `*.rs`, `*.toml`,
//!   `*.yaml`, `*.yml`, and `.ci/run`) and fails on a reference to the sibling `shared` folder of
//!   a development checkout, or on a link whose target resolves outside the repository root.
//! * `architecture_crate_graph_matches_the_manifests` reads the crate table of
//!   `ARCHITECTURE.md` (crate, folder, the Floe crates it depends on) and checks it against each
//!   crate's `Cargo.toml` (`[dependencies]`, not dev-dependencies), that every workspace member
//!   has a row, and that the graph has no cycle.
//!
//! The root is the parent of this crate's manifest directory, read from `CARGO_MANIFEST_DIR` at
//! run time (the build directory may be shared between several clones), falling back to the
//! value at compile time. The tests use only `std`, so they can also be built with plain
//! `rustc --test`.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Fewest links `docs_links_resolve` must check: a walk that finds nothing must not pass.
const MIN_LINKS: usize = 20;

/// Directories never walked.
const SKIPPED_DIRS: [&str; 2] = ["target", ".git"];

/// A reference to the development checkout's sibling folder, split so that this file does not
/// contain it.
const OUTSIDE_FOLDER: &str = concat!("..", "/shared");

/// The repository root.
fn repo_root() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .ok()
        .or_else(|| option_env!("CARGO_MANIFEST_DIR").map(str::to_owned))
        .expect("CARGO_MANIFEST_DIR is set (by cargo, or by hand for a plain rustc build)");
    let root = Path::new(&manifest).join("..");
    root.canonicalize()
        .unwrap_or_else(|e| panic!("repository root {}: {e}", root.display()))
}

/// Every file under `dir` (recursively, skipping [`SKIPPED_DIRS`]), sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        let path = entry.path();
        let kind = entry
            .file_type()
            .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
        if kind.is_dir() {
            let name = entry.file_name();
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                walk(&path, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

/// Every file of the repository: the files git tracks, or, without git (an exported source
/// tree), every file under the root.
fn repo_files(root: &Path) -> Vec<PathBuf> {
    let tracked = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty());
    let mut files: Vec<PathBuf> = match tracked {
        Some(out) => String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(|p| root.join(p))
            .filter(|p| p.is_file())
            .collect(),
        None => {
            let mut all = Vec::new();
            walk(root, &mut all);
            all
        }
    };
    files.sort();
    files
}

/// The markdown files under the root.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(root, &mut all);
    all.retain(|p| p.extension().is_some_and(|e| e == "md"));
    all.sort();
    all
}

/// A link found in a file.
struct Link {
    /// 1-based line number.
    line: usize,
    /// The target as written, anchor included.
    target: String,
}

/// Removes inline code spans (`` `…` ``, any number of backticks) from a line.
fn strip_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|&c| c == '`').count();
        let fence = &rest[start..start + ticks];
        let after = &rest[start + ticks..];
        match after.find(fence) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                // An unmatched backtick is literal text.
                out.push_str(fence);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of the inline links `[text](target)` in `text`, skipping fenced code blocks and
/// code spans when `markdown` is set.
fn links(text: &str, markdown: bool) -> Vec<Link> {
    let mut found = Vec::new();
    let mut fence: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = if markdown {
            let trimmed = raw.trim_start();
            let first = trimmed.chars().next().filter(|&c| c == '`' || c == '~');
            let marker: String = match first {
                Some(f) => trimmed.chars().take_while(|&c| c == f).collect(),
                None => String::new(),
            };
            if marker.len() >= 3 {
                match &fence {
                    None => fence = Some(marker),
                    Some(open) if marker.starts_with(open.as_str()) => fence = None,
                    Some(_) => {}
                }
                continue;
            }
            if fence.is_some() {
                continue;
            }
            strip_code_spans(raw)
        } else {
            raw.to_owned()
        };
        let mut rest = line.as_str();
        while let Some(pos) = rest.find("](") {
            let after = &rest[pos + 2..];
            let Some(end) = after.find(')') else { break };
            let mut target = after[..end].trim();
            // `<path with spaces>` and `path "title"`.
            if let Some(inner) = target.strip_prefix('<').and_then(|t| t.split('>').next()) {
                target = inner;
            } else if let Some((path, _title)) = target.split_once(' ') {
                target = path;
            }
            if !target.is_empty() {
                found.push(Link {
                    line: i + 1,
                    target: target.to_owned(),
                });
            }
            rest = &after[end + 1..];
        }
    }
    found
}

/// Whether a target is a web address, a mail address or another scheme (`ftp:`, `data:`, …).
fn has_scheme(target: &str) -> bool {
    match target.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// The file part of a relative link (anchor and query removed, `%20` decoded), or `None` for
/// links that are not checked (web, mail, other schemes, pure anchors).
fn relative_path(target: &str) -> Option<String> {
    if has_scheme(target) || target.starts_with('#') {
        return None;
    }
    let path = target.split(['#', '?']).next().unwrap_or("");
    if path.is_empty() {
        return None;
    }
    Some(path.replace("%20", " "))
}

/// Where a link in `file` points: relative to the file's directory, or to `root` for a leading
/// `/`. Normalised lexically (`.` and `..` resolved without touching the file system).
fn resolve(root: &Path, file: &Path, path: &str) -> PathBuf {
    let base = match path.strip_prefix('/') {
        Some(p) => root.join(p),
        None => file.parent().unwrap_or(root).join(path),
    };
    let mut out = PathBuf::new();
    for part in base.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to `root`, for messages.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn docs_links_resolve() {
    let root = repo_root();
    let files = markdown_files(&root);
    assert!(
        !files.is_empty(),
        "no markdown files found under {}",
        root.display()
    );
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in &files {
        let text =
            fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        for link in links(&text, true) {
            let Some(path) = relative_path(&link.target) else {
                continue;
            };
            checked += 1;
            let target = resolve(&root, file, &path);
            if !target.exists() {
                broken.push(format!(
                    "{}:{}: ({}) -> {} does not exist",
                    shown(&root, file),
                    link.line,
                    link.target,
                    shown(&root, &target)
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "{} broken link(s) in the markdown:\n{}",
        broken.len(),
        broken.join("\n")
    );
    assert!(
        checked >= MIN_LINKS,
        "only {checked} relative links checked in {} markdown files; expected at least \
         {MIN_LINKS} (is the repository root {} right?)",
        files.len(),
        root.display()
    );
}

#[test]
fn no_links_outside_the_repository() {
    let root = repo_root();
    let files: Vec<PathBuf> = repo_files(&root)
        .into_iter()
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            matches!(ext, "md" | "rs" | "toml" | "yaml" | "yml") || p.ends_with(".ci/run")
        })
        .collect();
    assert!(
        files.iter().any(|p| p.ends_with("README.md")),
        "README.md not among the {} files found under {}",
        files.len(),
        root.display()
    );
    let mut outside = Vec::new();
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else {
            continue; // not UTF-8 text
        };
        for (i, line) in text.lines().enumerate() {
            if line.contains(OUTSIDE_FOLDER) {
                outside.push(format!(
                    "{}:{}: refers to {OUTSIDE_FOLDER}, outside the repository",
                    shown(&root, file),
                    i + 1
                ));
            }
        }
        let markdown = file.extension().is_some_and(|e| e == "md");
        for link in links(&text, markdown) {
            let Some(path) = relative_path(&link.target) else {
                continue;
            };
            let target = resolve(&root, file, &path);
            if !target.starts_with(&root) {
                outside.push(format!(
                    "{}:{}: ({}) resolves to {}, outside the repository",
                    shown(&root, file),
                    link.line,
                    link.target,
                    target.display()
                ));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "{} reference(s) outside the repository:\n{}",
        outside.len(),
        outside.join("\n")
    );
}

/// The Floe crates a manifest's `[dependencies]` (and target-specific dependencies) name;
/// dev-dependencies are left out, as `cargo tree -e normal` leaves them out.
fn manifest_floe_deps(manifest: &str) -> Vec<String> {
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]"
                || (line.starts_with("[target.") && line.ends_with(".dependencies]"));
            continue;
        }
        if in_deps && line.starts_with("floe-") {
            let name = line.split(['.', ' ', '=']).next().unwrap_or_default();
            deps.push(name.to_owned());
        }
    }
    deps.sort();
    deps.dedup();
    deps
}

/// ARCHITECTURE.md's crate table says, per crate, its folder and the Floe crates it depends on.
/// It must match every manifest, list every workspace crate, and the graph must be one-way.
#[test]
fn architecture_crate_graph_matches_the_manifests() {
    let root = repo_root();
    let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut graph: Vec<(String, Vec<String>)> = Vec::new();
    let mut mismatches = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `floe-x` | `folder/` | deps | what |
        if cells.len() < 5 || !cells[1].starts_with("`floe-") || !cells[2].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_owned();
        let folder = cells[2].trim_matches('`');
        let listed: Vec<String> = {
            let mut v: Vec<String> = cells[3]
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty() && *d != "—")
                .map(|d| format!("floe-{d}"))
                .collect();
            v.sort();
            v
        };
        let manifest = fs::read_to_string(root.join(folder).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{name}: no manifest in {folder}: {e}"));
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{folder}/Cargo.toml is not {name}"
        );
        let actual = manifest_floe_deps(&manifest);
        if actual != listed {
            mismatches.push(format!(
                "{name}: ARCHITECTURE.md says {listed:?}, Cargo.toml has {actual:?}"
            ));
        }
        graph.push((name, actual));
    }
    assert!(
        mismatches.is_empty(),
        "crate graph out of date:\n{}",
        mismatches.join("\n")
    );

    // Every workspace member is in the table.
    let workspace = fs::read_to_string(root.join("Cargo.toml")).expect("workspace manifest");
    let members = workspace
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("workspace members");
    let count = members.matches('"').count() / 2;
    assert_eq!(graph.len(), count, "every workspace crate has a row");

    // One-way: repeatedly remove crates whose dependencies are all removed.
    let mut left = graph.clone();
    while !left.is_empty() {
        let names: Vec<String> = left.iter().map(|(n, _)| n.clone()).collect();
        let before = left.len();
        left.retain(|(_, deps)| deps.iter().any(|d| names.contains(d)));
        assert!(left.len() < before, "dependency cycle among {names:?}");
    }
}
