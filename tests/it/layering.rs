//! The crate's layering, as `src/lib.rs` states it, held against the code.
//!
//! `src/lib.rs` lists, for each top-level module, the modules it may import from the
//! crate. This test reads that list and every `crate::`, `super::`, `self::` and
//! child-module path in `src/` (use trees and paths inside code alike; comments and
//! string literals are skipped), and fails
//! - when a module imports one its line does not allow, naming the file and line;
//! - when files import each other, directly or around a loop, naming every file and the
//!   line of each step.
//!
//! It reads the code as text: a path the compiler resolves differently (a local item
//! shadowing a module name) could mislead it, which the crate's naming avoids.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

/// One path found in a file: the segments after `crate` (already resolved for
/// `super`/`self`/child paths) and the line it starts on.
#[derive(Clone, Debug)]
struct FoundPath {
    segments: Vec<String>,
    /// The name the path is known by in the file (its last segment, or an `as` alias).
    alias: String,
    line: usize,
    /// Part of a `pub use`: the file presents the item rather than using it.
    reexport: bool,
}

/// A source file of the crate, as the layering sees it.
struct SourceFile {
    /// `src/sync/artist.rs`
    shown: String,
    /// Module path: `["sync", "artist"]`; `mod.rs` stands for its folder.
    module: Vec<String>,
    paths: Vec<FoundPath>,
}

#[test]
fn every_module_imports_only_what_the_layering_in_lib_rs_allows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let report = layering_report(root);
    assert!(
        report.is_empty(),
        "the code breaks the layering stated in src/lib.rs:\n{}",
        report.join("\n")
    );
}

/// Every violation and every cycle, one line each (cycles: one line per step).
fn layering_report(root: &Path) -> Vec<String> {
    let allowed = read_allowed_directions(&root.join("src/lib.rs"));
    let files = read_sources(&root.join("src"));
    let mut report = Vec::new();

    for file in &files {
        let own = &file.module[0];
        let Some(may_use) = allowed.get(own) else {
            report.push(format!(
                "{}: module `{own}` has no line in the layering list of src/lib.rs",
                file.shown
            ));
            continue;
        };
        for path in &file.paths {
            let Some(target) = path.segments.first() else {
                continue;
            };
            if target == own || !allowed.contains_key(target) {
                continue;
            }
            if !may_use.contains(target) {
                report.push(format!(
                    "{}:{}: `{own}` imports `{target}` (crate::{}), which the layering does not allow",
                    file.shown,
                    path.line,
                    path.segments.join("::")
                ));
            }
        }
    }

    for (size, lines) in file_cycles(&files) {
        report.push(format!("import cycle between {size} files:"));
        report.extend(lines.into_iter().map(|line| format!("  {line}")));
    }
    report
}

/// Reads the `## Layering` list of `lib.rs`: lines `- \`a\` → \`b\`, \`c\`, leaves`, and
/// one `- leaves: \`x\`, \`y\` → nothing`. Returns each module with what it may import.
fn read_allowed_directions(lib: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let text = fs::read_to_string(lib).expect("reading src/lib.rs");
    let section: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("//! ## Layering"))
        .skip(1)
        .take_while(|line| line.trim_start().starts_with("//!"))
        .map(|line| line.trim_start().trim_start_matches("//!").trim())
        .filter(|line| line.starts_with("- "))
        .collect();
    assert!(
        !section.is_empty(),
        "src/lib.rs has no `## Layering` list in its crate docs"
    );
    let names = |part: &str| -> Vec<String> {
        part.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut leaves = Vec::new();
    let mut lines = Vec::new();
    for line in section {
        let (left, right) = line
            .split_once('→')
            .unwrap_or_else(|| panic!("layering line without an arrow: {line}"));
        if left.trim_start_matches("- ").starts_with("leaves") {
            leaves = names(left);
            assert!(
                right.trim() == "nothing",
                "leaves import nothing, but src/lib.rs says: {line}"
            );
        } else {
            lines.push((names(left), names(right), right.contains("leaves")));
        }
    }
    let mut allowed: BTreeMap<String, BTreeSet<String>> = leaves
        .iter()
        .map(|leaf| (leaf.clone(), BTreeSet::new()))
        .collect();
    for (modules, uses, with_leaves) in lines {
        let mut set: BTreeSet<String> = uses.into_iter().collect();
        if with_leaves {
            set.extend(leaves.iter().cloned());
        }
        for module in modules {
            allowed.insert(module, set.clone());
        }
    }
    allowed
}

fn read_sources(src: &Path) -> Vec<SourceFile> {
    let mut paths = Vec::new();
    collect_rs_files(src, &mut paths);
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let relative = path.strip_prefix(src).expect("under src");
        let parts: Vec<String> = relative
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        // The crate root and the binaries may use everything.
        if matches!(
            parts.first().map(String::as_str),
            Some("lib" | "main" | "bin")
        ) {
            continue;
        }
        let is_folder_root = parts.last().is_some_and(|p| p == "mod");
        let module: Vec<String> = if is_folder_root {
            parts[..parts.len() - 1].to_vec()
        } else {
            parts
        };
        let code = strip_comments_and_strings(&fs::read_to_string(&path).expect("reading"));
        let children = declared_children(&code);
        let paths = find_paths(&code, &module, &children);
        files.push(SourceFile {
            shown: format!("src/{}", relative.display()),
            module,
            paths,
        });
    }
    files
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("reading src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code with comments, string and char literals blanked out (newlines kept, so line
/// numbers stay right).
fn strip_comments_and_strings(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_string(&chars, i) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1; // the opening quote
            let closes = |k: usize| {
                chars.get(k) == Some(&'"') && (1..=hashes).all(|h| chars.get(k + h) == Some(&'#'))
            };
            while j < chars.len() && !closes(j) {
                j += 1;
            }
            let end = (j + 1 + hashes).min(chars.len());
            for &ch in &chars[i..end] {
                out.push(blank(ch));
            }
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            let end = chars[i + 1..]
                .iter()
                .position(|&ch| ch == '\'')
                .map_or(chars.len(), |p| i + 1 + p + 1);
            // An escaped quote ('\'') ends one further on.
            let end = if chars.get(i + 1) == Some(&'\\') && chars.get(i + 2) == Some(&'\'') {
                i + 4
            } else {
                end
            };
            for _ in i..end.min(chars.len()) {
                out.push(' ');
            }
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_string(chars: &[char], i: usize) -> bool {
    let preceded_by_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    if preceded_by_ident {
        return false;
    }
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

/// `'a'`, `'\n'`, `'\''`, but not a lifetime (`'a` with no closing quote right after).
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// `mod name;` declarations: the file's children.
fn declared_children(code: &str) -> BTreeSet<String> {
    let tokens = tokenize(code);
    tokens
        .windows(3)
        .filter(|w| w[0].text == "mod" && w[2].text == ";")
        .map(|w| w[1].text.clone())
        .collect()
}

#[derive(Clone, Debug)]
struct Token {
    text: String,
    line: usize,
}

/// Identifiers, `::` and single punctuation characters, with their lines.
fn tokenize(code: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                text: chars[start..i].iter().collect(),
                line,
            });
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

/// Every path into the crate the file uses, resolved to segments after `crate`. Paths
/// inside inline modules (`mod tests { use super::*; }`) resolve from those modules.
/// `pub use` re-exports are recorded apart: they are how a folder presents its files,
/// not a use of them, and [`file_cycles`] follows them to the file that defines an item.
fn find_paths(code: &str, module: &[String], children: &BTreeSet<String>) -> Vec<FoundPath> {
    let tokens = tokenize(code);
    let mut found = Vec::new();
    // Inline modules open at a brace depth: (depth, name).
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    // Whether the tokens being read belong to a `pub use` statement.
    let mut in_reexport = false;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].text.as_str();
        match token {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(open, _)| *open == depth) {
                    inline.pop();
                }
            }
            ";" => in_reexport = false,
            "mod" if tokens.get(i + 2).is_some_and(|t| t.text == "{") => {
                inline.push((depth, tokens[i + 1].text.clone()));
            }
            "use" => in_reexport = is_public_use(&tokens, i),
            _ => {}
        }
        let after_colons = i > 0 && tokens[i - 1].text == "::";
        let followed_by_colons = tokens.get(i + 1).is_some_and(|t| t.text == "::");
        if after_colons || !followed_by_colons {
            i += 1;
            continue;
        }
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(_, name)| name.clone()))
            .collect();
        let base: Option<Vec<String>> = match token {
            "crate" => Some(Vec::new()),
            "self" => Some(here.clone()),
            // From `src/a/mod.rs` (module `a`) and from `src/a/b.rs` (module `a::b`)
            // alike, `super` is the module path minus its last segment.
            "super" => Some(here[..here.len().saturating_sub(1)].to_vec()),
            // A child module of the file, named relative to it (`use artist::X`).
            name if inline.is_empty() && children.contains(name) => Some({
                let mut base = here.clone();
                base.push(name.to_owned());
                base
            }),
            _ => None,
        };
        if let Some(base) = base {
            let mut paths = Vec::new();
            expand_tree(&tokens, i + 2, base, &mut paths);
            for (segments, alias, line) in paths {
                found.push(FoundPath {
                    segments,
                    alias,
                    line,
                    reexport: in_reexport,
                });
            }
        }
        i += 2;
    }
    found
}

/// Whether the `use` at `tokens[at]` is preceded by `pub` or `pub(...)`.
fn is_public_use(tokens: &[Token], at: usize) -> bool {
    let before = |n: usize| at.checked_sub(n).map(|k| tokens[k].text.as_str());
    before(1) == Some("pub") || (before(1) == Some(")") && before(4) == Some("pub"))
}

/// Expands the path or use tree starting at `tokens[start]` (right after a `::`), into
/// (path, name it is known by, line). Returns the index after it.
fn expand_tree(
    tokens: &[Token],
    start: usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, String, usize)>,
) -> usize {
    let mut path = prefix;
    let mut i = start;
    let named = |path: &Vec<String>| path.last().cloned().unwrap_or_default();
    while let Some(token) = tokens.get(i) {
        match token.text.as_str() {
            "{" => {
                i += 1;
                loop {
                    match tokens.get(i).map(|t| t.text.as_str()) {
                        None => return i,
                        Some("}") => return i + 1,
                        Some(",") => i += 1,
                        Some("self") => {
                            out.push((path.clone(), named(&path), tokens[i].line));
                            i += 1;
                        }
                        Some(_) => i = expand_tree(tokens, i, path.clone(), out),
                    }
                }
            }
            "super" => {
                path.pop();
                i += 2;
            }
            "*" => {
                out.push((path.clone(), "*".to_owned(), token.line));
                return i + 1;
            }
            text if text.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                path.push(text.to_owned());
                let line = token.line;
                match tokens.get(i + 1).map(|t| t.text.as_str()) {
                    Some("::") => i += 2,
                    Some("as") => {
                        let alias = tokens.get(i + 2).map(|t| t.text.clone());
                        out.push((path.clone(), alias.unwrap_or_default(), line));
                        return i + 3;
                    }
                    _ => {
                        out.push((path.clone(), named(&path), line));
                        return i + 1;
                    }
                }
            }
            _ => break,
        }
    }
    if let Some(token) = tokens.get(start) {
        out.push((path.clone(), named(&path), token.line));
    }
    i
}

/// Cycles between files: each strongly connected group's size and description.
fn file_cycles(files: &[SourceFile]) -> Vec<(usize, Vec<String>)> {
    let by_module: HashMap<&[String], usize> = files
        .iter()
        .enumerate()
        .map(|(index, file)| (file.module.as_slice(), index))
        .collect();
    // The deepest module a path names is the file it reaches; an item a folder's mod.rs
    // only re-exports is followed to where the re-export points.
    let reach = |segments: &[String]| -> Option<usize> {
        let mut segments = segments.to_vec();
        for _ in 0..8 {
            let (depth, file) = (1..=segments.len())
                .rev()
                .find_map(|n| by_module.get(&segments[..n]).map(|&f| (n, f)))?;
            let Some(item) = segments.get(depth) else {
                return Some(file);
            };
            let reexported = files[file]
                .paths
                .iter()
                .find(|p| p.reexport && (&p.alias == item || p.alias == "*"));
            match reexported {
                Some(p) if p.alias == "*" => {
                    let mut next = p.segments.clone();
                    next.extend(segments[depth..].iter().cloned());
                    segments = next;
                }
                Some(p) => {
                    let mut next = p.segments.clone();
                    next.extend(segments[depth + 1..].iter().cloned());
                    segments = next;
                }
                None => return Some(file),
            }
        }
        None
    };
    // For each file, the files it uses, with the first line of each use.
    let mut edges: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); files.len()];
    for (from, file) in files.iter().enumerate() {
        for path in file.paths.iter().filter(|p| !p.reexport) {
            if let Some(to) = reach(&path.segments)
                && to != from
            {
                edges[from].entry(to).or_insert(path.line);
            }
        }
    }
    strongly_connected(&edges)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| (component.len(), describe_cycle(&component, &edges, files)))
        .collect()
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &[BTreeMap<usize, usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [BTreeMap<usize, usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        components: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.edges[v].keys() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(index) if s.on_stack[w] => s.low[v] = s.low[v].min(index),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            component.sort();
            s.components.push(component);
        }
    }
    let n = edges.len();
    let mut state = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for v in 0..n {
        if state.index[v].is_none() {
            visit(&mut state, v);
        }
    }
    state.components
}

/// The group's files, then the shortest loop through each of them (each distinct loop
/// once), as steps `file:line uses file`: every loop names an import to undo.
fn describe_cycle(
    component: &[usize],
    edges: &[BTreeMap<usize, usize>],
    files: &[SourceFile],
) -> Vec<String> {
    let inside: BTreeSet<usize> = component.iter().copied().collect();
    let mut loops: Vec<Vec<usize>> = Vec::new();
    for &start in component {
        let Some(found) = shortest_loop(start, &inside, edges) else {
            continue;
        };
        let mut canonical = found.clone();
        let first = (0..canonical.len())
            .min_by_key(|&k| canonical[k])
            .unwrap_or(0);
        canonical.rotate_left(first);
        if !loops.contains(&canonical) {
            loops.push(canonical);
        }
    }
    loops.sort_by_key(Vec::len);
    let mut lines = vec![format!(
        "files: {}",
        component
            .iter()
            .map(|&f| files[f].shown.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for path in loops {
        lines.push("loop:".to_owned());
        for (k, &from) in path.iter().enumerate() {
            let to = path[(k + 1) % path.len()];
            lines.push(format!(
                "  {}:{} uses {}",
                files[from].shown, edges[from][&to], files[to].shown
            ));
        }
    }
    lines
}

/// The shortest loop from `start` back to itself inside `inside`, breadth first.
fn shortest_loop(
    start: usize,
    inside: &BTreeSet<usize>,
    edges: &[BTreeMap<usize, usize>],
) -> Option<Vec<usize>> {
    let mut previous: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in edges[v].keys().filter(|w| inside.contains(w)) {
            if w == start {
                let mut path = vec![v];
                let mut at = v;
                while at != start {
                    at = previous[&at];
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            if let std::collections::hash_map::Entry::Vacant(entry) = previous.entry(w) {
                entry.insert(v);
                queue.push_back(w);
            }
        }
    }
    None
}

#[test]
fn the_layering_reader_sees_use_trees_inline_paths_and_relative_children() {
    let code = strip_comments_and_strings(
        "use crate::{config::Settings, store::{self, Store}};\n\
         // crate::daemon in a comment\n\
         let s = \"crate::skill in a string\";\n\
         fn f() { crate::sync::plan::plan_refresh(); }\n\
         use super::runs::RunStatus;\n\
         mod child;\n\
         use child::Thing;\n",
    );
    let module = vec!["store".to_owned(), "artists".to_owned()];
    let children = declared_children(&code);
    let found: Vec<(String, usize)> = find_paths(&code, &module, &children)
        .into_iter()
        .map(|p| (p.segments.join("::"), p.line))
        .collect();
    assert_eq!(
        found,
        [
            ("config::Settings".to_owned(), 1),
            ("store".to_owned(), 1),
            ("store::Store".to_owned(), 1),
            ("sync::plan::plan_refresh".to_owned(), 4),
            ("store::runs::RunStatus".to_owned(), 5),
            ("store::artists::child::Thing".to_owned(), 7),
        ]
    );
}

#[test]
fn paths_inside_an_inline_test_module_resolve_from_it() {
    let code = strip_comments_and_strings(
        "pub use answer::{Outcome, SkillService as Service};\n\
         #[cfg(test)]\n\
         mod tests {\n\
             use super::*;\n\
             use super::super::names::name_key;\n\
         }\n\
         use crate::store::Store;\n",
    );
    let module = vec!["skill".to_owned(), "http".to_owned()];
    let found: Vec<(String, String, bool)> = find_paths(&code, &module, &BTreeSet::new())
        .into_iter()
        .map(|p| (p.segments.join("::"), p.alias, p.reexport))
        .collect();
    assert_eq!(
        found,
        [
            ("skill::http".to_owned(), "*".to_owned(), false),
            (
                "skill::names::name_key".to_owned(),
                "name_key".to_owned(),
                false
            ),
            ("store::Store".to_owned(), "Store".to_owned(), false),
        ]
    );
}
