//! The reader: logical lines grouped into blocks by indentation, then recognised.

use crate::lex::{Line, TokKind, Token, logical_lines, mask};
use crate::model::*;
use cpycheck_source::Span;

/// Nesting cap: deeper blocks are skipped (counted), so no input can exhaust the stack.
const MAX_DEPTH: usize = 64;

/// A logical line and the lines of the block it opens.
struct Node {
    line: Line,
    children: Vec<Node>,
}

/// Groups lines into blocks: a line's block is the following lines indented more deeply.
fn blocks(lines: Vec<Line>) -> Vec<Node> {
    // Iterative: a stack of open nodes with their indentation.
    let mut roots: Vec<Node> = Vec::new();
    let mut stack: Vec<Node> = Vec::new();
    fn close(stack: &mut Vec<Node>, roots: &mut Vec<Node>) {
        if let Some(done) = stack.pop() {
            match stack.last_mut() {
                Some(parent) => parent.children.push(done),
                None => roots.push(done),
            }
        }
    }
    for line in lines {
        if stack.len() >= MAX_DEPTH {
            // Deeper lines become siblings of the deepest open block.
            close(&mut stack, &mut roots);
        }
        while stack
            .last()
            .is_some_and(|open| open.line.indent >= line.indent)
        {
            close(&mut stack, &mut roots);
        }
        stack.push(Node {
            line,
            children: Vec::new(),
        });
    }
    while !stack.is_empty() {
        close(&mut stack, &mut roots);
    }
    roots
}

/// Reads a Cython file. Never fails and never panics: what is not understood is recorded in
/// [`CythonFile::skipped`].
pub fn parse(text: &str) -> CythonFile {
    let masked = mask(text);
    let lines = logical_lines(&masked);
    let mut file = CythonFile {
        lines: lines.len(),
        ..CythonFile::default()
    };
    let nodes = blocks(lines);
    let mut reader = Reader { file: &mut file };
    reader.module_level(&nodes, 0);
    file
}

struct Reader<'f> {
    file: &'f mut CythonFile,
}

fn texts(tokens: &[Token]) -> Vec<&str> {
    tokens.iter().map(|t| t.text.as_str()).collect()
}

/// Index of the token closing the bracket opened at `open`.
pub(crate) fn matching(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.kind != TokKind::Punct {
            continue;
        }
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `tokens` at top-level commas.
pub(crate) fn split_commas(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.kind != TokKind::Punct {
            continue;
        }
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            "," if depth == 0 => {
                out.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < tokens.len() {
        out.push(&tokens[start..]);
    }
    out
}

/// Index of the top-level `:` that ends a block header, if the line is one.
fn header_colon(tokens: &[Token]) -> Option<usize> {
    let mut depth = 0usize;
    let mut lambda = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        match t.text.as_str() {
            "(" | "[" | "{" if t.kind == TokKind::Punct => depth += 1,
            ")" | "]" | "}" if t.kind == TokKind::Punct => depth = depth.saturating_sub(1),
            "lambda" => lambda += 1,
            ":" if depth == 0 => {
                if lambda > 0 {
                    lambda -= 1;
                } else {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

const DECL_MODIFIERS: &[&str] = &[
    "public", "readonly", "api", "inline", "static", "extern", "packed", "noexcept", "nogil",
];

/// Drops C name specifications (`cdef int x "c_x"`, `object f "PY_NEW" (object t)`): a
/// string right after an identifier.
fn strip_cnames(tokens: &[Token]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    for t in tokens {
        if t.kind == TokKind::Str && out.last().is_some_and(|p| p.kind == TokKind::Ident) {
            continue;
        }
        out.push(t.clone());
    }
    out
}

/// Parses a declaration `TYPE decl[, decl...]` (modifiers already removed) into names and
/// types. `None` when it does not read as one.
fn declarations(tokens: &[Token]) -> Option<Vec<Param>> {
    let tokens = &strip_cnames(tokens)[..];
    // Drop an initialiser in each part.
    let parts = split_commas(tokens);
    let first = parts.first()?;
    let first = until_assign(first);
    // An untyped name is a Python object: `cdef name`, `cdef readonly name = value`.
    if let [name] = first
        && name.kind == TokKind::Ident
    {
        let object = |p: &Token| Param {
            name: p.text.clone(),
            span: p.span,
            ty: Some(TypeRef {
                base: "object".into(),
                pointers: 0,
            }),
        };
        let mut out = vec![object(name)];
        for part in &parts[1..] {
            match until_assign(part) {
                [n] if n.kind == TokKind::Ident => out.push(object(n)),
                _ => return None,
            }
        }
        return Some(out);
    }
    // Function pointer: TYPE (*name)(...)
    if let Some(p) = first.windows(2).position(|w| w[0].is("(") && w[1].is("*")) {
        let inner = &first[p + 1..];
        let stars = inner.iter().take_while(|t| t.is("*")).count();
        let name = inner.get(stars).filter(|t| t.kind == TokKind::Ident)?;
        if stars == 0 || !inner.get(stars + 1).is_some_and(|t| t.is(")")) {
            return None;
        }
        return Some(vec![Param {
            name: name.text.clone(),
            span: name.span,
            ty: Some(TypeRef {
                base: "void".into(),
                pointers: 1,
            }),
        }]);
    }
    let (base, decl) = split_type(first)?;
    if base.is_empty() {
        return None;
    }
    let mut out = vec![declarator(&base, decl)?];
    for part in &parts[1..] {
        out.push(declarator(&base, until_assign(part))?);
    }
    Some(out)
}

fn until_assign(tokens: &[Token]) -> &[Token] {
    let end = tokens
        .iter()
        .position(|t| t.is("="))
        .unwrap_or(tokens.len());
    &tokens[..end]
}

/// Splits `TYPE *name[N]` into the type words and the declarator (stars, name, brackets).
fn split_type(tokens: &[Token]) -> Option<(String, &[Token])> {
    // The name is the last identifier outside brackets.
    let mut depth = 0usize;
    let mut name_at = None;
    for (i, t) in tokens.iter().enumerate() {
        match t.text.as_str() {
            "[" | "(" => depth += 1,
            "]" | ")" => depth = depth.saturating_sub(1),
            _ if depth == 0 && t.kind == TokKind::Ident => name_at = Some(i),
            _ => {}
        }
    }
    let name_at = name_at?;
    let mut decl_start = name_at;
    while decl_start > 0 && tokens[decl_start - 1].is("*") {
        decl_start -= 1;
    }
    let mut base = String::new();
    let mut i = 0;
    while i < decl_start {
        let t = &tokens[i];
        if t.is("[") {
            // Template or buffer arguments belong to the type: skip them.
            i = matching(tokens, i).map_or(decl_start, |e| e + 1);
            base.push_str("[]");
            continue;
        }
        if t.is(".") {
            base.push('.');
        } else {
            if !base.is_empty() && !base.ends_with('.') {
                base.push(' ');
            }
            base.push_str(&t.text);
        }
        i += 1;
    }
    Some((base, &tokens[decl_start..]))
}

fn declarator(base: &str, decl: &[Token]) -> Option<Param> {
    let stars = decl.iter().take_while(|t| t.is("*")).count();
    let name = decl.get(stars).filter(|t| t.kind == TokKind::Ident)?;
    let arrays = decl[stars + 1..].iter().filter(|t| t.is("[")).count();
    let mut base = base.to_string();
    let mut pointers = stars + arrays;
    if base.contains("[]") {
        // Memoryviews and C++ templates: not a plain object.
        base = base.replace("[]", "");
        pointers += 1;
    }
    Some(Param {
        name: name.text.clone(),
        span: name.span,
        ty: Some(TypeRef {
            base: base.trim().to_string(),
            pointers,
        }),
    })
}

/// Parses one parameter of a `def`/`cdef` function or an extern declaration.
fn parameter(tokens: &[Token]) -> Option<Param> {
    let mut toks: &[Token] = tokens;
    if toks.first().is_some_and(|t| t.is("*") || t.is("**")) && toks.len() == 2 {
        let name = &toks[1];
        return Some(Param {
            name: name.text.clone(),
            span: name.span,
            ty: None,
        });
    }
    toks = until_assign(toks);
    // `x not None`, `x or None`
    if toks.len() >= 2 && toks[toks.len() - 1].is("None") {
        let k = &toks[toks.len() - 2];
        if k.is("not") || k.is("or") {
            toks = &toks[..toks.len() - 2];
        }
    }
    // Python annotation `x: T`
    if let Some(c) = toks.iter().position(|t| t.is(":")) {
        let name = toks.first().filter(|t| t.kind == TokKind::Ident)?;
        let ty = split_type_only(&toks[c + 1..]);
        return Some(Param {
            name: name.text.clone(),
            span: name.span,
            ty,
        });
    }
    match toks {
        [] => None,
        [name] if name.kind == TokKind::Ident => Some(Param {
            name: name.text.clone(),
            span: name.span,
            ty: None,
        }),
        [..] => {
            let (base, decl) = split_type(toks)?;
            if base.is_empty() {
                // Only a name: extern prototypes may omit names, `(int)`.
                return None;
            }
            declarator(&base, decl)
        }
    }
}

/// A type without a declared name (`x: list`, extern parameter `void *`).
fn split_type_only(tokens: &[Token]) -> Option<TypeRef> {
    let stars = tokens.iter().rev().take_while(|t| t.is("*")).count();
    let words: Vec<&str> = tokens[..tokens.len() - stars]
        .iter()
        .filter(|t| t.kind == TokKind::Ident)
        .map(|t| t.text.as_str())
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(TypeRef {
        base: words.join(" "),
        pointers: stars,
    })
}

/// The return type written before a prototype's name: the type words without declaration
/// modifiers, and the `*`s.
fn return_type(tokens: &[Token]) -> Option<TypeRef> {
    let words: Vec<&str> = tokens
        .iter()
        .filter(|t| t.kind == TokKind::Ident && !DECL_MODIFIERS.contains(&t.text.as_str()))
        .filter(|t| !t.is("cdef") && !t.is("cpdef"))
        .map(|t| t.text.as_str())
        .collect();
    if words.is_empty() || tokens.iter().any(|t| t.is("(") || t.is("[")) {
        return None;
    }
    Some(TypeRef {
        base: words.join(" "),
        pointers: tokens.iter().filter(|t| t.is("*")).count(),
    })
}

/// Parameters of an extern prototype, whose names are optional.
fn extern_parameter(tokens: &[Token]) -> Param {
    let toks = until_assign(tokens);
    let c_word = |t: &Token| {
        matches!(
            t.text.as_str(),
            "int"
                | "long"
                | "char"
                | "short"
                | "double"
                | "float"
                | "void"
                | "unsigned"
                | "signed"
                | "const"
                | "size_t"
                | "bint"
                | "PyObject"
        )
    };
    let named = toks.len() >= 2
        && toks
            .last()
            .is_some_and(|t| t.kind == TokKind::Ident && !c_word(t))
        && !toks[toks.len() - 2].is(".");
    if named && let Some(p) = parameter(toks) {
        return p;
    }
    let span = match (toks.first(), toks.last()) {
        (Some(a), Some(b)) => Span::new(a.span.start as usize, b.span.end as usize),
        _ => Span::default(),
    };
    Param {
        name: String::new(),
        span,
        ty: split_type_only(toks),
    }
}

/// The parenthesised parameter list starting at `open`.
fn parameter_list(tokens: &[Token], open: usize, extern_decl: bool) -> Option<Vec<Param>> {
    let close = matching(tokens, open)?;
    let inner = &tokens[open + 1..close];
    let mut out = Vec::new();
    for part in split_commas(inner) {
        if part.is_empty() || (part.len() == 1 && (part[0].is("*") || part[0].is("/"))) {
            continue;
        }
        if part.len() == 1 && part[0].is("void") && extern_decl {
            continue;
        }
        if part.first().is_some_and(|t| t.is(".")) {
            continue; // varargs `...`
        }
        if extern_decl {
            out.push(extern_parameter(part));
        } else {
            out.push(parameter(part)?);
        }
    }
    Some(out)
}

fn stmt_of(node: &Node, depth: usize) -> Stmt {
    let children = if depth >= MAX_DEPTH {
        Vec::new()
    } else {
        node.children
            .iter()
            .map(|c| stmt_of(c, depth + 1))
            .collect()
    };
    Stmt {
        span: node.line.span,
        tokens: node.line.tokens.clone(),
        children,
    }
}

impl Reader<'_> {
    fn skip(&mut self, line: &Line, what: impl Into<String>) {
        self.file.skipped.push(Skipped {
            span: line.span,
            what: what.into(),
        });
    }

    fn module_level(&mut self, nodes: &[Node], depth: usize) {
        let mut decorators: Vec<String> = Vec::new();
        for node in nodes {
            let t = &node.line.tokens;
            let words = texts(t);
            if depth >= MAX_DEPTH {
                self.skip(&node.line, "nesting too deep");
                continue;
            }
            match words.as_slice() {
                ["@", ..] => {
                    decorators.push(decorator_text(t));
                    continue;
                }
                ["IF" | "ELIF" | "ELSE", ..]
                | [
                    "if" | "elif" | "else" | "try" | "except" | "finally" | "with",
                    ..,
                ] => {
                    // Compile-time conditionals and module-level Python blocks: their
                    // definitions count like any other.
                    self.module_level(&node.children, depth + 1);
                }
                ["cdef" | "cpdef", ..] | ["ctypedef", ..] => self.cdef(node, &decorators, depth),
                ["def" | "async", ..] => {
                    if let Some(f) = self.function(node, FunctionKind::Def) {
                        self.file.functions.push(f);
                    }
                }
                ["class", ..] => {
                    // A Python class: its methods are functions like any other.
                    for child in &node.children {
                        if child
                            .line
                            .tokens
                            .first()
                            .is_some_and(|t| t.is("def") || t.is("cdef") || t.is("cpdef"))
                            && let Some(f) = self.function(child, FunctionKind::Def)
                        {
                            self.file.functions.push(f);
                        }
                    }
                }
                _ => {
                    // Python statements: imports, assignments, calls, DEF constants.
                    if let Some(eq) = t.iter().position(|x| x.is("=")) {
                        for target in split_commas(&t[..eq]) {
                            if let [name] = target
                                && name.kind == TokKind::Ident
                            {
                                self.file.globals.push(Param {
                                    name: name.text.clone(),
                                    span: name.span,
                                    ty: None,
                                });
                            }
                        }
                    }
                }
            }
            decorators.clear();
        }
    }

    /// A line starting with `cdef`, `cpdef` or `ctypedef` at module level.
    fn cdef(&mut self, node: &Node, decorators: &[String], depth: usize) {
        let t = &node.line.tokens;
        let mut i = 1;
        while t
            .get(i)
            .is_some_and(|x| DECL_MODIFIERS.contains(&x.text.as_str()) && !x.is("extern"))
        {
            i += 1;
        }
        let head = t.first().map_or("", |x| x.text.as_str());
        let word = t.get(i).map_or("", |x| x.text.as_str());
        if head == "ctypedef" {
            self.ctypedef(node);
            return;
        }
        match word {
            "extern" => self.extern_block(node, depth),
            "class" => self.class(node, i + 1, decorators),
            "struct" | "union" | "enum" | "cppclass" | "fused" => {
                if let Some(name) = t.get(i + 1).filter(|x| x.kind == TokKind::Ident) {
                    self.file.c_types.insert(name.text.clone());
                }
            }
            ":" if t.len() == i + 1 => {
                // `cdef:` block: each line reads as if it started with `cdef`.
                for child in &node.children {
                    self.cdef_block_member(child);
                }
            }
            _ => {
                let kind = if head == "cpdef" {
                    FunctionKind::Cpdef
                } else {
                    FunctionKind::Cdef
                };
                if is_function_header(&t[i..]) {
                    if header_colon(t).is_some()
                        && let Some(f) = self.function(node, kind)
                    {
                        self.file.functions.push(f);
                    }
                    // Without a body: a forward declaration.
                } else {
                    self.global_decl(&node.line, &t[i..]);
                }
            }
        }
    }

    fn cdef_block_member(&mut self, node: &Node) {
        let t = &node.line.tokens;
        let mut i = 0;
        while t
            .get(i)
            .is_some_and(|x| DECL_MODIFIERS.contains(&x.text.as_str()))
        {
            i += 1;
        }
        match t.get(i).map(|x| x.text.as_str()) {
            Some("struct" | "union" | "enum" | "cppclass" | "fused") => {
                if let Some(name) = t.get(i + 1).filter(|x| x.kind == TokKind::Ident) {
                    self.file.c_types.insert(name.text.clone());
                }
            }
            Some("ctypedef") => self.ctypedef(node),
            _ if is_function_header(&t[i..]) => {
                if header_colon(t).is_some()
                    && let Some(f) = self.function(node, FunctionKind::Cdef)
                {
                    self.file.functions.push(f);
                }
            }
            _ => self.global_decl(&node.line, t),
        }
    }

    fn global_decl(&mut self, line: &Line, tokens: &[Token]) {
        let mut i = 0;
        while tokens
            .get(i)
            .is_some_and(|x| DECL_MODIFIERS.contains(&x.text.as_str()) || x.is("cdef"))
        {
            i += 1;
        }
        match declarations(&tokens[i..]) {
            Some(decls) => self.file.globals.extend(decls),
            None => self.skip(line, "module-level declaration"),
        }
    }

    fn ctypedef(&mut self, node: &Node) {
        let t = &node.line.tokens;
        let words = texts(t);
        // ctypedef class / ctypedef struct X: / ctypedef fused X: / ctypedef T name
        match words.get(1..).unwrap_or(&[]) {
            ["class", ..] | ["public", "class", ..] => {
                let at = words.iter().position(|w| *w == "class").unwrap_or(1);
                if let Some(name) = t.get(at + 1).filter(|x| x.kind == TokKind::Ident) {
                    // `ctypedef class mod.Name [object X]`: the last dotted part.
                    let mut name = name.text.clone();
                    let mut k = at + 2;
                    while t.get(k).is_some_and(|x| x.is(".")) {
                        if let Some(n) = t.get(k + 1) {
                            name = n.text.clone();
                        }
                        k += 2;
                    }
                    self.file.extension_types.insert(name);
                }
            }
            ["struct" | "union" | "enum" | "fused" | "packed", ..] => {
                let name = t[2..]
                    .iter()
                    .take_while(|x| !x.is(":"))
                    .filter(|x| x.kind == TokKind::Ident && !x.is("struct"))
                    .last();
                // `ctypedef enum:` without a name declares constants only.
                if let Some(n) = name {
                    self.file.c_types.insert(n.text.clone());
                }
            }
            _ => {
                let body = &t[1..];
                let name = if is_function_header(body)
                    && !body.windows(2).any(|w| w[0].is("(") && w[1].is("*"))
                {
                    // A function type: `ctypedef int handler_t(void *data)`.
                    let open = body.iter().position(|x| x.is("(")).unwrap_or(0);
                    body[..open]
                        .iter()
                        .rev()
                        .find(|x| x.kind == TokKind::Ident)
                        .map(|x| x.text.clone())
                } else {
                    declarations(body).and_then(|d| d.into_iter().next().map(|p| p.name))
                };
                match name {
                    Some(n) => {
                        self.file.c_types.insert(n);
                    }
                    None => self.skip(&node.line, "ctypedef"),
                }
            }
        }
    }

    fn extern_block(&mut self, node: &Node, depth: usize) {
        // `cdef extern from "h" [nogil]:` with a block, or a one-line `cdef extern DECL`.
        let t = &node.line.tokens;
        if header_colon(t).is_none() {
            let at = t
                .iter()
                .position(|x| x.is("extern"))
                .map_or(t.len(), |k| k + 1);
            self.extern_decl(&node.line, &t[at..]);
            return;
        }
        self.extern_children(&node.children, depth + 1);
    }

    fn extern_children(&mut self, nodes: &[Node], depth: usize) {
        if depth >= MAX_DEPTH {
            return;
        }
        for child in nodes {
            let ct = &child.line.tokens;
            let words = texts(ct);
            match words.as_slice() {
                ["pass"] | ["\"\""] => {}
                ["ctypedef", ..] => self.ctypedef(child),
                ["cdef" | "cpdef", ..] => {
                    // `cdef` inside an extern block is allowed and redundant.
                    let rest = &ct[1..];
                    self.extern_member(child, rest, depth);
                }
                _ => self.extern_member(child, ct, depth),
            }
        }
    }

    fn extern_member(&mut self, node: &Node, t: &[Token], depth: usize) {
        let mut i = 0;
        while t
            .get(i)
            .is_some_and(|x| DECL_MODIFIERS.contains(&x.text.as_str()))
        {
            i += 1;
        }
        let rest = &t[i..];
        match rest.first().map(|x| x.text.as_str()) {
            Some("struct" | "union" | "enum" | "cppclass" | "class" | "packed") => {
                // `class mod.Name [object X]`: the last part of the dotted name.
                let name_end = rest
                    .iter()
                    .position(|x| x.is("[") || x.is("(") || x.is(":"))
                    .unwrap_or(rest.len());
                if let Some(name) = rest[1..name_end]
                    .iter()
                    .rev()
                    .find(|x| x.kind == TokKind::Ident && !x.is("struct"))
                {
                    if rest[0].is("class") {
                        self.file.extension_types.insert(name.text.clone());
                    } else {
                        self.file.c_types.insert(name.text.clone());
                    }
                }
            }
            Some("IF" | "ELIF" | "ELSE") => self.extern_children(&node.children, depth + 1),
            _ => self.extern_decl(&node.line, rest),
        }
    }

    /// A declaration inside `cdef extern`: a function prototype or a variable.
    fn extern_decl(&mut self, line: &Line, t: &[Token]) {
        let t = &strip_cnames(t)[..];
        if is_function_header(t) {
            let open = t.iter().position(|x| x.is("(")).unwrap_or(0);
            let name_at = t[..open].iter().rposition(|x| x.kind == TokKind::Ident);
            let name = name_at.map(|k| &t[k]);
            match (name, parameter_list(t, open, true)) {
                (Some(name), Some(params)) => self.file.externs.push(ExternFunction {
                    name: name.text.clone(),
                    span: name.span,
                    params,
                    returns: name_at.and_then(|k| return_type(&t[..k])),
                }),
                _ => self.skip(line, "extern function declaration"),
            }
            return;
        }
        if declarations(t).is_none() {
            self.skip(line, "extern declaration");
        }
    }

    fn class(&mut self, node: &Node, at: usize, decorators: &[String]) {
        let t = &node.line.tokens;
        let Some(name) = t.get(at).filter(|x| x.kind == TokKind::Ident) else {
            self.skip(&node.line, "class header");
            return;
        };
        let mut bases = Vec::new();
        let mut k = at + 1;
        if t.get(k).is_some_and(|x| x.is("[")) {
            k = matching(t, k).map_or(t.len(), |e| e + 1);
        }
        if t.get(k).is_some_and(|x| x.is("("))
            && let Some(close) = matching(t, k)
        {
            for part in split_commas(&t[k + 1..close]) {
                let dotted: String = part.iter().map(|x| x.text.as_str()).collect();
                bases.push(dotted);
            }
        }
        let mut class = ClassDef {
            name: name.text.clone(),
            span: name.span,
            decorators: decorators.to_vec(),
            bases,
            attributes: Vec::new(),
            methods: Vec::new(),
            has_body: true,
        };
        let mut method_decorators = Vec::new();
        for child in &node.children {
            self.class_member(child, &mut class, &mut method_decorators);
        }
        self.file.classes.push(class);
    }

    fn class_member(&mut self, child: &Node, class: &mut ClassDef, decorators: &mut Vec<String>) {
        let ct = &child.line.tokens;
        let words = texts(ct);
        match words.as_slice() {
            ["@", ..] => {
                decorators.push(decorator_text(ct));
                return;
            }
            ["pass"] | ["\"\""] => {}
            [
                "if" | "elif" | "else" | "try" | "except" | "finally" | "with" | "IF" | "ELIF"
                | "ELSE",
                ..,
            ] => {
                // Compound statements in a class body: their members count like any other.
                let mut inner = Vec::new();
                for grand in &child.children {
                    self.class_member(grand, class, &mut inner);
                }
            }
            ["def" | "async", ..] => {
                if let Some(f) = self.function(child, FunctionKind::Def) {
                    class.methods.push(f);
                }
            }
            ["property", _, ":"] => {
                // Old-style property blocks: `__get__`/`__set__` methods inside.
                for grand in &child.children {
                    if grand.line.tokens.first().is_some_and(|x| x.is("def"))
                        && let Some(f) = self.function(grand, FunctionKind::Def)
                    {
                        class.methods.push(f);
                    }
                }
            }
            ["cdef" | "cpdef", ..] => {
                let kind = if words[0] == "cpdef" {
                    FunctionKind::Cpdef
                } else {
                    FunctionKind::Cdef
                };
                let mut i = 1;
                while ct
                    .get(i)
                    .is_some_and(|x| DECL_MODIFIERS.contains(&x.text.as_str()))
                {
                    i += 1;
                }
                if ct.get(i).is_some_and(|x| x.is(":")) && ct.len() == i + 1 {
                    for grand in &child.children {
                        self.attribute_decl(&grand.line, &grand.line.tokens, class);
                    }
                } else if is_function_header(&ct[i..]) {
                    if header_colon(ct).is_some()
                        && let Some(f) = self.function(child, kind)
                    {
                        class.methods.push(f);
                    }
                } else {
                    self.attribute_decl(&child.line, &ct[i..], class);
                }
            }
            _ => {
                // Class-level Python statements: `x = 1`, `__slots__`, docstrings.
                if !ct.iter().any(|x| x.is("=")) {
                    self.skip(&child.line, "class body statement");
                }
            }
        }
        decorators.clear();
    }

    fn attribute_decl(&mut self, line: &Line, tokens: &[Token], class: &mut ClassDef) {
        let mut i = 0;
        while tokens
            .get(i)
            .is_some_and(|x| DECL_MODIFIERS.contains(&x.text.as_str()) || x.is("cdef"))
        {
            i += 1;
        }
        match declarations(&tokens[i..]) {
            Some(decls) => class.attributes.extend(decls.into_iter().filter_map(|p| {
                Some(Attribute {
                    name: p.name,
                    span: p.span,
                    ty: p.ty?,
                })
            })),
            None => self.skip(line, "attribute declaration"),
        }
    }

    /// A function with a body: its header and statements.
    fn function(&mut self, node: &Node, kind: FunctionKind) -> Option<FunctionDef> {
        let t = &node.line.tokens;
        let Some(colon) = header_colon(t) else {
            self.skip(&node.line, "function header");
            return None;
        };
        let header = &t[..colon];
        let Some(open) = header.iter().position(|x| x.is("(")) else {
            self.skip(&node.line, "function header");
            return None;
        };
        let Some(name) = header[..open]
            .iter()
            .rev()
            .find(|x| x.kind == TokKind::Ident)
        else {
            self.skip(&node.line, "function header");
            return None;
        };
        let Some(params) = parameter_list(header, open, false) else {
            self.skip(&node.line, "parameter list");
            return None;
        };
        let mut body: Vec<Stmt> = Vec::new();
        if colon + 1 < t.len() {
            // One-line body after the colon.
            let rest = &t[colon + 1..];
            let span = Span::new(
                rest[0].span.start as usize,
                rest[rest.len() - 1].span.end as usize,
            );
            body.push(Stmt {
                span,
                tokens: rest.to_vec(),
                children: Vec::new(),
            });
        }
        body.extend(node.children.iter().map(|c| stmt_of(c, 0)));
        let mut f = FunctionDef {
            name: name.text.clone(),
            span: name.span,
            kind,
            params,
            body,
            locals: Vec::new(),
        };
        let mut locals = Vec::new();
        let mut bad = Vec::new();
        f.walk(|s, parents| {
            let in_cdef_block = parents
                .last()
                .is_some_and(|p| p.tokens.len() == 2 && p.first_is("cdef") && p.tokens[1].is(":"));
            let toks: &[Token] = if s.first_is("cdef") {
                &s.tokens[1..]
            } else if in_cdef_block {
                &s.tokens
            } else {
                return;
            };
            if toks.len() == 1 && toks[0].is(":") {
                return;
            }
            let mut i = 0;
            while toks
                .get(i)
                .is_some_and(|x| DECL_MODIFIERS.contains(&x.text.as_str()))
            {
                i += 1;
            }
            match declarations(&toks[i..]) {
                Some(d) => locals.extend(d),
                None => bad.push(s.span),
            }
        });
        for span in bad {
            self.file.skipped.push(Skipped {
                span,
                what: "local declaration".into(),
            });
        }
        f.locals = locals;
        Some(f)
    }
}

fn decorator_text(t: &[Token]) -> String {
    t.iter().skip(1).map(|x| x.text.as_str()).collect()
}

/// `TYPE name(` — a function declaration or definition header (not a function pointer).
fn is_function_header(t: &[Token]) -> bool {
    let Some(open) = t.iter().position(|x| x.is("(")) else {
        return false;
    };
    open > 0 && t[open - 1].kind == TokKind::Ident && !t[open - 1].is("object")
}

#[cfg(test)]
mod tests;
