//! Where a key is pressed: each context has its own bindings in `assets/keymap.toml`.

use strum::{EnumIter, EnumString, IntoStaticStr};

/// Where a key is pressed; the keymap file has one section per context, named in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr, EnumIter)]
#[strum(serialize_all = "lowercase")]
pub enum Context {
    /// Checked after the active context, so e.g. Ctrl-C works everywhere.
    Global,
    Tree,
    Help,
    Filter,
    /// The target namespace picker (unbound characters go into its filter or name field).
    Picker,
    /// The dry-run preview with its Cancel/Move buttons.
    Preview,
    /// "Moves are running — quit anyway?"
    Confirm,
    /// The focused status pane (move logs).
    Status,
    /// "Interrupted moves found — resume them?" (at start, or on request).
    Resume,
    /// The notes popup of a group or snapshot (scrollable).
    Notes,
}

impl Context {
    /// The section's name in the keymap file.
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Tree => "Browse",
            Context::Help => "Help",
            Context::Filter => "Filter input",
            Context::Picker => "Target picker",
            Context::Preview => "Dry-run preview",
            Context::Confirm => "Quit while moves run",
            Context::Status => "Status pane (move logs)",
            Context::Resume => "Interrupted moves (resume prompt)",
            Context::Notes => "Notes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}
