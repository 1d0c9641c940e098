//! A deterministic Graphviz DOT writer for the chain graphs built by
//! [`crate::dot`].
//!
//! petgraph's `Dot` is meant for debugging: it has no clusters and its
//! output depends on insertion details. This writer prints exactly what the
//! [`DotGraph`] holds, in its order, and quotes and escapes every string, so
//! the output is valid DOT whatever chain names, comments and table names
//! contain (quotes, backslashes, newlines, `<>{}|`, control characters).

use std::fmt::Write as _;

/// What a node stands for; decides its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A built-in chain: where packets enter the table.
    Entry,
    /// A user chain.
    Chain,
    /// The per-service chains of one service, collapsed into one node.
    Service,
    /// A DNAT destination.
    Destination,
}

/// Findings shown on a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// Part of a jump cycle: drawn red.
    pub cycle: bool,
    /// No built-in chain reaches it: drawn grey.
    pub unreferenced: bool,
    /// Should end evaluation but can fall through: drawn orange, double border.
    pub missing_terminal: bool,
}

/// A node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique within the graph.
    pub id: String,
    /// The label's lines.
    pub lines: Vec<String>,
    /// Its kind.
    pub kind: NodeKind,
    /// Findings shown on it.
    pub marks: Marks,
    /// Shown on hover in SVG.
    pub tooltip: Option<String>,
}

/// An edge: a jump, a goto, a DNAT, or several of them between collapsed nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// The label's lines.
    pub lines: Vec<String>,
    /// Written with `-g`: drawn dashed.
    pub goto: bool,
    /// Both ends are in one jump cycle: drawn red.
    pub cycle: bool,
}

/// The chains of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// The table's name (the subgraph is `cluster_<name>`).
    pub name: String,
    /// The cluster's caption.
    pub label: String,
    /// Nodes in output order.
    pub nodes: Vec<Node>,
    /// Edges in output order.
    pub edges: Vec<Edge>,
}

/// A whole drawing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DotGraph {
    /// A caption for the whole graph (what was narrowed or collapsed).
    pub label: Vec<String>,
    /// One per table.
    pub clusters: Vec<Cluster>,
}

impl DotGraph {
    /// All nodes of all clusters.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.clusters.iter().flat_map(|cluster| &cluster.nodes)
    }

    /// All edges of all clusters.
    pub fn edges(&self) -> impl Iterator<Item = &Edge> {
        self.clusters.iter().flat_map(|cluster| &cluster.edges)
    }
}

/// Escape `text` for the inside of a quoted DOT string used as a label or
/// tooltip (an `escString`): it then renders as exactly `text`.
///
/// - `\` becomes `\\` (so no `\N`, `\G`, `\l`... is ever formed, and no
///   backslash can escape the closing quote),
/// - `"` becomes `\"`,
/// - `&` becomes `&amp;` (Graphviz decodes HTML entities in labels),
/// - a line feed becomes `\n` (a centred line break),
/// - other control characters are shown as `\xNN`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A quoted, escaped label made of `lines`.
fn label(lines: &[String]) -> String {
    let joined: Vec<String> = lines.iter().map(|line| escape(line)).collect();
    format!("\"{}\"", joined.join("\\n"))
}

fn node_attributes(node: &Node) -> String {
    let mut attributes = vec![format!("label={}", label(&node.lines))];
    let mut style: Vec<&str> = Vec::new();
    let mut fill: Option<&str> = None;
    match node.kind {
        NodeKind::Entry => {
            attributes.push("shape=invhouse".into());
            style.extend(["filled", "bold"]);
            fill = Some("#dbeafe");
        }
        NodeKind::Chain => {
            attributes.push("shape=box".into());
            style.push("rounded");
        }
        NodeKind::Service => {
            attributes.push("shape=box3d".into());
            style.push("filled");
            fill = Some("#fef9c3");
        }
        NodeKind::Destination => {
            attributes.push("shape=ellipse".into());
            style.push("filled");
            fill = Some("#dcfce7");
        }
    }
    if node.marks.unreferenced {
        if !style.contains(&"filled") {
            style.push("filled");
        }
        fill = Some("grey90");
        attributes.push("fontcolor=\"grey40\"".into());
    }
    let color = if node.marks.cycle {
        Some("red")
    } else if node.marks.missing_terminal {
        Some("darkorange")
    } else if node.marks.unreferenced {
        Some("grey60")
    } else {
        None
    };
    if let Some(color) = color {
        attributes.push(format!("color=\"{color}\""));
    }
    if node.marks.cycle {
        attributes.push("fontcolor=\"red\"".into());
        attributes.push("penwidth=2".into());
    }
    if node.marks.missing_terminal {
        attributes.push("peripheries=2".into());
    }
    if !style.is_empty() {
        attributes.push(format!("style=\"{}\"", style.join(",")));
    }
    if let Some(fill) = fill {
        attributes.push(format!("fillcolor=\"{fill}\""));
    }
    if let Some(tooltip) = &node.tooltip {
        attributes.push(format!("tooltip=\"{}\"", escape(tooltip)));
    }
    attributes.join(", ")
}

fn edge_attributes(edge: &Edge) -> String {
    let mut attributes = Vec::new();
    if !edge.lines.is_empty() {
        attributes.push(format!("label={}", label(&edge.lines)));
    }
    if edge.goto {
        attributes.push("style=dashed".into());
    }
    if edge.cycle {
        attributes.push("color=\"red\"".into());
        attributes.push("fontcolor=\"red\"".into());
    }
    attributes.join(", ")
}

/// The DOT text of `graph`.
pub fn to_dot(graph: &DotGraph) -> String {
    let mut out = String::new();
    out.push_str("digraph iptables {\n");
    out.push_str("  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, labelloc=t");
    if !graph.label.is_empty() {
        let _ = write!(out, ", label={}", label(&graph.label));
    }
    out.push_str("];\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for cluster in &graph.clusters {
        let _ = writeln!(out, "  subgraph \"cluster_{}\" {{", escape(&cluster.name));
        let _ = writeln!(
            out,
            "    graph [label={}, style=\"rounded\", color=\"grey70\"];",
            label(std::slice::from_ref(&cluster.label))
        );
        for node in &cluster.nodes {
            let _ = writeln!(
                out,
                "    \"{}\" [{}];",
                escape(&node.id),
                node_attributes(node)
            );
        }
        for edge in &cluster.edges {
            let attributes = edge_attributes(edge);
            let _ = write!(
                out,
                "    \"{}\" -> \"{}\"",
                escape(&edge.from),
                escape(&edge.to)
            );
            if attributes.is_empty() {
                out.push_str(";\n");
            } else {
                let _ = writeln!(out, " [{attributes}];");
            }
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_way_out_of_the_string() {
        assert_eq!(escape(r#"a"b"#), r#"a\"b"#);
        assert_eq!(escape(r"a\"), r"a\\");
        assert_eq!(escape("a\nb"), r"a\nb");
        assert_eq!(escape("\\N"), r"\\N");
        assert_eq!(escape("a&lt;"), "a&amp;lt;");
        assert_eq!(escape("<>{}|"), "<>{}|");
        assert_eq!(escape("\r\t\0"), r"\\x0d\\x09\\x00");
        // No unescaped quote and no backslash at an odd position before a quote.
        for text in [r#"\""#, r#"\\""#, "x\\", "\"\"", "\\\n\""] {
            let escaped = escape(text);
            let bytes = escaped.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'"' {
                    let backslashes = bytes[..i].iter().rev().take_while(|&&c| c == b'\\').count();
                    assert_eq!(backslashes % 2, 1, "{text:?} -> {escaped:?}");
                }
            }
            assert!(!escaped.contains('\n') && !escaped.contains('\r'));
        }
    }
}
