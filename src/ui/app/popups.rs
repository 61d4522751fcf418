//! Routing to the popups: opening them, handing them their keys and the background results
//! they wait for, and carrying out what they answer.

use crossterm::event::KeyEvent;

use crate::ops::engine::plan::MovePlan;
use crate::ops::recovery::pending::PendingMove;
use crate::tree::Namespace;
use crate::ui::keys::action::Action;
use crate::ui::keys::context::Context;
use crate::ui::keys::keymap::typed_char;
use crate::ui::model::Selection;
use crate::ui::panes::status::Level;
use crate::ui::popups::Popup;
use crate::ui::popups::confirm::{self, ConfirmOutcome};
use crate::ui::popups::picker::{PickerOutcome, PickerState};
use crate::ui::popups::preview::{PreviewOutcome, PreviewState};
use crate::ui::popups::resume::{ResumeOutcome, ResumeState};
use crate::ui::tasks::Command;
use crate::ui::tasks::moves::{MoveSource, MoveSpec};
use crate::ui::tasks::plan::PlanOutcome;

use super::{App, Quit};

impl App {
    /// An action of the open popup's context.
    pub(super) fn apply_popup(&mut self, action: Action) -> bool {
        match &mut self.popup {
            Some(Popup::Picker(p)) => {
                let outcome = p.handle(action);
                self.after_picker(outcome)
            }
            Some(Popup::Preview(p)) => {
                let outcome = p.handle(action);
                self.after_preview(outcome)
            }
            Some(Popup::Resume(p)) => {
                let outcome = p.handle(action);
                self.after_resume(outcome)
            }
            Some(Popup::Notes(p)) => {
                let outcome = p.handle(action);
                self.after_notes(outcome)
            }
            Some(Popup::ConfirmQuit) => self.after_confirm(confirm::handle(action)),
            None => false,
        }
    }

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
        p.on_namespaces(result);
        true
    }

    /// Unbound characters go into the picker's filter or name field.
    pub(super) fn type_into_picker(&mut self, key: &KeyEvent) -> bool {
        match (&mut self.popup, typed_char(key)) {
            (Some(Popup::Picker(p)), Some(c)) => p.type_char(c),
            _ => false,
        }
    }

    fn after_picker(&mut self, outcome: PickerOutcome) -> bool {
        match outcome {
            PickerOutcome::Stay(changed) => return changed,
            PickerOutcome::Cancel => self.popup = None,
            PickerOutcome::Preview(spec) => self.open_preview(spec),
        }
        true
    }

    // ----- preview -----

    /// Shows the preview of `spec` and starts its dry run.
    fn open_preview(&mut self, spec: MoveSpec) {
        self.plan_seq += 1;
        let seq = self.plan_seq;
        self.popup = Some(Popup::Preview(PreviewState::new(spec.clone(), seq)));
        self.commands.push(Command::Plan { seq, spec });
    }

    pub(super) fn on_plan(&mut self, seq: u64, outcome: PlanOutcome) -> bool {
        match &mut self.popup {
            Some(Popup::Preview(p)) => p.on_plan(seq, outcome),
            _ => false,
        }
    }

    fn after_preview(&mut self, outcome: PreviewOutcome) -> bool {
        match outcome {
            PreviewOutcome::Stay(changed) => changed,
            PreviewOutcome::Confirm => self.confirm_move(),
            PreviewOutcome::Cancel => {
                self.popup = None;
                self.status.push(
                    Level::Info,
                    "move cancelled in the preview; nothing changed",
                );
                true
            }
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
            Some(Popup::Resume(p)) => p.on_pending(result),
            _ => false,
        }
    }

    fn after_resume(&mut self, outcome: ResumeOutcome) -> bool {
        match outcome {
            ResumeOutcome::Stay(changed) => return changed,
            ResumeOutcome::Nothing => self.popup = None,
            ResumeOutcome::Resume(spec) => self.start_resume(spec),
            ResumeOutcome::Later => {
                self.popup = None;
                let key = self.keymap.first_key(Context::Tree, Action::Resume);
                let again = key.map_or(String::new(), |k| format!("press {k} or "));
                let msg = format!(
                    "interrupted moves left as they are; {again}run 'pbs-mover resume' to finish them"
                );
                self.status.push(Level::Info, msg);
            }
        }
        true
    }

    /// Queues the resume job (the CLI's engine) and starts it when nothing else runs.
    fn start_resume(&mut self, spec: MoveSpec) {
        self.popup = None;
        let id = self.jobs.add(spec.clone(), &MovePlan::default());
        if self.jobs.running().is_some() {
            let msg = format!("#{id} queued: {}", spec.describe());
            self.status.push_job(id, Level::Info, msg);
        }
        self.start_next_job();
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

    fn after_confirm(&mut self, outcome: ConfirmOutcome) -> bool {
        match outcome {
            ConfirmOutcome::Ignored => return false,
            ConfirmOutcome::Stay => self.popup = None,
            ConfirmOutcome::Quit => {
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
        }
        true
    }
}
