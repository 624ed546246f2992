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
    /// New rules start in preview until the real-code corpus shows no known false positives.
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
        para.split_once(". ")
            .map_or(para.trim_end_matches('.'), |(first, _)| first)
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

/// A rule and the function that turns engine findings into its messages.
pub(crate) struct RuleEntry {
    pub meta: RuleMeta,
    pub check: fn(&cpycheck_engine::Finding) -> Option<Message>,
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
