//! What the engine reports. Findings are facts about ownership; the rules crate turns them
//! into coded diagnostics with messages. The engine knows no rule codes.

use cpycheck_syntax::Span;

/// Where the object came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OriginKind {
    /// A new reference returned by a call (`api` names it).
    New,
    /// A borrowed reference returned by a call (`api` names it).
    Borrowed,
    /// A parameter of a function registered with Python: a borrowed reference.
    Param,
    /// A parameter of a static helper: its contract is not known.
    HelperParam,
    /// A parameter whose reference the function's declared contract takes over.
    StolenParam,
    /// A borrowed reference to an immortal singleton (`Py_None`, ...).
    Singleton,
    /// An out-parameter filled by a call (`PyArg_ParseTuple` "O": borrowed).
    OutBorrowed,
    /// An out-parameter that receives a new reference.
    OutNew,
    /// Anything else: struct fields, globals, results of unknown functions. No finding is
    /// ever built on the ownership of such an object alone.
    Unknown,
}

impl OriginKind {
    /// Known to be a borrowed reference (releasing it without a matching `Py_INCREF` is a bug).
    pub fn is_borrowed(self) -> bool {
        matches!(
            self,
            OriginKind::Borrowed
                | OriginKind::Param
                | OriginKind::Singleton
                | OriginKind::OutBorrowed
        )
    }

    pub fn is_new(self) -> bool {
        matches!(
            self,
            OriginKind::New | OriginKind::OutNew | OriginKind::StolenParam
        )
    }
}

/// The object a finding is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectDesc {
    /// The variable that last held it, if any.
    pub name: Option<String>,
    pub origin: OriginKind,
    /// The API or function that produced it, or the parameter / singleton name.
    pub what: String,
    pub origin_span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindingKind {
    /// An owned reference is lost. `when_fails`: only on the path where that call fails
    /// (it steals on success only).
    Leak { when_fails: Option<String> },
    /// Use of an object after a release that may have freed it; `release` when the use is a
    /// second release, `returned` when it is returned.
    UseAfterRelease {
        released_at: Span,
        release: bool,
        returned: bool,
    },
    /// A release of a reference the function does not own; `stolen_by` when the "release"
    /// is a call that steals a borrowed reference.
    ReleaseOfBorrowed { stolen_by: Option<String> },
    /// A function that must return a new reference returns a borrowed one.
    BorrowedReturn { stolen_by: Option<String> },
    /// A release (or second steal) of a reference after a call stole it.
    UseAfterSteal {
        thief: String,
        stolen_at: Span,
        again_by: Option<String>,
    },
    /// `cpycheck_reveal(x)`: the engine's knowledge of `x` at that point.
    Reveal { state: String },
    /// A borrowed reference used after a call that may have changed (or freed) its lender.
    BorrowedAcrossCall {
        call: String,
        call_span: Span,
        /// The container, when the call changed one (not for weak references).
        container: Option<String>,
    },
    /// A borrowed reference stored into a long-lived place without a reference of its own.
    BorrowedStored { place: String },
    /// The result of a call that can fail is used without a NULL check (`what`: how);
    /// `known_null`: the value is NULL on this path for certain (`Py_DECREF` of a variable
    /// still NULL on an error path), not only when a call failed.
    UncheckedNull { what: String, known_null: bool },
    /// A function that must set an exception when it fails returns its error value (`NULL`,
    /// `-1`) on a path where no exception is set.
    ErrorWithoutException { null: bool },
    /// The error result of a fallible call is thrown away.
    IgnoredError { callee: String },
    /// The paths of a helper disagree about its contract (the object is the function).
    InconsistentContract {
        detail: crate::summary::Inconsistency,
    },
}

/// One step of the path behind a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The primary location.
    pub span: Span,
    pub object: ObjectDesc,
    pub trace: Vec<Step>,
    /// Other places where the same thing happens to the same object (a leak reported once
    /// per object lists its other exits here).
    pub also_at: Vec<Span>,
}
