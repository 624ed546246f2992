//! Rule metadata and the registry of all rules.

/// Static metadata of one rule. The docs are the rule's own doc comment, captured by
/// [`declare_rule!`](crate::declare_rule), so there is one source for `cpycheck rule CODE`,
/// generated docs and SARIF help text.
#[derive(Clone, Copy, Debug)]
pub struct RuleMeta {
    /// Stable code, e.g. `CPY101`. Never reused.
    pub code: &'static str,
    /// Kebab-case name, e.g. `reference-leak`.
    pub name: &'static str,
    /// The rule's documentation in Markdown (What it does / Why is this bad? / Example /
    /// Use instead / Known limitations).
    pub docs: &'static str,
    /// Preview rules are reported only with `--preview`. A rule leaves preview when its
    /// measured precision on the triaged real-code corpus is 90% or more (`bench/TRIAGE.md`).
    pub preview: bool,
}

impl RuleMeta {
    /// The first sentence of "What it does", for one-line listings.
    pub fn summary(&self) -> &'static str {
        let body = self
            .docs
            .split_once("## What it does")
            .map_or(self.docs, |(_, rest)| rest)
            .trim_start();
        let para = body.split("\n\n").next().unwrap_or("").trim();
        // The first sentence: up to a `. ` that does not end an abbreviation.
        let mut from = 0;
        while let Some(i) = para[from..].find(". ") {
            let end = from + i;
            let before = &para[..end];
            if !["e.g", "i.e", "etc", "vs"]
                .iter()
                .any(|a| before.ends_with(a))
            {
                return before;
            }
            from = end + 2;
        }
        para.strip_suffix('.').unwrap_or(para)
    }
}

/// Declares a rule: a unit struct carrying its doc comment as [`RuleMeta`].
///
/// ```text
/// declare_rule! {
///     /// ## What it does
///     /// ...
///     pub ReferenceLeak, "CPY101", "reference-leak"
/// }
/// ```
#[macro_export]
macro_rules! declare_rule {
    ($(#[doc = $doc:expr])* $vis:vis $name:ident, $code:literal, $rule:literal $(, preview = $preview:literal)?) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug)]
        $vis struct $name;

        impl $name {
            pub const META: $crate::registry::RuleMeta = $crate::registry::RuleMeta {
                code: $code,
                name: $rule,
                docs: concat!($($doc, "\n"),*),
                preview: false $(|| $preview)?,
            };
        }
    };
}

/// What a rule says about one engine finding: the message and its decorations. The
/// location, code and trace are filled in by the caller.
#[derive(Clone, Debug)]
pub struct Message {
    pub message: String,
    pub help: Option<String>,
    pub labels: Vec<cpycheck_diagnostics::Label>,
}

impl Message {
    pub fn new(message: impl Into<String>) -> Message {
        Message {
            message: message.into(),
            help: None,
            labels: Vec::new(),
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Message {
        self.help = Some(help.into());
        self
    }

    pub fn label(
        mut self,
        span: cpycheck_diagnostics::Span,
        message: impl Into<String>,
    ) -> Message {
        if !span.is_empty() {
            self.labels.push(cpycheck_diagnostics::Label {
                span,
                message: message.into(),
            });
        }
        self
    }
}

/// A rule and how it finds things.
pub(crate) struct RuleEntry {
    pub meta: RuleMeta,
    pub check: Check,
}

/// The three kinds of rules.
#[derive(Clone, Copy)]
pub enum Check {
    /// Path rules turn the ownership engine's findings into messages (`None`: not this
    /// rule's kind of finding).
    Finding(fn(&cpycheck_engine::Finding) -> Option<Message>),
    /// File rules look at the whole file: its syntax model and the lowered functions (type
    /// objects, method tables, format strings).
    File(fn(&FileContext<'_>) -> Vec<FileFinding>),
    /// Cython rules look at a `.pyx`/`.pxd` file's Cython model.
    Cython(fn(&CythonContext<'_>) -> Vec<FileFinding>),
}

/// What a Cython rule sees.
pub struct CythonContext<'a> {
    pub path: &'a str,
    /// The file's text (same length as on disk).
    pub source: &'a str,
    pub file: &'a cpycheck_cython::CythonFile,
}

/// What a file rule sees.
pub struct FileContext<'a> {
    pub path: &'a str,
    /// The file's text as on disk (invalid UTF-8 bytes read as `?`): the same offsets as the
    /// prepared text, with the preprocessor lines and inactive `#if` arms still in it.
    pub source: &'a str,
    pub model: &'a cpycheck_syntax::FileModel,
    /// Every function without parse error regions, lowered to the IR.
    pub bodies: &'a [cpycheck_ir::Body],
    pub python_version: (u8, u8),
    /// What the functions do with members of objects, gathered once for the rules that need
    /// it (see [`crate::lifecycle::MemberUses`]).
    pub(crate) member_uses: std::sync::OnceLock<crate::lifecycle::MemberUses<'a>>,
}

impl<'a> FileContext<'a> {
    pub fn new(
        path: &'a str,
        source: &'a str,
        model: &'a cpycheck_syntax::FileModel,
        bodies: &'a [cpycheck_ir::Body],
        python_version: (u8, u8),
    ) -> FileContext<'a> {
        FileContext {
            path,
            source,
            model,
            bodies,
            python_version,
            member_uses: std::sync::OnceLock::new(),
        }
    }

    /// The file's member uses, gathered by the first rule that asks.
    pub(crate) fn member_uses(&self) -> &crate::lifecycle::MemberUses<'a> {
        self.member_uses
            .get_or_init(|| crate::lifecycle::MemberUses::new(self.model, self.bodies))
    }
}

/// One finding of a file rule.
#[derive(Clone, Debug)]
pub struct FileFinding {
    pub span: cpycheck_diagnostics::Span,
    /// The C function the finding is in or about, when there is one.
    pub function: Option<String>,
    pub message: Message,
    pub notes: Vec<String>,
    pub trace: Vec<cpycheck_diagnostics::TraceStep>,
}

impl FileFinding {
    pub fn new(span: cpycheck_diagnostics::Span, message: Message) -> FileFinding {
        FileFinding {
            span,
            function: None,
            message,
            notes: Vec::new(),
            trace: Vec::new(),
        }
    }

    pub fn in_function(mut self, function: impl Into<String>) -> FileFinding {
        self.function = Some(function.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> FileFinding {
        self.notes.push(note.into());
        self
    }
}

/// How messages name an object: its variable, or the call that produced it.
pub(crate) fn object_name(o: &cpycheck_engine::ObjectDesc) -> String {
    match &o.name {
        Some(n) => n.clone(),
        None if o.what.is_empty() => "object".to_string(),
        None if o.origin.is_new() || o.what.starts_with("Py") && !o.what.starts_with("Py_") => {
            format!("{}(...)", o.what)
        }
        None => o.what.clone(),
    }
}
