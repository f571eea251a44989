//! Building the HTML text: escaping, the page shell (inline CSS, no script, no network),
//! figures and tables.

use std::fmt::Write;

/// Escapes `&`, `<`, `>`, `"` and `'` for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// A number for a table cell: integers plainly, others with 4 significant digits.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else if x.fract() == 0.0 && x.abs() < 1e12 {
        format!("{x:.0}")
    } else if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e5) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// A page being written: sections of headings, figures and tables.
#[derive(Debug, Default)]
pub struct Html {
    body: String,
}

impl Html {
    /// An empty page body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a section with an anchor `id` and a heading.
    pub fn section(&mut self, id: &str, title: &str) {
        let _ = writeln!(self.body, "<section id=\"{}\"><h2>{}</h2>", escape(id), escape(title));
    }

    /// Closes the current section.
    pub fn end_section(&mut self) {
        self.body.push_str("</section>\n");
    }

    /// A sub-heading.
    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h3>{}</h3>", escape(text));
    }

    /// A paragraph of plain text.
    pub fn para(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A figure: inline SVG with a caption; `id` lets tests and links find it.
    pub fn figure(&mut self, id: &str, svg: &str, caption: &str) {
        let _ = writeln!(
            self.body,
            "<figure id=\"{}\">{svg}<figcaption>{}</figcaption></figure>",
            escape(id),
            escape(caption)
        );
    }

    /// A table with a header row; cells are escaped.
    pub fn table(&mut self, id: &str, header: &[&str], rows: &[Vec<String>]) {
        let _ = write!(self.body, "<table id=\"{}\"><thead><tr>", escape(id));
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead><tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let _ = write!(self.body, "<td>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table>\n");
    }

    /// The finished page: title, a table of contents from `toc` (`(id, title)`), the body.
    pub fn page(self, title: &str, subtitle: &str, toc: &[(String, String)]) -> String {
        let mut out = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{t}</title><style>{STYLE}</style></head>\n<body><header><h1>{t}</h1><p>{s}</p><nav><ul>",
            t = escape(title),
            s = escape(subtitle)
        );
        for (id, name) in toc {
            let _ = write!(out, "<li><a href=\"#{}\">{}</a></li>", escape(id), escape(name));
        }
        out.push_str("</ul></nav></header>\n<main>\n");
        out.push_str(&self.body);
        out.push_str("</main></body></html>\n");
        out
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 1.5em;color:#222}\
h1{margin-bottom:0.2em}h2{border-bottom:1px solid #ccc;padding-bottom:0.2em;margin-top:2em}\
nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:0.4em 1.2em}\
figure{margin:1em 0;display:inline-block;vertical-align:top}figcaption{font-size:0.9em;color:#555;max-width:640px}\
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0 1.5em}\
th,td{border:1px solid #ddd;padding:0.25em 0.6em;text-align:left;vertical-align:top;max-width:48em;overflow-wrap:anywhere}\
th{background:#f3f3f3}td{font-variant-numeric:tabular-nums}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere() {
        assert_eq!(escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
        let mut h = Html::new();
        h.section("s", "A <b>");
        h.table("t", &["x<"], &[vec!["<script>".into()]]);
        h.end_section();
        let page = h.page("T&", "sub", &[("s".into(), "A <b>".into())]);
        assert!(!page.contains("<script>") && !page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;script&gt;") && page.contains("<title>T&amp;</title>"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(1.5e-7), "1.500e-7");
        assert_eq!(number(f64::NAN), "–");
    }
}
