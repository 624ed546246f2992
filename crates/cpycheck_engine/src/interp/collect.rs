//! Collection and leaks: after a statement, objects no place reaches any more are collected;
//! those the function still owns are leaked there.

use super::*;
use crate::finding::{FindingKind, OriginKind};
use crate::state::*;
use cpycheck_syntax::Span;
use std::rc::Rc;

impl<'a> Interp<'a> {
    /// Finds objects that no place refers to any more: an owned one is leaked here.
    pub(super) fn collect(&mut self, st: &mut State, span: Span) {
        // Nothing can have become unreachable unless a reference was dropped, or an object
        // or status made, or an object's tie to a status changed.
        let dirty = std::mem::take(&mut st.gc_dirty) | st.env.take_dropped();
        if !dirty {
            #[cfg(debug_assertions)]
            self.assert_nothing_to_collect(st);
            return;
        }
        let mut reachable = std::mem::take(&mut self.reachable);
        let mut live_status = std::mem::take(&mut self.live_status);
        let mut dead = std::mem::take(&mut self.dead);
        reachable.clear();
        reachable.resize(st.objs.len(), false);
        live_status.clear();
        live_status.resize(st.statuses.len(), false);
        dead.clear();
        mark_roots(st, &mut reachable, &mut live_status);
        dead.extend(
            st.objs
                .iter()
                .enumerate()
                .filter(|(i, o)| o.is_some() && !reachable[*i])
                .map(|(i, _)| ObjId(i as u32)),
        );
        for &id in &dead {
            self.settle_unpaid_steals(st, Some(id));
            self.check_leak(st, id, span);
            if let Some((at, place)) = st.obj(id).stored_unowned.clone()
                && st.obj(id).origin.is_borrowed()
            {
                self.report(
                    st,
                    id,
                    FindingKind::BorrowedStored {
                        place: place.to_string(),
                    },
                    at,
                );
            }
            st.objs[id.0 as usize] = None;
        }
        if !dead.is_empty() {
            for o in st.objs.iter_mut().flatten() {
                if let Some(Lender::Container(c)) = o.lender
                    && dead.contains(&c)
                {
                    Rc::make_mut(o).lender = None;
                }
            }
        }
        if !dead.is_empty() {
            st.eq_facts
                .retain(|f| st.objs[f.0.0 as usize].is_some() && st.objs[f.1.0 as usize].is_some());
        }
        for o in st.objs.iter().flatten() {
            if let Some((s, _)) = o.exists_if {
                live_status[s.0 as usize] = true;
            }
            if let Some(p) = &o.pending_steal {
                live_status[p.status.0 as usize] = true;
            }
        }
        for (i, s) in st.statuses.iter_mut().enumerate() {
            if !live_status[i] {
                *s = None;
            }
        }
        self.reachable = reachable;
        self.live_status = live_status;
        self.dead = dead;
    }

    /// What [`Interp::collect`] relies on when it skips its work: no object or status is
    /// unreachable.
    #[cfg(debug_assertions)]
    pub(super) fn assert_nothing_to_collect(&self, st: &State) {
        let mut reachable = vec![false; st.objs.len()];
        let mut live_status = vec![false; st.statuses.len()];
        mark_roots(st, &mut reachable, &mut live_status);
        for (i, o) in st.objs.iter().enumerate() {
            let Some(o) = o else { continue };
            assert!(reachable[i], "object {i} unreachable but not collected");
            if let Some((s, _)) = o.exists_if {
                live_status[s.0 as usize] = true;
            }
            if let Some(p) = &o.pending_steal {
                live_status[p.status.0 as usize] = true;
            }
        }
        for (i, s) in st.statuses.iter().enumerate() {
            assert!(
                s.is_none() || live_status[i],
                "status {i} unreachable but not collected"
            );
        }
    }

    pub(super) fn check_leak(&mut self, st: &State, id: ObjId, span: Span) {
        let o = st.obj(id);
        if o.owned == 0 || st.is_null(id) || self.is_self_keep_alive(st, id) {
            return;
        }
        if self.calls_for_their_exception.contains(&o.origin_span)
            && o.exc_link.is_some_and(|l| l.on_success != Exc::Set)
        {
            // Called, with no exception known to be set, for the one it raises, right
            // before an error return: the return is correct only if the call failed and
            // returned NULL.
            return;
        }
        if o.origin == OriginKind::Unknown && o.escaped {
            // Handed to a function we know nothing about, which may have kept it: a
            // reference taken afterwards may be the one it needed.
            return;
        }
        let when_fails = match &o.pending_steal {
            Some(p) if p.on_failure => {
                let status = st.status(p.status);
                if status.classes & !status.err == 0 {
                    // Only the failure (which steals) is still possible.
                    if o.owned <= 1 {
                        return;
                    }
                }
                None
            }
            Some(PendingSteal { status, thief, .. }) => {
                let status = st.status(*status);
                if status.classes & status.err == 0 {
                    // Stolen on every outcome still possible.
                    if o.owned <= 1 {
                        return;
                    }
                    None
                } else {
                    Some(thief.to_string())
                }
            }
            None => None,
        };
        self.report(st, id, FindingKind::Leak { when_fails }, span);
    }
}

/// Marks what the function's places and parameters refer to directly: the roots of
/// [`Interp::collect`].
pub(super) fn mark_roots(st: &State, reachable: &mut [bool], live_status: &mut [bool]) {
    for v in st.env.values() {
        match v {
            Value::Obj(id) => reachable[id.0 as usize] = true,
            Value::Status(s) => live_status[s.0 as usize] = true,
            _ => {}
        }
    }
    for id in st.params.iter().flatten() {
        reachable[id.0 as usize] = true;
    }
}
