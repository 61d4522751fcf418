//! The application state and the only place it changes: state and routing, no drawing.
//!
//! Input flows in as [`AppEvent`]s (keys, resizes, scan results, move progress); keys are
//! mapped to [`Action`]s by the keymap and routed to the context's owner (a popup, the status
//! pane, the filter or the tree), whose answer is carried out here; side effects are queued as
//! [`Command`]s that the executor runs. Rendering reads the state.
//!
//! The `impl App` is spread by concern: `browse` (cursor, expand, filter), `loading`
//! (scans in, model out), `popups` (opening them and carrying out their outcomes),
//! `moves` (marks, the job queue, move progress into the log; its lines in `move_log`),
//! `search` (the index, `/`, n/N, selecting the matches).

mod browse;
mod facts;
mod loading;
mod mouse;
mod move_log;
mod moves;
mod popups;
mod search;

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyEvent, KeyEventKind};
use tui_tree_widget::{TreeItem, TreeState};

use crate::ops::context::MoveContext;
use crate::tree::{Datastore, Namespace};

use super::keys::action::Action;
use super::keys::context::Context;
use super::keys::keymap::Keymap;
use super::model::Marks;
use super::model::{Model, NodeKey};
use super::panes::details::DetailsView;
use super::panes::status::{Level, StatusLog, StatusOutcome, StatusView};
use super::panes::tree::FilterState;
use super::popups::Popup;
use super::popups::help::{HelpOutcome, HelpState};
use super::search::SearchUi;
use super::sort::SortKey;
use super::tasks::executor::run_inline;
use super::tasks::jobs::Jobs;

use super::tasks::{AppEvent, Command};
use super::theme::Theme;
pub use mouse::ScreenAreas;

pub struct App {
    /// The move engine's view of the datastore (locks, content backend); cloned into jobs.
    pub ctx: MoveContext,
    pub keymap: Keymap,
    pub theme: Theme,
    pub model: Model,
    pub tree_state: TreeState<NodeKey>,
    pub filter: FilterState,
    /// The search index and the hits of the search line.
    pub search: SearchUi,
    /// The order of groups in the tree.
    pub sort: SortKey,
    /// `Some` while the help overlay is open.
    pub help: Option<HelpState>,
    pub status: StatusLog,
    /// Rows of the tree viewport at the last draw (for PgUp/PgDn).
    pub page_rows: usize,
    /// Move sources chosen with `m`/Space.
    pub marks: Marks,
    /// The picker, the preview or the quit question, on top of everything but help.
    pub popup: Option<Popup>,
    pub jobs: Jobs,
    pub status_view: StatusView,
    /// The details pane's scroll offset.
    pub details_view: DetailsView,
    items: Vec<TreeItem<'static, NodeKey>>,
    pub(super) items_dirty: bool,
    pub(super) commands: Vec<Command>,
    /// Scans requested and not yet finished.
    pending: usize,
    pub(super) quit: Quit,
    pub(super) plan_seq: u64,
    /// Clicks and the wheel are handled (the keymap's `[options] mouse`, `--no-mouse`).
    pub mouse: bool,
    /// Where the panes were drawn last, for the mouse.
    pub areas: ScreenAreas,
    last_click: Option<(std::time::Instant, mouse::LastClick)>,
    /// The background read of the selected namespace's size.
    ns_size: Option<facts::NsSizeRead>,
    ns_size_seq: u64,
    /// The first index build waits for the root listing (see `defer_index_build`).
    index_waits_for_root: bool,
    /// A background change that must not wait for the frame throttle: the whole listing
    /// of a namespace that showed only its first part (see `take_urgent_frame`).
    urgent_frame: bool,
}

/// How far the user got with quitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quit {
    No,
    /// The moves were cancelled: quit once they have stopped.
    WhenIdle,
    /// Nothing runs any more: the loop ends.
    Now,
    /// Quit while a move still ran (Ctrl-C twice): the caller must not wait for it.
    Forced,
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
        let keymap_mouse = keymap.mouse;
        let mut app = Self {
            ctx,
            keymap,
            theme,
            model: Model::default(),
            tree_state: TreeState::default(),
            filter: FilterState::default(),
            search: SearchUi::default(),
            sort: SortKey::default(),
            help: None,
            status: StatusLog::default(),
            page_rows: 10,
            marks: Marks::default(),
            popup: None,
            jobs: Jobs::default(),
            status_view: StatusView::default(),
            details_view: DetailsView::default(),
            items: Vec::new(),
            items_dirty: true,
            commands: Vec::new(),
            pending: 0,
            quit: Quit::No,
            plan_seq: 0,
            mouse: keymap_mouse,
            areas: ScreenAreas::default(),
            last_click: None,
            ns_size: None,
            ns_size_seq: 0,
            index_waits_for_root: false,
            urgent_frame: false,
        };
        app.greet();
        let root = Namespace::root();
        let path = vec![NodeKey::Ns(root.clone())];
        app.tree_state.open(path.clone());
        app.tree_state.select(path);
        app.load_ns(&root);
        app.defer_index_build();
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
        let msg = format!("Datastore {}.{hint}", self.ctx.ds.name);
        self.status.push(Level::Info, msg);
        if let Some(m) = &self.ctx.ds.maintenance {
            let msg = format!("datastore is in maintenance mode '{m}'");
            self.status.push(Level::Warn, msg);
        }
    }

    pub fn should_quit(&self) -> bool {
        matches!(self.quit, Quit::Now | Quit::Forced)
    }

    /// Quit was forced (Ctrl-C twice) while a move was still running.
    pub fn forced_quit(&self) -> bool {
        self.quit == Quit::Forced
    }

    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// Runs queued commands inline until none are left: for tests and headless use.
    pub fn run_commands_blocking(&mut self) {
        loop {
            let commands = self.take_commands();
            if commands.is_empty() {
                return;
            }
            for command in commands {
                for ev in run_inline(&self.ctx, command) {
                    self.handle_event(ev);
                }
            }
        }
    }

    /// The root namespace's listing, or its first part, has arrived (the tree shows more
    /// than "loading…").
    pub fn root_listed(&self) -> bool {
        self.root_complete()
            || self
                .model
                .ns(&Namespace::root())
                .is_some_and(|e| e.is_partial())
    }

    /// The root namespace's whole listing has arrived.
    pub fn root_complete(&self) -> bool {
        matches!(
            self.model.ns_state(&Namespace::root()),
            super::model::LoadState::Loaded
        )
    }

    /// Whether the last events brought a change the event loop draws at once even in a
    /// burst: a namespace that showed a part of its groups is now listed whole (two
    /// results of one listing are not a burst, and the user waits for the rest).
    pub fn take_urgent_frame(&mut self) -> bool {
        std::mem::take(&mut self.urgent_frame)
    }

    /// Scans still outstanding (namespace listings, size passes, snapshot lists).
    pub fn busy(&self) -> bool {
        self.pending > 0
    }

    /// Applies one event; `true` when the screen must be redrawn.
    pub fn handle_event(&mut self, ev: AppEvent) -> bool {
        match ev {
            AppEvent::Key(key) => self.handle_key(&key),
            AppEvent::Mouse(ev) => self.handle_mouse(ev),
            AppEvent::Resize => true,
            AppEvent::Scan(result) => self.on_scan(result),
            AppEvent::Namespaces(result) => self.on_namespaces(result),
            AppEvent::Plan { seq, outcome } => self.on_plan(seq, outcome),
            AppEvent::Job(msg) => self.on_job(msg),
            AppEvent::Pending(result) => self.on_pending(result),
            AppEvent::Index { generation, result } => self.on_index(generation, result),
            AppEvent::Comments {
                generation,
                batch,
                done,
            } => self.on_comments(generation, batch, done),
            AppEvent::Facts(result) => self.on_facts(result),
            AppEvent::NsFacts { seq, batch, done } => self.on_ns_facts(seq, batch, done),
            AppEvent::Notes(result) => self.on_notes(result),
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

    /// Performs an action; `true` when something visible changed.
    pub fn apply(&mut self, action: Action) -> bool {
        // Bound in every context, help included.
        if action == Action::ForceQuit {
            return self.force_quit();
        }
        match self.context() {
            Context::Help => self.apply_help(action),
            Context::Filter => self.apply_filter(action),
            Context::Picker
            | Context::Preview
            | Context::Confirm
            | Context::Resume
            | Context::Notes => self.apply_popup(action),
            Context::Status => self.apply_status(action),
            Context::Global | Context::Tree => self.apply_tree(action),
        }
    }

    fn apply_help(&mut self, action: Action) -> bool {
        let Some(help) = self.help.as_mut() else {
            return false;
        };
        match help.handle(action) {
            HelpOutcome::Stay(changed) => changed,
            HelpOutcome::Close => {
                self.help = None;
                true
            }
        }
    }

    fn apply_status(&mut self, action: Action) -> bool {
        match self.status_view.handle(action, &self.jobs) {
            StatusOutcome::Changed(changed) => changed,
            StatusOutcome::CancelMove => self.ask_cancel(),
        }
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
            Action::Filter => self.start_search(),
            Action::NextMatch => self.next_match(1),
            Action::PrevMatch => self.next_match(-1),
            Action::SelectMatches => self.select_matches(),
            Action::Sort => {
                self.sort = self.sort.next();
                self.items_dirty = true;
                self.refresh_hits();
                true
            }
            Action::DetailsDown => self.details_view.scroll_by(1, true),
            Action::DetailsUp => self.details_view.scroll_by(1, false),
            Action::ClearFilter if !self.filter.text.is_empty() => {
                self.clear_filter();
                true
            }
            Action::Help => {
                self.help = Some(HelpState::default());
                true
            }
            Action::Quit => self.request_quit(),
            Action::Mark => self.mark(),
            Action::Select => self.toggle_select(),
            Action::Unmark => self.unmark(),
            Action::PickTarget => self.open_picker(),
            Action::Resume => self.open_resume(),
            Action::Notes => self.open_notes(),
            Action::CancelMove => self.ask_cancel(),
            Action::StatusFocus => {
                self.status_view.focused = true;
                true
            }
            _ => false,
        }
    }
}
