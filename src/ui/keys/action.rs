//! Everything a user can ask for ([`Action`]), and what the keymap and help know about each
//! action: its name in `assets/keymap.toml`, the contexts it may be bound in, its help text
//! and its footer label.

use strum::{EnumIter, EnumString, IntoStaticStr};

use super::context::Context;

/// Everything a user can ask for. The keymap names an action in snake case (`page_up`);
/// the order of the variants is the order of help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr, EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Expand,
    Collapse,
    Mark,
    Select,
    Unmark,
    PickTarget,
    /// Open the prompt listing interrupted moves (`resume`).
    Resume,
    /// Show the notes of the group or snapshot under the cursor.
    Notes,
    NextField,
    PrevField,
    Toggle,
    Increase,
    Decrease,
    Yes,
    No,
    NextLog,
    PrevLog,
    CancelMove,
    #[strum(serialize = "status")]
    StatusFocus,
    Refresh,
    Filter,
    Accept,
    Backspace,
    ClearFilter,
    /// Go to the next / previous search match (expanding the way to it).
    NextMatch,
    PrevMatch,
    /// Add every group matching the search to the multi-selection.
    SelectMatches,
    /// Cycle the order of groups: name, newest backup, size, snapshot count.
    Sort,
    /// Scroll the details pane (long file lists), as the wheel over it does.
    DetailsDown,
    DetailsUp,
    Help,
    Close,
    Quit,
    ForceQuit,
}

use Context::{
    Confirm as CC, Filter as CF, Global as CG, Help as CH, Notes as CN, Picker as CP,
    Preview as CV, Resume as CR, Status as CS, Tree as CT,
};

impl Action {
    pub fn from_name(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// The action's name in the keymap file.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Where in help the action is listed.
    pub fn order(self) -> usize {
        self as usize
    }

    /// The contexts the action may be bound in.
    pub fn contexts(self) -> &'static [Context] {
        match self {
            Action::Up | Action::Down => &[CT, CH, CP, CV, CS, CR, CN],
            Action::PageUp | Action::PageDown => &[CT, CP, CV, CS, CN],
            Action::Top | Action::Bottom => &[CT, CS, CN],
            Action::Expand
            | Action::Collapse
            | Action::Mark
            | Action::Select
            | Action::Unmark
            | Action::PickTarget
            | Action::Resume
            | Action::Notes
            | Action::StatusFocus
            | Action::Refresh
            | Action::Filter
            | Action::NextMatch
            | Action::PrevMatch
            | Action::SelectMatches
            | Action::Sort
            | Action::DetailsDown
            | Action::DetailsUp
            | Action::Help
            | Action::Quit => &[CT],
            Action::NextField | Action::PrevField => &[CP, CV, CR],
            Action::Toggle | Action::Increase | Action::Decrease => &[CP],
            Action::Yes | Action::No => &[CV, CC, CR],
            Action::NextLog | Action::PrevLog => &[CS],
            Action::CancelMove => &[CT, CS],
            Action::Accept => &[CF, CP, CV, CR],
            Action::Backspace => &[CF, CP],
            Action::ClearFilter => &[CT, CF],
            Action::Close => &[CH, CP, CS, CN],
            Action::ForceQuit => &[CG, CT, CH, CF, CP, CV, CC, CS, CR, CN],
        }
    }

    /// What the action does, as shown in help.
    pub fn describe(self, ctx: Context) -> &'static str {
        match (self, ctx) {
            (
                Action::Up,
                Context::Help
                | Context::Preview
                | Context::Status
                | Context::Resume
                | Context::Notes,
            ) => "scroll up",
            (
                Action::Down,
                Context::Help
                | Context::Preview
                | Context::Status
                | Context::Resume
                | Context::Notes,
            ) => "scroll down",
            (Action::Close, Context::Notes) => "close the notes",
            (Action::Top, Context::Notes) => "first line",
            (Action::Bottom, Context::Notes) => "last line",
            (Action::Yes, Context::Resume) => "resume them now (same engine as 'pbs-mover resume')",
            (Action::No, Context::Resume) => "later: nothing changes",
            (Action::Accept, Context::Resume) => "press the focused button",
            (Action::NextField | Action::PrevField, Context::Resume) => "switch button",
            (Action::Top, Context::Status) => "oldest line",
            (Action::Bottom, Context::Status) => "newest line (follow)",
            (Action::Accept, Context::Picker) => "preview the move (dry run)",
            (Action::Accept, Context::Preview) => "press the focused button",
            (Action::Close, Context::Picker) => "cancel",
            (Action::Close, Context::Status) => "back to the tree",
            (Action::Backspace, Context::Picker) => "delete a character (filter or name)",
            (Action::NextField, Context::Preview) => "switch button",
            (Action::PrevField, Context::Preview) => "switch button",
            (Action::Yes, Context::Confirm) => "cancel the moves and quit",
            (Action::No, Context::Confirm) => "stay",
            (Action::ForceQuit, Context::Confirm) => {
                "quit NOW (the move stops mid-group; resume fixes it)"
            }
            (Action::ForceQuit, _) => "quit (twice while a move runs: force)",
            (Action::Mark, _) => "mark the group/namespace as the move source",
            (Action::Select, _) => "add/remove the group to a multi-selection",
            (Action::Unmark, _) => "clear all marks",
            (Action::PickTarget, _) => "move the marked items (or the cursor's): pick target",
            (Action::Resume, _) => "list interrupted moves and resume them",
            (Action::Notes, _) => "show the notes of the group or snapshot",
            (Action::DetailsDown, _) => "scroll the details pane down",
            (Action::DetailsUp, _) => "scroll the details pane up",
            (Action::CancelMove, _) => "cancel the running move (between snapshots)",
            (Action::StatusFocus, _) => "focus the status pane (scroll the move logs)",
            (Action::NextField, _) => "next field",
            (Action::PrevField, _) => "previous field",
            (Action::Toggle, _) => "toggle the focused option",
            (Action::Increase, _) => "max depth +1",
            (Action::Decrease, _) => "max depth -1",
            (Action::Yes, _) => "start the move now",
            (Action::No, _) => "cancel, nothing is moved",
            (Action::NextLog, _) => "next move's log",
            (Action::PrevLog, _) => "previous move's log",
            (Action::Up, _) => "move up",
            (Action::Down, _) => "move down",
            (Action::PageUp, _) => "page up",
            (Action::PageDown, _) => "page down",
            (Action::Top, _) => "go to the top",
            (Action::Bottom, _) => "go to the bottom",
            (Action::Expand, _) => "expand (loads that level), or go to its first child",
            (Action::Collapse, _) => "collapse, or go to the parent",
            (Action::Refresh, _) => "re-scan the selected namespace",
            (Action::Filter, _) => "search all: id, namespace, owner, notes, comment",
            (Action::Accept, _) => "keep the cursor on the match, back to the tree",
            (Action::Backspace, _) => "delete a character",
            (Action::ClearFilter, Context::Filter) => "cancel the search (cursor back)",
            (Action::ClearFilter, _) => "clear the search highlight",
            (Action::NextMatch, _) => "next search match (opens the way to it)",
            (Action::PrevMatch, _) => "previous search match",
            (Action::SelectMatches, _) => "select every group matching the search",
            (Action::Sort, _) => "sort groups by name / newest / size / snapshots",
            (Action::Help, _) => "this help",
            (Action::Close, _) => "close help",
            (Action::Quit, _) => "quit (asks while moves run)",
        }
    }

    /// Short footer label in a context.
    pub fn hint_in(self, ctx: Context) -> &'static str {
        match (self, ctx) {
            (Action::Accept, Context::Picker) => "preview",
            (Action::Accept, Context::Preview) => "press",
            (Action::Close, Context::Picker) => "cancel",
            (Action::Close, Context::Status) => "back",
            (Action::Up | Action::Down, Context::Preview | Context::Status | Context::Notes) => {
                "scroll"
            }
            (Action::NextField, Context::Preview) => "button",
            (Action::ForceQuit, Context::Confirm) => "force quit",
            (Action::Yes, Context::Confirm) => "quit",
            (Action::No, Context::Confirm) => "stay",
            (Action::Yes, Context::Resume) => "resume",
            (Action::No, Context::Resume) => "later",
            (Action::NextField, Context::Resume) => "button",
            (Action::Accept, Context::Resume) => "press",
            _ => self.hint(),
        }
    }

    /// Short footer label.
    pub fn hint(self) -> &'static str {
        match self {
            Action::Expand => "expand",
            Action::Collapse => "collapse",
            Action::Filter => "search",
            Action::NextMatch => "next match",
            Action::Sort => "sort",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Accept => "keep",
            Action::ClearFilter => "clear",
            Action::Close => "close",
            Action::Refresh => "refresh",
            Action::Mark => "mark",
            Action::Select => "select",
            Action::PickTarget => "move",
            Action::CancelMove => "cancel move",
            Action::StatusFocus => "log",
            Action::NextField => "next field",
            Action::Toggle => "toggle",
            Action::Yes => "move",
            Action::No => "cancel",
            Action::NextLog => "next log",
            Action::Resume => "resume",
            Action::Notes => "notes",
            other => other.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn names_are_the_keymap_files_and_their_order_is_help() {
        let names: Vec<&str> = Action::iter().map(Action::name).collect();
        assert_eq!(
            names,
            [
                "up",
                "down",
                "page_up",
                "page_down",
                "top",
                "bottom",
                "expand",
                "collapse",
                "mark",
                "select",
                "unmark",
                "pick_target",
                "resume",
                "notes",
                "next_field",
                "prev_field",
                "toggle",
                "increase",
                "decrease",
                "yes",
                "no",
                "next_log",
                "prev_log",
                "cancel_move",
                "status",
                "refresh",
                "filter",
                "accept",
                "backspace",
                "clear_filter",
                "next_match",
                "prev_match",
                "select_matches",
                "sort",
                "details_down",
                "details_up",
                "help",
                "close",
                "quit",
                "force_quit",
            ]
        );
        for (i, a) in Action::iter().enumerate() {
            assert_eq!(Action::from_name(a.name()), Some(a));
            assert_eq!(a.order(), i);
        }
        assert_eq!(Action::from_name("status_focus"), None);
        assert_eq!(Action::from_name("Up"), None);
    }

    #[test]
    fn context_names_are_the_keymap_sections() {
        let names: Vec<&str> = Context::iter().map(Context::name).collect();
        assert_eq!(
            names,
            [
                "global", "tree", "help", "filter", "picker", "preview", "confirm", "status",
                "resume", "notes"
            ]
        );
        assert!(Context::iter().all(|c| Context::parse(c.name()) == Some(c)));
        assert_eq!(Context::parse("Tree"), None);
    }
}
