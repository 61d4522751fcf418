//! Routing of the popups' keys and of the background results they wait for.

use crossterm::event::KeyEvent;

use crate::ops::plan::MovePlan;
use crate::ops::resume::PendingMove;
use crate::tree::Namespace;
use crate::ui::keys::action::Action;
use crate::ui::keys::context::Context;
use crate::ui::keys::keymap::typed_char;
use crate::ui::model::Selection;
use crate::ui::panes::status::Level;
use crate::ui::popups::Popup;
use crate::ui::popups::picker::{MoveSource, PickerState};
use crate::ui::popups::preview::{Button, PreviewState};
use crate::ui::popups::resume::{ResumeButton, ResumeState};
use crate::ui::tasks::Command;
use crate::ui::tasks::moves::JobId;
use crate::ui::tasks::moves::MoveSpec;
use crate::ui::tasks::plan::PlanOutcome;

use super::{App, Quit};

impl App {
    // ----- picker -----

    /// Opens the target picker for the marks, or for the item under the cursor.
    pub(super) fn open_picker(&mut self) -> bool {
        let source = self.marks.source().or_else(|| match self.selection() {
            Selection::Ns(ns) if !ns.is_root() => Some(MoveSource::Namespace(ns)),
            _ => self.selected_group().map(|k| MoveSource::Groups(vec![k])),
        });
        let Some(source) = source else {
            self.status.push(
                Level::Info,
                "nothing to move: mark a group (m, Space for several) or a namespace (m)",
            );
            return true;
        };
        self.popup = Some(Popup::Picker(PickerState::new(source)));
        self.commands.push(Command::ListNamespaces);
        true
    }

    pub(super) fn on_namespaces(&mut self, result: Result<Vec<Namespace>, String>) -> bool {
        let Some(Popup::Picker(p)) = &mut self.popup else {
            return false;
        };
        match result {
            Ok(mut all) => {
                // By components: each namespace right above its children, like the tree.
                all.sort();
                p.all = Some(all);
            }
            Err(e) => {
                p.all = Some(Vec::new());
                p.error = Some(format!("cannot list namespaces: {e}"));
            }
        }
        true
    }

    pub(super) fn type_into_picker(&mut self, key: &KeyEvent) -> bool {
        let Some(c) = typed_char(key) else {
            return false;
        };
        match &mut self.popup {
            Some(Popup::Picker(p)) => p.type_char(c),
            _ => false,
        }
    }

    pub(super) fn apply_picker(&mut self, action: Action) -> bool {
        let Some(Popup::Picker(p)) = &mut self.popup else {
            return false;
        };
        match action {
            Action::Up => p.move_cursor(-1),
            Action::Down => p.move_cursor(1),
            Action::PageUp => p.move_cursor(-10),
            Action::PageDown => p.move_cursor(10),
            Action::NextField => {
                p.cycle_field(true);
                true
            }
            Action::PrevField => {
                p.cycle_field(false);
                true
            }
            Action::Toggle => p.toggle(),
            Action::Increase => p.step_depth(true),
            Action::Decrease => p.step_depth(false),
            Action::Backspace => p.backspace(),
            Action::Close => {
                self.popup = None;
                true
            }
            Action::Accept => self.picker_accept(),
            _ => false,
        }
    }

    pub(super) fn picker_accept(&mut self) -> bool {
        let Some(Popup::Picker(p)) = &mut self.popup else {
            return false;
        };
        match p.spec() {
            Ok(spec) => {
                self.plan_seq += 1;
                let seq = self.plan_seq;
                self.popup = Some(Popup::Preview(PreviewState::new(spec.clone(), seq)));
                self.commands.push(Command::Plan { seq, spec });
            }
            Err(e) => p.error = Some(e),
        }
        true
    }

    // ----- preview -----

    pub(super) fn on_plan(&mut self, seq: u64, outcome: PlanOutcome) -> bool {
        match &mut self.popup {
            Some(Popup::Preview(p)) if p.seq == seq => {
                p.outcome = Some(outcome);
                true
            }
            _ => false,
        }
    }

    pub(super) fn apply_preview(&mut self, action: Action) -> bool {
        let Some(Popup::Preview(p)) = &mut self.popup else {
            return false;
        };
        let page = p.rows.max(2) as isize - 1;
        match action {
            Action::Up => p.scroll_by(-1, usize::MAX),
            Action::Down => p.scroll_by(1, usize::MAX),
            Action::PageUp => p.scroll_by(-page, usize::MAX),
            Action::PageDown => p.scroll_by(page, usize::MAX),
            Action::NextField | Action::PrevField => {
                p.focus = match p.focus {
                    Button::Cancel => Button::Move,
                    Button::Move => Button::Cancel,
                };
                true
            }
            Action::Accept if p.focus == Button::Move => self.confirm_move(),
            Action::Accept | Action::No => {
                self.popup = None;
                self.status.push(
                    Level::Info,
                    "move cancelled in the preview; nothing changed",
                );
                true
            }
            Action::Yes => self.confirm_move(),
            _ => false,
        }
    }

    // ----- resume prompt -----

    /// At start: asks whether to resume the interrupted moves, when there are any.
    pub fn offer_resume(&mut self, pending: Vec<PendingMove>) {
        if pending.is_empty() {
            return;
        }
        let msg = format!(
            "{} interrupted move(s) found in the operation journal",
            pending.len()
        );
        self.status.push(Level::Warn, msg);
        self.popup = Some(Popup::Resume(ResumeState::new(Some(Ok(pending)))));
    }

    /// `R`: re-reads the journal and shows the prompt.
    pub(super) fn open_resume(&mut self) -> bool {
        self.popup = Some(Popup::Resume(ResumeState::new(None)));
        self.commands.push(Command::ListPending);
        true
    }

    pub(super) fn on_pending(&mut self, result: Result<Vec<PendingMove>, String>) -> bool {
        match &mut self.popup {
            Some(Popup::Resume(p)) if p.pending.is_none() => {
                p.pending = Some(result);
                true
            }
            _ => false,
        }
    }

    pub(super) fn apply_resume(&mut self, action: Action) -> bool {
        let Some(Popup::Resume(p)) = &mut self.popup else {
            return false;
        };
        match action {
            Action::Up => p.scroll = p.scroll.saturating_sub(1),
            Action::Down => p.scroll = p.scroll.saturating_add(1),
            Action::NextField | Action::PrevField => {
                p.focus = match p.focus {
                    ResumeButton::Later => ResumeButton::Resume,
                    ResumeButton::Resume => ResumeButton::Later,
                };
            }
            Action::Accept if p.focus == ResumeButton::Resume => return self.start_resume(),
            Action::Yes => return self.start_resume(),
            Action::Accept | Action::No => {
                self.popup = None;
                let key = self.keymap.first_key(Context::Tree, Action::Resume);
                let again = key.map_or(String::new(), |k| format!("press {k} or "));
                let msg = format!(
                    "interrupted moves left as they are; {again}run 'pbs-mover resume' to finish them"
                );
                self.status.push(Level::Info, msg);
            }
            _ => return false,
        }
        true
    }

    /// Queues the resume job (the CLI's engine) and starts it when nothing else runs.
    pub(super) fn start_resume(&mut self) -> bool {
        let Some(Popup::Resume(p)) = &self.popup else {
            return false;
        };
        let Some(Ok(pending)) = &p.pending else {
            return false; // still reading the journal, or it could not be read
        };
        if pending.is_empty() {
            self.popup = None;
            return true;
        }
        let mut namespaces: Vec<Namespace> = pending
            .iter()
            .flat_map(|m| m.namespaces.iter().cloned())
            .collect();
        namespaces.sort();
        namespaces.dedup();
        let spec = MoveSpec::Resume {
            ids: pending.iter().map(|m| m.id.clone()).collect(),
            namespaces,
        };
        self.popup = None;
        let id = self.jobs.add(spec.clone(), &MovePlan::default());
        if self.jobs.running().is_some() {
            let msg = format!("#{id} queued: {}", spec.describe());
            self.status.push_job(id, Level::Info, msg);
        }
        self.start_next_job();
        true
    }

    // ----- status pane -----

    pub(super) fn apply_status(&mut self, action: Action) -> bool {
        let v = &mut self.status_view;
        let page = 5;
        let before = v.clone();
        match action {
            Action::Up => v.scroll = v.scroll.saturating_add(1),
            Action::Down => v.scroll = v.scroll.saturating_sub(1),
            Action::PageUp => v.scroll = v.scroll.saturating_add(page),
            Action::PageDown => v.scroll = v.scroll.saturating_sub(page),
            Action::Top => v.scroll = usize::MAX / 2,
            Action::Bottom => v.scroll = 0,
            Action::NextLog | Action::PrevLog => {
                let ids: Vec<Option<JobId>> = std::iter::once(None)
                    .chain(self.jobs.list.iter().map(|j| Some(j.id)))
                    .collect();
                let i = ids.iter().position(|j| *j == v.job).unwrap_or(0);
                let n = ids.len();
                let next = if action == Action::NextLog {
                    i + 1
                } else {
                    i + n - 1
                };
                v.job = ids[next % n];
                v.scroll = 0;
            }
            Action::CancelMove => return self.cancel_running(),
            Action::Close => v.focused = false,
            _ => return false,
        }
        *v != before
    }

    // ----- quitting -----

    /// `q`: quits at once when no move runs, else asks.
    pub(super) fn request_quit(&mut self) -> bool {
        if self.jobs.active() == 0 {
            self.quit = Quit::Now;
        } else {
            self.popup = Some(Popup::ConfirmQuit);
        }
        true
    }

    /// Ctrl-C: like `q`, but a second Ctrl-C while it asks quits without waiting.
    pub(super) fn force_quit(&mut self) -> bool {
        if self.jobs.active() == 0 {
            self.quit = Quit::Now;
        } else if matches!(self.popup, Some(Popup::ConfirmQuit)) {
            self.jobs.cancel_all();
            self.quit = Quit::Forced;
        } else {
            self.popup = Some(Popup::ConfirmQuit);
        }
        true
    }

    pub(super) fn apply_confirm(&mut self, action: Action) -> bool {
        match action {
            Action::Yes => {
                self.popup = None;
                let (running, dropped) = self.jobs.cancel_all();
                if running {
                    self.quit = Quit::WhenIdle;
                    let msg = format!(
                        "quitting: the running move stops after the current snapshot ({dropped} queued dropped)"
                    );
                    self.status.push(Level::Warn, msg);
                } else {
                    self.quit = Quit::Now;
                }
            }
            Action::No => self.popup = None,
            _ => return false,
        }
        true
    }
}
