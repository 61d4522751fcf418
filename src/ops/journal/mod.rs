//! The two journals a move writes, before each step it takes.
//!
//! [`crash`] is ours: the operation's intent and progress in the state dir, opened before the
//! first lock and closed with its status last, so [`super::recovery`] can finish a move cut
//! short; [`record`] is the format of its lines (operation, steps, typed end status).
//! [`gc`] is PBS's move journal (≥ 4.1.9): the post-rename index paths, appended just before
//! each snapshot rename so that a GC running afterwards still marks those chunks.

pub mod crash;
pub mod gc;
pub mod record;
