//! The application state and the only place it changes.
//!
//! Input flows in as [`AppEvent`]s (keys, resizes, scan results); keys are mapped to
//! [`Action`]s by the keymap; side effects the state wants (scans today, moves later) are
//! queued as [`Command`]s that the event loop (or a test) executes. Rendering reads the state.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossterm::event::{KeyEvent, KeyEventKind};
use tui_tree_widget::{TreeItem, TreeState};

use crate::ops::context::MoveContext;
use crate::ops::progress::CancelToken;
use crate::ops::recovery::pending::PendingMove;
use crate::tree::{Datastore, GroupId, Namespace, ScanWarning, SnapshotTime};

use super::jobs::{JobId, JobMsg, Jobs, MoveSpec};
use super::keymap::{Context, Keymap, typed_char};
use super::model::{LoadState, Model, NodeKey};
use super::scan_jobs::{ScanRequest, ScanResult};
use super::status::{Level, StatusLog};
use super::theme::Theme;
use super::tree_view;
use super::workflow::{Marks, Popup, StatusView};

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

/// Input to the state machine.
#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    Resize,
    Scan(ScanResult),
    /// Every namespace of the datastore, for the target picker.
    Namespaces(Result<Vec<Namespace>, String>),
    /// A dry-run plan for the preview with sequence number `seq`.
    Plan {
        seq: u64,
        outcome: super::preview::PlanOutcome,
    },
    /// Progress and results of a background move.
    Job(JobMsg),
    /// The moves `resume` would finish (read from the operation journal).
    Pending(Result<Vec<PendingMove>, String>),
}

/// Side effects requested by the state, executed outside it.
#[derive(Debug, Clone)]
pub enum Command {
    Scan(ScanRequest),
    ListNamespaces,
    Plan {
        seq: u64,
        spec: MoveSpec,
    },
    /// Runs the engine for a confirmed move; `cancel` is checked between snapshots.
    StartMove {
        id: JobId,
        spec: MoveSpec,
        cancel: CancelToken,
    },
    /// Reads the operation journal for moves `resume` would finish.
    ListPending,
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Command::Scan(a), Command::Scan(b)) => a == b,
            (Command::ListNamespaces, Command::ListNamespaces) => true,
            (Command::Plan { seq: a, .. }, Command::Plan { seq: b, .. }) => a == b,
            (Command::StartMove { id: a, .. }, Command::StartMove { id: b, .. }) => a == b,
            (Command::ListPending, Command::ListPending) => true,
            _ => false,
        }
    }
}

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    None,
    Ns(Namespace),
    Group(Namespace, GroupId),
    Snapshot(Namespace, GroupId, SnapshotTime),
    /// A "loading…" or error line under `Ns`/`Group` parent.
    Placeholder,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilterState {
    pub text: String,
    /// The input line has focus.
    pub editing: bool,
}

pub type NodePath = Vec<NodeKey>;

pub struct App {
    pub ds: Arc<Datastore>,
    /// The move engine's view of the datastore (locks, content backend); cloned into jobs.
    pub ctx: MoveContext,
    pub keymap: Keymap,
    pub theme: Theme,
    pub model: Model,
    pub tree_state: TreeState<NodeKey>,
    pub filter: FilterState,
    /// `Some(scroll)` while the help overlay is open.
    pub help: Option<u16>,
    pub status: StatusLog,
    /// Rows of the tree viewport at the last draw (for PgUp/PgDn).
    pub page_rows: usize,
    /// Move sources chosen with `m`/Space.
    pub marks: Marks,
    /// The picker, the preview or the quit question, on top of everything but help.
    pub popup: Option<Popup>,
    pub jobs: Jobs,
    pub status_view: StatusView,
    items: Vec<TreeItem<'static, NodeKey>>,
    pub(super) items_dirty: bool,
    pub(super) commands: Vec<Command>,
    /// Scans requested and not yet finished.
    pending: usize,
    pub(super) quit: bool,
    /// Quit was forced while a move ran: the caller must not wait for it.
    pub(super) forced: bool,
    /// Quit once the cancelled moves have stopped.
    pub(super) quit_when_idle: bool,
    pub(super) plan_seq: u64,
}

impl App {
    /// A browser on a filesystem datastore `ds` with PBS locks under `lock_dir`.
    pub fn new(ds: Arc<Datastore>, lock_dir: PathBuf, keymap: Keymap, theme: Theme) -> Self {
        let ctx = MoveContext::filesystem((*ds).clone(), &lock_dir);
        Self::with_context(ctx, keymap, theme)
    }

    /// A browser on the context's datastore with the root namespace opened and its listing
    /// requested. Moves run through `ctx` (any backend).
    pub fn with_context(ctx: MoveContext, keymap: Keymap, theme: Theme) -> Self {
        let mut app = Self {
            ds: Arc::new(ctx.ds.clone()),
            ctx,
            keymap,
            theme,
            model: Model::default(),
            tree_state: TreeState::default(),
            filter: FilterState::default(),
            help: None,
            status: StatusLog::default(),
            page_rows: 10,
            marks: Marks::default(),
            popup: None,
            jobs: Jobs::default(),
            status_view: StatusView::default(),
            items: Vec::new(),
            items_dirty: true,
            commands: Vec::new(),
            pending: 0,
            quit: false,
            forced: false,
            quit_when_idle: false,
            plan_seq: 0,
        };
        app.greet();
        let root = Namespace::root();
        let path = vec![NodeKey::Ns(root.clone())];
        app.tree_state.open(path.clone());
        app.tree_state.select(path);
        app.load_ns(&root);
        app
    }

    fn greet(&mut self) {
        let key = |a| self.keymap.first_key(Context::Tree, a);
        let hint = match (
            key(Action::Mark),
            key(Action::PickTarget),
            key(Action::Help),
        ) {
            (Some(m), Some(p), Some(h)) => format!(" {m} marks, {p} moves, {h} help."),
            (_, _, Some(h)) => format!(" Press {h} for help."),
            _ => String::new(),
        };
        let msg = format!("Datastore {}.{hint}", self.ds.name);
        self.status.push(Level::Info, msg);
        if let Some(m) = &self.ds.maintenance {
            let msg = format!("datastore is in maintenance mode '{m}'");
            self.status.push(Level::Warn, msg);
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Quit was forced (Ctrl-C twice) while a move was still running.
    pub fn forced_quit(&self) -> bool {
        self.forced
    }

    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// Scans still outstanding (namespace listings, size passes, snapshot lists).
    pub fn busy(&self) -> bool {
        self.pending > 0
    }

    /// Applies one event; `true` when the screen must be redrawn.
    pub fn handle_event(&mut self, ev: AppEvent) -> bool {
        match ev {
            AppEvent::Key(key) => self.handle_key(&key),
            AppEvent::Resize => true,
            AppEvent::Scan(result) => self.on_scan(result),
            AppEvent::Namespaces(result) => self.on_namespaces(result),
            AppEvent::Plan { seq, outcome } => self.on_plan(seq, outcome),
            AppEvent::Job(msg) => self.on_job(msg),
            AppEvent::Pending(result) => self.on_pending(result),
        }
    }

    /// The context keys are looked up in.
    pub fn context(&self) -> Context {
        if self.help.is_some() {
            Context::Help
        } else if let Some(p) = &self.popup {
            p.context()
        } else if self.filter.editing {
            Context::Filter
        } else if self.status_view.focused {
            Context::Status
        } else {
            Context::Tree
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> bool {
        // Release/repeat events only arrive with the kitty protocol; act on presses.
        if key.kind == KeyEventKind::Release {
            return false;
        }
        let ctx = self.context();
        match self.keymap.action(ctx, key) {
            Some(action) => self.apply(action),
            None if ctx == Context::Filter => self.type_into_filter(key),
            None if ctx == Context::Picker => self.type_into_picker(key),
            None => false,
        }
    }

    fn type_into_filter(&mut self, key: &KeyEvent) -> bool {
        let Some(c) = typed_char(key) else {
            return false;
        };
        self.filter.text.push(c);
        self.filter_changed();
        true
    }

    /// Performs an action; `true` when something visible changed.
    pub fn apply(&mut self, action: Action) -> bool {
        if action == Action::ForceQuit && self.help.is_none() {
            return self.force_quit();
        }
        match self.context() {
            Context::Help => self.apply_help(action),
            Context::Filter => self.apply_filter(action),
            Context::Picker => self.apply_picker(action),
            Context::Preview => self.apply_preview(action),
            Context::Confirm => self.apply_confirm(action),
            Context::Status => self.apply_status(action),
            Context::Resume => self.apply_resume(action),
            _ => self.apply_tree(action),
        }
    }

    fn apply_help(&mut self, action: Action) -> bool {
        let Some(scroll) = self.help.as_mut() else {
            return false;
        };
        match action {
            Action::Up if *scroll > 0 => *scroll -= 1,
            Action::Down => *scroll = scroll.saturating_add(1),
            Action::Close | Action::Help => self.help = None,
            Action::ForceQuit => return self.force_quit(),
            _ => return false,
        }
        true
    }

    fn apply_filter(&mut self, action: Action) -> bool {
        match action {
            Action::Accept => self.filter.editing = false,
            Action::Backspace => {
                if self.filter.text.pop().is_none() {
                    return false;
                }
                self.filter_changed();
            }
            Action::ClearFilter => self.clear_filter(),
            _ => return false,
        }
        true
    }

    fn apply_tree(&mut self, action: Action) -> bool {
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page_rows.max(2) as isize - 1)),
            Action::PageDown => self.move_by(self.page_rows.max(2) as isize - 1),
            Action::Top => self.move_to(0),
            Action::Bottom => self.move_to(usize::MAX),
            Action::Expand => self.expand(),
            Action::Collapse => self.collapse(),
            Action::Refresh => self.refresh_selected(),
            Action::Filter => {
                self.filter.editing = true;
                true
            }
            Action::ClearFilter if !self.filter.text.is_empty() => {
                self.clear_filter();
                true
            }
            Action::Help => {
                self.help = Some(0);
                true
            }
            Action::Quit => self.request_quit(),
            Action::Mark => self.mark(),
            Action::Select => self.toggle_select(),
            Action::Unmark => self.unmark(),
            Action::PickTarget => self.open_picker(),
            Action::Resume => self.open_resume(),
            Action::CancelMove => self.cancel_running(),
            Action::StatusFocus => {
                self.status_view.focused = true;
                true
            }
            _ => false,
        }
    }

    // ----- tree items and navigation -----

    /// The tree items for rendering, rebuilt only after the model, filter or open set changed.
    pub fn items(&mut self) -> &[TreeItem<'static, NodeKey>] {
        if self.items_dirty {
            self.items = tree_view::build_items(
                &self.model,
                &self.tree_state,
                &self.filter.text,
                &self.marks,
                &self.theme,
            );
            self.items_dirty = false;
            self.fix_selection();
        }
        &self.items
    }

    /// The items and the widget state, borrowed together for rendering.
    pub fn tree_parts(&mut self) -> (&[TreeItem<'static, NodeKey>], &mut TreeState<NodeKey>) {
        self.items();
        (&self.items, &mut self.tree_state)
    }

    /// Visible rows as key paths, top to bottom.
    pub fn visible_paths(&mut self) -> Vec<NodePath> {
        self.items();
        self.tree_state
            .flatten(&self.items)
            .into_iter()
            .map(|f| f.identifier)
            .collect()
    }

    fn selected_index(&mut self, rows: &[NodePath]) -> Option<usize> {
        let sel = self.tree_state.selected();
        rows.iter().position(|p| p.as_slice() == sel)
    }

    fn move_by(&mut self, delta: isize) -> bool {
        let rows = self.visible_paths();
        let Some(last) = rows.len().checked_sub(1) else {
            return false;
        };
        let target = match self.selected_index(&rows) {
            Some(i) => i.saturating_add_signed(delta).min(last),
            None => 0,
        };
        self.tree_state.select(rows[target].clone())
    }

    fn move_to(&mut self, index: usize) -> bool {
        let rows = self.visible_paths();
        match rows.get(index.min(rows.len().saturating_sub(1))) {
            Some(p) => self.tree_state.select(p.clone()),
            None => false,
        }
    }

    /// After the items changed the selected node may be gone (filtered out, moved away):
    /// select its nearest visible ancestor, else the first row.
    fn fix_selection(&mut self) {
        let rows: Vec<NodePath> = self
            .tree_state
            .flatten(&self.items)
            .into_iter()
            .map(|f| f.identifier)
            .collect();
        let mut sel = self.tree_state.selected().to_vec();
        while !sel.is_empty() {
            if rows.contains(&sel) {
                self.tree_state.select(sel);
                return;
            }
            sel.pop();
        }
        self.tree_state
            .select(rows.into_iter().next().unwrap_or_default());
    }

    fn expand(&mut self) -> bool {
        let path = self.tree_state.selected().to_vec();
        let loaded = match path.last() {
            Some(NodeKey::Ns(ns)) => self.ensure_ns_loaded(&ns.clone()),
            Some(NodeKey::Group(g)) => {
                let (ns, g) = (ns_of(&path), g.clone());
                self.ensure_group_loaded(&ns, &g)
            }
            _ => return false,
        };
        if self.tree_state.open(path.clone()) {
            self.items_dirty = true;
            return true;
        }
        // Already open: step into it, as file managers do.
        let rows = self.visible_paths();
        let next = self.selected_index(&rows).and_then(|i| rows.get(i + 1));
        match next {
            Some(child) if child.starts_with(&path) => self.tree_state.select(child.clone()),
            _ => loaded,
        }
    }

    fn collapse(&mut self) -> bool {
        let path = self.tree_state.selected().to_vec();
        if self.tree_state.close(&path) {
            self.items_dirty = true;
            return true;
        }
        if path.len() > 1 {
            return self.tree_state.select(path[..path.len() - 1].to_vec());
        }
        false
    }

    /// The node under the cursor.
    pub fn selection(&self) -> Selection {
        let path = self.tree_state.selected();
        match path.last() {
            None => Selection::None,
            Some(NodeKey::Ns(ns)) => Selection::Ns(ns.clone()),
            Some(NodeKey::Group(g)) => Selection::Group(ns_of(path), g.clone()),
            Some(NodeKey::Snap(t)) => match path.iter().rev().nth(1) {
                Some(NodeKey::Group(g)) => Selection::Snapshot(ns_of(path), g.clone(), t.clone()),
                _ => Selection::None,
            },
            Some(NodeKey::Placeholder) => Selection::Placeholder,
        }
    }

    // ----- filter -----

    fn clear_filter(&mut self) {
        self.filter = FilterState::default();
        self.items_dirty = true;
    }

    fn filter_changed(&mut self) {
        // Open the way to every match, so typing a name reveals it wherever it is loaded.
        for path in tree_view::matching_paths(&self.model, &self.filter.text) {
            for end in 1..path.len() {
                self.tree_state.open(path[..end].to_vec());
            }
        }
        self.items_dirty = true;
    }

    // ----- loading -----

    fn ensure_ns_loaded(&mut self, ns: &Namespace) -> bool {
        match self.model.ns_state(ns) {
            LoadState::NotLoaded | LoadState::Failed(_) => {
                self.load_ns(ns);
                true
            }
            _ => false,
        }
    }

    fn ensure_group_loaded(&mut self, ns: &Namespace, group: &GroupId) -> bool {
        let state = self.model.group(ns, group).map(|g| g.state.clone());
        match state {
            Some(LoadState::NotLoaded | LoadState::Failed(_)) => {
                self.load_group(ns, group);
                true
            }
            _ => false,
        }
    }

    /// (Re)lists one namespace level in the background.
    pub fn load_ns(&mut self, ns: &Namespace) {
        let generation = self.model.start_ns_load(ns);
        self.items_dirty = true;
        self.scan(ScanRequest::Namespace {
            generation,
            ns: ns.clone(),
        });
    }

    fn scan(&mut self, req: ScanRequest) {
        self.pending += 1;
        self.commands.push(Command::Scan(req));
    }

    /// (Re)lists one group's snapshots in the background.
    pub fn load_group(&mut self, ns: &Namespace, group: &GroupId) {
        if let Some(generation) = self.model.start_group_load(ns, group) {
            self.items_dirty = true;
            self.scan(ScanRequest::Snapshots {
                generation,
                ns: ns.clone(),
                group: group.clone(),
            });
        }
    }

    /// Re-scans `ns` and the snapshots of its opened groups; the cursor stays where it was
    /// (or on the nearest ancestor still there). The move workflow calls this after a move.
    pub fn refresh_ns(&mut self, ns: &Namespace) {
        let opened_groups: Vec<GroupId> = self
            .tree_state
            .opened()
            .iter()
            .filter_map(|p| match p.last() {
                Some(NodeKey::Group(g)) if ns_of(p) == *ns => Some(g.clone()),
                _ => None,
            })
            .collect();
        self.load_ns(ns);
        for g in opened_groups {
            self.load_group(ns, &g);
        }
    }

    pub(super) fn refresh_selected(&mut self) -> bool {
        let ns = match self.selection() {
            Selection::Ns(ns) => ns,
            Selection::Group(ns, _) | Selection::Snapshot(ns, _, _) => ns,
            Selection::Placeholder => ns_of(self.tree_state.selected()),
            Selection::None => return false,
        };
        self.refresh_ns(&ns);
        self.status
            .push(Level::Info, format!("re-scanning {}", ns.human()));
        true
    }

    /// Applies a scan result; `true` when it changed anything visible.
    pub fn on_scan(&mut self, result: ScanResult) -> bool {
        if result.is_final() {
            self.pending = self.pending.saturating_sub(1);
        }
        let changed = match result {
            ScanResult::Namespace {
                generation,
                ns,
                result,
            } => self.on_ns_listing(ns, generation, result),
            ScanResult::Sizes {
                generation,
                ns,
                infos,
                warnings,
                done,
            } => {
                self.report(&warnings);
                self.model.apply_sizes(&ns, generation, infos, done)
            }
            ScanResult::Snapshots {
                generation,
                ns,
                group,
                result,
            } => {
                let result = result.map(|l| {
                    self.report(&l.warnings);
                    l.items
                });
                if let Err(e) = &result {
                    self.status.push(Level::Error, e.clone());
                }
                self.model
                    .finish_group_load(&ns, &group, generation, result)
            }
        };
        self.items_dirty |= changed;
        changed
    }

    fn on_ns_listing(
        &mut self,
        ns: Namespace,
        generation: u64,
        result: Result<
            (
                crate::tree::Listing<Namespace>,
                crate::tree::Listing<crate::tree::GroupInfo>,
            ),
            String,
        >,
    ) -> bool {
        let result = match result {
            Ok((children, groups)) => {
                self.report(&children.warnings);
                self.report(&groups.warnings);
                Ok((children.items, groups.items))
            }
            Err(e) => {
                self.status
                    .push(Level::Error, format!("cannot list {}: {e}", ns.human()));
                Err(e)
            }
        };
        if !self.model.finish_ns_load(&ns, generation, result) {
            return false;
        }
        if let Some(entry) = self.model.ns(&ns).filter(|e| e.sizing) {
            let groups = entry.groups.iter().map(|g| g.info.group.clone()).collect();
            self.scan(ScanRequest::Sizes {
                generation,
                ns,
                groups,
            });
        }
        // A filter typed before this level arrived should reveal matches in it too.
        if !self.filter.text.is_empty() {
            self.filter_changed();
        }
        true
    }

    fn report(&mut self, warnings: &[ScanWarning]) {
        for w in warnings {
            let path = relative(&self.ds.base, &w.path);
            self.status
                .push(Level::Warn, format!("{path}: {}", w.message));
        }
    }

    /// Runs queued commands inline until none are left: for tests and headless use.
    pub fn run_commands_blocking(&mut self) {
        loop {
            let commands = self.take_commands();
            if commands.is_empty() {
                return;
            }
            for command in commands {
                for ev in super::workflow::run_command_inline(&self.ds, &self.ctx, command) {
                    self.handle_event(ev);
                }
            }
        }
    }
}

/// The namespace a node path is in: the last namespace key on it.
pub fn ns_of(path: &[NodeKey]) -> Namespace {
    path.iter()
        .rev()
        .find_map(|k| match k {
            NodeKey::Ns(ns) => Some(ns.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}
