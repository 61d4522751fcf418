//! Everything a user can ask for ([`Action`]), and what the keymap and help know about each
//! action: its name in `assets/keymap.toml`, the contexts it may be bound in, its help text
//! and its footer label.

use super::context::Context;

/// Everything a user can ask for. Names are the keymap's action names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Expand,
    Collapse,
    Refresh,
    Filter,
    ClearFilter,
    Help,
    Quit,
    ForceQuit,
    Close,
    Accept,
    Backspace,
    Mark,
    Select,
    Unmark,
    PickTarget,
    CancelMove,
    StatusFocus,
    NextField,
    PrevField,
    Toggle,
    Increase,
    Decrease,
    Yes,
    No,
    NextLog,
    PrevLog,
    /// Open the prompt listing interrupted moves (`resume`).
    Resume,
}

use Context::{
    Confirm as CC, Filter as CF, Global as CG, Help as CH, Picker as CP, Preview as CV,
    Resume as CR, Status as CS, Tree as CT,
};

/// (action, keymap name, contexts it may be bound in). Order = order in help.
const ACTIONS: &[(Action, &str, &[Context])] = &[
    (Action::Up, "up", &[CT, CH, CP, CV, CS, CR]),
    (Action::Down, "down", &[CT, CH, CP, CV, CS, CR]),
    (Action::PageUp, "page_up", &[CT, CP, CV, CS]),
    (Action::PageDown, "page_down", &[CT, CP, CV, CS]),
    (Action::Top, "top", &[CT, CS]),
    (Action::Bottom, "bottom", &[CT, CS]),
    (Action::Expand, "expand", &[CT]),
    (Action::Collapse, "collapse", &[CT]),
    (Action::Mark, "mark", &[CT]),
    (Action::Select, "select", &[CT]),
    (Action::Unmark, "unmark", &[CT]),
    (Action::PickTarget, "pick_target", &[CT]),
    (Action::Resume, "resume", &[CT]),
    (Action::NextField, "next_field", &[CP, CV, CR]),
    (Action::PrevField, "prev_field", &[CP, CV, CR]),
    (Action::Toggle, "toggle", &[CP]),
    (Action::Increase, "increase", &[CP]),
    (Action::Decrease, "decrease", &[CP]),
    (Action::Yes, "yes", &[CV, CC, CR]),
    (Action::No, "no", &[CV, CC, CR]),
    (Action::NextLog, "next_log", &[CS]),
    (Action::PrevLog, "prev_log", &[CS]),
    (Action::CancelMove, "cancel_move", &[CT, CS]),
    (Action::StatusFocus, "status", &[CT]),
    (Action::Refresh, "refresh", &[CT]),
    (Action::Filter, "filter", &[CT]),
    (Action::Accept, "accept", &[CF, CP, CV, CR]),
    (Action::Backspace, "backspace", &[CF, CP]),
    (Action::ClearFilter, "clear_filter", &[CT, CF]),
    (Action::Help, "help", &[CT]),
    (Action::Close, "close", &[CH, CP, CS]),
    (Action::Quit, "quit", &[CT]),
    (
        Action::ForceQuit,
        "force_quit",
        &[CG, CT, CH, CF, CP, CV, CC, CS, CR],
    ),
];

impl Action {
    pub fn from_name(name: &str) -> Option<Self> {
        ACTIONS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(a, _, _)| *a)
    }

    fn entry(self) -> (usize, &'static str, &'static [Context]) {
        ACTIONS
            .iter()
            .enumerate()
            .find(|(_, (a, _, _))| *a == self)
            .map_or((usize::MAX, "", &[][..]), |(i, (_, n, c))| (i, *n, *c))
    }

    pub fn name(self) -> &'static str {
        self.entry().1
    }

    pub fn contexts(self) -> &'static [Context] {
        self.entry().2
    }

    pub fn order(self) -> usize {
        self.entry().0
    }

    /// What the action does, as shown in help.
    pub fn describe(self, ctx: Context) -> &'static str {
        match (self, ctx) {
            (Action::Up, Context::Help | Context::Preview | Context::Status | Context::Resume) => {
                "scroll up"
            }
            (
                Action::Down,
                Context::Help | Context::Preview | Context::Status | Context::Resume,
            ) => "scroll down",
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
            (Action::Filter, _) => "filter loaded items by name",
            (Action::Accept, _) => "keep the filter and go back to the tree",
            (Action::Backspace, _) => "delete a character",
            (Action::ClearFilter, _) => "clear the filter",
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
            (Action::Up | Action::Down, Context::Preview | Context::Status) => "scroll",
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
            Action::Filter => "filter",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Accept => "keep filter",
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
            other => other.name(),
        }
    }
}
