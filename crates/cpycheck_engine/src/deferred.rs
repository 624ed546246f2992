//! Calls whose thrown-away error result is handled another way (CPY203).
//!
//! A call made as a statement loses its result, but not necessarily its failure:
//! - a `PyErr_Occurred()` test further on catches the exception it left (a cleanup label
//!   that sorts out every failure at once);
//! - an output argument initialised to NULL stays NULL when the call fails, and the code
//!   tests that output (`PyObject *o = NULL; PyArg_ParseTuple(args, "O", &o); if (!o) ...`);
//! - the call cannot fail with what it is given (`PyBytes_AsStringAndSize` of a fresh bytes
//!   object with a length pointer).

use cpycheck_contracts::Varargs;
use cpycheck_contracts::exceptions::{ExcEffect, exc_effect};
use cpycheck_contracts::must_check;
use cpycheck_ir::{
    BlockId, Body, Call, Callee, Cond, Operand, Place, Rvalue, StatementKind, Terminator,
};
use cpycheck_syntax::Span;

use crate::formats::parse_units;
use std::collections::HashSet;

/// The spans of the `Discard` statements whose failure is handled, or impossible.
pub(crate) fn handled_discards(body: &Body) -> HashSet<Span> {
    let mut out = HashSet::new();
    for (b, block) in body.blocks.iter().enumerate() {
        for (i, s) in block.stmts.iter().enumerate() {
            let StatementKind::Discard {
                arg: Operand::Copy(temp),
            } = &s.kind
            else {
                continue;
            };
            let Some(call) = block.stmts[..i].iter().rev().find_map(|s| match &s.kind {
                StatementKind::Assign {
                    dest,
                    value: Rvalue::Call(call),
                } if dest == temp => Some(call),
                _ => None,
            }) else {
                continue;
            };
            let b = BlockId(b as u32);
            if cannot_fail(body, b, call) || checked_later(body, b, i, call) {
                out.insert(s.span);
            }
        }
    }
    out
}

/// The spans of calls made as a statement, for the exception they raise, right before an
/// error return (`PyUnicode_AsASCIIString(o); return NULL;` for a string known not to be
/// ASCII, in Cython's `__Pyx_PyUnicode_AsStringAndSize`): nothing else runs between the
/// call and the return. When no exception is known to be set before the call, the return
/// is correct only if the call failed, so its result is NULL (the engine checks that
/// condition; a call made after a failure, `PyObject_CallMethod(f, "close", NULL); return
/// NULL;` with the exception set, still leaks when it succeeds).
pub(crate) fn calls_for_their_exception(body: &Body) -> HashSet<Span> {
    let mut out = HashSet::new();
    for block in &body.blocks {
        if !matches!(
            block.term,
            Terminator::Return(Some(Operand::Null | Operand::Int(-1)))
        ) {
            continue;
        }
        let Some(i) = block
            .stmts
            .iter()
            .rposition(|s| !matches!(s.kind, StatementKind::EndStatement))
        else {
            continue;
        };
        let StatementKind::Discard {
            arg: Operand::Copy(temp),
        } = &block.stmts[i].kind
        else {
            continue;
        };
        if let Some(s) = i.checked_sub(1).map(|j| &block.stmts[j])
            && let StatementKind::Assign {
                dest,
                value: Rvalue::Call(_),
            } = &s.kind
            && dest == temp
        {
            out.insert(s.span);
        }
    }
    out
}

fn callee_name(call: &Call) -> Option<&str> {
    match &call.callee {
        Callee::Named(n) => Some(n),
        Callee::Indirect { .. } => None,
    }
}

/// The call's only failure is a first argument that is not bytes, and that argument was
/// tested as bytes on the way to the call, or is a local that only ever holds NULL or the
/// result of an API that returns bytes.
fn cannot_fail(body: &Body, b: BlockId, call: &Call) -> bool {
    let Some(name) = callee_name(call) else {
        return false;
    };
    if !must_check::fails_only_on_non_bytes(name) {
        return false;
    }
    let (Some(Operand::Copy(p @ Place::Local(_))), Some(len)) =
        (call.args.first(), call.args.get(2))
    else {
        return false;
    };
    if matches!(len, Operand::Null | Operand::Int(0)) {
        return false;
    }
    if tested_as_bytes(body, b, p) {
        return true;
    }
    let mut assigned = false;
    for block in &body.blocks {
        for s in &block.stmts {
            match &s.kind {
                StatementKind::Assign { dest, value } if dest == p => match value {
                    Rvalue::Use(Operand::Null) => {}
                    Rvalue::Call(c) if callee_name(c).is_some_and(must_check::returns_bytes) => {
                        assigned = true;
                    }
                    _ => return false,
                },
                // Its address taken: anything may be written there, but a parse format's
                // `S` unit writes only bytes.
                StatementKind::Assign {
                    value: Rvalue::Call(c),
                    ..
                } if c
                    .args
                    .iter()
                    .any(|a| matches!(a, Operand::AddrOf(q) if q == p)) =>
                {
                    if parsed_as_bytes(c, p) {
                        assigned = true;
                    } else {
                        return false;
                    }
                }
                _ => {}
            }
        }
    }
    assigned
}

/// `c` is a `PyArg_Parse*` call whose format stores a bytes object (unit `S`) through `&p`,
/// and nothing else.
fn parsed_as_bytes(c: &Call, p: &Place) -> bool {
    let Some(contract) = callee_name(c).and_then(cpycheck_contracts::lookup) else {
        return false;
    };
    let Varargs::ParseFormat { format } = contract.varargs else {
        return false;
    };
    let Some(Operand::Str(text)) = c.args.get(format) else {
        return false;
    };
    let Some(units) = parse_units(text) else {
        return false;
    };
    let mut k = contract.args.len().max(format + 1);
    let mut found = false;
    for u in &units {
        for _ in &u.args {
            if matches!(c.args.get(k), Some(Operand::AddrOf(q)) if q == p) {
                if u.text != "S" {
                    return false;
                }
                found = true;
            }
            k += 1;
        }
    }
    found
}

/// Block `b` is reached only through the true side of `PyBytes_Check(p)`: walking back
/// through blocks with a single predecessor, a branch on such a check enters the chain on
/// its "then" edge.
fn tested_as_bytes(body: &Body, b: BlockId, p: &Place) -> bool {
    let preds = |n: BlockId| -> Vec<BlockId> {
        (0..body.blocks.len() as u32)
            .map(BlockId)
            .filter(|&m| successors(&body.block(m).term).contains(&n))
            .collect()
    };
    let mut cur = b;
    for _ in 0..16 {
        let [pred] = preds(cur)[..] else {
            return false;
        };
        let bl = body.block(pred);
        if let Terminator::Branch {
            cond: Cond::Truthy(Operand::Copy(t)),
            then,
            els,
        } = &bl.term
            && *then == cur
            && *els != cur
            && bl.stmts.iter().any(|s| {
                matches!(&s.kind, StatementKind::Assign { dest, value: Rvalue::Call(c) }
                    if dest == t
                        && callee_name(c).is_some_and(must_check::is_bytes_check)
                        && matches!(c.args.first(), Some(Operand::Copy(q)) if q == p))
            })
        {
            return true;
        }
        cur = pred;
    }
    false
}

/// After statement `i` of block `b`, some path tests `PyErr_Occurred()`, or tests an output
/// of the call that starts out NULL.
fn checked_later(body: &Body, b: BlockId, i: usize, call: &Call) -> bool {
    // Outputs the failure leaves as they were: places passed by address that the function
    // sets to NULL somewhere (their initial value). Not when a format has optional units
    // (`"|O"`): then a NULL output may just mean the argument was not given.
    let optional = call
        .args
        .iter()
        .any(|a| matches!(a, Operand::Str(f) if f.contains(['|', '$'])));
    let null_outputs: Vec<&Place> = call
        .args
        .iter()
        .filter_map(|a| match a {
            Operand::AddrOf(p) => Some(p),
            _ => None,
        })
        .filter(|_| !optional)
        .filter(|p| {
            body.blocks.iter().flat_map(|bl| &bl.stmts).any(|s| {
                matches!(&s.kind, StatementKind::Assign { dest, value: Rvalue::Use(Operand::Null) } if dest == *p)
            })
        })
        .collect();
    let tests_exception = |kind: &StatementKind| {
        matches!(kind, StatementKind::Assign { value: Rvalue::Call(c), .. }
            if callee_name(c).is_some_and(|n| exc_effect(n) == Some(ExcEffect::Tests)))
    };
    let tests_output = |term: &Terminator| {
        let Terminator::Branch { cond, .. } = term else {
            return false;
        };
        let is_output = |op: &Operand| matches!(op, Operand::Copy(p) if null_outputs.contains(&p));
        match cond {
            Cond::Truthy(op) => is_output(op),
            Cond::Compare { lhs, rhs, .. } => {
                (is_output(lhs) && matches!(rhs, Operand::Null))
                    || (is_output(rhs) && matches!(lhs, Operand::Null))
            }
        }
    };
    let block = body.block(b);
    if block.stmts[i + 1..]
        .iter()
        .any(|s| tests_exception(&s.kind))
        || tests_output(&block.term)
    {
        return true;
    }
    let mut seen = vec![false; body.blocks.len()];
    let mut work: Vec<BlockId> = successors(&block.term);
    while let Some(n) = work.pop() {
        if std::mem::replace(&mut seen[n.0 as usize], true) {
            continue;
        }
        let bl = body.block(n);
        if bl.stmts.iter().any(|s| tests_exception(&s.kind)) || tests_output(&bl.term) {
            return true;
        }
        work.extend(successors(&bl.term));
    }
    false
}

fn successors(term: &Terminator) -> Vec<BlockId> {
    match term {
        Terminator::Goto(t) => vec![*t],
        Terminator::Branch { then, els, .. } => vec![*then, *els],
        Terminator::Switch { targets } => targets.clone(),
        Terminator::Return(_) | Terminator::Unreachable => Vec::new(),
    }
}
