//! Every limit of the engine, in one place. Running out of a budget makes the function
//! *incomplete*: counted in statistics, never turned into a finding. Findings already made
//! on fully explored paths are kept: each was produced by a feasible path.

/// Distinct abstract states kept per basic block. Paths that reach a block in a state already
/// seen there are merged (dropped); past this many distinct states the block stops accepting
/// new ones. 64 covers functions with a dozen independent fallible calls that are each checked
/// and cleaned up; beyond that exploring more states rarely finds new bugs.
pub const STATES_PER_BLOCK: usize = 64;

/// Block visits per function. Bounds the work on generated code with thousands of branches
/// (a 100,000-line generated file must not hang the run).
pub const BLOCK_VISITS: usize = 10_000;

/// Steps kept in a rendered trace: enough to follow an error path through a function, short
/// enough to read.
pub const TRACE_STEPS: usize = 12;

/// Blocks per function above which the function is not analysed at all (counted as skipped).
pub const MAX_BLOCKS: usize = 20_000;

/// Events kept in one history (an object's, or a path's branch decisions) before it is cut
/// back to the oldest and the [`TRACE_STEPS`] most recent: only those can be rendered, and
/// one block of macro-generated code can otherwise make millions of events per object. Four
/// traces' worth makes the cut (which copies [`TRACE_STEPS`] events) rare.
pub const HISTORY_EVENTS: usize = 4 * TRACE_STEPS;
