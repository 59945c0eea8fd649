//! Repository rules that `cargo test` keeps (run as plain tests): the
//! layering DESIGN.md agrees on, checked on the sources.
//!
//! - The sans-IO code — `gruvi-wire`, the `gruvi-body` codecs and body
//!   types, `gruvi-conn::proto` — uses no tokio and reads no clock: time is
//!   passed in.
//! - The drivers (`gruvi-conn` outside `proto`) and the crates above them
//!   (`gruvi-client`, `gruvi-server`) call none of the header rules that
//!   belong to `proto` or `gruvi-wire`: they never decide framing,
//!   keep-alive, `100 Continue`, or what a field may be.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::workspace_root;

    /// What the sans-IO sources must not mention.
    const NOT_SANS_IO: &[&str] = &["tokio", "Instant::now", "SystemTime::now"];

    /// Header rules only `proto` and `gruvi-wire` may call.
    const PROTOCOL_RULES: &[&str] = &[
        "check_field(",
        "check_application_field(",
        "parse_content_length(",
        "wants_keep_alive(",
        "expects_continue(",
        "is_continue_expectation(",
        "is_upgrade_request(",
        "request_framing(",
        "response_framing(",
        "response_content(",
        "send_framing(",
        "exchange_keeps_alive(",
        "list_contains(",
        "is_te_trailers(",
        "is_hop_by_hop(",
        "ConnectionOptions::",
    ];

    /// The `.rs` files under `dir`, recursively.
    fn sources(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
        found.sort();
        found
    }

    /// The code of a source, without comments and without the items
    /// behind a `tokio` feature gate (the one place tokio may appear in a
    /// sans-IO crate: an adapter the user opts into).
    fn code(text: &str) -> String {
        let mut kept = String::new();
        // Inside a gated item: `None` before its body opens, then the
        // depth of its braces.
        let mut gated: Option<Option<usize>> = None;
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("");
            if line.trim_start().starts_with("#[cfg(feature = \"tokio\")]") {
                gated = Some(None);
                continue;
            }
            if let Some(depth) = gated.as_mut() {
                for c in line.chars() {
                    match (c, depth.as_mut()) {
                        ('{', None) => *depth = Some(1),
                        ('{', Some(d)) => *d += 1,
                        ('}', Some(d)) => *d -= 1,
                        _ => {}
                    }
                }
                // Over once its braces close (or at a `;` for an item
                // without a body).
                let over = match depth {
                    Some(d) => *d == 0,
                    None => line.trim_end().ends_with(';'),
                };
                if over {
                    gated = None;
                }
                continue;
            }
            kept.push_str(line);
            kept.push('\n');
        }
        kept
    }

    /// `(file, pattern)` for every pattern of `patterns` found in the code
    /// of `files`.
    fn violations(files: &[PathBuf], patterns: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).expect("readable source");
            found.extend(violations_in(&file.display().to_string(), &text, patterns));
        }
        found
    }

    fn violations_in(name: &str, text: &str, patterns: &[&str]) -> Vec<String> {
        let code = code(text);
        patterns
            .iter()
            .filter(|pattern| code.contains(*pattern))
            .map(|pattern| format!("{name}: {pattern}"))
            .collect()
    }

    #[test]
    fn sans_io_code_uses_no_tokio_and_reads_no_clock() {
        let root = workspace_root();
        let mut files = sources(&root.join("http-wire/src"));
        files.extend(sources(&root.join("http-body/src")));
        files.extend(sources(&root.join("http-conn/src/proto")));
        let found = violations(&files, NOT_SANS_IO);
        assert!(
            found.is_empty(),
            "sans-IO code reaches for IO or a clock:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn drivers_and_the_crates_above_call_no_protocol_rule() {
        let root = workspace_root();
        let mut files: Vec<PathBuf> = sources(&root.join("http-conn/src"))
            .into_iter()
            .filter(|f| !f.starts_with(root.join("http-conn/src/proto")))
            .collect();
        files.extend(sources(&root.join("http-client/src")));
        files.extend(sources(&root.join("http-server/src")));
        let found = violations(&files, PROTOCOL_RULES);
        assert!(
            found.is_empty(),
            "a protocol rule decided outside proto and gruvi-wire:\n{}",
            found.join("\n")
        );
    }

    /// The checks can fail: they find what they look for, outside comments
    /// and feature-gated adapters.
    #[test]
    fn the_checks_find_what_they_look_for() {
        let source = "fn f() {\n    let now = Instant::now();\n}\n";
        assert_eq!(
            violations_in("f.rs", source, NOT_SANS_IO),
            ["f.rs: Instant::now"]
        );
        let commented = "// Instant::now is not called here\nfn f() {}\n";
        assert!(violations_in("f.rs", commented, NOT_SANS_IO).is_empty());
        let gated = "#[cfg(feature = \"tokio\")]\npub fn r(x: tokio::io::Empty) {\n    let _ = x;\n}\nfn g() {}\n";
        assert!(violations_in("f.rs", gated, NOT_SANS_IO).is_empty());
        let rule = "let keep = wants_keep_alive(version, fields, &buf);\n";
        assert_eq!(
            violations_in("d.rs", rule, PROTOCOL_RULES),
            ["d.rs: wants_keep_alive("]
        );
    }
}
