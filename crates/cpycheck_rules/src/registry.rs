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
/// ```ignore
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
