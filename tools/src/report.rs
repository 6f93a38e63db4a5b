//! Reports a person reads (Markdown and HTML) and a program parses (JSON), written atomically.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// A Markdown table built row by row.
///
/// ```
/// use qornn_tools::report::Table;
/// let mut t = Table::new(&["lanes", "LUTs"]);
/// t.row(vec!["4".into(), "812".into()]);
/// assert!(t.to_markdown().contains("| 4 | 812 |"));
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Append a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// The table as GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out += &line(&vec!["---".to_string(); self.header.len()]);
        for r in &self.rows {
            out += &line(r);
        }
        out
    }
}

/// Markdown rendered as a standalone HTML page (tables, images and code kept).
///
/// Reports quote error messages, tool output and user paths, so any raw HTML in the Markdown
/// is shown as text, never passed through (an `<img onerror=…>` in a folder name stays text),
/// and links or images to `javascript:` lose their target. Our own reports need neither.
pub fn markdown_to_html(title: &str, markdown: &str) -> String {
    use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};
    let mut body = String::new();
    let safe = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if is_script(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if is_script(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        other => other,
    });
    html::push_html(&mut body, safe);
    let title = escape_html(title);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 980px; margin: 2em auto; color: #222; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }}\n\
         th, td {{ border: 1px solid #bbb; padding: 4px 10px; text-align: right; }}\n\
         th {{ background: #eee; }}\n img {{ max-width: 100%; }}\n\
         code {{ background: #f4f4f4; padding: 1px 4px; }}\n</style></head>\n<body>\n{body}</body></html>\n"
    )
}

fn is_script(url: &str) -> bool {
    let u = url.trim_start().to_ascii_lowercase();
    u.starts_with("javascript:") || u.starts_with("data:text/html") || u.starts_with("vbscript:")
}

/// `text` with `&`, `<`, `>` and quotes escaped for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Write `name.json`, `name.md` and `name.html` into `dir`, each atomically; returns the paths.
pub fn write_report<T: Serialize>(
    dir: &Path,
    name: &str,
    title: &str,
    data: &T,
    markdown: &str,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(data).map_err(std::io::Error::other)?;
    let files = [
        (format!("{name}.json"), json),
        (format!("{name}.md"), markdown.to_string()),
        (format!("{name}.html"), markdown_to_html(title, markdown)),
    ];
    let mut out = Vec::new();
    for (file, text) in files {
        let path = dir.join(file);
        qornn_sim::atomic::write(&path, text.as_bytes())?;
        out.push(path);
    }
    Ok(out)
}

/// The text of every `.json` file directly in `dir`, by path: the result files of a sweep or
/// an accuracy grid, one per point or cell. An error names the folder or file it is about.
pub fn json_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, (PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_owned(), e))?;
    let mut out = Vec::new();
    for e in entries {
        let path = e.map_err(|e| (dir.to_owned(), e))?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path).map_err(|e| (path.clone(), e))?;
            out.push((path, text));
        }
    }
    out.sort();
    Ok(out)
}

/// A number with a thousands separator, for people: 1234567 → "1 234 567".
pub fn grouped(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_renders_tables() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["1".into(), "2".into()]);
        let html = markdown_to_html("x", &format!("# Title\n\n{}", t.to_markdown()));
        assert!(
            html.contains("<table>")
                && html.contains("<td>2</td>")
                && html.contains("<h1>Title</h1>")
        );
    }

    #[test]
    fn html_from_messages_and_paths_is_shown_not_run() {
        let md = "# R\n\nfailed: cannot read /tmp/<img src=x onerror=alert(1)>/m.json\n\n\
                  <script>alert(2)</script>\n\n[x](javascript:alert(3)) ![y](JavaScript:alert(4))\n";
        let html = markdown_to_html("<b>t</b>", md);
        for bad in [
            "<img src=x",
            "<script>",
            "javascript:",
            "JavaScript:",
            "<b>t",
        ] {
            assert!(!html.contains(bad), "{bad} passed through:\n{html}");
        }
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1 000");
        assert_eq!(grouped(1234567), "1 234 567");
    }

    #[test]
    fn reports_are_written_in_three_forms() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_report(
            dir.path(),
            "report",
            "T",
            &serde_json::json!({"a": 1}),
            "# T\n",
        )
        .unwrap();
        assert_eq!(files.len(), 3);
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        assert_eq!(v["a"], 1);
    }
}
