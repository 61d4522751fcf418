//! Where a key is pressed: each context has its own bindings in `assets/keymap.toml`.

/// Where a key is pressed. Later workflows (target picker, preview, status log) add contexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

impl Context {
    pub const ALL: [Context; 9] = [
        Context::Global,
        Context::Tree,
        Context::Help,
        Context::Filter,
        Context::Picker,
        Context::Preview,
        Context::Confirm,
        Context::Status,
        Context::Resume,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Tree => "tree",
            Context::Help => "help",
            Context::Filter => "filter",
            Context::Picker => "picker",
            Context::Preview => "preview",
            Context::Confirm => "confirm",
            Context::Status => "status",
            Context::Resume => "resume",
        }
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
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}
