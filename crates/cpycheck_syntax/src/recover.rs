//! Error recovery that stays local.
//!
//! tree-sitter recovers from a parse error by wrapping what it cannot read in an `ERROR`
//! node, and when the damage is an unbalanced brace or a statement macro it cannot place,
//! that node can reach far past the function that holds the error, taking the following
//! functions with it (or the whole file becomes one `ERROR` root). Here the damage is kept
//! local: a run of damaged top-level items that crosses a *boundary* — the start of a
//! function head found by layout ([`crate::heads`]), the line after a `}` at column 0, or
//! a line that starts a new top-level declaration (`static`, `typedef`) — is parsed again
//! as separate chunks cut at those boundaries, so each function after the damage is read
//! on its own. Undamaged items, and damage that stays between two boundaries (a function
//! with an error inside it), are left as the first parse read them.

use tree_sitter::{Node, Point, Range};

use crate::heads::Head;

/// Kinds of top-level nodes that are whole items even under an `ERROR` root.
const ITEM_KINDS: &[&str] = &[
    "function_definition",
    "declaration",
    "type_definition",
    "linkage_specification",
    "comment",
];

/// Where damage may be cut, sorted: the line start of each function head, the line after
/// each `}` at column 0, and the lines that start with `static ` or `typedef `.
pub(crate) fn boundaries(text: &str, heads: &[Head]) -> Vec<usize> {
    let b = text.as_bytes();
    let mut out: Vec<usize> = heads.iter().map(|h| h.start).collect();
    let mut line = 0;
    while line < b.len() {
        let next = b[line..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| line + i + 1);
        let l = &b[line..next];
        if l.first() == Some(&b'}') && next < b.len() {
            out.push(next);
        }
        if l.starts_with(b"static ") || l.starts_with(b"typedef ") {
            out.push(line);
        }
        line = next;
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The regions of `root`'s tree (covering `lo..hi`) to parse again, in order, each a list
/// of chunk bounds (`[a, cut, cut, ..., b]`). Empty when no damage crosses a boundary.
///
/// An item is damaged when it holds an error, when it is loose under an `ERROR` root, or
/// when it swallowed the text before a function head (`MAKE(a)` lines without `;` read as
/// the return type and declarator of the function after them): a head (`heads`, as
/// `(start, open)`) starts inside it and opens its body inside it.
pub(crate) fn damaged_regions(
    root: Node,
    heads: &[(usize, usize)],
    bounds: &[usize],
    lo: usize,
    hi: usize,
) -> Vec<Vec<usize>> {
    let loose = root.is_error();
    let swallows = |c: &Node| swallows(*c, heads);
    let mut cursor = root.walk();
    let children: Vec<(usize, usize, bool)> = root
        .children(&mut cursor)
        .map(|c| {
            let damaged = c.is_error()
                || c.is_missing()
                || c.has_error()
                || (loose && !ITEM_KINDS.contains(&c.kind()))
                || (c.kind() == "function_definition" && swallows(&c));
            (c.start_byte(), c.end_byte(), damaged)
        })
        .collect();
    let inside = |s: usize, e: usize| {
        let i = bounds.partition_point(|&x| x <= s);
        bounds.get(i).is_some_and(|&x| x < e)
    };
    // Runs of damaged children (comments neither start nor end a run).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for &(s, e, damaged) in &children {
        if damaged {
            run = Some(run.map_or((s, e), |(rs, _)| (rs, e)));
        } else if let Some(r) = run.take() {
            runs.push(r);
        }
    }
    runs.extend(run);
    let mut regions: Vec<(usize, usize)> = Vec::new();
    for (rs, re) in runs {
        if !inside(rs, re) {
            continue;
        }
        // Widen to boundaries, then over any child the region cuts.
        let (mut a, mut b) = (rs, re);
        for _ in 0..64 {
            a = bounds[..bounds.partition_point(|&x| x <= a)]
                .last()
                .copied()
                .unwrap_or(lo)
                .max(lo);
            b = bounds[bounds.partition_point(|&x| x < b)..]
                .first()
                .copied()
                .unwrap_or(hi)
                .min(hi);
            let (na, nb) = children
                .iter()
                .filter(|&&(s, e, _)| s < b && e > a)
                .fold((a, b), |(na, nb), &(s, e, _)| (na.min(s), nb.max(e)));
            if (na, nb) == (a, b) {
                break;
            }
            (a, b) = (na, nb);
        }
        match regions.last_mut() {
            Some(last) if last.1 >= a => last.1 = last.1.max(b),
            _ => regions.push((a, b)),
        }
    }
    regions
        .into_iter()
        .map(|(a, b)| {
            let mut cuts = vec![a];
            cuts.extend(bounds.iter().copied().filter(|&x| x > a && x < b));
            cuts.push(b);
            cuts
        })
        .collect()
}

/// The tree-sitter ranges of the chunks of each region (consecutive bounds), points
/// counted in one pass over the text (regions in order, bounds sorted).
pub(crate) fn chunk_ranges(text: &str, regions: &[Vec<usize>]) -> Vec<Vec<Range>> {
    let b = text.as_bytes();
    let (mut at, mut row, mut line_start) = (0usize, 0usize, 0usize);
    let mut point = |to: usize| {
        for (i, &c) in b[at..to].iter().enumerate() {
            if c == b'\n' {
                row += 1;
                line_start = at + i + 1;
            }
        }
        at = to;
        Point::new(row, to - line_start)
    };
    regions
        .iter()
        .map(|cuts| {
            let points: Vec<Point> = cuts.iter().map(|&c| point(c)).collect();
            cuts.windows(2)
                .zip(points.windows(2))
                .map(|(c, p)| Range {
                    start_byte: c[0],
                    end_byte: c[1],
                    start_point: p[0],
                    end_point: p[1],
                })
                .collect()
        })
        .collect()
}

/// The range a whole-text tree covers.
pub(crate) fn range_of_tree(tree: &tree_sitter::Tree) -> Range {
    let root = tree.root_node();
    Range {
        start_byte: 0,
        end_byte: root.end_byte(),
        start_point: Point::new(0, 0),
        end_point: root.end_position(),
    }
}

/// Whether a head starts inside `node` (after its first byte) and opens its body inside it.
fn swallows(node: Node, heads: &[(usize, usize)]) -> bool {
    let (s, e) = (node.start_byte(), node.end_byte());
    let i = heads.partition_point(|&(start, _)| start <= s);
    heads[i..]
        .iter()
        .take_while(|&&(start, _)| start < e)
        .any(|&(_, open)| open < e)
}

/// How many function definitions without an error, and not swallowing a head, `node`
/// holds (not looking inside a function: a nested one is a misread body).
pub(crate) fn clean_functions(node: Node, heads: &[(usize, usize)]) -> usize {
    let mut count = 0;
    let mut stack = vec![node];
    let mut cursor = node.walk();
    while let Some(n) = stack.pop() {
        if n.kind() == "function_definition" {
            count += usize::from(!n.has_error() && !swallows(n, heads));
            continue;
        }
        if n.has_error() || n.is_error() || n.kind() == "translation_unit" {
            stack.extend(n.children(&mut cursor));
        }
    }
    count
}
